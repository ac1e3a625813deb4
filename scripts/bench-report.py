#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The tables of make bench, from both drivers' drm-test bench output.

    bench-report.py OUT ITERATIONS ROUNDS

reads OUT/bench-virtio_gpu/drm-test.txt and OUT/bench-virtio_rs/drm-test.txt and prints, per
operation, the median and minimum guest ns of each driver with the ratio C / Rust (above 1:
virtio_rs costs less); then the kernel memory each import holds (drm-test's kmem trace), with
the ratio and virtio_rs' bytes per page of the buffer (flat when memory grows linearly with the
page count).
"""

import re
import sys

DRIVERS = ("virtio_gpu", "virtio_rs")


def read(out):
    """Per driver: {operation: (median, min)}, {buffer: (slab, pages)}; and pages per buffer."""
    times, memory, pages = {}, {}, {}
    for driver in DRIVERS:
        with open(f"{out}/bench-{driver}/drm-test.txt") as f:
            for line in f:
                m = re.match(r"^bench: (\S+) ns/op (\d+) min (\d+) rounds", line)
                if m:
                    times.setdefault(m[1], {})[driver] = (int(m[2]), int(m[3]))
                m = re.match(r"^memory: (\S+) slab-bytes (\d+) page-bytes (\d+)$", line)
                if m:
                    memory.setdefault(m[1], {})[driver] = (int(m[2]), int(m[3]))
                m = re.match(r"^import: (\S+) pages (\d+) entries", line)
                if m:
                    pages[m[1]] = int(m[2])
    return times, memory, pages


def both(name, width, r):
    """The C and Rust figures of `r`, or None after saying they are missing."""
    c, rs = r.get("virtio_gpu"), r.get("virtio_rs")
    if not (c and rs):
        print(f"{name:{width}} (missing)")
        return None
    return c, rs


def ratio(c, rs, width=7):
    return f"{c / rs:{width}.3f}" if rs else f"{'-':>{width}}"


def main(argv):
    out, iterations, rounds = argv[1:]
    times, memory, pages = read(out)
    print(f"make bench: guest ns per operation under -icount shift=0 (about one guest "
          f"instruction per ns), {rounds} rounds of {iterations}: median and minimum")
    print(f"{'operation':30} {'C median':>10} {'Rust median':>12} {'C/Rust':>7}"
          f" {'C min':>10} {'Rust min':>10} {'C/Rust':>7}")
    for name, r in times.items():
        if (pair := both(name, 30, r)) is None:
            continue
        c, rs = pair
        print(f"{name:30} {c[0]:>10} {rs[0]:>12} {ratio(c[0], rs[0])}"
              f" {c[1]:>10} {rs[1]:>10} {ratio(c[1], rs[1])}")
    print("kernel memory per import while it lives (bytes; kmem trace of 8 imports at once)")
    print(f"{'buffer':18} {'pages':>6} {'C slab':>8} {'Rust slab':>10} {'C pages':>9}"
          f" {'Rust pages':>11} {'C total':>8} {'Rust total':>11} {'C/Rust':>7}"
          f" {'Rust B/page':>12}")
    for name, r in memory.items():
        if (pair := both(name, 18, r)) is None:
            continue
        c, rs = pair
        n = pages.get(name, 0)
        per_page = f"{sum(rs) / n:12.1f}" if n else f"{'-':>12}"
        print(f"{name:18} {n:>6} {c[0]:>8} {rs[0]:>10} {c[1]:>9} {rs[1]:>11} {sum(c):>8}"
              f" {sum(rs):>11} {ratio(sum(c), sum(rs))} {per_page}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
