#!/usr/bin/env bash
# Smoke test of the installed Debian package, using only what it installed (run as root after
# `apt-get install ./snapcowfs_*.deb`; scripts/test.sh package does):
#
#   packaging/smoke-test.sh
#
# Files in place (binaries, man pages found by man -w, the unit, the bash completion found by
# bash-completion's loader); `systemd-analyze verify` of an instance of the installed unit says
# nothing; mount -t fuse.snapcowfs (mount(8) -> mount.fuse3 -> /usr/sbin/snapcowfs) returns
# with the mount up; a snapshot keeps its data while the origin changes; umount stops the
# daemon; an fstab line mounts with `mount MOUNTPOINT` (a temporary fstab: mount --fstab).
set -euo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8

say() { printf '[smoke] %s\n' "$*"; }
fail() {
  printf '[smoke] FAIL: %s\n' "$*" >&2
  exit 1
}

[ "$(id -u)" = 0 ] || fail "run as root (mounts)"
dpkg-query -W -f='${Status}' snapcowfs 2>/dev/null | grep -q 'install ok installed' ||
  fail "the snapcowfs package is not installed"

T=$(mktemp -d /tmp/snapcowfs-smoke.XXXXXX)
IMG=$T/img
MNT=$T/mnt
cleanup() {
  local rc=$?
  set +e
  if findmnt -n --mountpoint "$MNT" >/dev/null 2>&1; then
    timeout 20 umount "$MNT" || umount -l "$MNT"
  fi
  rm -rf "$T"
  [ "$rc" = 0 ] && say "PASS"
  exit "$rc"
}
trap cleanup EXIT

say "installed files"
for f in /usr/sbin/snapcowfs /usr/sbin/snapcowctl; do
  [ -x "$f" ] || fail "$f is not installed"
  dpkg -S "$f" >/dev/null 2>&1 || fail "$f does not belong to a package"
done
[ "$(command -v snapcowfs)" = /usr/sbin/snapcowfs ] || fail "snapcowfs on PATH is $(command -v snapcowfs)"
version=$(dpkg-query -W -f='${Version}' snapcowfs)
/usr/sbin/snapcowfs --version | grep -qF "snapcowfs ${version%%-*}" ||
  fail "snapcowfs --version ($(/usr/sbin/snapcowfs --version)) does not name package version $version"
/usr/sbin/snapcowctl --version | grep -qF "${version%%-*}" || fail "snapcowctl --version does not name $version"
for page in "8 snapcowfs" "8 snapcowctl" "5 snapcowfs-format"; do
  # shellcheck disable=SC2086
  where=$(man -w $page) || fail "man -w $page found nothing"
  [[ $where == /usr/share/man/* ]] || fail "man -w $page: $where"
  # shellcheck disable=SC2086
  man -P cat $page 2>/dev/null | grep -q "${page#* }" || fail "man $page does not render"
done
UNIT=/lib/systemd/system/snapcowfs@.service
[ -f "$UNIT" ] || fail "$UNIT is not installed"
COMPLETION=/usr/share/bash-completion/completions/snapcowctl
[ -f "$COMPLETION" ] || fail "$COMPLETION is not installed"

say "bash-completion finds the completion by command name"
reply=$(bash -c '
  source /usr/share/bash-completion/bash_completion || exit 1
  __load_completion snapcowctl || exit 1
  [[ $(complete -p snapcowctl) == "complete -F _snapcowctl snapcowctl" ]] || exit 1
  COMP_WORDS=(snapcowctl sn) COMP_CWORD=1 COMP_LINE="snapcowctl sn" COMP_POINT=13
  _snapcowctl snapcowctl sn snapcowctl
  printf "%s\n" "${COMPREPLY[@]}"' 2>&1) || fail "completion for snapcowctl not loaded: $reply"
[ "$reply" = snapshot ] || fail "'snapcowctl sn<TAB>' completes to '$reply', expected snapshot"

mkdir -p "$IMG" "$MNT"
truncate -s 64M "$IMG/origin.img"

say "systemd-analyze verify of an instance of the installed unit"
mkdir "$T/units"
inst="snapcowfs@$(systemd-escape --path "$IMG").service"
ln -s "$UNIT" "$T/units/$inst"
out=$(systemd-analyze verify "$T/units/$inst" 2>&1) || fail "systemd-analyze verify $inst: $out"
[ -z "$out" ] || fail "systemd-analyze verify $inst is not clean: $out"

# holder_pid: the daemon recorded in the image directory's lock file.
holder_pid() { grep -o '^pid=[0-9]*' "$IMG/.snapcowfs.lock" | cut -d= -f2; }
# up WHAT: the mount is there the moment mount(8) returned.
up() {
  [ "$(findmnt -n -o FSTYPE,SOURCE --mountpoint "$MNT" | tr -s ' ')" = "fuse.snapcowfs $IMG" ] ||
    fail "$1: $MNT is not a fuse.snapcowfs mount of $IMG when mount returned: $(findmnt -n --mountpoint "$MNT")"
  [ -e "$MNT/origin.img" ] || fail "$1: no origin.img in $MNT"
  pid=$(holder_pid) || fail "$1: no daemon recorded in $IMG/.snapcowfs.lock"
  [ "$(readlink "/proc/$pid/exe")" = /usr/sbin/snapcowfs ] || fail "$1: the daemon is not /usr/sbin/snapcowfs"
}
# down: umount, and the daemon exits.
down() {
  timeout 30 umount "$MNT" || fail "umount $MNT failed"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
  fail "snapcowfs (pid $pid) still runs 20 s after umount"
}

say "mount -t fuse.snapcowfs, write, snapshot, write more"
timeout 30 mount -t fuse.snapcowfs "$IMG" "$MNT" || fail "mount -t fuse.snapcowfs $IMG $MNT failed"
up "mount -t fuse.snapcowfs"
head -c 8M /dev/urandom | dd of="$MNT/origin.img" bs=1M conv=notrunc,fsync status=none
before=$(sha256sum <"$MNT/origin.img")
snap=$(/usr/sbin/snapcowctl snapshot create "$MNT") || fail "snapcowctl snapshot create failed"
[ "$snap" = snap-1 ] || fail "snapshot create printed '$snap', expected snap-1"
head -c 8M /dev/urandom | dd of="$MNT/origin.img" bs=1M seek=4 conv=notrunc,fsync status=none
cmp -s "$MNT/origin.img" "$MNT/snap-1.img" && fail "origin.img did not change after the snapshot"
[ "$(sha256sum <"$MNT/snap-1.img")" = "$before" ] || fail "snap-1.img is not the origin as it was"
down

say "fstab line: mount --fstab FSTAB MOUNTPOINT"
echo "$IMG $MNT fuse.snapcowfs defaults,allow_other 0 0" >"$T/fstab"
timeout 30 mount --fstab "$T/fstab" "$MNT" || fail "mount --fstab $T/fstab $MNT failed"
up "fstab"
findmnt -n -o OPTIONS --mountpoint "$MNT" | grep -q allow_other || fail "allow_other from fstab not in effect"
/usr/sbin/snapcowctl snapshot list "$MNT" | grep -qw snap-1 || fail "snap-1 not listed after the fstab mount"
[ "$(sha256sum <"$MNT/snap-1.img")" = "$before" ] || fail "snap-1.img changed across the remount"
down
/usr/sbin/snapcowctl status "$IMG" | grep -qw snap-1 || fail "offline snapcowctl status does not show snap-1"
