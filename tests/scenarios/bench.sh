# SPDX-License-Identifier: GPL-2.0
#
# bench (make bench): tests/drm-test's `bench` on the virtio GPU's card: the
# guest-side cost of atomic checks, cursor moves, damage flushes, framebuffer
# creation, dumb buffer creation and PRIME imports of the test exporter's
# buffers (drm-test.txt, "bench:" lines).
# harness.iterations=N and harness.rounds=R (--append) set the sizes.

# The test exporter's buffers, for the cost of imports by size and layout;
# tracefs, for the memory an import holds (its kmem events).
mover_setup
mountpoint -q /sys/kernel/tracing || must mount -t tracefs tracefs /sys/kernel/tracing
card=$(drm_test_card) || exit 1
drm_test_run "" -- bench --device "$card" \
	--iterations "$(param iterations 100)" --rounds "$(param rounds 9)"
n=$(grep -c '^bench: ' "$RESULTS/drm-test.txt")
[ "$n" -ge 12 ] || fail "drm-test bench printed $n results, expected 12"
m=$(grep -c '^memory: ' "$RESULTS/drm-test.txt")
[ "$m" -ge 6 ] || fail "drm-test bench measured the memory of $m imports, expected 6"
pass "drm-test bench: $n operations measured, and the memory of $m imports"
