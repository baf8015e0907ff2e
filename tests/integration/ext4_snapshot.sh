#!/usr/bin/env bash
# ext4 on a loop device over MOUNT/origin.img; a live snapshot taken under fsfreeze; the origin
# changed heavily; the snapshot, attached read-only, passes e2fsck and holds exactly the old
# files, before and after a restart of the daemon; delete removes it and its COW file.
#
# Usage: ext4_snapshot.sh [direct-io]   (direct-io: every loop device uses --direct-io=on)
TEST_VARIANT=${1:-}
. "$(dirname "$0")/lib.sh"

LOOPOPT=()
if [ "$TEST_VARIANT" = direct-io ]; then LOOPOPT=(--direct-io=on); fi

IMG=$T/img
MNT=$T/mnt
FS=$T/fs
SNAPFS=$T/snapfs
mkdir -p "$IMG"
truncate -s 256M "$IMG/origin.img"

# check_dio DEV: with --direct-io=on the loop device must really do direct I/O.
check_dio() {
  [ "$TEST_VARIANT" = direct-io ] || return 0
  local d
  d=$(cat "/sys/block/$(basename "$1")/loop/dio" 2>/dev/null)
  [ "$d" = 1 ] || fail "losetup --direct-io=on $1: the kernel did not enable direct I/O (loop/dio=$d): O_DIRECT on the snapcowfs file is refused"
}

# tree_sums DIR OUT: sha256 of every regular file, by relative path.
tree_sums() {
  (cd "$1" && find . -type f ! -path './lost+found/*' -print0 | sort -z | xargs -0 -r sha256sum) >"$2" ||
    fail "checksumming $1 failed"
}

# check_snapshot WHEN: attach snap-1.img read-only, fsck, mount, compare with before.sha.
check_snapshot() {
  local when=$1 sl
  loop_attach -r "${LOOPOPT[@]}" "$MNT/snap-1.img"
  sl=$LOOPDEV
  check_dio "$sl"
  timeout "$TO_LONG" e2fsck -fn "$sl" >"$T/fsck-snap.out" 2>&1 ||
    fail "$when: e2fsck -fn on the snapshot failed: $(tail -n 20 "$T/fsck-snap.out")"
  mount_fs -o ro,noload "$sl" "$SNAPFS"
  tree_sums "$SNAPFS" "$T/snap.sha"
  diff -u "$T/before.sha" "$T/snap.sha" >"$T/diff.out" ||
    fail "$when: the snapshot's files differ from those at snapshot time: $(head -n 30 "$T/diff.out")"
  [ ! -e "$SNAPFS/fill" ] || fail "$when: the snapshot shows a file created after it was taken"
  umount_fs "$SNAPFS"
  loop_detach "$sl"
}

log "mount the image directory"
start_daemon "$IMG" "$MNT"
[ "$(stat -c %s "$MNT/origin.img")" = $((256 << 20)) ] || fail "origin.img size is $(stat -c %s "$MNT/origin.img") through the mount, expected 256 MiB"

log "ext4 on a loop device over MOUNT/origin.img ${LOOPOPT[*]}"
loop_attach "${LOOPOPT[@]}" "$MNT/origin.img"
LO=$LOOPDEV
check_dio "$LO"
timeout "$TO_LONG" mkfs.ext4 -q -F "$LO" || fail "mkfs.ext4 on $LO (over origin.img) failed"
mount_fs "$LO" "$FS"

log "write files"
mkdir -p "$FS/a/b" "$FS/c"
for i in $(seq 1 40); do
  timeout "$TO_LONG" dd if=/dev/urandom of="$FS/a/f$i" bs=64K count=$((i % 13 + 1)) status=none || fail "writing $FS/a/f$i failed"
done
for i in $(seq 1 10); do
  timeout "$TO_LONG" dd if=/dev/urandom of="$FS/a/b/big$i" bs=1M count=3 status=none || fail "writing big$i failed"
  echo "small file $i" >"$FS/c/s$i"
done
ln -s ../a/f1 "$FS/c/link"
timeout "$TO_LONG" sync -f "$FS" || fail "sync on ext4 over origin.img failed"
tree_sums "$FS" "$T/before.sha"
[ "$(wc -l <"$T/before.sha")" = 60 ] || fail "expected 60 files, checksummed $(wc -l <"$T/before.sha")"

