#!/usr/bin/env python3
"""mountrss.py: mount time and memory of snapcowfs with a COW store of N exceptions.

For each pattern (empty, consecutive, scattered) it builds an image directory with a sparse
origin and snap-1.cow written by gencow.py, then REPS times: starts `snapcowfs -f`, times how
long until snap-1.img shows in the mount, reads VmRSS and VmHWM of the daemon, unmounts.
Bytes per exception = (RSS - RSS of the empty store) / N. Writes the figures as JSON.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def status_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def one_mount(snapcowfs, img, mnt):
    t0 = time.monotonic()
    p = subprocess.Popen([snapcowfs, "-f", img, mnt], stderr=subprocess.DEVNULL)
    target = os.path.join(mnt, "snap-1.img")
    while not os.path.exists(target):
        if p.poll() is not None:
            raise SystemExit(f"mountrss.py: snapcowfs exited with {p.returncode} on {img}")
        if time.monotonic() - t0 > 120:
            p.kill()
            raise SystemExit(f"mountrss.py: no mount after 120 s on {img}")
        time.sleep(0.002)
    secs = time.monotonic() - t0
    time.sleep(0.2)  # let start-up settle before reading memory
    rss, hwm = status_kb(p.pid, "VmRSS"), status_kb(p.pid, "VmHWM")
    subprocess.run(["fusermount3", "-u", mnt], check=True)
    p.wait(timeout=60)
    return secs, rss, hwm


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--snapcowfs", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    result = {"exceptions": a.count, "chunk_bytes": 16384, "patterns": {}}
    for pattern, count in (("empty", 0), ("consecutive", a.count), ("scattered", a.count)):
        img = os.path.join(a.work, pattern, "img")
        mnt = os.path.join(a.work, pattern, "mnt")
        os.makedirs(img, exist_ok=True)
        os.makedirs(mnt, exist_ok=True)
        cow = os.path.join(img, "snap-1.cow")
        t0 = time.monotonic()
        out = subprocess.run([sys.executable, os.path.join(HERE, "gencow.py"), "--out", cow,
                              "--count", str(count), "--pattern",
                              "consecutive" if pattern == "empty" else pattern],
                             check=True, capture_output=True, text=True).stdout
        origin_bytes = max(int(out.strip()), 1 << 30)
        with open(os.path.join(img, "origin.img"), "wb") as f:
            f.truncate(origin_bytes)
        print(f"   {pattern}: store of {count} exceptions written in "
              f"{time.monotonic() - t0:.1f} s", file=sys.stderr)
        runs = [one_mount(a.snapcowfs, img, mnt) for _ in range(a.reps)]
        r = {
            "mount_seconds": statistics.median(x[0] for x in runs),
            "mount_seconds_all": [round(x[0], 4) for x in runs],
            "rss_kib": statistics.median(x[1] for x in runs),
            "hwm_kib": statistics.median(x[2] for x in runs),
        }
        result["patterns"][pattern] = r
        print(f"   {pattern}: mount {r['mount_seconds']:.3f} s, RSS {r['rss_kib']} KiB, "
              f"peak {r['hwm_kib']} KiB", file=sys.stderr)
    base = result["patterns"]["empty"]
    for pattern in ("consecutive", "scattered"):
        r = result["patterns"][pattern]
        r["bytes_per_exception"] = round((r["rss_kib"] - base["rss_kib"]) * 1024 / a.count, 2)
        r["peak_bytes_per_exception"] = round((r["hwm_kib"] - base["hwm_kib"]) * 1024 / a.count, 2)
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
