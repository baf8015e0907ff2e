#!/usr/bin/env bash
# snapcowfs against its peers, side by side, in one run (issue 5; see bench/README.md).
#
#   sudo bench/peers/run.sh [--quick] [--systems raw,passthrough,qemu,nbdkit,snapcowfs]
#                           [--no-mount-test] [--only-mount-test]
#
# Same 1 GiB origin for every system. fio 4 KiB random write/read (psync 1 and 2 jobs, libaio
# QD16, all O_DIRECT), a first-write (COW) pass on a fresh snapshot/overlay (also with an
# fdatasync after every write: equal durability), read-only opens, a steady-state
# pass after every chunk was copied, 1 MiB sequential write/read; on snapcowfs also snapshot
# read/write and first writes with 4 and 16 snapshots; then mount time and RSS with a COW
# store of 1 million exceptions. Each cell is repeated (BENCH_REPS, default 3) and the median
# reported. Writes bench/results/<date-time>.md and .json and prints the table.
#
# Environment: BENCH_RUNTIME (s per cell, default 3; --quick 2), BENCH_REPS (default 3;
# --quick 1), BENCH_WORK (scratch dir on a real disk, default /var/tmp/snapcowfs-bench),
# BENCH_BUILD (snapcowfs build dir, default /tmp/snapcowfs-build/bench),
# SNAPCOW_WRAP (a command prefix for the snapcowfs daemon, e.g. "strace -f -c -o /tmp/s.txt").
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/bench/peers
RUNTIME=${BENCH_RUNTIME:-3}
REPS=${BENCH_REPS:-3}
WORK=${BENCH_WORK:-/var/tmp/snapcowfs-bench}
BUILD=${BENCH_BUILD:-/tmp/snapcowfs-build/bench}
SYSTEMS=raw,passthrough,qemu,nbdkit,snapcowfs
MOUNT_TEST=1
FIO_TESTS=1
QUICK=0
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=1; RUNTIME=${BENCH_RUNTIME:-2}; REPS=${BENCH_REPS:-1} ;;
    --systems) SYSTEMS=$2; shift ;;
    --no-mount-test) MOUNT_TEST=0 ;;
    --only-mount-test) FIO_TESTS=0 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
SIZE_MB=1024
export DEBIAN_FRONTEND=noninteractive

