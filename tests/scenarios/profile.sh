# SPDX-License-Identifier: GPL-2.0
#
# profile (make profile): tests/drm-test's bench with ftrace's function
# profiler on while the operation harness.profile=NAME is measured
# (harness.iterations, harness.rounds as for bench). Saves each CPU's
# trace_stat/function<N> to profile-cpu<N>.txt; drm-test.txt says how many
# operations ran ("profile:" line). With harness.profile_sleep=1 a function's
# time includes the time it slept (a commit's wait for the host). Page flips and first scanouts run alone
# (bench --flips-only); the other operations come with the whole bench.
# With harness.profile_method=insns, QEMU's plugin tests/insn-profile counts
# the instructions instead (guest-run.py --insn-profile) and the scenario
# saves the guest's symbols, /proc/kallsyms, to kallsyms.txt.

mover_setup
method=$(param profile_method ftrace)
# The bench's memory measurement reads the kmem trace events either way.
mountpoint -q /sys/kernel/tracing || must mount -t tracefs tracefs /sys/kernel/tracing
case $method in
ftrace)
	[ -e /sys/kernel/tracing/function_profile_enabled ] ||
		fail "no function profiler in this kernel (CONFIG_FUNCTION_PROFILER)"
	;;
insns) ;;
*) fail "harness.profile_method must be ftrace or insns" ;;
esac
card=$(drm_test_card) || exit 1
bin=/cache/drm-test-target/release/drm-test
[ -x "$bin" ] || fail "no $bin: run scripts/build-drm-test.sh"
op=$(param profile)
[ -n "$op" ] || fail "harness.profile=OPERATION is not set"
set -- bench --device "$card" --iterations "$(param iterations 100)" \
	--rounds "$(param rounds 9)" --profile "$op"
case $op in flip-* | first-scanout-*) set -- "$@" --flips-only ;; esac
[ "$(param profile_sleep 0)" = 1 ] && set -- "$@" --profile-sleep
[ "$method" = insns ] && set -- "$@" --profile-insns
"$bin" "$@" > "$RESULTS/drm-test.txt" 2>&1 ||
	fail "drm-test bench --profile $op failed: $(tail -n 1 "$RESULTS/drm-test.txt")"
grep -q "^profile: " "$RESULTS/drm-test.txt" || fail "drm-test did not profile $op"
if [ "$method" = insns ]; then
	# The modules' symbols too, with their addresses (root sees them unless
	# kptr_restrict is 2).
	echo 1 > /proc/sys/kernel/kptr_restrict
	cp /proc/kallsyms "$RESULTS/kallsyms.txt" || fail "cannot save /proc/kallsyms"
	grep -q '^ffff' "$RESULTS/kallsyms.txt" || fail "/proc/kallsyms shows no addresses"
	pass "profile of $op: $(grep '^profile: ' "$RESULTS/drm-test.txt"), QEMU counts the instructions"
fi
n=0
for f in /sys/kernel/tracing/trace_stat/function[0-9]*; do
	cp "$f" "$RESULTS/profile-cpu${f##*function}.txt" || fail "cannot save $f"
	n=$((n + 1))
done
[ "$n" -gt 0 ] || fail "no trace_stat/function files"
pass "profile of $op: $(grep '^profile: ' "$RESULTS/drm-test.txt"), $n CPUs"