log "snapshot under fsfreeze"
freeze "$FS"
SNAP=$(snap_create "$MNT") || exit 1
thaw "$FS"
[ "$SNAP" = snap-1 ] || fail "first snapshot is named $SNAP, expected snap-1"
[ -f "$MNT/snap-1.img" ] || fail "$MNT/snap-1.img does not exist after snapshot create"
[ -f "$IMG/snap-1.cow" ] || fail "$IMG/snap-1.cow does not exist after snapshot create"
[ "$(stat -c %s "$MNT/snap-1.img")" = $((256 << 20)) ] || fail "snap-1.img size is $(stat -c %s "$MNT/snap-1.img"), expected 256 MiB"

log "change the origin heavily"
for i in $(seq 1 40); do
  case $((i % 4)) in
    0) rm -f "$FS/a/f$i" ;;
    1) timeout "$TO_LONG" dd if=/dev/urandom of="$FS/a/f$i" bs=64K count=5 conv=notrunc status=none || fail "overwrite f$i" ;;
    2) echo "appended $i" >>"$FS/a/f$i" ;;
    3) timeout "$TO_LONG" dd if=/dev/urandom of="$FS/a/f$i" bs=32K count=2 status=none || fail "rewrite f$i" ;;
  esac
done
rm -rf "$FS/a/b"
echo "changed" >"$FS/c/s1"
# Fill most of the free space: every block the snapshot still shares gets copied.
timeout "$TO_LONG" dd if=/dev/urandom of="$FS/fill" bs=1M count=170 status=none 2>"$T/dd.err"
grep -v 'No space left' "$T/dd.err" | grep -q . && fail "filling the origin failed: $(cat "$T/dd.err")"
timeout "$TO_LONG" sync -f "$FS" || fail "sync after changes failed"
tree_sums "$FS" "$T/after.sha"
cmp -s "$T/before.sha" "$T/after.sha" && fail "the origin did not change (test bug)"

log "check the snapshot while the origin is mounted"
check_snapshot "live"

log "snapshot list/status name snap-1"
ctl_ok snapshot list "$MNT" | grep -qw snap-1 || fail "snapshot list does not show snap-1: $(ctl snapshot list "$MNT")"
ctl_ok status "$MNT" | grep -q . || fail "status printed nothing"

log "unmount everything and the daemon (fusermount3 -u), remount, check again"
umount_fs "$FS"
loop_detach "$LO"
stop_daemon "$MNT"
[ -f "$IMG/snap-1.cow" ] || fail "snap-1.cow vanished after unmount"
start_daemon "$IMG" "$MNT"
[ -f "$MNT/snap-1.img" ] || fail "snap-1.img is not presented after remount"
check_snapshot "after remount"
loop_attach "${LOOPOPT[@]}" "$MNT/origin.img"
LO=$LOOPDEV
timeout "$TO_LONG" e2fsck -fn "$LO" >"$T/fsck-origin.out" 2>&1 ||
  fail "after remount: e2fsck -fn on the origin failed: $(tail -n 20 "$T/fsck-origin.out")"
mount_fs "$LO" "$FS"
tree_sums "$FS" "$T/after2.sha"
diff -u "$T/after.sha" "$T/after2.sha" >"$T/diff.out" || fail "after remount the origin's files differ: $(head -n 30 "$T/diff.out")"

log "delete of a snapshot that is attached (open) is refused"
loop_attach -r "${LOOPOPT[@]}" "$MNT/snap-1.img"
SL=$LOOPDEV
ctl snapshot delete "$MNT" snap-1 >/dev/null && fail "snapshot delete of snap-1 succeeded while a loop device held it open"
[ -f "$MNT/snap-1.img" ] || fail "refused delete still removed snap-1.img"
loop_detach "$SL"

log "stop with SIGTERM, remount, delete"
umount_fs "$FS"
loop_detach "$LO"
stop_daemon_term "$MNT"
start_daemon "$IMG" "$MNT"
check_snapshot "after SIGTERM and remount"
ctl_ok snapshot delete "$MNT" snap-1 >/dev/null
[ ! -e "$MNT/snap-1.img" ] || fail "snap-1.img still presented after snapshot delete"
[ ! -e "$IMG/snap-1.cow" ] || fail "$IMG/snap-1.cow still exists after snapshot delete"
ctl_ok snapshot list "$MNT" | grep -qw snap-1 && fail "snapshot list still shows snap-1 after delete"
loop_attach "${LOOPOPT[@]}" "$MNT/origin.img"
LO=$LOOPDEV
timeout "$TO_LONG" e2fsck -fn "$LO" >"$T/fsck-origin.out" 2>&1 ||
  fail "after delete: e2fsck -fn on the origin failed: $(tail -n 20 "$T/fsck-origin.out")"
loop_detach "$LO"
stop_daemon "$MNT"
exit 0
