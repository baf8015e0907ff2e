#!/usr/bin/env bash
# fio with verify on the origin and a snapshot at the same time. Each phase writes with its own
# generation tag (a random 32-bit value per phase and run) followed by the block's offset
# (verify_pattern=0xGGGGGGGG%o), so a block that reverted to older data, showed newer data, or
# landed at another offset fails verification; plain checksums would not catch stale blocks.
#
# Usage: fio_verify.sh [throttled|io_uring]   (throttled: --threads 2 --cow-threshold 4, so
# writers queue for copy slots and FUSE threads all the time, and --poll-us 0, so the workers
# sleep in blocking reads of /dev/fuse instead of polling it; io_uring: --io-uring with
# fuse.enable_uring set to Y for the test, and the daemon must have answered through the ring)
TEST_VARIANT=${1:-}
. "$(dirname "$0")/lib.sh"

DAEMON_ARGS=()
if [ "$TEST_VARIANT" = throttled ]; then DAEMON_ARGS=(--threads 2 --cow-threshold 4 --poll-us 0); fi
URING_PARAM=/sys/module/fuse/parameters/enable_uring
if [ "$TEST_VARIANT" = io_uring ]; then
  # Linux 6.14+ built with CONFIG_FUSE_IO_URING has the parameter; the CI kernel does.
  if [ ! -e "$URING_PARAM" ]; then log "SKIP: this kernel has no FUSE over io_uring"; exit 77; fi
  _ON_EXIT+=("echo $(cat "$URING_PARAM") >$URING_PARAM")
  echo Y >"$URING_PARAM" || fail "cannot set $URING_PARAM"
  # 4 ring threads: 2 per queue on 2 CPUs, so a queue's second thread takes requests while
  # the first waits for a copy.
  DAEMON_ARGS=(--io-uring --threads 4)
fi

command -v fio >/dev/null || fail "fio not found (package fio)"

IMG=$T/img
MNT=$T/mnt
SIZE_M=64
HALF_M=$((SIZE_M / 2))
mkdir -p "$IMG"
truncate -s ${SIZE_M}M "$IMG/origin.img"
cd "$T" # fio leaves its side files in the working directory

newgen() { od -An -N4 -tx4 /dev/urandom | tr -d ' \n'; }
G1=$(newgen)
G2=$(newgen)
G3=$(newgen)
G4=$(newgen)
while [ "$G2" = "$G1" ] || [ "$G3" = "$G1" ] || [ "$G3" = "$G2" ] || [ "$G4" = "$G2" ]; do G3=$(newgen); G4=$(newgen); done
log "generations: G1=$G1 G2=$G2 G3=$G3 G4=$G4"

COMMON="ioengine=libaio
direct=1
bs=4k
verify=pattern
verify_fatal=1
verify_dump=0
randrepeat=0
group_reporting=0
verify_state_save=0"

# runfio NAME JOBFILE-BODY: runs fio; fails the test with fio's verify errors if any.
runfio() {
  runfio_bg "$1" "$2"
  waitfio "$1" "$BGPID"
}

# runfio_bg NAME JOBFILE-BODY: fio in the background; sets BGPID. Collect with waitfio.
runfio_bg() {
  local name=$1 body=$2
  printf '[global]\n%s\n\n%s\n' "$COMMON" "$body" >"$T/$name.fio"
  timeout "$TO_LONG" fio --output="$T/$name.out" "$T/$name.fio" >"$T/$name.stdout" 2>&1 &
  BGPID=$!
  _BG+=("$BGPID")
}

# waitfio NAME PID
waitfio() {
  local name=$1 rc
  wait "$2" && rc=0 || rc=$?
  [ "$rc" != 124 ] || fail "fio $name hung (killed after ${TO_LONG}s)"
  if [ "$rc" != 0 ] || grep -Eq 'verify failed|err= *[1-9]' "$T/$name.out" "$T/$name.stdout"; then
    fail "fio $name exited $rc: $(grep -Eih 'verify|err=|error' "$T/$name.out" "$T/$name.stdout" | head -n 12)"
  fi
}

