#!/usr/bin/env bash
# The origin write journal (FORMAT.md §7): a first write to an origin chunk is acknowledged
# once it is in IMAGEDIR/.snapcowfs.journal, and origin.img is written only after the
# snapshots' copies are durable. Checks, through real mounts and named crash points:
#   1. killed at deferred-before-apply: the acknowledged write is in the journal, not yet in
#      origin.img; the next mount replays it (the snapshot keeps the old bytes);
#   2. the same kill, then an offline `snapshot create`: it replays first, so the new snapshot
#      holds the write and the older one does not;
#   3. 200 direct writes, killed at a random later apply: every acknowledged write survives
#      and the snapshot is still the original origin;
#   4. --no-write-journal: no journal file, journal-appended never fires, origin.img is written
#      before the acknowledgement (and the same setup with the journal does die there);
#   5. fsync and a clean unmount leave no record of the journal's current generation;
#   6. O_DSYNC writes (synced before their reply) and writers that fsync after every write
#      stay out of the journal (it would only add a flush), while a plain write goes in;
#   7. an O_DSYNC write, to the origin or to a snapshot, is synced before its reply: the kernel
#      leaves that to the server on direct_io files (seen with strace: one fdatasync of
#      origin.img, or of the snapshot's COW file, per O_DSYNC write).
# The journal is read with the parser below, written from FORMAT.md §7 alone.
. "$(dirname "$0")/lib.sh"

BS=4096
NBLK=16384 # 64 MiB origin
CHUNK_BLKS=4 # the default chunk size, 16 KiB: one first write per chunk is one deferral
WJ=("$PYTHON" "$T/wj.py")

cat >"$T/wj.py" <<'EOF'
"""Patterns, block checks and a FORMAT.md §7 journal parser for write_journal.sh."""
import hashlib, struct, sys

BS = 4096
TABLE = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    TABLE.append(c)


