#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The table of make profile: the profile of one operation, C against Rust.

    profile-report.py OUT OPERATION [ROWS]

reads OUT/profile-virtio_gpu/ and OUT/profile-virtio_rs/: drm-test.txt (the "profile:" line:
how many operations ran, and the method), and what the method left:

- ftrace's function profiler: profile-cpu*.txt (the kernel's trace_stat/function<N> files:
  function, hits, time with callees). Sums the CPUs, divides by the operations, and prints
  the ROWS (default 40) functions whose time per operation differs most between the drivers,
  then the most expensive ones of each. Time is in guest ns (instructions under -icount),
  sleeping left out unless the run counted it (PROFILE_SLEEP=1); a function's time includes
  its callees', so nested functions repeat their callees' share.
- QEMU's instruction counts (PROFILE_WITH=insns): insns.txt (code address, instructions
  executed there while the operation ran) and kallsyms.txt (the guest's symbols). Puts each
  address on the symbol it falls in (Rust names demangled by llvm-cxxfilt) and prints, per
  operation, the instructions of each module (the kernel proper is "vmlinux", user space
  "user"), then the ROWS functions that differ most; a function's count is its own, without
  its callees'.
"""

import bisect
import glob
import re
import subprocess
import sys

DRIVERS = ("virtio_gpu", "virtio_rs")


def read_header(folder):
    """(operations, what was profiled, method) from drm-test's "profile:" line."""
    with open(f"{folder}/drm-test.txt") as f:
        for line in f:
            m = re.match(r"^profile: (.*?)(?: (with-sleep|insns))? operations (\d+)$", line)
            if m:
                what = m[1] + (" (time slept included)" if m[2] == "with-sleep" else "")
                return int(m[3]), what, m[2] or "ftrace"
    raise SystemExit(f"{folder}/drm-test.txt has no profile line")


def read_symbols(path):
    """The guest's code symbols, sorted: ([address], [(name, module)])."""
    symbols = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 3 or parts[1] not in ("t", "T", "w", "W"):
                continue
            module = parts[3].strip("[]") if len(parts) > 3 else "vmlinux"
            symbols.append((int(parts[0], 16), parts[2], module))
    symbols.sort()
    if not symbols or symbols[-1][0] == 0:
        raise SystemExit(f"{path}: no symbol addresses")
    return [a for a, _, _ in symbols], [(n, m) for _, n, m in symbols]


def demangle(names):
    """Rust's mangled names (_R...) in readable form, by the root's llvm-cxxfilt."""
    rust = sorted(n for n in names if n.startswith("_R"))
    if not rust:
        return {}
    done = subprocess.run(["llvm-cxxfilt"], input="\n".join(rust), capture_output=True,
                          text=True, check=True).stdout.splitlines()
    return dict(zip(rust, done))


def shorten(name):
    """A Rust path without the generic arguments of its types: <A<..> as B>::f."""
    out, depth = [], 0
    for ch in name:
        if ch == "<":
            depth += 1
            if depth == 2:
                out.append("<..")
        elif ch == ">":
            depth -= 1
        if depth < 2:
            out.append(ch)
    return "".join(out)


def read_insns(folder):
    """({function: instructions}, {module: instructions}) of the counted code."""
    addresses, symbols = read_symbols(f"{folder}/kallsyms.txt")
    functions, modules = {}, {}
    with open(f"{folder}/insns.txt") as f:
        header = f.readline()
        if not header.startswith("insn-profile markers 2\n"):
            raise SystemExit(f"{folder}/insns.txt: {header.strip()} (expected 2 markers)")
        for line in f:
            address, count = line.split()
            address, count = int(address, 16), int(count)
            i = bisect.bisect_right(addresses, address) - 1
            if address < 1 << 63:
                name, module = "[user]", "user"
            elif i < 0:
                name, module = "[unknown]", "vmlinux"
            else:
                name, module = symbols[i]
            functions[name] = functions.get(name, 0) + count
            modules[module] = modules.get(module, 0) + count
    readable = demangle(functions)
    named = {}
    for n, c in functions.items():
        short = shorten(readable.get(n, n))
        named[short] = named.get(short, 0) + c
    return named, modules


def insns_report(out, rows):
    """The instruction counts of both drivers, per operation."""
    runs = {}
    for d in DRIVERS:
        ops, what, _ = read_header(f"{out}/profile-{d}")
        runs[d] = (ops, *read_insns(f"{out}/profile-{d}"))
    (c_ops, c, c_mod), (rs_ops, rs, rs_mod) = runs["virtio_gpu"], runs["virtio_rs"]
    print(f"make profile: {what}, guest instructions per operation ({c_ops} C, {rs_ops} Rust),"
          " counted by QEMU")
    print(f"{'module':32} {'C':>10} {'Rust':>10} {'Rust-C':>10}")
    for m in sorted(set(c_mod) | set(rs_mod), key=lambda m: -(c_mod.get(m, 0) / c_ops +
                                                               rs_mod.get(m, 0) / rs_ops)):
        cn, rn = c_mod.get(m, 0) / c_ops, rs_mod.get(m, 0) / rs_ops
        print(f"{m:32} {cn:10.0f} {rn:10.0f} {rn - cn:+10.0f}")
    cn, rn = sum(c_mod.values()) / c_ops, sum(rs_mod.values()) / rs_ops
    print(f"{'total':32} {cn:10.0f} {rn:10.0f} {rn - cn:+10.0f}")
    print(f"functions (own instructions, without callees), largest differences first:")
    print(f"{'C':>10} {'Rust':>10} {'Rust-C':>10}  function")
    diffs = []
    for name in set(c) | set(rs):
        cn, rn = c.get(name, 0) / c_ops, rs.get(name, 0) / rs_ops
        diffs.append((rn - cn, name, cn, rn))
    diffs.sort(key=lambda d: -abs(d[0]))
    for delta, name, cn, rn in diffs[:rows]:
        print(f"{cn:10.0f} {rn:10.0f} {delta:+10.0f}  {name}")
    return 0


def read_profile(folder):
    """({function: (hits, ns)} summed over the CPUs, operations, what was profiled)."""
    ops, what, _ = read_header(folder)
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
    if read_header(f"{out}/profile-virtio_rs")[2] == "insns":
        return insns_report(out, rows)
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
