#!/bin/bash
# completion_test.sh COMPLETION_FILE SNAPCOWCTL: the bash completion for snapcowctl gives the
# expected COMPREPLY for a set of command lines (bash-completion's library loaded, as in a
# shell), and offers the same commands and options as `SNAPCOWCTL [COMMAND] --help`.
set -u

file=${1:?usage: completion_test.sh COMPLETION_FILE SNAPCOWCTL}
ctl=${2:?usage: completion_test.sh COMPLETION_FILE SNAPCOWCTL}
lib=/usr/share/bash-completion/bash_completion
failures=0

fail() {
  echo "completion_test: $*" >&2
  failures=$((failures + 1))
}

[[ -r $lib ]] || { echo "completion_test: $lib not found (Debian package bash-completion)" >&2; exit 1; }
# shellcheck source=/dev/null
source "$lib" || { echo "completion_test: cannot load $lib" >&2; exit 1; }
# shellcheck source=/dev/null
source "$file" || { echo "completion_test: cannot load $file" >&2; exit 1; }
spec=$(complete -p snapcowctl 2>/dev/null)
[[ $spec == "complete -F _snapcowctl snapcowctl" ]] ||
  { echo "completion_test: $file does not register _snapcowctl for snapcowctl (got '$spec')" >&2; exit 1; }

top=$(mktemp -d)
trap 'rm -rf "$top"' EXIT
tmp=$top/work
mkdir "$tmp" "$tmp/img" "$tmp/mnt" "$tmp/my dir" "$top/home" "$top/home/vm"
touch "$tmp/img/origin.img" "$tmp/img/snap-1.cow" "$tmp/img/snap-3.cow" "$tmp/img/snap-10.cow" \
  "$tmp/img/.snapcowfs.lock" "$tmp/img/snap-0.cow" "$tmp/img/snap-01.cow" "$tmp/img/snap-x.cow" \
  "$tmp/img/snap-4.txt" "$tmp/img/other-5.cow"
touch "$tmp/mnt/origin.img" "$tmp/mnt/snap-2.img" "$tmp/mnt/snap-5.img"
touch "$tmp/my dir/snap-7.cow" "$top/home/vm/snap-8.img" "$tmp/ifile"
cd "$tmp" || exit 1

