# SPDX-License-Identifier: GPL-2.0
#
# bench (make bench): tests/drm-test's `bench` on the virtio GPU's card, every
# head lit: the guest-side cost of page flips (dumb and imported buffers, with
# their latency), of the first scanout of an import, and, unless
# harness.flips_only=1, of atomic checks, cursor moves, damage flushes,
# framebuffer and dumb buffer creation and PRIME imports of the test
# exporter's buffers (drm-test.txt: "bench:", "elapsed:", "latency:" lines).
# harness.iterations=N and harness.rounds=R (--append) set the sizes. With
# harness.insn_windows=1 every measurement is also a window of QEMU's
# instruction count (guest-run.py --insn-windows; "insns:" lines).

# The test exporter's buffers, for imports by size and layout; tracefs, for
# the memory an import holds (its kmem events).
mover_setup
mountpoint -q /sys/kernel/tracing || must mount -t tracefs tracefs /sys/kernel/tracing
card=$(drm_test_card) || exit 1
bin=/cache/drm-test-target/release/drm-test
[ -x "$bin" ] || fail "no $bin: run scripts/build-drm-test.sh"
set -- bench --device "$card" --iterations "$(param iterations 100)" --rounds "$(param rounds 9)"
flips_only=$(param flips_only 0)
[ "$flips_only" = 1 ] && set -- "$@" --flips-only
[ "$(param insn_windows 0)" = 1 ] && set -- "$@" --insn-windows
# In the foreground: a shell polling for the program's end would add its own
# instructions to every measurement (the guest's busy time).
"$bin" "$@" > "$RESULTS/drm-test.txt" 2>&1 ||
	fail "drm-test bench failed: $(tail -n 1 "$RESULTS/drm-test.txt")"

want=15
[ "$flips_only" = 1 ] && want=3
n=$(grep -c '^bench: ' "$RESULTS/drm-test.txt")
[ "$n" -ge "$want" ] || fail "drm-test bench printed $n results, expected $want"
if [ "$(param insn_windows 0)" = 1 ]; then
	w=$(grep -c '^insns: ' "$RESULTS/drm-test.txt")
	[ "$w" -gt "$n" ] ||
		fail "drm-test bench printed the windows of $w measurements, expected $n and the overhead's"
fi
l=$(grep -c '^latency: ' "$RESULTS/drm-test.txt")
[ "$l" -ge 2 ] || fail "drm-test bench measured the latency of $l kinds of flip, expected 2"
m=0
if [ "$flips_only" != 1 ]; then
	m=$(grep -c '^memory: ' "$RESULTS/drm-test.txt")
	[ "$m" -ge 6 ] || fail "drm-test bench measured the memory of $m imports, expected 6"
fi
pass "drm-test bench: $n operations measured, the latency of $l kinds of flip, the memory of $m imports"
