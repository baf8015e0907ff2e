#!/usr/bin/env bash
# Hostile callers and planted files: the control channel refuses a caller who is neither root
# nor the mounting user (uid 65534 through setpriv), with and without -o allow_other, and
# changes nothing; a symlink planted as IMAGEDIR/snap-N.cow or IMAGEDIR/origin.img is refused
# with a message naming it, and its target is never opened for writing.
. "$(dirname "$0")/lib.sh"

command -v setpriv >/dev/null || fail "setpriv not found (Debian package util-linux)"
IMG=$T/img
MNT=$T/mnt
mkdir -p "$IMG"
truncate -s 16M "$IMG/origin.img"
chmod 755 "$T"
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)

log "uid 65534 against a mount without allow_other"
start_daemon_fg "$IMG" "$MNT" "$T/daemon.log"
S1=$(snap_create "$MNT") || exit 1
for cmd in "status $MNT" "snapshot list $MNT" "snapshot create $MNT" "snapshot delete $MNT $S1"; do
  # shellcheck disable=SC2086
  expect_fail_msg 'permission|denied|not allowed|refused|root' "${NOBODY[@]}" "$SNAPCOWCTL" $cmd
done
stop_daemon "$MNT"

log "uid 65534 against a mount with -o allow_other: the daemon itself refuses"
start_daemon_fg "$IMG" "$MNT" "$T/daemon.log" -o allow_other
"${NOBODY[@]}" stat "$MNT/origin.img" >/dev/null 2>&1 || fail "uid 65534 cannot even see the allow_other mount: the test would not reach the control channel"
for cmd in "status $MNT" "snapshot list $MNT" "snapshot create $MNT" "snapshot delete $MNT $S1"; do
  # shellcheck disable=SC2086
  expect_fail_msg 'permission denied' "${NOBODY[@]}" "$SNAPCOWCTL" $cmd
done
ctl_ok snapshot list "$MNT" >"$T/list.out" || exit 1
[ "$(grep -c '^snap-' "$T/list.out")" = 1 ] && grep -q "^$S1 " "$T/list.out" ||
  fail "refused requests changed the snapshot set: $(cat "$T/list.out")"
stop_daemon "$MNT"

log "a symlink planted as snap-N.cow is refused by name; the origin and other snapshots are served"
echo "precious data" >"$T/victim"
cp "$T/victim" "$T/victim.orig"
ln -s "$T/victim" "$IMG/snap-7.cow"
start_daemon_fg "$IMG" "$MNT" "$T/daemon.log"
grep -q 'snap-7.cow.*symbolic link' "$T/daemon.log" ||
  fail "no clear message about the planted symlink snap-7.cow: $(tail -n 5 "$T/daemon.log")"
[ -e "$MNT/snap-7.img" ] && fail "the symlinked snap-7.cow is served as snap-7.img"
[ -f "$MNT/$S1.img" ] || fail "$S1 is no longer served next to the planted symlink"
dd if=/dev/urandom of="$MNT/origin.img" bs=64k count=16 oflag=direct conv=notrunc,fsync status=none ||
  fail "origin write with a planted symlink in the image directory failed"
S2=$(snap_create "$MNT") || exit 1
[ "$S2" != snap-7 ] || fail "a new snapshot took the number of the planted symlink"
stop_daemon "$MNT"
same_bytes "$T/victim.orig" "$T/victim" "the symlink's target was written"
expect_fail_msg 'snap-7.cow.*symbolic link' "$SNAPCOWCTL" snapshot delete "$IMG" snap-7
[ -L "$IMG/snap-7.cow" ] || fail "offline delete removed the planted symlink without being asked to serve it"
rm -f "$IMG/snap-7.cow"

log "a symlink planted as origin.img: the daemon and offline snapcowctl refuse it"
mv "$IMG/origin.img" "$T/real-origin.img"
ln -s "$T/real-origin.img" "$IMG/origin.img"
expect_fail_msg 'origin.img.*symbolic link' "$SNAPCOWFS" -f "$IMG" "$MNT"
mountpoint -q "$MNT" && fail "snapcowfs mounted over a symlinked origin.img"
expect_fail_msg 'origin.img.*symbolic link' "$SNAPCOWCTL" snapshot create "$IMG"
[ -e "$IMG/snap-3.cow" ] && fail "offline create over a symlinked origin.img made a snapshot"
exit 0
