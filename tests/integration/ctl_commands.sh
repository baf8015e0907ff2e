#!/usr/bin/env bash
# snapcowctl and snapcowfs as a user drives them: --help/--version, create/list/status/delete
# live and offline, --json output, numbers never reused, read-only and transient snapshots,
# MOUNTPOINT equal to IMAGEDIR, and what `ls -l` shows.
. "$(dirname "$0")/lib.sh"

IMG=$T/img
MNT=$T/mnt
mkdir -p "$IMG"
truncate -s 8M "$IMG/origin.img"

log "--help and --version"
for cmd in "$SNAPCOWFS --help" "$SNAPCOWFS --version" "$SNAPCOWCTL --help" "$SNAPCOWCTL --version" \
  "$SNAPCOWCTL snapshot create --help" "$SNAPCOWCTL snapshot delete --help" \
  "$SNAPCOWCTL snapshot list --help" "$SNAPCOWCTL status --help"; do
  timeout "$TO_SHORT" $cmd >"$T/help.out" 2>&1 || fail "'$cmd' exited $?: $(head -n 5 "$T/help.out")"
  grep -q . "$T/help.out" || fail "'$cmd' printed nothing"
done
# Versions in full are checked by the version test (tests/tools/version_check.py).
timeout "$TO_SHORT" "$SNAPCOWFS" --version 2>&1 | grep -Eq '^snapcowfs [0-9]+\.[0-9]+\.[0-9]+' || fail "snapcowfs --version prints no version"
timeout "$TO_SHORT" "$SNAPCOWCTL" --version 2>&1 | grep -Eq '^snapcowctl [0-9]+\.[0-9]+\.[0-9]+' || fail "snapcowctl --version prints no version"
timeout "$TO_SHORT" "$SNAPCOWFS" --help 2>&1 | grep -q -- '--cow-threshold' || fail "snapcowfs --help does not list --cow-threshold"
timeout "$TO_SHORT" "$SNAPCOWCTL" snapshot create --help 2>&1 | grep -q -- '--chunk-size' || fail "snapshot create --help does not list --chunk-size"

log "offline: create, list, status, delete"
[ "$(snap_create "$IMG")" = snap-1 ] || fail "offline create: expected snap-1"
[ "$(snap_create --read-only --chunk-size 64K "$IMG")" = snap-2 ] || fail "offline create: expected snap-2"
ctl_ok snapshot list "$IMG" >"$T/list.out" || exit 1
grep -qw snap-1 "$T/list.out" && grep -qw snap-2 "$T/list.out" || fail "offline list does not show snap-1 and snap-2: $(cat "$T/list.out")"
ctl_ok snapshot delete "$IMG" snap-1 >/dev/null || exit 1
[ ! -e "$IMG/snap-1.cow" ] || fail "offline delete left snap-1.cow"
[ "$(snap_create "$IMG")" = snap-3 ] || fail "a snapshot number was reused (expected snap-3 after deleting snap-1)"

log "list --json and status --json are JSON naming the snapshots"
ctl_ok snapshot list --json "$IMG" >"$T/list.json" || exit 1
"$PYTHON" - "$T/list.json" <<'EOF' || fail "snapshot list --json: $(cat "$T/list.json")"
import json, sys
doc = json.load(open(sys.argv[1]))
text = json.dumps(doc)
assert "snap-2" in text and "snap-3" in text and "snap-1\"" not in text, text
EOF
ctl_ok status --json "$IMG" >"$T/status.json" || exit 1
"$PYTHON" -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/status.json" || fail "status --json is not JSON: $(cat "$T/status.json")"
ctl_ok status "$IMG" >"$T/status.out" || exit 1
grep -Eq '[0-9]+/[0-9]+ [0-9]+' "$T/status.out" || fail "status has no dm status line '<allocated>/<total> <metadata>': $(cat "$T/status.out")"

log "live, MOUNTPOINT = IMAGEDIR"
start_daemon_fg "$IMG" "$IMG" "$T/daemon.log"
ls -1 "$IMG" >"$T/ls.out"
[ "$(sort "$T/ls.out" | tr '\n' ' ')" = "origin.img snap-2.img snap-3.img " ] ||
  fail "the mount over IMAGEDIR shows '$(tr '\n' ' ' <"$T/ls.out")', expected origin.img snap-2.img snap-3.img"