[ "$(id -u)" = 0 ] || { echo "run.sh: run as root (sudo): it mounts FUSE file systems" >&2; exit 1; }
say() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }
has() { case ",$SYSTEMS," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

# ---------------------------------------------------------------- packages and builds
PKGS=(fio qemu-utils qemu-system-common nbdkit libnbd-bin libfuse3-dev fuse3 gcc pkg-config
  build-essential cmake libfmt-dev libboost-program-options-dev python3 util-linux)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
[ -c /dev/fuse ] || modprobe fuse

say "building snapcowfs (Release) into $BUILD"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target snapcowfs snapcowctl >/dev/null
SNAPCOWFS=$BUILD/fusefs/snapcowfs
SNAPCOWCTL=$BUILD/utils/snapcowctl

# libfuse's low-level passthrough example, built from the Debian package's source. One change:
# the backing file is opened without O_DIRECT, as snapcowfs opens its files (the stock 3.14
# example fails every O_DIRECT write with EINVAL: spliced write data arrives misaligned).
EX=/usr/share/doc/libfuse3-dev/examples
PT_DIR=$BUILD/passthrough_ll
mkdir -p "$PT_DIR"
for f in passthrough_ll.c passthrough_helpers.h; do
  if [ -f "$EX/$f" ]; then cp "$EX/$f" "$PT_DIR/$f"; else zcat "$EX/$f.gz" >"$PT_DIR/$f"; fi
done
sed -i 's/fi->flags & ~O_NOFOLLOW/fi->flags \& ~(O_NOFOLLOW | O_DIRECT)/' "$PT_DIR/passthrough_ll.c"
grep -q 'O_NOFOLLOW | O_DIRECT' "$PT_DIR/passthrough_ll.c" || { echo "run.sh: could not patch passthrough_ll.c" >&2; exit 1; }
gcc -O2 -Wall -o "$PT_DIR/passthrough_ll" "$PT_DIR/passthrough_ll.c" \
  $(pkg-config --cflags --libs fuse3) -lpthread
PASSTHROUGH=$PT_DIR/passthrough_ll

# ---------------------------------------------------------------- scratch, results, cleanup
STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
RESDIR=$ROOT/bench/results
mkdir -p "$RESDIR"
RAWDIR=$WORK/fio-$STAMP
TSV=$WORK/cells-$STAMP.tsv
META=$WORK/meta-$STAMP.json
BASE=$WORK/base/origin.img
PIDS=()   # processes this script started
MOUNTS=() # mountpoints this script mounted

cleanup() {
  set +e
  for m in "${MOUNTS[@]}"; do mountpoint -q "$m" 2>/dev/null && fusermount3 -u "$m" 2>/dev/null; done
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for m in "${MOUNTS[@]}"; do mountpoint -q "$m" 2>/dev/null && umount -l "$m" 2>/dev/null; done
  wait 2>/dev/null
}
trap cleanup EXIT

rm -rf "$WORK/raw" "$WORK/qemu" "$WORK/nbdkit" "$WORK/snapcow" "$WORK/pt" "$WORK/mount"
mkdir -p "$WORK/base" "$RAWDIR"
: >"$TSV"
if [ ! -f "$BASE" ] || [ "$(stat -c %s "$BASE")" != $((SIZE_MB << 20)) ]; then
  say "making the 1 GiB origin (random data) at $BASE"
  head -c $((SIZE_MB << 20)) /dev/urandom >"$BASE.tmp" && mv "$BASE.tmp" "$BASE"
fi
sync

# wait_for PATH: until PATH exists (a mount came up), at most 30 s.
wait_for() {
  local i
  for i in $(seq 3000); do [ -e "$1" ] && return 0; sleep 0.01; done
  echo "run.sh: timed out waiting for $1" >&2
  return 1
}
# stop_mount MNT PID: unmount and wait for the server to exit.
stop_mount() {
  local mnt=$1 pid=$2 i
  mountpoint -q "$mnt" && fusermount3 -u "$mnt"
  for i in $(seq 500); do kill -0 "$pid" 2>/dev/null || break; sleep 0.02; done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# ---------------------------------------------------------------- fio cells
# First writes replay fio iologs (one per job) that write 4 KiB once into each 64 KiB slot of
# the origin, in a random order: every write is the first one to its qcow2 cluster, nbdkit cow
# block (both 64 KiB) and snapcowfs chunk (16 KiB). Time-based random writes over 1 GiB hit
# chunks already copied after a fraction of a second: a 3 s cell at 42k IOPS gave qemu about
# 8 writes per cluster, all but the first without a copy, and measured 20.5k (psync) and 56k
# (QD16) "first writes" where only first writes measured 8.6k and 20.1k (2026-12-06).
FW_SLOT=65536
FW_LOGS=$WORK/fw-logs
# fw_logs: writes $FW_LOGS/{1,2a,2b}{,d}.iolog once per run (d: a datasync after each write).
fw_logs() {
  mkdir -p "$FW_LOGS"
  python3 - "$FW_LOGS" $((SIZE_MB << 20)) "$FW_SLOT" <<'PY'
import random, sys
out, size, slot = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
slots = [i * slot for i in range(size // slot)]
random.Random(5).shuffle(slots)
half = len(slots) // 2
for name, part in (("1", slots), ("2a", slots[:half]), ("2b", slots[half:])):
    for sync in ("", "d"):
        with open(f"{out}/{name}{sync}.iolog", "w") as f:
            f.write("fio version 2 iolog\nimg add\nimg open\n")
            for off in part:
                f.write(f"img write {off} 4096\n")
                if sync:
                    f.write("img datasync 0 0\n")
            f.write("img close\n")
PY
}
fw_logs

# cell SYSTEM TEST FILE: run fio test TEST on FILE once (repetition $REP); append its IOPS.
cell() {
  local sys=$1 test=$2 file=$3 rw bs=4k eng=psync qd=1 jobs=1 ro= sync=
  case $test in ro-*) ro=--readonly ;; esac
  local kind=${test#ro-}
  case ${kind#ur-} in
    *rw-psync1) rw=randwrite ;;
    *rw-psync2) rw=randwrite jobs=2 ;;
    *rw-aio16) rw=randwrite eng=libaio qd=16 ;;
    *rr-psync1) rw=randread ;;
    *rr-psync2) rw=randread jobs=2 ;;
    *rr-aio16) rw=randread eng=libaio qd=16 ;;
    fwd-psync1) rw=randwrite sync=--fdatasync=1 ;;
    fwd-psync2) rw=randwrite jobs=2 sync=--fdatasync=1 ;;
    fw*-psync1) rw=randwrite ;;
    fw*-psync2) rw=randwrite jobs=2 ;;
    fw*-aio16) rw=randwrite eng=libaio qd=16 ;;
    sw-1m) rw=write bs=1m ;;
    sr-1m) rw=read bs=1m ;;
    *) echo "run.sh: unknown test $test" >&2; return 1 ;;
  esac
  local out=$RAWDIR/$sys.$test.$REP.json pattern
  # First writes: the iologs (at most $RUNTIME s); the rest: time-based random I/O.
  case ${kind#ur-} in
    fw*)
      local d=; [ -n "$sync" ] && d=d
      pattern=(--ioengine=$eng --iodepth=$qd --direct=1 --replay_no_stall=1
        --replay_redirect="$file" --runtime="$RUNTIME" --group_reporting)
      if [ "$jobs" = 1 ]; then
        pattern+=(--name="$test" --read_iolog="$FW_LOGS/1$d.iolog")
      else
        pattern+=(--name="$test" --read_iolog="$FW_LOGS/2a$d.iolog"
          --name="$test-b" --read_iolog="$FW_LOGS/2b$d.iolog")
      fi ;;
    *)
      pattern=(--name="$test" --filename="$file" --rw=$rw --bs=$bs --ioengine=$eng
        --iodepth=$qd --numjobs=$jobs --direct=1 --time_based --runtime="$RUNTIME"
        --size=${SIZE_MB}m --norandommap --randrepeat=0 --fallocate=none --group_reporting
        $ro $sync) ;;
  esac
  sync  # no cell pays for the write-back of the one before (or of a copy or prefill)
  page_cache "$sys" "$test"
  fio "${pattern[@]}" --output-format=json --output="$out" >/dev/null 2>"$out.err" || {
    echo "run.sh: fio $sys $test failed:" >&2; cat "$out.err" >&2; return 1; }
  local iops
  iops=$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1]))["jobs"][0]; print(round(j["write"]["iops"]+j["read"]["iops"]))' "$out")
  printf '%s\t%s\t%s\t%s\n' "$sys" "$test" "$REP" "$iops" >>"$TSV"
  printf '   %-12s %-12s rep %s: %8s IOPS\n' "$sys" "$test" "$REP" "$iops" >&2
}

