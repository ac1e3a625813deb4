#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: the same display operations on virtio_gpu (C) and virtio_rs,
# measured in the same run by tests/drm-test's `bench` in the guest
# (tests/scenarios/bench.sh), under QEMU's -icount shift=0: while the guest
# runs, one guest nanosecond is one guest instruction. The main figures are
# the guest's busy time (every CPU, idle left out: /proc/schedstat), that is
# instruction counts of the guest, repeatable from run to run, not host time;
# latencies are elapsed guest time, idle waits included. QEMU's command trace,
# marked around each flip loop, gives the commands and bytes of a frame.
# Prints the tables (also in out/bench.txt) with the ratio C / Rust: above 1,
# virtio_rs costs less.
#
# BENCH_ITERATIONS (default 100) and BENCH_ROUNDS (default 9) size the runs;
# each operation's result is the median of its rounds, and its minimum (the
# round least disturbed by interrupts and deferred work). BENCH_KERNEL=test
# measures on the test guest's lockdep kernel instead of the benchmark one
# (configs/bench.config).

. "$(dirname "$0")/lib.sh"

iterations=${BENCH_ITERATIONS:-100}
rounds=${BENCH_ROUNDS:-9}
case $iterations$rounds in
*[!0-9]*) die "BENCH_ITERATIONS and BENCH_ROUNDS must be numbers" ;;
esac

# The configurations: name, QEMU options, what is measured ("all", or "flips":
# what depends on the heads and the mode). The first is the full run at
# 1024x768 with one head (out/bench-DRIVER); the others measure page flips and
# the first scanout of an import by mode and by number of heads
# (out/bench-NAME-DRIVER). BENCH_CONFIGS (names, space-separated) picks some.
configs=(
	"main::all"
	"1080p:--xres 1920 --yres 1080:flips"
	"4k:--xres 3840 --yres 2160:flips"
	"4heads:--max-outputs 4:flips"
	"16heads:--max-outputs 16:flips"
)
bench_kernel
cache_lock
build_insn_counter
picked=${BENCH_CONFIGS:-main 1080p 4k 4heads 16heads}
ran=()
for config in "${configs[@]}"; do
	IFS=: read -r name options what <<< "$config"
	case " $picked " in *" $name "*) ;; *) continue ;; esac
	ran+=("$name")
	append="harness.iterations=$iterations harness.rounds=$rounds harness.insn_windows=1"
	[ "$what" = flips ] && append+=" harness.flips_only=1"
	for driver in virtio_gpu virtio_rs; do
		out=bench-$driver
		[ "$name" = main ] || out=bench-$name-$driver
		# shellcheck disable=SC2086 # options are words
		"$TOP/scripts/inroot.sh" python3 /src/scripts/guest-run.py --scenario bench \
			--driver "$driver" --blob true --icount --timeout 900 $options "${BENCH_KERNEL_OPTS[@]}" \
			--insn-windows "/src/out/$out/insns.txt" --out "/src/out/$out" --append "$append" ||
			die "bench run $name on $driver failed: see out/$out/"
	done
done
[ ${#ran[@]} -gt 0 ] || die "BENCH_CONFIGS names no configuration (main 1080p 4k 4heads 16heads)"

# The tables: per operation, and the kernel memory each import holds.
{
	echo "kernel: ${BENCH_KERNEL:-bench} (BENCH_KERNEL)"
	python3 "$TOP/scripts/bench-report.py" "$TOP/out" "$iterations" "$rounds" "${ran[@]}"
} | tee "$TOP/out/bench.txt"
# The imports' memory entries, as the host gets them (virtio_rs' debugfs).
if [ -f "$TOP/out/bench-virtio_rs/drm-test.txt" ]; then
	{
		echo "memory entries of the imported buffers (virtio_rs' debugfs):"
		grep -h "^import:" "$TOP/out/bench-virtio_rs/drm-test.txt" | sed 's/^/  /'
	} | tee -a "$TOP/out/bench.txt"
fi