[ "$(stat -c %s "$IMG/snap-2.img")" = $((8 << 20)) ] || fail "snap-2.img size $(stat -c %s "$IMG/snap-2.img")"
[ "$(stat -c %F "$IMG/origin.img")" = "regular file" ] || fail "origin.img is not a regular file through the mount"
df "$IMG" >/dev/null || fail "df on the mount failed"
truncate -s 16M "$IMG/origin.img" 2>/dev/null && fail "truncate of the served origin.img succeeded"
[ "$(stat -c %s "$IMG/origin.img")" = $((8 << 20)) ] || fail "origin.img changed size through the mount"
touch "$IMG/new-file" 2>/dev/null && fail "creating a file in the mount succeeded; only origin.img and snap-N.img are presented"
rm -f "$IMG/snap-2.img" 2>/dev/null
[ -f "$IMG/snap-2.img" ] || fail "rm of snap-2.img through the mount removed it (use snapcowctl snapshot delete)"
printf 'NEWDATA' | dd of="$IMG/origin.img" conv=notrunc status=none || fail "write to origin.img failed"
[ "$(head -c 7 "$IMG/snap-2.img" | od -An -tx1 | tr -d ' \n')" = 00000000000000 ] || fail "snap-2 shows origin data written after it"

log "a read-only snapshot refuses writes"
printf 'X' | dd of="$IMG/snap-2.img" conv=notrunc status=none 2>/dev/null && fail "a write to the read-only snap-2.img succeeded"
[ "$(head -c 1 "$IMG/snap-2.img" | od -An -tx1 | tr -d ' ')" = 00 ] || fail "read-only snap-2 changed"

log "transient snapshot: served while mounted, gone after a restart"
ST=$(snap_create --transient "$IMG") || exit 1
[ "$ST" = snap-4 ] || fail "transient snapshot is $ST, expected snap-4"
[ -f "$IMG/$ST.img" ] || fail "transient $ST.img not presented"
printf 'LATER' | dd of="$IMG/origin.img" conv=notrunc status=none || fail "write to origin.img failed"
[ "$(head -c 7 "$IMG/$ST.img")" = NEWDATA ] || fail "transient $ST does not hold the data at its creation"
ctl_ok snapshot list "$IMG" | grep -qw "$ST" || fail "list does not show the transient $ST"
stop_daemon "$IMG"
[ ! -e "$IMG/$ST.cow" ] || fail "the transient $ST left a COW file"
start_daemon_fg "$IMG" "$IMG" "$T/daemon.log"
[ ! -e "$IMG/$ST.img" ] || fail "the transient $ST survived a restart"
[ "$(snap_create "$IMG")" = snap-5 ] || fail "snapshot number after the transient snap-4 was reused"

log "-o ro serves every file read-only"
stop_daemon "$IMG"
start_daemon_fg "$IMG" "$MNT" "$T/daemon-ro.log" -o ro
head -c 7 "$MNT/origin.img" >/dev/null || fail "reading origin.img with -o ro failed"
printf 'X' | dd of="$MNT/origin.img" conv=notrunc status=none 2>/dev/null && fail "a write to origin.img succeeded with -o ro"
[ "$(head -c 7 "$MNT/origin.img")" = LATERTA ] || fail "origin.img changed under -o ro: $(head -c 7 "$MNT/origin.img" | od -c | head -n 1)"
stop_daemon "$MNT"
start_daemon_fg "$IMG" "$IMG" "$T/daemon.log" --threads 3 --cow-threshold 1

log "the control channel refuses a user who is neither root nor the one who mounted"
stop_daemon "$IMG"
chmod 755 "$T" "$MNT"
start_daemon_fg "$IMG" "$MNT" "$T/daemon-ao.log" -o allow_other
NOBODY=(setpriv --reuid 65534 --regid 65534 --clear-groups)
"${NOBODY[@]}" ls "$MNT" >/dev/null 2>&1 || fail "with -o allow_other, uid 65534 cannot list $MNT (test set-up)"
for args in "snapshot create $MNT" "snapshot delete $MNT snap-2" "snapshot list $MNT" "status $MNT"; do
  expect_fail_msg "permission|denied|not allowed|refuse|root" "${NOBODY[@]}" "$SNAPCOWCTL" $args
done
[ -f "$MNT/snap-2.img" ] || fail "uid 65534 deleted snap-2"
n=$(ls "$MNT" | grep -c '^snap-')
[ "$n" = 3 ] || fail "after refused requests by uid 65534 there are $n snapshots, expected 3: $(ls "$MNT")"
stop_daemon "$MNT"
start_daemon_fg "$IMG" "$IMG" "$T/daemon.log"

log "live delete and list"
ctl_ok snapshot delete "$IMG" snap-3 >/dev/null || exit 1
[ ! -e "$IMG/snap-3.img" ] || fail "live delete left snap-3.img presented"
ctl_ok snapshot list "$IMG" | grep -qw snap-3 && fail "list shows the deleted snap-3"
stop_daemon_term "$IMG"
[ ! -e "$IMG/snap-3.cow" ] || fail "live delete left snap-3.cow"
[ -f "$IMG/snap-2.cow" ] && [ -f "$IMG/snap-5.cow" ] || fail "COW files missing after unmount: $(ls "$IMG")"
exit 0