# page_cache SYSTEM TEST: every FUSE server here does buffered I/O on its backing files, and
# these machines reclaim page cache a file has not touched for a while (about 4 MB/s of a
# 1 GiB file; kdamond), so a cell's figure would depend on how long ago its system's files
# were last read: a first write reads the old chunk or cluster first, and measured 4.8-5.4k
# from disk against 8.0-9.6k from the page cache (qemu), 4.8-5.2k against 10.6-11.4k
# (snapcowfs). So every cell starts with its system's backing files in the page cache, except
# fwc- (cold): the origin data dropped from it, so each first write reads from the disk. Raw
# uses O_DIRECT and is left alone.
page_cache() {
  local f
  case $2 in
    fwc-*) for f in $(origin_file "$1"); do dd if="$f" iflag=nocache count=0 status=none; done ;;
    *) for f in $(backing_files "$1"); do dd if="$f" of=/dev/null bs=4M status=none; done ;;
  esac
}
# origin_file SYSTEM: the file a first write reads the old data from.
origin_file() {
  case $1 in
    qemu|nbdkit) echo "$BASE" ;;
    snapcowfs) echo "$SC_IMG/origin.img" ;;
  esac
}
# backing_files SYSTEM: every file the system's server reads (nbdkit's cow is an unlinked
# temporary file, written by the cell or the prefill before it).
backing_files() {
  case $1 in
    passthrough) echo "$WORK/raw/disk.img" ;;
    qemu) echo "$BASE $WORK/qemu/overlay.qcow2" ;;
    nbdkit) echo "$BASE" ;;
    snapcowfs) find "$SC_IMG" -maxdepth 1 -type f ;;
  esac
}

