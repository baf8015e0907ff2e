#!/usr/bin/env python3
"""report.py: turn run.sh's cells (system, test, repetition, IOPS) into one Markdown table of
medians with ratios snapcowfs / peer, plus the mount/RSS figures; writes .md and .json and
prints the Markdown."""

import argparse
import collections
import json
import platform
import statistics
import subprocess

SYSTEMS = ["raw", "passthrough", "qemu", "nbdkit", "snapcowfs"]
PEERS = ["raw", "passthrough", "qemu", "nbdkit"]
TESTS = [
    ("fw-psync1", "first write: 4K randwrite, psync, 1 job"),
    ("fw-psync2", "first write: 4K randwrite, psync, 2 jobs"),
    ("fw-aio16", "first write: 4K randwrite, libaio QD16"),
    ("fwd-psync1", "first write + fdatasync each: psync, 1 job"),
    ("fwd-psync2", "first write + fdatasync each: psync, 2 jobs"),
    ("fwc-psync1", "first write, origin not in page cache: psync, 1 job"),
    ("rw-psync1", "steady: 4K randwrite, psync, 1 job"),
    ("rw-psync2", "steady: 4K randwrite, psync, 2 jobs"),
    ("rw-aio16", "steady: 4K randwrite, libaio QD16"),
    ("rr-psync1", "steady: 4K randread, psync, 1 job"),
    ("rr-psync2", "steady: 4K randread, psync, 2 jobs"),
    ("rr-aio16", "steady: 4K randread, libaio QD16"),
    ("sw-1m", "steady: 1M seq write, psync"),
    ("sr-1m", "steady: 1M seq read, psync"),
    ("ro-rr-psync1", "read-only open: 4K randread, psync, 1 job"),
    ("ro-rr-aio16", "read-only open: 4K randread, libaio QD16"),
    ("ro-sr-1m", "read-only open: 1M seq read, psync"),
    ("snap-rr-psync1", "snapshot: 4K randread, psync, 1 job"),
    ("snap-rr-aio16", "snapshot: 4K randread, libaio QD16"),
    ("snap-rw-psync1", "snapshot: 4K randwrite, psync, 1 job"),
    ("snap-rw-aio16", "snapshot: 4K randwrite, libaio QD16"),
    ("fw4-psync1", "first write, 4 snapshots: psync, 1 job"),
    ("fw4-aio16", "first write, 4 snapshots: libaio QD16"),
    ("fw16-psync1", "first write, 16 snapshots: psync, 1 job"),
    ("fw16-aio16", "first write, 16 snapshots: libaio QD16"),
    ("ur-rw-psync1", "--io-uring steady: 4K randwrite, psync, 1 job"),
    ("ur-rw-psync2", "--io-uring steady: 4K randwrite, psync, 2 jobs"),
    ("ur-rw-aio16", "--io-uring steady: 4K randwrite, libaio QD16"),
    ("ur-rr-psync1", "--io-uring steady: 4K randread, psync, 1 job"),
    ("ur-rr-psync2", "--io-uring steady: 4K randread, psync, 2 jobs"),
    ("ur-rr-aio16", "--io-uring steady: 4K randread, libaio QD16"),
    ("ur-fw-psync1", "--io-uring first write: 4K randwrite, psync, 1 job"),
    ("ur-fw-aio16", "--io-uring first write: 4K randwrite, libaio QD16"),
]
# --io-uring rows: the peers' figures are those of the same test without the prefix.
URING_PREFIX = "ur-"
# Notes for snapcowfs-only rows: (this test, the test it is compared with, what).
NOTES = {
    "fw-psync2": ("fw-psync1", "2 jobs / 1 job"),
    "rw-psync2": ("rw-psync1", "2 jobs / 1 job"),
    "rr-psync2": ("rr-psync1", "2 jobs / 1 job"),
    "snap-rr-psync1": ("rr-psync1", "vs origin"),
    "snap-rr-aio16": ("rr-aio16", "vs origin"),
    "snap-rw-psync1": ("rw-psync1", "vs origin"),
    "snap-rw-aio16": ("rw-aio16", "vs origin"),
    "fw4-psync1": ("fw-psync1", "vs 1 snapshot"),
    "fw4-aio16": ("fw-aio16", "vs 1 snapshot"),
    "fw16-psync1": ("fw-psync1", "vs 1 snapshot"),
    "fw16-aio16": ("fw-aio16", "vs 1 snapshot"),
}


