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

# The tables: per operation, and the kernel memory each import holds.
python3 "$TOP/scripts/bench-report.py" "$TOP/out" "$iterations" "$rounds" |
	tee "$TOP/out/bench.txt"
# The imports' memory entries, as the host gets them (virtio_rs' debugfs).
{
	echo "memory entries of the imported buffers (virtio_rs' debugfs):"
	grep -h "^import:" "$TOP/out/bench-virtio_rs/drm-test.txt" | sed 's/^/  /'
} | tee -a "$TOP/out/bench.txt"
