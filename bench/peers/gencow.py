#!/usr/bin/env python3
"""gencow.py: write a snapcowfs persistent COW store (dm-snapshot "SnAp" v1 + our extension
block, engine/FORMAT.md) holding N exceptions, without copying any data: the data chunks are
left as holes (the file is sparse), which is all a loader needs to rebuild its table.

  gencow.py --out DIR/snap-1.cow --count 1000000 --pattern consecutive|scattered
            [--chunk-bytes 16384] [--number 1] [--seed 1]

Prints the origin size (bytes) the store needs: make DIR/origin.img at least that big
(truncate -s, sparse) before mounting.

consecutive: old_chunk i -> the i-th data chunk (runs broken only at metadata areas).
scattered:   old_chunks drawn at random from an origin 4x as big, in random order.
"""

import argparse
import os
import random
import struct
import time

MAGIC = 0x70416E53
EXT_MAGIC = 0x58574353
EXT_OFFSET = 512
EXT_BYTES = 64


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def header_chunk(chunk_bytes, origin_bytes, number):
    chunk = bytearray(chunk_bytes)
    struct.pack_into("<IIII", chunk, 0, MAGIC, 1, 1, chunk_bytes // 512)
    ext = bytearray(EXT_BYTES)
    struct.pack_into("<IIII", ext, 0, EXT_MAGIC, 1, EXT_BYTES, 0)
    struct.pack_into("<QqIIQI", ext, 16, origin_bytes, int(time.time()), number, 0, 0,
                     chunk_bytes)
    struct.pack_into("<I", ext, 12, crc32c(ext))
    chunk[EXT_OFFSET:EXT_OFFSET + EXT_BYTES] = ext
    return bytes(chunk)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=1_000_000)
    ap.add_argument("--pattern", choices=["consecutive", "scattered"], default="consecutive")
    ap.add_argument("--chunk-bytes", type=int, default=16384)
    ap.add_argument("--number", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    cb = a.chunk_bytes
    assert cb >= 4096 and cb & (cb - 1) == 0, "chunk size must be a power of two >= 4096"
    epa = cb // 16  # entries per metadata area
    n = a.count
    if a.pattern == "consecutive":
        origin_chunks = n
        olds = range(n)
    else:
        origin_chunks = 4 * n
        rng = random.Random(a.seed)
        olds = rng.sample(range(origin_chunks), n)
    origin_bytes = origin_chunks * cb

    areas = n // epa + 1  # the last area always holds the terminator (maybe all zeros)
    with open(a.out, "wb") as f:
        f.write(header_chunk(cb, origin_bytes, a.number))
        i = 0
        last_chunk = 1
        for area in range(areas):
            area_chunk = 1 + (epa + 1) * area
            buf = bytearray(cb)
            k = 0
            while k < epa and i < n:
                struct.pack_into("<QQ", buf, 16 * k, olds[i], area_chunk + 1 + k)
                k += 1
                i += 1
            f.seek(area_chunk * cb)
            f.write(buf)
            last_chunk = max(last_chunk, area_chunk + k)
        f.truncate((last_chunk + 1) * cb)
    print(origin_bytes)


if __name__ == "__main__":
    main()
