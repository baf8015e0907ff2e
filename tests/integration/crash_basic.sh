#!/usr/bin/env bash
# kill -9 of the daemon: what was fsynced through the mount is there after a remount, and the
# snapshot still shows the data it had (tagged blocks: {image, block, generation}, so stale or
# too-new blocks are told apart from lost ones).
. "$(dirname "$0")/lib.sh"

BLK=("$PYTHON" "$TOOLS_DIR/blocks.py")
IMG=$T/img
MNT=$T/mnt
mkdir -p "$IMG"
truncate -s 32M "$IMG/origin.img" # 8192 blocks of 4 KiB

# blk write|check FILE TAG GEN SPEC [flags]
blk() {
  local op=$1 f=$2 tag=$3 gen=$4 spec=$5
  shift 5
  timeout "$TO_LONG" "${BLK[@]}" "$op" "$f" --tag "$tag" --gen "$gen" --blocks "$spec" "$@" 2>"$T/blk.err" ||
    fail "blocks.py $op $(basename "$f") tag=$tag gen=$gen blocks=$spec: $(head -n 12 "$T/blk.err")"
}

kill9_and_remount() {
  kill -KILL "$DAEMON_PID" || fail "kill -9 $DAEMON_PID"
  wait_gone "$DAEMON_PID" 10 || fail "daemon $DAEMON_PID survived kill -9"
  wait "$DAEMON_PID" 2>/dev/null
  timeout "$TO_SHORT" fusermount3 -u -z "$MNT" || fail "fusermount3 -u -z $MNT after kill -9 failed"
  start_daemon_fg "$IMG" "$MNT" "$T/daemon.log"
}

start_daemon_fg "$IMG" "$MNT" "$T/daemon.log"

log "generation 1 on the origin (fsynced), snapshot, generation 2 on part of it (fsynced)"
blk write "$MNT/origin.img" origin 1 0-4095 --fsync
S1=$(snap_create "$MNT") || exit 1
blk write "$MNT/origin.img" origin 2 0-4095/2 --fsync
blk write "$MNT/origin.img" origin 2 6000-6999 --fsync --direct
blk write "$MNT/$S1.img" "$S1" 1 1-999/4 --fsync
blk write "$MNT/$S1.img" "$S1" 1 7000-7099 --fsync --direct

log "kill -9, remount"
kill9_and_remount
[ -f "$MNT/$S1.img" ] || fail "$S1.img is gone after kill -9 and remount"
blk check "$MNT/origin.img" origin 2 0-4095/2
blk check "$MNT/origin.img" origin 1 1-4095/2
blk check "$MNT/origin.img" origin 2 6000-6999
blk check "$MNT/origin.img" origin 0 4096-5999
blk check "$MNT/origin.img" origin 0 7000-7099
blk check "$MNT/$S1.img" "$S1" 1 1-999/4
blk check "$MNT/$S1.img" "$S1" 1 7000-7099
blk check "$MNT/$S1.img" origin 1 0-4095/4
blk check "$MNT/$S1.img" origin 1 2-4095/4
blk check "$MNT/$S1.img" origin 1 3-4095/4
blk check "$MNT/$S1.img" origin 1 1001-4095/4
blk check "$MNT/$S1.img" origin 0 4096-6999

log "a snapshot created right before the kill survives; later origin writes are not in it"
S2=$(snap_create "$MNT") || exit 1
blk write "$MNT/origin.img" origin 3 0-8191/3 --fsync --direct
kill9_and_remount
[ -f "$MNT/$S2.img" ] || fail "$S2 created before kill -9 is gone after remount"
blk check "$MNT/origin.img" origin 3 0-8191/3
blk check "$MNT/$S2.img" origin 2 6000-6999/3
blk check "$MNT/$S2.img" origin 2 0-4095/6
blk check "$MNT/$S2.img" origin 0 4098-5999/3
blk check "$MNT/$S1.img" origin 1 0-4095/4
blk check "$MNT/$S1.img" "$S1" 1 1-999/4
blk check "$MNT/$S1.img" origin 0 4096-6999

log "the status of both snapshots is valid after the crashes"
ctl_ok status "$MNT" >"$T/status.out" || exit 1
grep -Eq 'Invalid|Overflow' "$T/status.out" && fail "a snapshot is Invalid/Overflow after kill -9: $(cat "$T/status.out")"
stop_daemon "$MNT"
exit 0