STEADY=(rw-psync1 rw-psync2 rw-aio16 rr-psync1 rr-psync2 rr-aio16 sw-1m sr-1m)
# fwd-: the same first writes with an fdatasync after each one, so that every system pays
# for durability (snapcowfs makes each copy durable before the origin changes; the peers
# write to an overlay and flush only when asked).
# fwc-: the origin's data out of the page cache (see page_cache).
FIRST=(fw-psync1 fw-psync2 fw-aio16 fwd-psync1 fwd-psync2 fwc-psync1)
# snapcowfs --io-uring (FUSE over io_uring, Linux 6.14+), compared with the same cells above.
URING=(ur-rw-psync1 ur-rw-psync2 ur-rw-aio16 ur-rr-psync1 ur-rr-psync2 ur-rr-aio16 ur-fw-psync1
  ur-fw-aio16)
URING_PARAM=/sys/module/fuse/parameters/enable_uring
# Read-only opens (fio --readonly: O_RDONLY): raw against snapcowfs --read-passthrough.
READONLY=(ro-rr-psync1 ro-rr-aio16 ro-sr-1m)

# steady SYSTEM FILE: the steady-state tests, once each (repetition $REP).
steady() {
  local t
  for t in "${STEADY[@]}"; do cell "$1" "$t" "$2"; done
}
# prefill FILE: write every byte once (1 MiB sequential), so every chunk/cluster is copied.
prefill() {
  fio --name=prefill --filename="$1" --rw=write --bs=1m --ioengine=libaio --iodepth=4 \
    --direct=1 --size=${SIZE_MB}m --fallocate=none --output=/dev/null >/dev/null
}

# ---- raw file and the passthrough example over its directory
run_raw() {
  say "raw file on $(df --output=fstype "$WORK" | tail -1) (repetition $REP)"
  mkdir -p "$WORK/raw"
  [ -f "$WORK/raw/disk.img" ] || cp "$BASE" "$WORK/raw/disk.img"
  steady raw "$WORK/raw/disk.img"
  for t in "${READONLY[@]}"; do cell raw "$t" "$WORK/raw/disk.img"; done
}
run_passthrough() {
  say "libfuse passthrough_ll (cache=never) over the raw file's directory (repetition $REP)"
  mkdir -p "$WORK/raw" "$WORK/pt"
  [ -f "$WORK/raw/disk.img" ] || cp "$BASE" "$WORK/raw/disk.img"
  serve "$WORK/pt" "$WORK/pt.log" "$PASSTHROUGH" -f -o source="$WORK/raw",cache=never "$WORK/pt"
  wait_for "$WORK/pt/disk.img"
  steady passthrough "$WORK/pt/disk.img"
  stop_mount "$WORK/pt" "$SERVER_PID"
}

# serve MNT LOG CMD...: start a server in the background; its pid goes to SERVER_PID.
serve() {
  local mnt=$1 log=$2
  shift 2
  "$@" 2>"$log" &
  SERVER_PID=$!; PIDS+=("$SERVER_PID"); MOUNTS+=("$mnt")
}
# run_cow_peer NAME START STOP FILE: first-write cells, each on a fresh START, then a prefill
# and the steady cells.
run_cow_peer() {
  local name=$1 start=$2 stop=$3 file=$4 t
  for t in "${FIRST[@]}"; do "$start"; cell "$name" "$t" "$file"; done
  "$start"
  prefill "$file"
  steady "$name" "$file"
  "$stop"
}

