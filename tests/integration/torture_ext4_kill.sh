#!/usr/bin/env bash
# kill -9 of the daemon under an ext4 write load (ext4 on a loop device over MOUNT/origin.img):
# nothing hangs, the dead mount and the loop device are cleaned up, the daemon restarts, and
# e2fsck -fn passes on the origin (after the journal replay any reboot does) and on two
# snapshots: one taken under fsfreeze (clean, checked as is, files compared) and one taken
# under load without a freeze (crash-consistent: journal replay first). Three rounds.
. "$(dirname "$0")/lib.sh"

IMG=$T/img
MNT=$T/mnt
FS=$T/fs
SNAPFS=$T/snapfs
ROUNDS=${ROUNDS:-3}
mkdir -p "$IMG"
truncate -s 128M "$IMG/origin.img"

# tree_sums DIR OUT: sha256 of every regular file under DIR/keep.
tree_sums() {
  (cd "$1/keep" && find . -type f -print0 | sort -z | xargs -0 -r sha256sum) >"$2" ||
    fail "checksumming $1/keep failed"
}

# load DIR: writes, fsyncs and removes files until killed.
start_load() {
  (
    set +e
    i=0
    while :; do
      dd if=/dev/urandom of="$1/load/f$i" bs=16k count=$((RANDOM % 32 + 1)) conv=fsync status=none || sleep 0.05
      [ $((i % 3)) = 0 ] && rm -f "$1/load/f$((i - 30))"
      i=$((i + 1))
    done
  ) >/dev/null 2>&1 &
  LOAD_PID=$!
  _BG+=("$LOAD_PID")
}

stop_load() {
  kill -KILL "$LOAD_PID" 2>/dev/null
  wait_gone "$LOAD_PID" 20 || fail "the load generator (pid $LOAD_PID) did not exit"
}

# fsck_image WHAT FILE [replay]: e2fsck -fn through a read-only loop device; with "replay",
# the journal is replayed first through a writable one (what a mount at boot would do).
fsck_image() {
  local what=$1 f=$2 dev
  if [ "${3:-}" = replay ]; then
    loop_attach "$f"
    dev=$LOOPDEV
    timeout "$TO_LONG" e2fsck -E journal_only -y "$dev" >"$T/replay.out" 2>&1
    [ $? -le 1 ] || fail "$what: journal replay (e2fsck -E journal_only) failed: $(tail -n 20 "$T/replay.out")"
    loop_detach "$dev"
  fi
  loop_attach -r "$f"
  dev=$LOOPDEV
  timeout "$TO_LONG" e2fsck -fn "$dev" >"$T/fsck.out" 2>&1 ||
    fail "$what: e2fsck -fn failed: $(tail -n 25 "$T/fsck.out")"
  loop_detach "$dev"
}

start_daemon_fg "$IMG" "$MNT" "$T/daemon.log"
loop_attach "$MNT/origin.img"
timeout "$TO_LONG" mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$LOOPDEV" || fail "mkfs.ext4 failed"
loop_detach "$LOOPDEV"

for ((round = 1; round <= ROUNDS; round++)); do
  log "round $round: mount ext4 over origin.img, load, snapshot under freeze and under load"
  loop_attach "$MNT/origin.img"
  LO=$LOOPDEV
  mount_fs "$LO" "$FS"
  mkdir -p "$FS/keep" "$FS/load"
  for i in 1 2 3 4; do
    dd if=/dev/urandom of="$FS/keep/r$round-$i" bs=64k count=$((RANDOM % 16 + 1)) status=none || fail "write keep file"
  done
  start_load "$FS"
  sleep 0.5
  sync -f "$FS/keep" || true
  freeze "$FS"
  tree_sums "$FS" "$T/frozen.sha"
  SF=$(snap_create "$MNT") || exit 1
  thaw "$FS"
  sleep 0.3
  SL=$(snap_create "$MNT") || exit 1
  sleep "0.$((RANDOM % 9 + 1))"

  log "round $round: kill -9 the daemon under load"
  kill -KILL "$DAEMON_PID" || fail "kill -9 $DAEMON_PID"
  wait_gone "$DAEMON_PID" 10 || fail "the daemon survived kill -9"
  stop_load
  timeout "$TO_SHORT" fusermount3 -u -z "$MNT" || fail "fusermount3 -u -z $MNT failed"
  # ext4 now sees I/O errors; it must still let go of the device, without hanging.
  timeout "$TO_SHORT" umount "$FS" 2>"$T/umount.err" || timeout "$TO_SHORT" umount -l "$FS" ||
    fail "cannot unmount ext4 after the daemon died: $(cat "$T/umount.err")"
  timeout "$TO_SHORT" losetup -d "$LO" || fail "losetup -d $LO hung or failed after the daemon died"
  for ((i = 0; i < 100; i++)); do losetup "$LO" >/dev/null 2>&1 || break; sleep 0.1; done
  losetup "$LO" >/dev/null 2>&1 && fail "$LO still attached 10 s after losetup -d"

  log "round $round: restart, e2fsck origin, $SF (frozen) and $SL (under load)"
  start_daemon_fg "$IMG" "$MNT" "$T/daemon.log"
  for s in "$SF" "$SL"; do [ -f "$MNT/$s.img" ] || fail "$s is gone after kill -9"; done
  fsck_image "origin after kill -9" "$MNT/origin.img" replay
  fsck_image "$SF (taken under fsfreeze)" "$MNT/$SF.img"
  loop_attach -r "$MNT/$SF.img"
  mount_fs -o ro,noload "$LOOPDEV" "$SNAPFS"
  tree_sums "$SNAPFS" "$T/snap.sha"
  diff -u "$T/frozen.sha" "$T/snap.sha" >"$T/diff.out" ||
    fail "$SF: files differ from those at freeze time: $(head -n 20 "$T/diff.out")"
  umount_fs "$SNAPFS"
  loop_detach "$LOOPDEV"
  fsck_image "$SL (taken under load)" "$MNT/$SL.img" replay
  ctl_ok status "$MNT" >"$T/status.out" || exit 1
  grep -Eq 'Invalid|Overflow' "$T/status.out" && fail "a snapshot is Invalid after kill -9: $(cat "$T/status.out")"
  # Keep the set small: drop this round's snapshots.
  for s in "$SF" "$SL"; do
    for ((i = 0; i < 50; i++)); do ctl snapshot delete "$MNT" "$s" >/dev/null && break; sleep 0.1; done
    [ -f "$MNT/$s.img" ] && fail "snapshot delete $s failed: $(cat "$T/ctl.err")"
  done
done
stop_daemon "$MNT"
exit 0
