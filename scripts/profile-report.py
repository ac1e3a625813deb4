#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The table of make profile: ftrace's function profile of one operation, C against Rust.

    profile-report.py OUT OPERATION [ROWS]

reads OUT/profile-virtio_gpu/ and OUT/profile-virtio_rs/: profile-cpu*.txt (the kernel's
trace_stat/function<N> files: function, hits, time with callees) and drm-test.txt (the
"profile:" line: how many operations ran). Sums the CPUs, divides by the operations, and
prints the ROWS (default 40) functions whose time per operation differs most between the
drivers, then the most expensive ones of each. Time is in guest ns (instructions
under -icount), sleeping left out unless the run counted it (PROFILE_SLEEP=1); a
function's time includes its callees', so nested functions repeat their callees' share.
"""

import glob
import re
import sys

DRIVERS = ("virtio_gpu", "virtio_rs")


def read_profile(folder):
    """({function: (hits, ns)} summed over the CPUs, operations, what was profiled)."""
    ops, what = None, None
    with open(f"{folder}/drm-test.txt") as f:
        for line in f:
            m = re.match(r"^profile: (.*?)( with-sleep)? operations (\d+)$", line)
            if m:
                what, ops = m[1] + (" (time slept included)" if m[2] else ""), int(m[3])
    if not ops:
        raise SystemExit(f"{folder}/drm-test.txt has no profile line")
    functions = {}
    files = glob.glob(f"{folder}/profile-cpu*.txt")
    if not files:
        raise SystemExit(f"no profile-cpu*.txt in {folder}")
    for path in files:
        with open(path) as f:
            for line in f:
                parts = line.split()
                # "name hits time us avg us s^2 us"
                if len(parts) < 4 or parts[3] != "us" or not parts[1].isdigit():
                    continue
                hits, ns = int(parts[1]), float(parts[2]) * 1000
                old = functions.get(parts[0], (0, 0.0))
                functions[parts[0]] = (old[0] + hits, old[1] + ns)
    return functions, ops, what


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    out, op = argv[1], argv[2]
    rows = int(argv[3]) if len(argv) > 3 else 40
    prof = {d: read_profile(f"{out}/profile-{d}") for d in DRIVERS}
    c, c_ops, what = prof["virtio_gpu"]
    rs, rs_ops, _ = prof["virtio_rs"]
    print(f"make profile: {what}, per operation ({c_ops} C, {rs_ops} Rust); guest ns with"
          " callees")
    print(f"{'function':32} {'C calls':>8} {'C ns':>10} {'Rust calls':>10} {'Rust ns':>10}"
          f" {'Rust-C ns':>10}")

    def per_op(table, name, ops):
        hits, ns = table.get(name, (0, 0.0))
        return hits / ops, ns / ops

    names = set(c) | set(rs)
    diffs = []
    for name in names:
        ch, cn = per_op(c, name, c_ops)
        rh, rn = per_op(rs, name, rs_ops)
        diffs.append((rn - cn, name, ch, cn, rh, rn))
    diffs.sort(key=lambda d: -abs(d[0]))
    for delta, name, ch, cn, rh, rn in diffs[:rows]:
        print(f"{name:32} {ch:8.2f} {cn:10.0f} {rh:10.2f} {rn:10.0f} {delta:+10.0f}")
    print("most expensive per operation, each driver:")
    for d, (table, ops) in (("C", (c, c_ops)), ("Rust", (rs, rs_ops))):
        top = sorted(table.items(), key=lambda kv: -kv[1][1])[:10]
        text = ", ".join(f"{n} {t / ops:.0f}" for n, (_, t) in top)
        print(f"  {d}: {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
