#!/usr/bin/env bash
# The COW files snapcowfs writes are dm-snapshot persistent stores: tests/tools/dmcow.py, a
# parser written from the kernel's layout and sharing no code with the engine, reads them
# after unmount and rebuilds each snapshot from origin.img + its exceptions; the result must
# equal, byte for byte, what snap-N.img read while mounted. Chunk sizes 4K (many metadata
# areas), 16K (default) and 64K; snapshot writes; a snapshot created offline; a snapshot that
# overflows its --max-size becomes Invalid in the header (valid = 0) and in `status`, and
# with --overflow keep stays readable while its own writes fail with ENOSPC.
. "$(dirname "$0")/lib.sh"

DMCOW=("$PYTHON" "$TOOLS_DIR/dmcow.py")
IMG=$T/img
MNT=$T/mnt
SIZE=$((32 << 20))
mkdir -p "$IMG"
truncate -s $SIZE "$IMG/origin.img"

# scribble FILE SEED COUNT: COUNT pseudo-random writes (4K-aligned blocks and odd byte ranges).
scribble() {
  timeout "$TO_LONG" "$PYTHON" - "$1" "$2" "$3" <<'EOF' || fail "writing to $1 failed"
import os, random, sys
path, seed, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = random.Random(seed)
fd = os.open(path, os.O_RDWR)
size = os.fstat(fd).st_size
for i in range(count):
    if i % 10 == 9:
        n = r.randrange(1, 9000)
        off = r.randrange(0, size - n)
    else:
        n = 4096
        off = r.randrange(0, size // 4096) * 4096
    os.pwrite(fd, r.randbytes(n), off)
os.fsync(fd)
os.close(fd)
EOF
}

# rebuild_and_compare N WHAT: snap-N.cow rebuilt by dmcow.py must equal $T/snap-N.mounted.
rebuild_and_compare() {
  local n=$1 what=$2
  "${DMCOW[@]}" check "$IMG/snap-$n.cow" --origin-size $SIZE >"$T/check.out" 2>&1 ||
    fail "$what: snap-$n.cow is not a well-formed dm-snapshot store: $(head -n 10 "$T/check.out")"
  "${DMCOW[@]}" rebuild "$IMG/snap-$n.cow" --origin "$IMG/origin.img" --size $SIZE --out "$T/snap-$n.rebuilt" \
    >"$T/rebuild.out" 2>&1 || fail "$what: dmcow.py rebuild of snap-$n failed: $(cat "$T/rebuild.out")"
  same_bytes "$T/snap-$n.mounted" "$T/snap-$n.rebuilt" \
    "$what: snap-$n rebuilt from origin.img + snap-$n.cow differs from snap-$n.img as read through the mount"
}

# info_field N FIELD
info_field() {
  "${DMCOW[@]}" info --json "$IMG/snap-$1.cow" | "$PYTHON" -c "import json,sys; print(json.load(sys.stdin)['$2'])"
}

log "origin with random data; snapshots of 4K, 16K (default) and 64K chunks"
start_daemon_fg "$IMG" "$MNT" "$T/daemon.log"
timeout "$TO_LONG" dd if=/dev/urandom of="$MNT/origin.img" bs=1M count=32 conv=notrunc,fsync status=none ||
  fail "filling origin.img through the mount failed"
[ "$(snap_create --chunk-size 4K "$MNT")" = snap-1 ] || fail "expected snap-1"
scribble "$MNT/origin.img" 1 400
[ "$(snap_create "$MNT")" = snap-2 ] || fail "expected snap-2"
scribble "$MNT/origin.img" 2 3000
[ "$(snap_create --chunk-size 64K "$MNT")" = snap-3 ] || fail "expected snap-3"
scribble "$MNT/snap-2.img" 3 200
scribble "$MNT/origin.img" 4 1500
scribble "$MNT/snap-3.img" 5 50
for n in 1 2 3; do cat "$MNT/snap-$n.img" >"$T/snap-$n.mounted" || fail "reading snap-$n.img failed"; done
cat "$MNT/origin.img" >"$T/origin.mounted" || fail "reading origin.img failed"
stop_daemon "$MNT"

same_bytes "$IMG/origin.img" "$T/origin.mounted" "origin.img on disk differs from what the mount showed"
for n in 1 2 3; do rebuild_and_compare $n "live snapshots"; done
[ "$(info_field 1 chunk_sectors)" = 8 ] || fail "snap-1.cow chunk_size is $(info_field 1 chunk_sectors) sectors, expected 8 (4K)"
[ "$(info_field 2 chunk_sectors)" = 32 ] || fail "snap-2.cow chunk_size is $(info_field 2 chunk_sectors) sectors, expected 32 (16K default)"
[ "$(info_field 3 chunk_sectors)" = 128 ] || fail "snap-3.cow chunk_size is $(info_field 3 chunk_sectors) sectors, expected 128 (64K)"
[ "$(info_field 1 areas_read)" -ge 3 ] || fail "snap-1.cow has $(info_field 1 areas_read) metadata areas; the test meant to span several"
cmp -s "$T/snap-1.mounted" "$T/origin.mounted" && fail "snap-1 equals the origin: the origin writes did not happen (test bug)"
cmp -s "$T/snap-1.mounted" "$T/snap-2.mounted" && fail "snap-1 equals snap-2 though the origin changed between them"

log "offline create, then changes through a new mount"
S4=$(ctl_ok snapshot create --chunk-size 8K "$IMG" | tr -d '[:space:]') || exit 1
[ "$S4" = snap-4 ] || fail "offline snapshot create printed '$S4', expected snap-4"
[ -f "$IMG/snap-4.cow" ] || fail "offline create made no snap-4.cow"
"${DMCOW[@]}" check "$IMG/snap-4.cow" --origin-size $SIZE >"$T/check.out" 2>&1 ||
  fail "fresh offline snap-4.cow is not a well-formed store: $(cat "$T/check.out")"
[ "$(info_field 4 exceptions)" = 0 ] || fail "fresh snap-4.cow has exceptions"
cp "$IMG/origin.img" "$T/snap-4.expected"
start_daemon_fg "$IMG" "$MNT" "$T/daemon.log"
scribble "$MNT/origin.img" 6 2000
for n in 1 2 3 4; do cat "$MNT/snap-$n.img" >"$T/snap-$n.mounted" || fail "reading snap-$n.img failed"; done
same_bytes "$T/snap-4.mounted" "$T/snap-4.expected" "snap-4 (created offline) does not show the origin as it was at creation"
stop_daemon "$MNT"
for n in 1 2 3 4; do rebuild_and_compare $n "after a second mount"; done

log "overflow: a snapshot over --max-size becomes Invalid"
start_daemon_fg "$IMG" "$MNT" "$T/daemon.log"
S5=$(snap_create --chunk-size 4K --max-size 256K "$MNT") || exit 1
scribble "$MNT/origin.img" 7 600 # the origin must keep working (scribble fails otherwise)
ctl_ok status "$MNT" >"$T/status.out" || exit 1
grep -E "\b$S5\b" "$T/status.out" | grep -q Invalid ||
  fail "status does not report $S5 as Invalid after overflowing --max-size 256K: $(cat "$T/status.out")"
timeout "$TO_SHORT" dd if="$MNT/$S5.img" of=/dev/null bs=4k count=1 2>"$T/dd.err" &&
  fail "reading the Invalid $S5.img succeeded; dm semantics: reads of an invalid snapshot fail (EIO)"
grep -q "Input/output error" "$T/dd.err" || fail "reading the Invalid $S5.img failed, but not with EIO: $(cat "$T/dd.err")"

log "overflow keep: a full snapshot stays readable, its writes fail with ENOSPC (status Overflow)"
S6=$(snap_create --chunk-size 4K --max-size 256K --overflow keep "$MNT") || exit 1
cat "$MNT/$S6.img" >"$T/s6.before" || fail "reading $S6 failed"
timeout "$TO_LONG" dd if=/dev/urandom of="$MNT/$S6.img" bs=4k count=200 seek=1000 conv=notrunc,fsync 2>"$T/dd.err" &&
  fail "writing 800 KiB into $S6 (--max-size 256K, --overflow keep) succeeded"
grep -q "No space left" "$T/dd.err" || fail "the overflowing write to $S6 failed, but not with ENOSPC: $(cat "$T/dd.err")"
ctl_ok status "$MNT" >"$T/status.out" || exit 1
grep -E "\b$S6\b" "$T/status.out" | grep -q Overflow ||
  fail "status does not report $S6 as Overflow: $(cat "$T/status.out")"
cmp -s <(head -c $((1000 * 4096)) "$MNT/$S6.img") <(head -c $((1000 * 4096)) "$T/s6.before") ||
  fail "$S6 changed below the blocks it was written at, or cannot be read after overflowing"
stop_daemon "$MNT"
[ "$("${DMCOW[@]}" info --json "$IMG/$S5.cow" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["valid"])')" = 0 ] ||
  fail "$S5.cow header still says valid after the snapshot overflowed"
exit 0