def fmt_iops(v):
    if v is None:
        return "—"
    return f"{v / 1000:.1f}k" if v >= 1000 else f"{v:.0f}"


def fmt_ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.2f}x"


def versions():
    def first(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[0]
        except Exception:
            return "?"
    return {
        "kernel": platform.release(),
        "cpus": subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip(),
        "fio": first(["fio", "--version"]),
        "qemu-storage-daemon": first(["qemu-storage-daemon", "--version"]),
        "nbdkit": first(["nbdkit", "--version"]),
        "libfuse": first(["pkg-config", "--modversion", "fuse3"]),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cells", required=True)
    ap.add_argument("--meta", required=True)
    ap.add_argument("--runtime", type=float, required=True)
    ap.add_argument("--reps", type=int, required=True)
    ap.add_argument("--seconds", type=int, default=0)
    ap.add_argument("--md", required=True)
    ap.add_argument("--json", required=True)
    a = ap.parse_args()

    runs = collections.defaultdict(list)
    with open(a.cells) as f:
        for line in f:
            sys_, test, _rep, iops = line.rstrip("\n").split("\t")
            runs[(sys_, test)].append(float(iops))
    med = {k: statistics.median(v) for k, v in runs.items()}
    get = lambda s, t: med.get((s, t))  # noqa: E731

    md = []
    md.append(f"4 KiB / 1 MiB fio, O_DIRECT, 1 GiB origin, {a.runtime:g} s per cell, median of "
              f"{a.reps}; IOPS (k = thousands); ratios are snapcowfs / peer.\n")
    md.append("| test | raw | passthrough | qemu | nbdkit | snapcowfs | /raw | /passthrough "
              "| /qemu | /nbdkit | note |")
    md.append("|---|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for test, label in TESTS:
        if not any((s, test) in med for s in SYSTEMS):
            continue
        sc = get("snapcowfs", test)
        peer_test = test[len(URING_PREFIX):] if test.startswith(URING_PREFIX) else test
        peer = lambda s: get(s, test) if s == "snapcowfs" else get(s, peer_test)  # noqa: E731
        note = ""
        if test in NOTES:
            other, what = NOTES[test]
            if get("snapcowfs", other):
                note = f"{what}: {fmt_ratio(sc, get('snapcowfs', other))}"
        elif peer_test != test and get("snapcowfs", peer_test):
            note = f"vs /dev/fuse: {fmt_ratio(sc, get('snapcowfs', peer_test))}"
        md.append(f"| {label} | " + " | ".join(fmt_iops(peer(s)) for s in SYSTEMS) + " | "
                  + " | ".join(fmt_ratio(sc, peer(p)) for p in PEERS) + f" | {note} |")
        rows.append({
            "test": test, "label": label,
            "iops": {s: get(s, test) for s in SYSTEMS if get(s, test) is not None},
            "runs": {s: runs[(s, test)] for s in SYSTEMS if (s, test) in runs},
            "ratio": {p: round(sc / peer(p), 3) for p in PEERS
                      if sc is not None and peer(p)},
            "note": note,
        })

    with open(a.meta) as f:
        meta = json.load(f)
    if meta.get("patterns"):
        md.append("")
        md.append(f"snapcowfs with one COW store of {meta['exceptions']:,} exceptions "
                  f"({meta['chunk_bytes'] // 1024} KiB chunks), median of {a.reps}:\n")
        md.append("| store | mount time | RSS | peak RSS | bytes / exception (RSS) "
                  "| bytes / exception (peak) |")
        md.append("|---|---|---|---|---|---|")
        for name, r in meta["patterns"].items():
            md.append(f"| {name} | {r['mount_seconds']:.3f} s | {r['rss_kib'] / 1024:.1f} MiB | "
                      f"{r['hwm_kib'] / 1024:.1f} MiB | {r.get('bytes_per_exception', '—')} | "
                      f"{r.get('peak_bytes_per_exception', '—')} |")
    v = versions()
    md.append("")
    md.append("Versions: " + ", ".join(f"{k} {val}" for k, val in v.items())
              + f". Whole run: {a.seconds} s.")
    text = "\n".join(md) + "\n"
    with open(a.md, "w") as f:
        f.write(text)
    with open(a.json, "w") as f:
        json.dump({"runtime_s": a.runtime, "reps": a.reps, "seconds": a.seconds,
                   "versions": v, "rows": rows, "mount": meta}, f, indent=1)
    print(text)


if __name__ == "__main__":
    main()