# read_while PID [NAME FILE OFFSET_M SIZE_M GEN]...: verifies each range over and over (at
# least once) until PID exits, so that snapshot reads race the writes.
read_while() {
  local pid=$1 n=0
  shift
  while :; do
    local args=("$@")
    while [ ${#args[@]} -ge 5 ]; do
      check "${args[0]}" "${args[1]}" "${args[2]}" "${args[3]}" "${args[4]}"
      args=("${args[@]:5}")
    done
    n=$((n + 1))
    alive "$pid" || break
  done
  log "verified the snapshot $n time(s) while the origin was being written"
}

# check NAME FILE OFFSET_M SIZE_M GEN: every block in the range holds generation GEN.
check() {
  runfio "check-$1" "[check-$1]
filename=$2
rw=read
iodepth=16
offset=$3M
size=$4M
verify_pattern=0x$5%o
verify_only=1"
}

start_daemon_fg "$IMG" "$MNT" "$T/daemon.log" "${DAEMON_ARGS[@]}"

# writer RW FILE OFFSET_M SIZE_M GEN IODEPTH: a job body that writes GEN and verifies it.
writer() {
  printf '[%s]\nfilename=%s\nrw=%s\niodepth=%s\noffset=%sM\nsize=%sM\nverify_pattern=0x%s%%o\ndo_verify=1\n' \
    "w-$5" "$2" "$1" "$6" "$3" "$4" "$5"
}

log "G1 over the whole origin"
runfio fill "$(writer write "$MNT/origin.img" 0 $SIZE_M "$G1" 16)"

S1=$(snap_create "$MNT") || exit 1

log "concurrently: G2 random writes on the origin, G3 random writes on snap-1 (second half), G1 reads of snap-1 (first half) in a loop"
runfio_bg origin-g2 "$(writer randwrite "$MNT/origin.img" 0 $SIZE_M "$G2" 16)"
W1=$BGPID
runfio_bg snap1-g3 "$(writer randwrite "$MNT/$S1.img" $HALF_M $HALF_M "$G3" 8)"
W2=$BGPID
read_while "$W1" snap1-g1-during "$MNT/$S1.img" 0 $HALF_M "$G1"
waitfio origin-g2 "$W1"
waitfio snap1-g3 "$W2"

log "afterwards: origin all G2, snap-1 G1 then G3"
check origin "$MNT/origin.img" 0 $SIZE_M "$G2"
check snap1-low "$MNT/$S1.img" 0 $HALF_M "$G1"
check snap1-high "$MNT/$S1.img" $HALF_M $HALF_M "$G3"

log "second snapshot; G4 on the origin while both snapshots are read"
S2=$(snap_create "$MNT") || exit 1
runfio_bg origin-g4 "$(writer randwrite "$MNT/origin.img" 0 $SIZE_M "$G4" 16)"
W1=$BGPID
read_while "$W1" snap2-g2-during "$MNT/$S2.img" 0 $SIZE_M "$G2" snap1-g1-during2 "$MNT/$S1.img" 0 $HALF_M "$G1"
waitfio origin-g4 "$W1"

log "restart; every image holds its generation"
stop_daemon "$MNT"
start_daemon_fg "$IMG" "$MNT" "$T/daemon.log" "${DAEMON_ARGS[@]}"
check origin2 "$MNT/origin.img" 0 $SIZE_M "$G4"
check snap2 "$MNT/$S2.img" 0 $SIZE_M "$G2"
check snap1-low2 "$MNT/$S1.img" 0 $HALF_M "$G1"
check snap1-high2 "$MNT/$S1.img" $HALF_M $HALF_M "$G3"
if [ "$TEST_VARIANT" = io_uring ]; then
  # Put back to N while serving: the connection asked for the ring at INIT, so it keeps it.
  echo N >"$URING_PARAM"
  check origin3 "$MNT/origin.img" 0 $SIZE_M "$G4"
  S3=$(snap_create "$MNT") || exit 1
  [ -f "$MNT/$S3.img" ] || fail "$S3 not presented"
fi
stop_daemon "$MNT"
if [ "$TEST_VARIANT" = io_uring ]; then
  grep -q "refused the ring" "$T/daemon.log" && fail "the kernel refused the ring: $(cat "$T/daemon.log")"
  # Both mounts: every fio pass, lookups, the control xattr of snapcowctl.
  n=$(sed -n 's/.* \([0-9][0-9]*\) requests through io_uring.*/\1/p' "$T/daemon.log")
  [ "$(echo "$n" | wc -l)" = 2 ] || fail "expected two stop lines with io_uring counts: $(cat "$T/daemon.log")"
  for c in $n; do
    [ "$c" -gt 10000 ] || fail "only $c requests went through io_uring: $(cat "$T/daemon.log")"
  done
  log "requests through io_uring, per mount: $(echo $n)"
  log "with fuse.enable_uring N the daemon says so once and serves through /dev/fuse"
  start_daemon_fg "$IMG" "$MNT" "$T/daemon-n.log" "${DAEMON_ARGS[@]}"
  check origin4 "$MNT/origin.img" 0 $SIZE_M "$G4"
  stop_daemon "$MNT"
  [ "$(grep -c "refused the ring" "$T/daemon-n.log")" = 1 ] || fail "no single refusal line: $(cat "$T/daemon-n.log")"
  grep -q " 0 requests through io_uring" "$T/daemon-n.log" || fail "requests went through a refused ring: $(cat "$T/daemon-n.log")"
fi
exit 0
