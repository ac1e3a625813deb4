#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The tables of make bench, from both drivers' drm-test bench output.

    bench-report.py OUT ITERATIONS ROUNDS [CONFIG...]

reads OUT/bench-DRIVER/ (configuration "main") and OUT/bench-CONFIG-DRIVER/ for
DRIVER virtio_gpu (C) and virtio_rs: drm-test.txt, and QEMU's command trace
(trace.log with the guest's marks in trace-marks.txt). Prints, with the ratio
C / Rust (above 1: virtio_rs costs less):

- per operation, the guest instructions QEMU counted (insns.txt, windows of
  tests/insn-profile, paired with drm-test's "insns:" lines), median and
  minimum of the rounds, the measuring overhead taken off; then the guest's
  busy ns (under -icount, instructions outside the idle task) and the elapsed
  ns;
- per configuration (mode, heads), the instructions of a page flip and of the
  first scanout of an import, against the targets of virtio_rs (at most 0.8x
  C's); busy ns where a run has no instruction counts;
- the latency of a flip, commit to event, and the vblanks a flip took;
- the virtio commands and bytes of a frame, from the trace;
- the kernel memory each import holds, with virtio_rs' bytes per page of the
  buffer (flat when memory grows linearly with the page count).
"""

import re
import statistics
import sys

DRIVERS = ("virtio_gpu", "virtio_rs")

# Request and response bytes of the commands a frame sends, by QEMU's trace
# name: the structures of the virtio-gpu specification (a 24-byte header
# first). Commands on the cursor queue have no response.
COMMAND_BYTES = {
    "res_flush": (48, 24),
    "set_scanout": (48, 24),
    "set_scanout_blob": (96, 24),
    "res_xfer_toh_2d": (56, 24),
    "res_back_attach": (32, 24),       # plus 16 per memory entry
    "res_back_detach": (32, 24),
    "update_cursor": (56, 0),
}

# virtio_rs' targets: at most this share of C's instructions.
TARGET = 0.8
TARGET_OPS = ("flip-import", "flip-dumb", "dumb-create-256x256", "dumb-destroy-256x256")


def folder(out, config, driver):
    return f"{out}/bench-{driver}" if config == "main" else f"{out}/bench-{config}-{driver}"


def read_windows(path):
    """The instruction counts of QEMU's windows, in order (insns.txt), or None."""
    try:
        with open(path) as f:
            header = f.readline().split()
            counts = [int(line) for line in f]
    except OSError:
        return None
    if header[:1] != ["insn-windows"] or len(header) != 2 or int(header[1]) != len(counts):
        raise SystemExit(f"{path}: not a complete window count")
    return counts


def window_costs(rounds_of, counts):
    """{name: (median, min)} instructions per operation: each round's windows summed, less
    the median of the "overhead" windows (measurements of nothing) per window, divided by the
    operations of the round (rounds_of: {name: (per round, [[window, ...], ...])})."""
    def count(i):
        if i >= len(counts):
            raise SystemExit(f"window {i} was not counted ({len(counts)} were)")
        return counts[i]
    calibration = rounds_of.pop("overhead", None)
    overhead = 0
    if calibration:
        overhead = statistics.median(count(i) for r in calibration[1] for i in r)
    # The last window is always a reported one: more counts than that, and something else
    # executed the markers, which would shift every window.
    last = max((i for _, rounds in rounds_of.values() for r in rounds for i in r), default=-1)
    if calibration:
        last = max([last, *(i for r in calibration[1] for i in r)])
    if last + 1 != len(counts):
        raise SystemExit(f"{len(counts)} windows were counted, {last + 1} measured")
    costs = {}
    for name, (per_round, rounds) in rounds_of.items():
        per_op = sorted(max(0, sum(count(i) for i in r) - overhead * len(r)) // per_round
                        for r in rounds)
        costs[name] = (int(per_op[len(per_op) // 2]), int(per_op[0]))
    return costs


def read_results(path):
    """drm-test.txt of one run: {kind: {name: (median, min)}}, latencies, memory, pages,
    setup."""
    r = {"insns": {}, "bench": {}, "elapsed": {}, "latency": {}, "memory": {}, "pages": {},
         "setup": ""}
    windows = {}
    try:
        f = open(path)
    except OSError:
        return None
    with f:
        for line in f:
            m = re.match(r"^(bench|elapsed): (\S+) ns/op (\d+) min (\d+) rounds", line)
            if m:
                r[m[1]][m[2]] = (int(m[3]), int(m[4]))
            m = re.match(r"^latency: (\S+) median (\d+) min (\d+) max (\d+) vblanks/flip (\S+)",
                         line)
            if m:
                r["latency"][m[1]] = (int(m[2]), int(m[3]), int(m[4]), float(m[5]))
            m = re.match(r"^memory: (\S+) slab-bytes (\d+) page-bytes (\d+)$", line)
            if m:
                r["memory"][m[1]] = (int(m[2]), int(m[3]))
            m = re.match(r"^import: (\S+) pages (\d+) entries", line)
            if m:
                r["pages"][m[1]] = int(m[2])
            m = re.match(r"^setup: (.*)$", line)
            if m:
                r["setup"] = m[1]
            m = re.match(r"^insns: (\S+) per-round (\d+) windows (.*)$", line)
            if m:
                rounds = [[int(i) for i in w.split(",")] for w in m[3].split()]
                windows[m[1]] = (int(m[2]), rounds)
    counts = read_windows(path.rsplit("/", 1)[0] + "/insns.txt") if windows else None
    if counts is not None:
        r["insns"] = window_costs(windows, counts)
    return r


def main_kind(runs):
    """The figures the tables compare: QEMU's instruction counts if every run has them."""
    have = all(r[d]["insns"] for r in runs.values() for d in DRIVERS)
    return ("insns", "guest instructions (counted by QEMU)") if have else \
        ("bench", "guest busy ns (instructions)")


def frame_commands(run_dir, name, frames):
    """{command: count per frame} between the marks NAME-begin and NAME-end of the run's
    trace, or None without both marks."""
    marks = {}
    try:
        with open(f"{run_dir}/trace-marks.txt") as f:
            for line in f:
                tag, offset = line.split()
                marks[tag] = int(offset)
        begin, end = marks[f"{name}-begin"], marks[f"{name}-end"]
        with open(f"{run_dir}/trace.log", "rb") as f:
            f.seek(begin)
            text = f.read(end - begin).decode(errors="replace")
    except (OSError, KeyError, ValueError):
        return None
    counts = {}
    for m in re.finditer(r"\bvirtio_gpu_(?:cmd_)?(\w+)", text):
        if m[1] in ("features",):
            continue
        counts[m[1]] = counts.get(m[1], 0) + 1
    return {k: v / frames for k, v in counts.items()}


def ratio(c, rs, width=7):
    return f"{c / rs:{width}.3f}" if rs else f"{'-':>{width}}"


def both(table, name):
    c, rs = table.get("virtio_gpu", {}).get(name), table.get("virtio_rs", {}).get(name)
    return (c, rs) if c and rs else None


def load_runs(out, configs):
    """{config: {driver: results}} of the configurations both drivers ran."""
    runs = {}
    for config in configs:
        r = {d: read_results(f"{folder(out, config, d)}/drm-test.txt") for d in DRIVERS}
        if all(r.values()):
            runs[config] = r
    return runs


def pairs(runs, kind, names):
    """(config, its runs, name, C's figures, Rust's) of the `kind` figures `names` of every
    configuration that has both drivers' (runs: {config: {driver: results}})."""
    for config, r in runs.items():
        for name in names:
            pair = both({d: r[d][kind] for d in DRIVERS}, name)
            if pair is not None:
                yield (config, r, name, *pair)


def op_table(runs, kind, title):
    print(title)
    print(f"{'operation':30} {'C median':>10} {'Rust median':>12} {'C/Rust':>7}"
          f" {'C min':>10} {'Rust min':>10} {'C/Rust':>7}")
    table = {d: runs[d][kind] for d in DRIVERS}
    for name in table["virtio_gpu"]:
        pair = both(table, name)
        if pair is None:
            print(f"{name:30} (missing)")
            continue
        c, rs = pair
        print(f"{name:30} {c[0]:>10} {rs[0]:>12} {ratio(c[0], rs[0])}"
              f" {c[1]:>10} {rs[1]:>10} {ratio(c[1], rs[1])}")


def config_tables(out, configs, frames):
    """The per-configuration tables: flip and first-scanout cost, latency, commands."""
    runs = load_runs(out, configs)
    kind, what = main_kind(runs)
    print(f"per mode and heads: {what} per operation, median (min);"
          f" target: virtio_rs at most {TARGET}x C, C/Rust at least {1 / TARGET:.2f}")
    print(f"{'config':8} {'setup':22} {'operation':22} {'C':>18} {'Rust':>18} {'C/Rust':>7}"
          f" {'min':>6}")
    for config, r, name, c, rs in pairs(runs, kind,
                                         ("flip-dumb", "flip-import", "first-scanout-import")):
        setup = r["virtio_rs"]["setup"]
        print(f"{config:8} {setup:22} {name:22} {c[0]:>9} ({c[1]:>6}) {rs[0]:>9}"
              f" ({rs[1]:>6}) {ratio(c[0], rs[0])} {ratio(c[1], rs[1], 6)}")
    print("page flip latency, commit to event (guest ns: the vblank timer paces the events),"
          " and vblanks per flip")
    print(f"{'config':8} {'flip':12} {'C median':>10} {'C min':>9} {'C max':>9} {'C vbl':>6}"
          f" {'Rust median':>12} {'Rust min':>9} {'Rust max':>9} {'R vbl':>6} {'C/Rust':>7}")
    for config, _, name, c, rs in pairs(runs, "latency", ("flip-dumb", "flip-import")):
        print(f"{config:8} {name:12} {c[0]:>10} {c[1]:>9} {c[2]:>9} {c[3]:>6.2f}"
              f" {rs[0]:>12} {rs[1]:>9} {rs[2]:>9} {rs[3]:>6.2f} {ratio(c[0], rs[0])}")
    print("virtio commands per frame (QEMU's trace between the marks of each flip loop),"
          " and their bytes (request + response)")
    for config in runs:
        for name in ("flip-dumb", "flip-import"):
            for d in DRIVERS:
                per_frame = frame_commands(folder(out, config, d), name, frames)
                if per_frame is None:
                    print(f"{config:8} {name:12} {d:10} (no trace marks)")
                    continue
                total = sum(per_frame.values())
                known = all(k in COMMAND_BYTES for k in per_frame)
                nbytes = sum(n * sum(COMMAND_BYTES.get(k, (0, 0))) for k, n in per_frame.items())
                text = ", ".join(f"{k} {n:.2f}" for k, n in sorted(per_frame.items()))
                size = f"{nbytes:7.1f}" if known else f"{'?':>7}"
                copies = per_frame.get("res_xfer_toh_2d", 0)
                print(f"{config:8} {name:12} {d:10} {total:5.2f} commands {size} bytes"
                      f" {copies:4.2f} transfers: {text}")


def memory_table(runs):
    print("kernel memory per import while it lives (bytes; kmem trace of 8 imports at once)")
    print(f"{'buffer':18} {'pages':>6} {'C slab':>8} {'Rust slab':>10} {'C pages':>9}"
          f" {'Rust pages':>11} {'C total':>8} {'Rust total':>11} {'C/Rust':>7}"
          f" {'Rust B/page':>12}")
    table = {d: runs[d]["memory"] for d in DRIVERS}
    pages = runs["virtio_rs"]["pages"]
    for name in table["virtio_gpu"]:
        pair = both(table, name)
        if pair is None:
            print(f"{name:18} (missing)")
            continue
        c, rs = pair
        n = pages.get(name, 0)
        per_page = f"{sum(rs) / n:12.1f}" if n else f"{'-':>12}"
        print(f"{name:18} {n:>6} {c[0]:>8} {rs[0]:>10} {c[1]:>9} {rs[1]:>11} {sum(c):>8}"
              f" {sum(rs):>11} {ratio(sum(c), sum(rs))} {per_page}")


def targets(out, configs):
    """One line per target: met or not, by the medians."""
    runs = load_runs(out, configs)
    kind, what = main_kind(runs)
    print(f"targets (virtio_rs at most {TARGET}x C's instructions, by the medians of the {what}):")
    for config, _, name, c, rs in pairs(runs, kind, TARGET_OPS):
        share = rs[0] / c[0] if c[0] else float("inf")
        verdict = "met" if share <= TARGET else "NOT met"
        print(f"  {config:8} {name:22} Rust/C {share:5.3f}: {verdict}")


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    out, iterations, rounds = argv[1:4]
    configs = argv[4:] or ["main"]
    frames = int(iterations) * int(rounds)
    print(f"make bench: {rounds} rounds of {iterations}; guest ns under -icount shift=0"
          " (about one guest instruction per busy ns)")
    main_runs = {d: read_results(f"{folder(out, 'main', d)}/drm-test.txt") for d in DRIVERS}
    if "main" in configs and all(main_runs.values()):
        if all(main_runs[d]["insns"] for d in DRIVERS):
            op_table(main_runs, "insns", "guest instructions per operation (every CPU, counted"
                     " by QEMU), median and minimum of the rounds")
        op_table(main_runs, "bench", "guest busy ns per operation (instructions outside the"
                 " idle task, every CPU), median and minimum of the rounds")
        op_table(main_runs, "elapsed", "elapsed guest ns per operation (waits included)")
    config_tables(out, configs, frames)
    if "main" in configs and all(main_runs.values()):
        memory_table(main_runs)
    targets(out, configs)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
