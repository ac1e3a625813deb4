#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# PID 1 of the test guest, started by scripts/guest-run.py with
# init=/src/tests/guest/init.sh.  The root is the project root over 9p,
# read-only.  Parameters come from the kernel command line:
#   harness.scenario=NAME   run tests/scenarios/NAME.sh
#   harness.driver=D        modprobe D first (none: load nothing)
#   harness.modroot=DIR     where the modules are (modprobe -d)
#   harness.timeout=SECS    give up, save dmesg and power off after SECS
#   harness.icount=1        no guest-side timeouts (guest time is virtual)
# Writes the results share: verdict ("PASS" or "FAIL: reason"), dmesg.txt,
# and whatever the scenario saves there.  Every path ends in poweroff.

PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

HARNESS_DIR=${0%/*}
# If lib.sh cannot be read there is nothing better to do than power off.
[ -r "$HARNESS_DIR/lib.sh" ] || {
	echo "harness: FAIL: $HARNESS_DIR/lib.sh missing"
	/bin/busybox poweroff -f
}
. "$HARNESS_DIR/lib.sh"

# Our own /proc, /sys and /dev, whatever the root had there.
$BB mount -t proc proc /proc
$BB mount -t sysfs sysfs /sys
# devtmpfs has a single instance: EBUSY if the kernel mounted it on /dev
$BB mount -t devtmpfs devtmpfs /dev 2>/dev/null ||
	$BB grep -q '^devtmpfs /dev ' /proc/mounts ||
	echo "harness: warning: cannot mount devtmpfs on /dev"
$BB mkdir -p /dev/pts /dev/shm
$BB mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts 2>/dev/null ||
	log "note: no devpts (CONFIG_UNIX98_PTYS off?)"
$BB mount -t tmpfs -o mode=1777 tmpfs /dev/shm
$BB mount -t tmpfs -o mode=1777 tmpfs /tmp
$BB mount -t tmpfs -o mode=0755 tmpfs /run
$BB mkdir -p "$HARNESS_RUN"

RESULTS=/results
[ -d $RESULTS ] || RESULTS=/mnt
if ! $BB mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 \
	results $RESULTS; then
	RESULTS=
	record_verdict "FAIL: cannot mount the results share"
	finish
fi

read -r CMDLINE < /proc/cmdline
SCENARIO= DRIVER=none MODROOT=/cache/modroot TIMEOUT= ICOUNT= KMEMLEAK=
set -f
for _w in $CMDLINE; do
	case $_w in
	harness.scenario=*) SCENARIO=${_w#*=} ;;
	harness.driver=*) DRIVER=${_w#*=} ;;
	harness.modroot=*) MODROOT=${_w#*=} ;;
	harness.timeout=*) TIMEOUT=${_w#*=} ;;
	harness.icount=*) ICOUNT=${_w#*=} ;;
	harness.kmemleak=*) KMEMLEAK=${_w#*=} ;;
	esac
done
set +f
HOME=/tmp/home
XDG_RUNTIME_DIR=/run/user/0
$BB mkdir -p "$HOME" && $BB mkdir -p -m 0700 "$XDG_RUNTIME_DIR"
export SCENARIO DRIVER MODROOT RESULTS ICOUNT KMEMLEAK HOME XDG_RUNTIME_DIR
export LANG=C.UTF-8 TERM=dumb

log "start: kernel $($BB uname -r), scenario '$SCENARIO', driver $DRIVER," \
	"uptime $(uptime_s) s"

# The watchdog: a hung scenario still leaves dmesg and a verdict.
if [ -n "$TIMEOUT" ] && [ -z "$ICOUNT" ]; then
	(
		sleep "$TIMEOUT"
		[ -d "$HARNESS_RUN/finishing" ] && exit 0
		# blocked tasks into dmesg, if the kernel has sysrq
		[ -w /proc/sysrq-trigger ] && echo w > /proc/sysrq-trigger
		record_verdict "FAIL: scenario did not finish within $TIMEOUT s"
		finish
	) &
fi

run_scenario() {
	_file=$HARNESS_DIR/../scenarios/$SCENARIO.sh
	case $SCENARIO in
	'' | *[!A-Za-z0-9_.-]*)
		record_verdict "FAIL: bad or missing harness.scenario '$SCENARIO'"
		return
		;;
	esac
	if [ ! -r "$_file" ]; then
		record_verdict "FAIL: no scenario $_file"
		return
	fi
	if [ "$DRIVER" != none ]; then
		if ! modprobe -d "$MODROOT" "$DRIVER"; then
			record_verdict "FAIL: modprobe $DRIVER failed"
			return
		fi
		log "loaded $DRIVER"
	fi
	# A subshell: exit, pass, fail and errors end the scenario, not init.
	(. "$_file")
	_rc=$?
	if [ ! -s "$VERDICT_FILE" ]; then
		if [ $_rc -eq 0 ]; then
			record_verdict "FAIL: scenario ended without pass or fail"
		else
			record_verdict "FAIL: scenario exited with status $_rc"
		fi
	fi
}

# With kmemleak, only what was allocated from here on can be reported.
[ -n "$KMEMLEAK" ] && kmemleak_start
run_scenario
[ -n "$KMEMLEAK" ] && kmemleak_scan
finish
