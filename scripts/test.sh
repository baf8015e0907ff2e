#!/usr/bin/env bash
# Builds snapcowfs and runs every test, on a fresh Debian 12 machine, as root:
#
#   sudo scripts/test.sh            all jobs: gcc (all tests), clang (unit tests), tsan (unit
#                                   tests), package (the Debian package, installed and used)
#   sudo scripts/test.sh gcc        only some jobs, in the order given (gcc, clang, tsan, asan,
#                                   package)
#
# Each job builds with warnings as errors into $SNAPCOW_BUILD_ROOT/<job> (default
# /tmp/snapcowfs-build) and runs ctest. A skipped test fails the run: the integration tests
# skip only without /dev/fuse, and a machine that runs this script must have it.
#
#   gcc    g++, -DSNAPCOW_WERROR=ON; every test, the FUSE integration tests included
#   clang  clang++ (adds -Wthread-safety), -DSNAPCOW_WERROR=ON; unit and tool tests, and the
#          libFuzzer targets (-DSNAPCOW_FUZZ=ON, ASan + UBSan), each for 60 s on its corpus
#   tsan   clang++, -DSNAPCOW_TSAN=ON; unit tests (ctest -LE integration), then the
#          concurrent integration tests against the ThreadSanitizer daemon
#   asan   g++, -DSNAPCOW_ASAN=ON; every test (not in the default set: slow)
#   package  packaging/build-deb.sh, lintian (errors and warnings fail), apt-get install of the
#          .deb, packaging/smoke-test.sh against the installed files only, apt-get purge
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD_ROOT=${SNAPCOW_BUILD_ROOT:-/tmp/snapcowfs-build}
JOBS=${JOBS:-$(nproc)}
export DEBIAN_FRONTEND=noninteractive

PKGS=(
  build-essential cmake pkg-config
  libfuse3-dev fuse3 libfmt-dev libboost-program-options-dev catch2 libbenchmark-dev
  clang libclang-rt-14-dev
  fio qemu-utils e2fsprogs util-linux procps kmod python3 mandoc man-db strace
  debhelper lintian bash-completion systemd
)

# Integration tests also run with the ThreadSanitizer daemon (the concurrent ones).
TSAN_INTEGRATION='integration_(qemu_io|fio_verify|fio_verify_throttled|point_in_time|crash_basic|write_journal)$'

say() { printf '\n=== %s\n' "$*"; }

install_deps() {
  bash "$ROOT/scripts/install-deps.sh" "${PKGS[@]}"
  # FUSE needs its device; loop devices need the module on some kernels.
  [ -c /dev/fuse ] || modprobe fuse 2>/dev/null || true
  [ -e /dev/loop-control ] || modprobe loop 2>/dev/null || true
}

# run_ctest BUILD_DIR [ctest args...]: fails on any failed or skipped test, or on no test.
run_ctest() {
  local dir=$1 log rc
  shift
  log=$dir/ctest.log
  set +e
  ctest --test-dir "$dir" --output-on-failure --no-tests=error -j "$JOBS" "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  set -e
  if [ "$rc" != 0 ]; then
    echo "scripts/test.sh: ctest failed in $dir (exit $rc)" >&2
    return 1
  fi
  if grep -Eq '\*\*\*Skipped|Not Run|did not run' "$log"; then
    echo "scripts/test.sh: tests were skipped in $dir; skipping is a failure here:" >&2
    grep -E '\*\*\*Skipped|Not Run' "$log" >&2
    return 1
  fi
  grep -Eq '^100% tests passed' "$log" || { echo "scripts/test.sh: ctest did not report 100% passed" >&2; return 1; }
}

# build JOB [cmake args...]
build() {
  local job=$1 dir=$BUILD_ROOT/$1
  shift
  say "[$job] configure and build in $dir"
  cmake -S "$ROOT" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@"
  cmake --build "$dir" -j "$JOBS"
}

job_gcc() {
  build gcc -DCMAKE_CXX_COMPILER=g++ -DSNAPCOW_WERROR=ON
  say "[gcc] all tests"
  run_ctest "$BUILD_ROOT/gcc"
}