# ---- qemu-storage-daemon: qcow2 overlay over the raw origin, FUSE export
QSD_PID=
qsd_start() {
  local d=$WORK/qemu i
  mkdir -p "$d"
  [ -n "$QSD_PID" ] && qsd_stop
  rm -f "$d/overlay.qcow2"
  qemu-img create -q -f qcow2 -b "$BASE" -F raw "$d/overlay.qcow2"
  : >"$d/export.img"
  serve "$d/export.img" "$d/qsd.log" qemu-storage-daemon \
    --blockdev "driver=qcow2,node-name=ov,file.driver=file,file.filename=$d/overlay.qcow2" \
    --export "type=fuse,id=exp0,node-name=ov,mountpoint=$d/export.img,writable=on"
  QSD_PID=$SERVER_PID
  for i in $(seq 3000); do
    [ "$(stat -c %s "$d/export.img" 2>/dev/null)" = $((SIZE_MB << 20)) ] && return 0
    sleep 0.01
  done
  echo "run.sh: qemu-storage-daemon did not come up:" >&2; cat "$d/qsd.log" >&2; return 1
}
# qemu-storage-daemon keeps running when its export is unmounted (stop_mount would wait 10 s
# for it each time): SIGTERM makes it flush, unmount and exit.
qsd_stop() {
  local i
  kill -TERM "$QSD_PID" 2>/dev/null || true
  for i in $(seq 500); do kill -0 "$QSD_PID" 2>/dev/null || break; sleep 0.02; done
  stop_mount "$WORK/qemu/export.img" "$QSD_PID"
  QSD_PID=
}
run_qemu() {
  say "qemu-storage-daemon $(qemu-storage-daemon --version | head -1 | awk '{print $3}'): qcow2 overlay, FUSE export (repetition $REP)"
  run_cow_peer qemu qsd_start qsd_stop "$WORK/qemu/export.img"
}

# ---- nbdkit file plugin + cow filter, through nbdfuse (the cow lives in a temporary file)
NBD_PID=
nbd_start() {
  local d=$WORK/nbdkit
  mkdir -p "$d/mnt"
  [ -n "$NBD_PID" ] && nbd_stop
  rm -f "$d/nbdfuse.pid"
  serve "$d/mnt" "$d/nbd.log" env TMPDIR="$d" nbdfuse -P "$d/nbdfuse.pid" "$d/mnt" \
    [ nbdkit --exit-with-parent --filter=cow file file="$BASE" ]
  NBD_PID=$SERVER_PID
  wait_for "$d/nbdfuse.pid"
  wait_for "$d/mnt/nbd"
}
nbd_stop() { stop_mount "$WORK/nbdkit/mnt" "$NBD_PID"; NBD_PID=; }
run_nbdkit() {
  say "nbdkit $(nbdkit --version | awk '{print $2}') file + cow filter, through nbdfuse (repetition $REP)"
  run_cow_peer nbdkit nbd_start nbd_stop "$WORK/nbdkit/mnt/nbd"
}