def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c = TABLE[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def fill(line):
    return (line * (BS // len(line) + 1))[:BS]


def origin_block(i):
    return fill(b"origin block %08d\n" % i)


def pattern_block(i):
    return fill(b"write-journal pattern %05d\n" % i)


def journal(path):
    """Prints 'generation G', then 'record SEQ STATE OFFSET LENGTH SHA256' for every record of
    the current generation, read as replay reads them."""
    with open(path, "rb") as f:
        j = f.read()
    gen = 0
    if len(j) >= 20:
        magic, version, g, crc = struct.unpack_from("<IIQI", j, 0)
        if magic == 0x4A574353 and version == 1 and crc == crc32c(j[:16]):
            gen = g
    print("generation", gen)
    pos, seq = 4096, 1
    while pos + 64 <= len(j):
        magic, state, g, s, off, length, dcrc, hcrc = struct.unpack_from("<IIQQQIII", j, pos)
        hdr = bytearray(j[pos:pos + 40])
        hdr[4:8] = b"\0\0\0\0"
        if (magic != 0x52574353 or g != gen or s != seq or hcrc != crc32c(hdr) or
                not 1 <= length <= 64 << 20 or state not in (1, 2) or
                pos + 64 + length > len(j)):
            break
        data = j[pos + 64:pos + 64 + length]
        if crc32c(data) != dcrc:
            break
        print("record", seq, state, off, length, hashlib.sha256(data).hexdigest())
        pos += (64 + length + 511) // 512 * 512
        seq += 1


def verify(image, results):
    """Every block of `image` is the original, except those written: 'ok' ones must hold
    their pattern, 'fail' ones (not acknowledged) may hold either."""
    want = {}
    for line in open(results):
        i, blk, how = line.split()
        want[int(blk)] = (int(i), how)
    bad = []
    with open(image, "rb") as f:
        blk = 0
        while True:
            b = f.read(BS)
            if not b:
                break
            orig = origin_block(blk)
            if blk in want:
                i, how = want[blk]
                ok = b == pattern_block(i) or (how == "fail" and b == orig)
                what = "write %d (%s)" % (i, how)
            else:
                ok, what = b == orig, "the original"
            if not ok:
                bad.append("block %d: expected %s, found %r" % (blk, what, b[:24]))
            blk += 1
    for line in bad[:10]:
        print(line)
    if bad:
        sys.exit("%d bad blocks in %s" % (len(bad), image))


def lagging(image, results):
    """How many acknowledged writes `image` does not hold yet."""
    n = 0
    with open(image, "rb") as f:
        for line in open(results):
            i, blk, how = line.split()
            f.seek(int(blk) * BS)
            n += how == "ok" and f.read(BS) != pattern_block(int(i))
    print(n)


cmd = sys.argv[1]
if cmd == "selftest":
    assert crc32c(b"123456789") == 0xE3069283
elif cmd == "origin":
    with open(sys.argv[2], "wb") as f:
        for i in range(int(sys.argv[3])):
            f.write(origin_block(i))
elif cmd == "patterns":
    with open(sys.argv[2], "wb") as f:
        for i in range(int(sys.argv[3])):
            f.write(pattern_block(i))
elif cmd == "journal":
    journal(sys.argv[2])
elif cmd == "verify":
    verify(sys.argv[2], sys.argv[3])
elif cmd == "lagging":
    lagging(sys.argv[2], sys.argv[3])
else:
    sys.exit("unknown command " + cmd)
EOF
"${WJ[@]}" selftest || fail "the crc32c of the journal parser is wrong"

ORIG=$T/original.img
PAT=$T/patterns.img
"${WJ[@]}" origin "$ORIG" $NBLK || fail "cannot write $ORIG"
"${WJ[@]}" patterns "$PAT" 256 || fail "cannot write $PAT"
ORIG_SHA=$(sha_of "$ORIG")

# new_image DIR: an image directory whose origin.img is a copy of $ORIG.
new_image() {
  mkdir -p "$1"
  cp "$ORIG" "$1/origin.img" || fail "cannot copy $ORIG to $1"
}

# mount_at IMG MNT LOG [CRASH_POINT [daemon args...]]: foreground daemon, optionally armed.
mount_at() {
  local img=$1 mnt=$2 logf=$3 point=${4:-}
  shift 3
  [ $# -gt 0 ] && shift
  if [ -n "$point" ]; then
    SNAPCOW_CRASH_POINT=$point start_daemon_fg "$img" "$mnt" "$logf" "$@"
  else
    start_daemon_fg "$img" "$mnt" "$logf" "$@"
  fi
}

# write_pat FILE BLOCK I: pattern I to block BLOCK of FILE, O_DIRECT, no fsync.
write_pat() {
  timeout "$TO_SHORT" dd if="$PAT" of="$1" bs=$BS skip="$3" seek="$2" count=1 \
    oflag=direct conv=notrunc status=none 2>>"$T/dd.err"
}

# block_sha FILE BLOCK; pat_sha I; orig_sha BLOCK
block_sha() { dd if="$1" bs=$BS skip="$2" count=1 status=none | sha256sum | cut -d' ' -f1; }
pat_sha() { block_sha "$PAT" "$1"; }
orig_sha() { block_sha "$ORIG" "$1"; }

# expect_block FILE BLOCK SHA WHAT
expect_block() {
  [ "$(block_sha "$1" "$2")" = "$3" ] || fail "$4 (block $2 of $1)"
}

# journal_of IMG OUT: parses IMG's journal into OUT; prints the number of records in state 1.
journal_of() {
  "${WJ[@]}" journal "$1/.snapcowfs.journal" >"$2" || fail "cannot parse $1/.snapcowfs.journal"
  grep -c '^record [0-9]* 1 ' "$2"
}
journal_gen() { sed -n 's/^generation //p' "$1"; }

# expect_killed: the daemon in DAEMON_PID dies by itself (an armed crash point).
expect_killed() {
  wait_gone "$DAEMON_PID" 30 || fail "$1: the daemon is still alive 30 s later (the crash point did not fire)"
  wait "$DAEMON_PID" 2>/dev/null
}

# clean_dead_mount MNT: the FUSE mount of a killed daemon.
clean_dead_mount() {
  timeout "$TO_SHORT" fusermount3 -u -z "$1" || fail "fusermount3 -u -z $1 after the kill failed"
  ! mountpoint -q "$1" || fail "$1 is still mounted after fusermount3 -u -z"
}

# ---- 1. killed at deferred-before-apply, replayed by the next mount -------------------------
IMG=$T/img1
MNT=$T/mnt1
new_image "$IMG"
S1=$(snap_create "$IMG") || exit 1
BA=1000 # block of the first write (chunk 250)

log "1. first write after $S1, daemon killed at deferred-before-apply:1"
mount_at "$IMG" "$MNT" "$T/1-kill.log" deferred-before-apply:1
write_pat "$MNT/origin.img" $BA 1 || fail "the first write was not acknowledged: $(tail -n 2 "$T/dd.err")"
# The crash point comes before the origin write: whether or not the daemon is dead yet,
# origin.img cannot hold the write, and the journal must.
expect_block "$IMG/origin.img" $BA "$(orig_sha $BA)" \
  "IMAGEDIR/origin.img already holds the acknowledged write: it was not deferred"
[ "$(stat -c %s "$IMG/.snapcowfs.journal" 2>/dev/null || echo 0)" -gt 4096 ] ||
  fail "the journal holds no record after an acknowledged first write"
[ "$(journal_of "$IMG" "$T/1-journal.txt")" = 1 ] ||
  fail "expected 1 record waiting for origin.img in the journal: $(cat "$T/1-journal.txt")"
grep -q "^record 1 1 $((BA * BS)) $BS $(pat_sha 1)\$" "$T/1-journal.txt" ||
  fail "the journal record is not the write (offset $((BA * BS)), pattern 1): $(cat "$T/1-journal.txt")"
expect_killed "deferred-before-apply:1"
expect_block "$IMG/origin.img" $BA "$(orig_sha $BA)" "IMAGEDIR/origin.img holds the write after the kill"
clean_dead_mount "$MNT"

log "1. remount: the journal is replayed"
mount_at "$IMG" "$MNT" "$T/1-replay.log"
grep -q 'replayed 1 acknowledged origin write' "$T/1-replay.log" ||
  fail "the daemon log does not say it replayed 1 write: $(tail -n 5 "$T/1-replay.log")"
expect_block "$MNT/origin.img" $BA "$(pat_sha 1)" "the acknowledged write is lost after the remount"
[ "$(sha_of "$MNT/$S1.img")" = "$ORIG_SHA" ] || fail "$S1 is not the original origin after the replay"
[ "$(journal_of "$IMG" "$T/1-journal.txt")" = 0 ] ||
  fail "the replayed record is still live: $(cat "$T/1-journal.txt")"
stop_daemon "$MNT"
expect_block "$IMG/origin.img" $BA "$(pat_sha 1)" "IMAGEDIR/origin.img lacks the write after a clean unmount"

# ---- 2. the same kill, replayed by an offline snapcowctl -------------------------------------
BB=2001 # chunk 500, untouched so far
log "2. first write, killed at deferred-before-apply:1, then an offline snapshot create"
mount_at "$IMG" "$MNT" "$T/2-kill.log" deferred-before-apply:1
write_pat "$MNT/origin.img" $BB 2 || fail "the first write was not acknowledged: $(tail -n 2 "$T/dd.err")"
expect_block "$IMG/origin.img" $BB "$(orig_sha $BB)" "IMAGEDIR/origin.img already holds the write: not deferred"
expect_killed "deferred-before-apply:1"
[ "$(journal_of "$IMG" "$T/2-journal.txt")" = 1 ] ||
  fail "expected 1 record waiting in the journal: $(cat "$T/2-journal.txt")"
clean_dead_mount "$MNT"
S2=$(snap_create "$IMG") || exit 1
expect_block "$IMG/origin.img" $BB "$(pat_sha 2)" "the offline snapshot create did not replay the journal into origin.img"
[ "$(journal_of "$IMG" "$T/2-journal.txt")" = 0 ] ||
  fail "the record is still live after the offline replay: $(cat "$T/2-journal.txt")"
mount_at "$IMG" "$MNT" "$T/2-mount.log"
grep -q 'replayed' "$T/2-mount.log" && fail "the mount replayed again what snapcowctl had replayed: $(grep replayed "$T/2-mount.log")"
expect_block "$MNT/$S2.img" $BB "$(pat_sha 2)" "$S2, created offline after the kill, lacks the acknowledged write"
expect_block "$MNT/$S2.img" $BA "$(pat_sha 1)" "$S2 lacks the write of check 1"
expect_block "$MNT/origin.img" $BB "$(pat_sha 2)" "the origin lacks the acknowledged write"
[ "$(sha_of "$MNT/$S1.img")" = "$ORIG_SHA" ] || fail "$S1 changed: the offline replay did not copy first"

# ---- 5. fsync and a clean unmount leave no live record (on the same mount) ------------------
log "5. writes, fsync, writes, clean unmount: what the journal holds at each step"
for i in 0 1 2 3 4 5 6 7; do
  write_pat "$MNT/origin.img" $((3000 + i * 8)) $((10 + i)) || fail "write $i failed"
done
journal_of "$IMG" "$T/5-journal.txt" >/dev/null
grep -q '^record ' "$T/5-journal.txt" ||
  fail "8 first writes without fsync left no record of the current generation: the parser or the journal is wrong"
G0=$(journal_gen "$T/5-journal.txt")
timeout "$TO_SHORT" "$PYTHON" -c 'import os,sys; f=os.open(sys.argv[1], os.O_RDWR); os.fsync(f)' "$MNT/origin.img" ||
  fail "fsync of origin.img failed"
journal_of "$IMG" "$T/5-journal.txt" >/dev/null
grep -q '^record ' "$T/5-journal.txt" && fail "records of the current generation survive an fsync: $(cat "$T/5-journal.txt")"
G1=$(journal_gen "$T/5-journal.txt")
[ "$G1" -gt "$G0" ] || fail "fsync did not advance the journal generation ($G0 -> $G1)"
for i in 0 1 2 3 4 5 6 7; do
  expect_block "$IMG/origin.img" $((3000 + i * 8)) "$(pat_sha $((10 + i)))" "IMAGEDIR/origin.img lacks write $i after fsync"
done
for i in 0 1 2 3 4 5 6 7; do
  write_pat "$MNT/origin.img" $((4000 + i * 8)) $((20 + i)) || fail "write $i failed"
done
journal_of "$IMG" "$T/5-journal.txt" >/dev/null
grep -q '^record ' "$T/5-journal.txt" || fail "8 more first writes left no record of the current generation"
stop_daemon "$MNT"
[ "$(journal_of "$IMG" "$T/5-journal.txt")" = 0 ] ||
  fail "records in state 1 survive a clean unmount: $(cat "$T/5-journal.txt")"
grep -q '^record ' "$T/5-journal.txt" &&
  fail "records of the current generation survive a clean unmount: $(cat "$T/5-journal.txt")"
[ "$(journal_gen "$T/5-journal.txt")" -gt "$G1" ] || fail "the clean unmount did not advance the journal generation"
for i in 0 1 2 3 4 5 6 7; do
  expect_block "$IMG/origin.img" $((4000 + i * 8)) "$(pat_sha $((20 + i)))" "IMAGEDIR/origin.img lacks write $i after a clean unmount"
done

# ---- 3. many writes, killed at a random later apply ------------------------------------------
SEED=${WJ_SEED:-$RANDOM}
RANDOM=$SEED
K=$((20 + RANDOM % 131)) # 20..150: all of the 200 writes are first writes to their chunk
IMG=$T/img3
MNT=$T/mnt3
new_image "$IMG"
S3=$(snap_create "$IMG") || exit 1
log "3. 200 direct first writes, killed at deferred-before-apply:$K (WJ_SEED=$SEED)"
"$PYTHON" -c '
import random, sys
r = random.Random(int(sys.argv[1]))
for i, c in enumerate(r.sample(range(int(sys.argv[2])), 200)):
    print(i, c * int(sys.argv[3]) + r.randrange(int(sys.argv[3])))
' "$SEED" $((NBLK / CHUNK_BLKS)) $CHUNK_BLKS >"$T/3-plan.txt" || fail "cannot plan the writes"
mount_at "$IMG" "$MNT" "$T/3-kill.log" deferred-before-apply:$K
: >"$T/3-results.txt"
while read -r i blk; do
  if write_pat "$MNT/origin.img" "$blk" "$i"; then how=ok; else how=fail; fi
  echo "$i $blk $how" >>"$T/3-results.txt"
done <"$T/3-plan.txt"
expect_killed "deferred-before-apply:$K"
NOK=$(grep -c ' ok$' "$T/3-results.txt")
log "3. $NOK of 200 writes acknowledged; $("${WJ[@]}" lagging "$IMG/origin.img" "$T/3-results.txt") of them not yet in IMAGEDIR/origin.img"
[ "$NOK" -ge $((K - 1)) ] || fail "only $NOK writes acknowledged, yet $K were deferred before the kill"
LIVE=$(journal_of "$IMG" "$T/3-journal.txt")
[ "$LIVE" -ge 1 ] || fail "the journal holds no record waiting for origin.img after a kill before an apply"
clean_dead_mount "$MNT"
mount_at "$IMG" "$MNT" "$T/3-replay.log"
grep -q "replayed $LIVE acknowledged origin write" "$T/3-replay.log" ||
  fail "the parser found $LIVE live records, the daemon says: $(grep -i replay "$T/3-replay.log" || echo nothing)"
"${WJ[@]}" verify "$MNT/origin.img" "$T/3-results.txt" >"$T/3-verify.out" 2>&1 ||
  fail "the origin after the replay (WJ_SEED=$SEED): $(head -n 11 "$T/3-verify.out")"
[ "$(sha_of "$MNT/$S3.img")" = "$ORIG_SHA" ] || fail "$S3 is not the original origin after the replay (WJ_SEED=$SEED)"
stop_daemon "$MNT"
"${WJ[@]}" verify "$IMG/origin.img" "$T/3-results.txt" >"$T/3-verify.out" 2>&1 ||
  fail "IMAGEDIR/origin.img after a clean unmount: $(head -n 11 "$T/3-verify.out")"

# ---- 4. --no-write-journal ---------------------------------------------------------------------
IMG=$T/img4
MNT=$T/mnt4
new_image "$IMG"
S4=$(snap_create "$IMG") || exit 1
BD=5000
log "4. --no-write-journal, armed at journal-appended:1"
mount_at "$IMG" "$MNT" "$T/4-nojournal.log" journal-appended:1 --no-write-journal
write_pat "$MNT/origin.img" $BD 3 || fail "a first write with --no-write-journal failed: $(tail -n 2 "$T/dd.err")"
# No deferral: the write is in origin.img (page cache) before it is acknowledged.
expect_block "$IMG/origin.img" $BD "$(pat_sha 3)" "with --no-write-journal, IMAGEDIR/origin.img lacks an acknowledged write"
write_pat "$MNT/origin.img" $((BD + 4)) 4 || fail "a second first write with --no-write-journal failed"
sleep 0.5
alive "$DAEMON_PID" || fail "the daemon died at journal-appended with --no-write-journal"
[ ! -e "$IMG/.snapcowfs.journal" ] || fail "--no-write-journal created IMAGEDIR/.snapcowfs.journal"
expect_block "$MNT/origin.img" $BD "$(pat_sha 3)" "the origin lacks the write"
[ "$(sha_of "$MNT/$S4.img")" = "$ORIG_SHA" ] || fail "$S4 changed with --no-write-journal"
stop_daemon "$MNT"
expect_block "$IMG/origin.img" $((BD + 4)) "$(pat_sha 4)" "IMAGEDIR/origin.img lacks the second write"

log "4. the same with the journal: journal-appended:1 fires; the replay copies first"
mount_at "$IMG" "$MNT" "$T/4-journal.log" journal-appended:1
write_pat "$MNT/origin.img" $((BD + 8)) 5 # killed before its acknowledgement: may fail
expect_killed "journal-appended:1 with the journal on"
clean_dead_mount "$MNT"
expect_block "$IMG/origin.img" $((BD + 8)) "$(orig_sha $((BD + 8)))" "origin.img was written before the journal record"
[ "$(journal_of "$IMG" "$T/4-journal.txt")" = 1 ] ||
  fail "expected the one appended record in the journal: $(cat "$T/4-journal.txt")"
# Killed right after the append, the copy into $S4 may not be committed: the replay must
# copy the old bytes before it writes the origin.
mount_at "$IMG" "$MNT" "$T/4-replay.log"
grep -q 'replayed 1 acknowledged origin write' "$T/4-replay.log" ||
  fail "the daemon log does not say it replayed 1 write: $(tail -n 5 "$T/4-replay.log")"
expect_block "$MNT/origin.img" $((BD + 8)) "$(pat_sha 5)" "the journalled write is not in the origin after the replay"
[ "$(sha_of "$MNT/$S4.img")" = "$ORIG_SHA" ] || fail "$S4 is not the original origin after the replay"
stop_daemon "$MNT"

# ---- 6. writers that sync after every write bypass the journal -----------------------------
IMG=$T/img6
MNT=$T/mnt6
new_image "$IMG"
S6=$(snap_create "$IMG") || exit 1
BE=6000 # chunks 1500.. are untouched: every write below is a first write
# Armed at the second append: the fsync-per-write writer's first write (its habit is not yet
# known) is the first; any other append before the last step kills the daemon too early.
log "6. O_DSYNC writes and fsync after every write, armed at journal-appended:2"
mount_at "$IMG" "$MNT" "$T/6.log" journal-appended:2
for i in 0 1 2 3 4; do
  timeout "$TO_SHORT" dd if="$PAT" of="$MNT/origin.img" bs=$BS skip=$((30 + i)) seek=$((BE + i * 4)) \
    count=1 oflag=direct,dsync conv=notrunc status=none 2>>"$T/dd.err" ||
    fail "O_DSYNC write $i failed: $(tail -n 2 "$T/dd.err")"
done
alive "$DAEMON_PID" || fail "O_DSYNC writes went through the journal (journal-appended:2 fired)"
timeout "$TO_SHORT" "$PYTHON" -c '
import os, sys
pat = open(sys.argv[2], "rb").read()
f = os.open(sys.argv[1], os.O_RDWR)
for i in range(20):
    blk = int(sys.argv[3]) + i * 4
    os.pwrite(f, pat[(40 + i) * 4096:(41 + i) * 4096], blk * 4096)
    os.fdatasync(f)
' "$MNT/origin.img" "$PAT" $((BE + 100)) || fail "the fsync-after-every-write writer failed"
alive "$DAEMON_PID" || fail "a writer that fsyncs after every write kept using the journal (journal-appended:2 fired)"
for i in 0 1 2 3 4; do
  expect_block "$IMG/origin.img" $((BE + i * 4)) "$(pat_sha $((30 + i)))" "IMAGEDIR/origin.img lacks O_DSYNC write $i"
done
for i in $(seq 0 19); do
  expect_block "$IMG/origin.img" $((BE + 100 + i * 4)) "$(pat_sha $((40 + i)))" "IMAGEDIR/origin.img lacks synced write $i"
done
[ "$(sha_of "$MNT/$S6.img")" = "$ORIG_SHA" ] || fail "$S6 changed under writes that bypassed the journal"
# The control: a plain write is journalled, so the same armed daemon does die.
write_pat "$MNT/origin.img" $((BE + 200)) 6
expect_killed "journal-appended:2 on a plain first write"
clean_dead_mount "$MNT"

# ---- 7. O_DSYNC writes are durable before their reply ---------------------------------------
command -v strace >/dev/null || fail "strace not found (Debian package strace)"
IMG=$T/img7
MNT=$T/mnt7
new_image "$IMG"
# The daemon runs under strace from its start, so every thread is traced. No snapshot: a
# plain write then syncs nothing, and every sync of origin.img is an O_DSYNC write's or the
# unmount's.
printf '#!/bin/sh\nexec strace -f -qq -y -e trace=fsync,fdatasync -o "%s" "%s" "$@"\n' \
  "$T/7.strace" "$SNAPCOWFS" >"$T/traced-snapcowfs"
chmod +x "$T/traced-snapcowfs"
log "7. 8 plain and 5 O_DSYNC direct writes, the daemon under strace"
SNAPCOWFS=$T/traced-snapcowfs start_daemon_fg "$IMG" "$MNT" "$T/7.log"
for i in 0 1 2 3 4 5 6 7; do
  write_pat "$MNT/origin.img" $((7000 + i)) $((50 + i)) || fail "plain write $i failed"
done
for i in 0 1 2 3 4; do
  timeout "$TO_SHORT" dd if="$PAT" of="$MNT/origin.img" bs=$BS skip=$((60 + i)) seek=$((7100 + i)) \
    count=1 oflag=direct,dsync conv=notrunc status=none 2>>"$T/dd.err" ||
    fail "O_DSYNC write $i failed: $(tail -n 2 "$T/dd.err")"
done
stop_daemon "$MNT"
# A call is one line: complete, or "<unfinished ...>" when another thread syncs beside it.
SYNCS=$(grep -cE "^[0-9]+ +f(data)?sync\([0-9]+<$IMG/origin.img>" "$T/7.strace")
[ "$SYNCS" -ge 6 ] ||
  fail "$SYNCS syncs of origin.img for 5 O_DSYNC writes and an unmount: $(head -c 600 "$T/7.strace")"
[ "$SYNCS" -le 7 ] ||
  fail "$SYNCS syncs of origin.img: plain writes were synced too: $(head -c 600 "$T/7.strace")"
for i in 0 1 2 3 4; do
  expect_block "$IMG/origin.img" $((7100 + i)) "$(pat_sha $((60 + i)))" "IMAGEDIR/origin.img lacks O_DSYNC write $i"
done

# snap_syncs NAME OFLAG: a fresh image with one snapshot, its daemon under strace; one direct
# write to a snapshot block (its copy and commit), then 3 more to that block with OFLAG.
# Sets SNAP_SYNCS to the number of syncs of the snapshot's COW file.
snap_syncs() {
  local img=$T/img7$1 mnt=$T/mnt7$1 snap i
  new_image "$img"
  snap=$(snap_create "$img") || exit 1
  printf '#!/bin/sh\nexec strace -f -qq -y -e trace=fsync,fdatasync -o "%s" "%s" "$@"\n' \
    "$T/7$1.strace" "$SNAPCOWFS" >"$T/traced-$1"
  chmod +x "$T/traced-$1"
  SNAPCOWFS=$T/traced-$1 start_daemon_fg "$img" "$mnt" "$T/7$1.log"
  write_pat "$mnt/$snap.img" 100 70 || fail "a write to $snap failed"
  for i in 1 2 3; do
    timeout "$TO_SHORT" dd if="$PAT" of="$mnt/$snap.img" bs=$BS skip=$((70 + i)) seek=100 \
      count=1 oflag="$2" conv=notrunc status=none 2>>"$T/dd.err" ||
      fail "write $i to $snap (oflag=$2) failed: $(tail -n 2 "$T/dd.err")"
  done
  expect_block "$mnt/$snap.img" 100 "$(pat_sha 73)" "$snap lacks its last write (oflag=$2)"
  stop_daemon "$mnt"
  SNAP_SYNCS=$(grep -cE "^[0-9]+ +f(data)?sync\([0-9]+<$img/$snap.cow>" "$T/7$1.strace")
}
log "7. writes to a snapshot: 3 plain against 3 O_DSYNC, the daemon under strace"
snap_syncs plain direct
PLAIN=$SNAP_SYNCS
snap_syncs dsync direct,dsync
[ "$SNAP_SYNCS" -ge $((PLAIN + 3)) ] ||
  fail "3 O_DSYNC writes to a snapshot synced its COW file $SNAP_SYNCS times, 3 plain ones $PLAIN times"
exit 0