# expect "EXPECTED REPLIES" WORD...: complete with the cursor at the end of the last WORD
# (COMP_WORDS as readline splits them: "=" is a word of its own, with no blank around it on
# the line). EXPECTED is the sorted replies joined by "|".
expect() {
  local want=$1 w prev=""
  shift
  COMP_WORDS=("$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMP_LINE=""
  for w in "${COMP_WORDS[@]}"; do
    [[ -n $COMP_LINE && $w != "=" && $prev != "=" ]] && COMP_LINE+=" "
    COMP_LINE+=$w
    prev=$w
  done
  COMP_POINT=${#COMP_LINE}
  COMP_TYPE=9
  COMP_KEY=9
  COMPREPLY=()
  _snapcowctl snapcowctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" 2>"$top/stderr"
  local got
  got=$(printf '%s\n' "${COMPREPLY[@]}" | LC_ALL=C sort | paste -sd'|')
  if [[ $got != "$want" ]]; then
    fail "'${COMP_LINE}<TAB>': got '$got', want '$want'"
  elif [[ -s $top/stderr ]]; then
    fail "'${COMP_LINE}<TAB>' wrote to stderr: $(head -c 300 "$top/stderr")"
  fi
}

# Commands and global options.
expect "snapshot|status" snapcowctl ""
expect "status" snapcowctl st
expect "--help|--version|-V|-h" snapcowctl -
expect "create|delete|list" snapcowctl snapshot ""
expect "delete" snapcowctl snapshot d
expect "--help|-h" snapcowctl snapshot -
expect "" snapcowctl frobnicate ""

# Options per command, and their values.
expect "--chunk-size|--help|--max-size|--overflow|--read-only|--transient" \
  snapcowctl snapshot create --
expect "--read-only" snapcowctl snapshot create --transient --r
expect "invalidate|keep" snapcowctl snapshot create --overflow ""
expect "keep" snapcowctl snapshot create --overflow k
expect "keep" snapcowctl snapshot create --overflow = k
expect "invalidate|keep" snapcowctl snapshot create --read-only --overflow = ""
expect "64K|64M" snapcowctl snapshot create --chunk-size 6
expect "16K" snapcowctl snapshot create --chunk-size 16K
expect "" snapcowctl snapshot create --max-size ""
expect "--help" snapcowctl snapshot delete --
expect "--help|--json" snapcowctl snapshot list --
expect "--json" snapcowctl status --j

# DIR: directories only, also after options and their values.
expect "img|mnt|my dir" snapcowctl status ""
expect "img" snapcowctl snapshot list --json i
expect "$tmp/img" snapcowctl snapshot create --chunk-size 64K --overflow keep "$tmp/i"
expect "$tmp/img" snapcowctl snapshot create --overflow=keep --read-only "$tmp/i"
expect "mnt|my dir" snapcowctl snapshot delete m
expect "" snapcowctl status "$tmp/img" ""
expect "" snapcowctl snapshot create "$tmp/img" ""

# snapshot delete DIR <TAB>: the snapshots in DIR, as snap-N.cow or snap-N.img.
expect "snap-1|snap-10|snap-3" snapcowctl snapshot delete "$tmp/img" ""
expect "snap-1|snap-10|snap-3" snapcowctl snapshot delete img snap-
expect "snap-3" snapcowctl snapshot delete "$tmp/img" snap-3
expect "snap-2|snap-5" snapcowctl snapshot delete "$tmp/mnt" ""
expect "snap-7" snapcowctl snapshot delete "$tmp/my\\ dir" ""
expect "snap-7" snapcowctl snapshot delete "'$tmp/my dir'" ""
# shellcheck disable=SC2088 # the word as typed: the completion expands it
HOME=$top/home expect "snap-8" snapcowctl snapshot delete "~/vm" ""
expect "" snapcowctl snapshot delete "$tmp/nonexistent" ""
expect "" snapcowctl snapshot delete "$tmp/img" snap-1 ""

# The same commands and options as --help: the usage lines and each option table.
help_options() {
  "$ctl" "$@" --help | grep -oE '^  (-[A-Za-z0-9] \[ --[a-z0-9-]+ \]|--[a-z0-9-]+|-[A-Za-z0-9])' |
    grep -oE -- '--?[A-Za-z0-9][a-z0-9-]*' | LC_ALL=C sort | paste -sd'|'
}
usage=$("$ctl" --help | sed -n '/^usage:/,/^$/p' | sed 's/^usage://')
[[ -n $usage ]] || fail "no usage lines in '$ctl --help'"
commands=$(awk '$1 == "snapcowctl" && $2 ~ /^[a-z]/ { print $2 }' <<<"$usage" | LC_ALL=C sort -u | paste -sd'|')
snapshot_commands=$(awk '$1 == "snapcowctl" && $2 == "snapshot" { print $3 }' <<<"$usage" |
  LC_ALL=C sort -u | paste -sd'|')
[[ $commands == *snapshot* ]] || fail "cannot find the commands in '$ctl --help'"
expect "$commands" snapcowctl ""
expect "$snapshot_commands" snapcowctl snapshot ""
expect "$(help_options)" snapcowctl -
for c in ${snapshot_commands//|/ }; do
  expect "$(help_options snapshot "$c")" snapcowctl snapshot "$c" -
done
expect "$(help_options status)" snapcowctl status -

if ((failures)); then
  echo "completion_test: $failures failure(s)" >&2
  exit 1
fi
echo "completion_test: all passed"
