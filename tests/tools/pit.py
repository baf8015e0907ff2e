#!/usr/bin/env python3
"""pit.py: point-in-time check of a snapshot taken while the origin is being written.

  pit.py write FILE --gen G --blocks N --threads K --log LOG [--direct]
      K threads overwrite blocks 0..N-1 of FILE (thread t takes blocks t, t+K, ...) with
      blocks.py's tagged contents (tag "origin", generation G), in a loop, each block once per
      pass, until the file LOG.stop exists. Every write is logged as
      "block issue_time ack_time pass" (time.time()).
  pit.py check SNAPFILE --gen G --blocks N --log LOG --start T0 --end T1 [--old-gen G0]
      DESIGN 4 "Point in time": every write acknowledged before the snapshot create started
      (ack < T0) is in the snapshot; none issued after it returned (issue > T1) is. So, per
      block: the last write acked before T0 decides the minimum; any write issued before T1
      may be there. The check requires the snapshot's block to be old (G0 or the pass counter
      of an earlier write) exactly as the log allows.

The block contents carry the pass number as the generation (G * 1000000 + pass), so a stale
block (an earlier pass than an acknowledged one) or a too-new one (a pass issued after the
snapshot) is told apart.
"""

import argparse
import mmap
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import blocks  # noqa: E402

BS = 4096


def gen_of(base, p):
    return base * 1000000 + p


def cmd_write(a):
    stop = a.log + ".stop"
    logs = [[] for _ in range(a.threads)]
    errors = []

    def worker(t):
        flags = os.O_RDWR | (os.O_DIRECT if a.direct else 0)
        fd = os.open(a.file, flags)
        buf = mmap.mmap(-1, BS)
        p = 0
        try:
            while not os.path.exists(stop):
                p += 1
                for b in range(t, a.blocks, a.threads):
                    buf[:] = blocks.block_bytes("origin", b, gen_of(a.gen, p), BS)
                    t0 = time.time()
                    n = os.pwritev(fd, [buf], b * BS)
                    t1 = time.time()
                    if n != BS:
                        raise OSError(f"short write {n} at block {b}")
                    logs[t].append((b, t0, t1, p))
                if p == 1:
                    pass_done()
        except Exception as e:  # reported below
            errors.append(f"thread {t}: {e}")
        finally:
            os.close(fd)

    ths = [threading.Thread(target=worker, args=(t,)) for t in range(a.threads)]
    ready_lock = threading.Lock()
    first_pass_done = [0]

    def pass_done():
        with ready_lock:
            first_pass_done[0] += 1
            if first_pass_done[0] == a.threads:
                open(a.log + ".ready", "w").close()
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    with open(a.log, "w") as f:
        for lg in logs:
            for b, t0, t1, p in lg:
                f.write(f"{b} {t0:.6f} {t1:.6f} {p}\n")
    if errors:
        print("pit.py write: " + "; ".join(errors), file=sys.stderr)
        return 1
    return 0


def cmd_check(a):
    # For each block: passes acked before start (must-have floor) and passes issued before end.
    floor = {}   # block -> highest pass acked before start
    ceiling = {}  # block -> highest pass issued before end
    with open(a.log) as f:
        for line in f:
            b, t0, t1, p = line.split()
            b, t0, t1, p = int(b), float(t0), float(t1), int(p)
            if t1 < a.start:
                floor[b] = max(floor.get(b, 0), p)
            if t0 <= a.end:
                ceiling[b] = max(ceiling.get(b, 0), p)
    fd = os.open(a.snapfile, os.O_RDONLY)
    bad = 0
    try:
        for b in range(a.blocks):
            data = os.pread(fd, BS, b * BS)
            lo, hi = floor.get(b, 0), ceiling.get(b, 0)
            m = blocks.HDR.match(data)
            if m and data == blocks.block_bytes(m.group(1).decode(), int(m.group(2)), int(m.group(3)), BS) \
                    and m.group(1) == b"origin" and int(m.group(2)) == b:
                g = int(m.group(3))
                if g == a.old_gen and lo == 0:
                    continue  # no write acked before the snapshot: the old data is right
                if g // 1000000 == a.gen and lo <= g % 1000000 <= hi and (g % 1000000) >= 1:
                    continue
                what = f"generation {g} (pass {g % 1000000})"
            else:
                what = blocks.describe(data, BS)
            bad += 1
            if bad <= 10:
                allowed = f"pass {lo}..{hi} of generation {a.gen}"
                if lo == 0:
                    allowed += f" or the old generation {a.old_gen}"
                stale = what.startswith("generation") and int(what.split()[1]) % 1000000 < lo
                note = " (STALE: a write acknowledged before snapshot create is missing)" if stale else ""
                print(f"{a.snapfile}: block {b}: found {what}; allowed: {allowed}{note}", file=sys.stderr)
    finally:
        os.close(fd)
    acked_before = sum(1 for b in range(a.blocks) if floor.get(b, 0) > 0)
    print(f"pit.py check: {a.blocks} blocks, {acked_before} with writes acknowledged before the "
          f"snapshot, {bad} bad")
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("write")
    p.add_argument("file")
    p.add_argument("--gen", type=int, required=True)
    p.add_argument("--blocks", type=int, required=True)
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--log", required=True)
    p.add_argument("--direct", action="store_true")
    p = sub.add_parser("check")
    p.add_argument("snapfile")
    p.add_argument("--gen", type=int, required=True)
    p.add_argument("--old-gen", type=int, default=-1)
    p.add_argument("--blocks", type=int, required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--start", type=float, required=True)
    p.add_argument("--end", type=float, required=True)
    a = ap.parse_args()
    return cmd_write(a) if a.cmd == "write" else cmd_check(a)


if __name__ == "__main__":
    sys.exit(main())
