#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make profile: where a display operation's guest instructions go, virtio_gpu
# (C) against virtio_rs. Runs tests/scenarios/profile.sh on both drivers under
# -icount with ftrace's function profiler on around the operation
# PROFILE_OP (default dumb-create-256x256; any name make bench prints, e.g.
# dumb-destroy-256x256, flip-import, flip-dumb), then prints per C function
# its calls and its time with its callees per operation for both drivers,
# largest differences first (out/profile.txt). The Rust code is not
# instrumented by ftrace: its C callees show where it spends.
#
# PROFILE_SLEEP=1 counts the time functions slept too: how long they took,
# waits included (e.g. a commit's wait for the host's answer).
# PROFILE_WITH=insns counts instructions instead, Rust code included: QEMU's
# plugin tests/insn-profile counts what the guest executes while the
# operation runs, per code address, and the report puts the counts on the
# guest's symbols (/proc/kallsyms) per operation, by function and by module.
# BENCH_ITERATIONS (default 30) and BENCH_ROUNDS (default 3) size the run;
# BENCH_KERNEL picks the kernel as for make bench (scripts/bench.sh).

. "$(dirname "$0")/lib.sh"

op=${PROFILE_OP:-dumb-create-256x256}
sleep=${PROFILE_SLEEP:-0}
iterations=${BENCH_ITERATIONS:-30}
rounds=${BENCH_ROUNDS:-3}
case $iterations$rounds in
*[!0-9]*) die "BENCH_ITERATIONS and BENCH_ROUNDS must be numbers" ;;
esac
case $op in
'' | *[!A-Za-z0-9_.-]*) die "PROFILE_OP '$op' is not an operation name" ;;
esac
case $sleep in 0 | 1) ;; *) die "PROFILE_SLEEP must be 0 or 1" ;; esac
method=${PROFILE_WITH:-ftrace}
plugin=()
case $method in
ftrace) ;;
insns)
	[ "$sleep" = 0 ] || die "PROFILE_SLEEP=1 is for ftrace's profiler: QEMU counts instructions, not time"
	cache_lock
	build_insn_counter
	;;
*) die "PROFILE_WITH must be ftrace or insns" ;;
esac

bench_kernel
for driver in virtio_gpu virtio_rs; do
	[ "$method" = insns ] && plugin=(--insn-profile "/src/out/profile-$driver/insns.txt")
	"$TOP/scripts/inroot.sh" python3 /src/scripts/guest-run.py --scenario profile \
		--driver "$driver" --blob true --icount --timeout 900 "${BENCH_KERNEL_OPTS[@]}" \
		"${plugin[@]}" --out "/src/out/profile-$driver" \
		--append "harness.profile=$op harness.profile_method=$method harness.profile_sleep=$sleep harness.iterations=$iterations harness.rounds=$rounds" ||
		die "profile run on $driver failed: see out/profile-$driver/"
done
# In the root: its llvm-cxxfilt names the Rust symbols.
"$TOP/scripts/inroot.sh" python3 /src/scripts/profile-report.py /src/out "$op" | tee "$TOP/out/profile.txt"
