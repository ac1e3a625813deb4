#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: the same display operations on virtio_gpu (C) and virtio_rs,
# measured in the same run by tests/drm-test's `bench` in the guest
# (tests/scenarios/bench.sh), under QEMU's -icount shift=0: while the guest
# runs, one guest nanosecond is one guest instruction, so the numbers are
# instruction counts of the guest, repeatable from run to run, not host time.
# Prints a table (also in out/bench.txt) with the ratio C / Rust: above 1,
# virtio_rs costs less.
#
# BENCH_ITERATIONS (default 100) and BENCH_ROUNDS (default 9) size the runs;
# each operation's result is the median of its rounds, and its minimum (the
# round least disturbed by interrupts and deferred work).

. "$(dirname "$0")/lib.sh"

iterations=${BENCH_ITERATIONS:-100}
rounds=${BENCH_ROUNDS:-9}
case $iterations$rounds in
*[!0-9]*) die "BENCH_ITERATIONS and BENCH_ROUNDS must be numbers" ;;
esac

for driver in virtio_gpu virtio_rs; do
	"$TOP/scripts/inroot.sh" python3 /src/scripts/guest-run.py --scenario bench \
		--driver "$driver" --blob true --icount --timeout 900 \
		--append "harness.iterations=$iterations harness.rounds=$rounds" ||
		die "bench run on $driver failed: see out/bench-$driver/"
done

python3 - "$TOP/out" "$iterations" "$rounds" <<'PY' | tee "$TOP/out/bench.txt"
import re
import sys

out, iterations, rounds = sys.argv[1:]
results = {}
for driver in ("virtio_gpu", "virtio_rs"):
    with open(f"{out}/bench-{driver}/drm-test.txt") as f:
        for line in f:
            m = re.match(r"^bench: (\S+) ns/op (\d+) min (\d+) rounds", line)
            if m:
                results.setdefault(m.group(1), {})[driver] = (int(m.group(2)), int(m.group(3)))
print(f"make bench: guest ns per operation under -icount shift=0 (about one guest "
      f"instruction per ns), {rounds} rounds of {iterations}: median and minimum")
print(f"{'operation':30} {'C median':>10} {'Rust median':>12} {'C/Rust':>7}"
      f" {'C min':>10} {'Rust min':>10} {'C/Rust':>7}")
for name, r in results.items():
    c, rs = r.get("virtio_gpu"), r.get("virtio_rs")
    if not (c and rs):
        print(f"{name:30} (missing)")
        continue
    print(f"{name:30} {c[0]:>10} {rs[0]:>12} {c[0] / rs[0]:>7.3f}"
          f" {c[1]:>10} {rs[1]:>10} {c[1] / rs[1]:>7.3f}")
PY
# The kernel memory each import holds (drm-test's kmem trace: slab objects
# and pages allocated by the import and not freed while it lives, the
# exporter's mapping included), per driver; and the same per page of the
# buffer, which is flat when memory grows linearly with the page count.
python3 - "$TOP/out" <<'PY' | tee -a "$TOP/out/bench.txt"
import re
import sys

out = sys.argv[1]
pages = {}
mem = {}
for driver in ("virtio_gpu", "virtio_rs"):
    with open(f"{out}/bench-{driver}/drm-test.txt") as f:
        for line in f:
            m = re.match(r"^memory: (\S+) slab-bytes (\d+) page-bytes (\d+)$", line)
            if m:
                mem.setdefault(m[1], {})[driver] = (int(m[2]), int(m[3]))
            m = re.match(r"^import: (\S+) pages (\d+) entries", line)
            if m:
                pages[m[1]] = int(m[2])
print("kernel memory per import while it lives (bytes; kmem trace of 8 imports at once)")
print(f"{'buffer':18} {'pages':>6} {'C slab':>8} {'Rust slab':>10} {'C pages':>9}"
      f" {'Rust pages':>11} {'C total':>8} {'Rust total':>11} {'C/Rust':>7} {'Rust B/page':>12}")
for name, r in mem.items():
    c, rs = r.get("virtio_gpu"), r.get("virtio_rs")
    if not (c and rs):
        print(f"{name:18} (missing)")
        continue
    n = pages.get(name, 0)
    ct, rt = sum(c), sum(rs)
    ratio = f"{ct / rt:7.3f}" if rt else f"{'-':>7}"
    per_page = f"{rt / n:12.1f}" if n else f"{'-':>12}"
    print(f"{name:18} {n:>6} {c[0]:>8} {rs[0]:>10} {c[1]:>9} {rs[1]:>11} {ct:>8} {rt:>11}"
          f" {ratio} {per_page}")
PY
# The imports' memory entries, as the host gets them (virtio_rs' debugfs).
{
	echo "memory entries of the imported buffers (virtio_rs' debugfs):"
	grep -h "^import:" "$TOP/out/bench-virtio_rs/drm-test.txt" | sed 's/^/  /'
} | tee -a "$TOP/out/bench.txt"