# ---- snapcowfs
SC_PID=
SC_IMG=$WORK/snapcow/img
SC_MNT=$WORK/snapcow/mnt
# sc_start [DAEMON OPTION...]
sc_start() {
  mkdir -p "$SC_IMG" "$SC_MNT"
  # shellcheck disable=SC2086
  ${SNAPCOW_WRAP:-} "$SNAPCOWFS" -f "$@" "$SC_IMG" "$SC_MNT" 2>>"$WORK/snapcow/daemon.log" &
  SC_PID=$!; PIDS+=("$SC_PID"); MOUNTS+=("$SC_MNT")
  wait_for "$SC_MNT/origin.img"
}
sc_stop() { stop_mount "$SC_MNT" "$SC_PID"; SC_PID=; }
# sc_snaps N: delete every snapshot, then take N fresh ones; prints the last one's name.
sc_snaps() {
  local s last=
  for s in $("$SNAPCOWCTL" snapshot list "$SC_MNT" | awk '{print $1}' | grep '^snap-' || true); do
    "$SNAPCOWCTL" snapshot delete "$SC_MNT" "$s" >/dev/null
  done
  for _ in $(seq "$1"); do last=$("$SNAPCOWCTL" snapshot create "$SC_MNT"); done
  echo "$last"
}
# sc_devfuse: the cells through /dev/fuse (libfuse's loop). Leaves one prefilled snapshot.
sc_devfuse() {
  local t n snap
  sc_start
  for t in "${FIRST[@]}"; do sc_snaps 1 >/dev/null; cell snapcowfs "$t" "$SC_MNT/origin.img"; done
  for n in 4 16; do
    for t in fw-psync1 fw-aio16; do
      sc_snaps "$n" >/dev/null
      cell snapcowfs "${t/fw-/fw$n-}" "$SC_MNT/origin.img"
    done
  done
  snap=$(sc_snaps 1)
  prefill "$SC_MNT/origin.img"
  steady snapcowfs "$SC_MNT/origin.img"
  for t in snap-rr-psync1 snap-rr-aio16 snap-rw-psync1 snap-rw-aio16; do
    cell snapcowfs "$t" "$SC_MNT/$snap.img"
  done
  sc_stop
}
# sc_uring: the same daemon taking requests through io_uring (--io-uring), in the order of
# sc_devfuse (first writes on fresh snapshots straight after the mount, then a prefill and
# the steady cells), so that each ur- cell meets the state its /dev/fuse twin meets. Leaves
# one prefilled snapshot. The kernel setting is put back.
sc_uring() {
  [ -e "$URING_PARAM" ] || return 0
  local t was
  was=$(cat "$URING_PARAM")
  echo Y >"$URING_PARAM"
  sc_start --io-uring
  for t in "${URING[@]}"; do
    case $t in ur-fw-*) sc_snaps 1 >/dev/null; cell snapcowfs "$t" "$SC_MNT/origin.img" ;; esac
  done
  sc_snaps 1 >/dev/null
  prefill "$SC_MNT/origin.img"
  for t in "${URING[@]}"; do
    case $t in ur-fw-*) ;; *) cell snapcowfs "$t" "$SC_MNT/origin.img" ;; esac
  done
  sc_stop
  echo "$was" >"$URING_PARAM"
  grep -q 'refused the ring' "$WORK/snapcow/daemon.log" &&
    echo "run.sh: the kernel refused io_uring; the ur- cells went through /dev/fuse" >&2
  return 0
}
run_snapcowfs() {
  say "snapcowfs $("$SNAPCOWFS" --version | awk '{print $2}') (1 snapshot; extras with 4 and 16) (repetition $REP)"
  mkdir -p "$SC_IMG"
  [ -f "$SC_IMG/origin.img" ] || cp "$BASE" "$SC_IMG/origin.img"
  # The transports take turns at going first, as the systems do (see the loop below).
  if [ $((REP % 2)) = 0 ]; then sc_uring; sc_devfuse; else sc_devfuse; sc_uring; fi
  # Read-only opens of the origin through FUSE passthrough (the snapshot stays).
  local t
  sc_start --read-passthrough
  for t in "${READONLY[@]}"; do cell snapcowfs "$t" "$SC_MNT/origin.img"; done
  grep -q 'use FUSE passthrough' "$WORK/snapcow/daemon.log" ||
    echo "run.sh: the kernel refused passthrough; the ro- cells went through the daemon" >&2
  sc_snaps 0 >/dev/null
  sc_stop
}

T0=$(date +%s)
if [ "$FIO_TESTS" = 1 ]; then
  say "fio: ${RUNTIME}s per cell, $REPS repetition(s), systems $SYSTEMS"
  # Repetitions outermost: every system gets a cell in each stretch of time, so a busy
  # moment on the machine does not land on one system only.
  # The order turns round every repetition: whichever system runs first in a stretch of time
  # (a fresh page cache, a quiet disk) is not always the same one.
  for REP in $(seq "$REPS"); do
    order="raw passthrough qemu nbdkit snapcowfs"
    [ $((REP % 2)) = 0 ] && order="snapcowfs nbdkit qemu passthrough raw"
    for s in $order; do
      if has "$s"; then "run_$s"; fi
    done
  done
fi
rm -rf "$WORK/raw" "$WORK/qemu" "$WORK/nbdkit" "$WORK/snapcow" "$WORK/pt"

# ---------------------------------------------------------------- mount time and RSS
echo '{}' >"$META"
if [ "$MOUNT_TEST" = 1 ]; then
  say "mount time and RSS with 1 million exceptions"
  python3 "$HERE/mountrss.py" --snapcowfs "$SNAPCOWFS" --work "$WORK/mount" \
    --count 1000000 --reps "$REPS" --out "$META"
  rm -rf "$WORK/mount"
fi

# ---------------------------------------------------------------- report
T1=$(date +%s)
OUT=$RESDIR/$STAMP  # one file per run: a later run the same day keeps this one
python3 "$HERE/report.py" --cells "$TSV" --meta "$META" --runtime "$RUNTIME" --reps "$REPS" \
  --seconds $((T1 - T0)) --md "$OUT.md" --json "$OUT.json"
say "wrote $OUT.md and $OUT.json ($((T1 - T0)) s)"