job_clang() {
  build clang -DCMAKE_CXX_COMPILER=clang++ -DSNAPCOW_WERROR=ON -DSNAPCOW_FUZZ=ON
  say "[clang] unit and tool tests, fuzz targets (label fuzz)"
  run_ctest "$BUILD_ROOT/clang" -LE integration
}

job_tsan() {
  build tsan -DCMAKE_CXX_COMPILER=clang++ -DSNAPCOW_TSAN=ON
  say "[tsan] unit tests under ThreadSanitizer"
  TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}" run_ctest "$BUILD_ROOT/tsan" -LE integration
  # The daemon under ThreadSanitizer too, on the tests that drive it hardest from many
  # threads: a race report aborts the daemon, and the test fails with its log.
  say "[tsan] the daemon under ThreadSanitizer: concurrent integration tests"
  TSAN_OPTIONS="halt_on_error=1 abort_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}" \
    run_ctest "$BUILD_ROOT/tsan" -L integration -R "$TSAN_INTEGRATION"
}

job_asan() {
  build asan -DCMAKE_CXX_COMPILER=g++ -DSNAPCOW_ASAN=ON
  say "[asan] all tests under AddressSanitizer + UBSan"
  ASAN_OPTIONS="detect_leaks=1 ${ASAN_OPTIONS:-}" UBSAN_OPTIONS="halt_on_error=1 print_stacktrace=1" \
    run_ctest "$BUILD_ROOT/asan"
}

# The package job installs the .deb and purges it afterwards, so the machine ends as it began;
# a snapcowfs package installed before the job is not ours to remove: the job refuses to run.
job_package() {
  local dir=$BUILD_ROOT/package debs
  if dpkg-query -W -f='${Status}' snapcowfs 2>/dev/null | grep -q 'install ok installed'; then
    echo "scripts/test.sh: package snapcowfs is already installed; the package job would purge it (apt-get purge snapcowfs first)" >&2
    return 1
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  # nocheck: the package's own unit tests are neither built nor run; the gcc, clang and tsan
  # jobs run them (and more).
  say "[package] build the .deb (packaging/build-deb.sh, DEB_BUILD_OPTIONS=nocheck) into $dir"
  if ! DEB_BUILD_OPTIONS="nocheck parallel=$JOBS" bash "$ROOT/packaging/build-deb.sh" "$dir" >"$dir/build.log" 2>&1; then
    tail -n 60 "$dir/build.log" >&2
    echo "scripts/test.sh: the package build failed (log: $dir/build.log)" >&2
    return 1
  fi
  debs=("$dir"/snapcowfs_*.deb)
  [ ${#debs[@]} = 1 ] && [ -f "${debs[0]}" ] || { echo "scripts/test.sh: expected one snapcowfs_*.deb in $dir" >&2; return 1; }
  say "[package] lintian (pedantic and info shown; errors and warnings fail)"
  lintian --allow-root --fail-on error,warning -I --pedantic "$dir"/snapcowfs_*.changes
  say "[package] apt-get install ${debs[0]}, smoke test of the installed files, apt-get purge"
  trap 'apt-get purge -y -q snapcowfs >/dev/null 2>&1 || true' EXIT
  apt-get install -y -q "${debs[0]}"
  bash "$ROOT/packaging/smoke-test.sh"
  apt-get purge -y -q snapcowfs
  trap - EXIT
  ! dpkg-query -W -f='${Status}' snapcowfs 2>/dev/null | grep -Eq 'ok (installed|config-files|half)' ||
    { echo "scripts/test.sh: snapcowfs is still installed after apt-get purge" >&2; return 1; }
}

jobs=("$@")
[ ${#jobs[@]} -gt 0 ] || jobs=(gcc clang tsan package)
for j in "${jobs[@]}"; do
  case $j in gcc | clang | tsan | asan | package) ;; *) echo "scripts/test.sh: unknown job '$j' (gcc, clang, tsan, asan, package)" >&2; exit 2 ;; esac
done

install_deps
start=$(date +%s)
for j in "${jobs[@]}"; do
  t0=$(date +%s)
  "job_$j"
  say "[$j] passed in $(($(date +%s) - t0)) s"
done
say "all jobs passed (${jobs[*]}) in $(($(date +%s) - start)) s"
