#!/usr/bin/env bash
# Point in time under load (DESIGN 4): snapshots are created while 4 threads keep overwriting
# the origin with O_DIRECT; every write acknowledged before `snapshot create` started must be
# in the snapshot, and none issued after it returned. Earlier snapshots must not change while
# later ones are taken, and the origin ends with the last acknowledged write of every block.
. "$(dirname "$0")/lib.sh"

PIT=("$PYTHON" "$TOOLS_DIR/pit.py")
BLK=("$PYTHON" "$TOOLS_DIR/blocks.py")
IMG=$T/img
MNT=$T/mnt
NBLK=4096 # 16 MiB of 4 KiB blocks
mkdir -p "$IMG"
truncate -s $((NBLK * 4096)) "$IMG/origin.img"

now() { date +%s.%N; }

start_daemon_fg "$IMG" "$MNT" "$T/daemon.log"
for round in 1 2 3; do
  old=$((100 + round))
  gen=$((round + 1))
  log "round $round: baseline generation $old, then writers with generation $gen and a snapshot among them"
  timeout "$TO_LONG" "${BLK[@]}" write "$MNT/origin.img" --tag origin --gen $old --blocks 0-$((NBLK - 1)) --fsync ||
    fail "baseline write failed"
  L=$T/pit-$round.log
  rm -f "$L.stop" "$L.ready"
  timeout "$TO_LONG" "${PIT[@]}" write "$MNT/origin.img" --gen $gen --blocks $NBLK --threads 4 --log "$L" --direct \
    2>"$T/pit-write.err" &
  W=$!
  _BG+=("$W")
  for ((i = 0; i < 600; i++)); do [ -e "$L.ready" ] && break; alive "$W" || break; sleep 0.1; done
  [ -e "$L.ready" ] || fail "the writers did not finish a first pass over the origin within 60 s: $(cat "$T/pit-write.err")"
  sleep 0.2
  t0=$(now)
  S=$(snap_create "$MNT") || exit 1
  t1=$(now)
  sleep 1
  touch "$L.stop"
  wait "$W" || fail "the writers failed: $(cat "$T/pit-write.err")"
  log "$S taken in $(awk "BEGIN { print $t1 - $t0 }") s while $(wc -l <"$L") writes were logged"
  "${PIT[@]}" check "$MNT/$S.img" --gen $gen --old-gen $old --blocks $NBLK --log "$L" --start "$t0" --end "$t1" \
    >"$T/pit-check.out" 2>&1 || fail "$S is not the origin at a point in time between create's start and return: $(head -n 12 "$T/pit-check.out")"
  log "$(tail -n 1 "$T/pit-check.out")"
  grep -q ' 0 with writes acknowledged' "$T/pit-check.out" && fail "no write was acknowledged before the snapshot: the test proved nothing"
  "${PIT[@]}" check "$MNT/origin.img" --gen $gen --old-gen $old --blocks $NBLK --log "$L" --start 1e12 --end 1e12 \
    >"$T/pit-check.out" 2>&1 || fail "the origin lost acknowledged writes: $(head -n 12 "$T/pit-check.out")"
  sha_of "$MNT/$S.img" >"$T/$S.sha"
  for f in "$T"/snap-*.sha; do
    s=$(basename "$f" .sha)
    [ "$(sha_of "$MNT/$s.img")" = "$(cat "$f")" ] || fail "$s changed while $S was taken and the origin written"
  done
done
stop_daemon "$MNT"
start_daemon_fg "$IMG" "$MNT" "$T/daemon.log"
for f in "$T"/snap-*.sha; do
  s=$(basename "$f" .sha)
  [ "$(sha_of "$MNT/$s.img")" = "$(cat "$f")" ] || fail "$s changed across a restart"
done
stop_daemon "$MNT"
exit 0
