# SPDX-License-Identifier: GPL-2.0
#
# Helpers for the guest's init (tests/guest/init.sh) and the scenarios it
# runs (tests/scenarios/*.sh).  POSIX sh (dash); sourced, never executed.
#
# For scenarios:
#   log MSG...          print a line on the console
#   pass [MSG]          record PASS (unless a failure was recorded) and end
#   fail REASON         record FAIL: REASON and end the scenario
#   must CMD...         run CMD; fail if it exits non-zero
#   shot TAG            ask the host for a screendump (OUT/shot-TAG.png);
#                       returns non-zero if it did not work
#   wait_for SECS CMD...  poll CMD every 0.2 s until it succeeds (1: timeout)
#   param NAME [DEF]    value of harness.NAME=... on the kernel command line
#   virtio_gpu_device   sysfs path of the virtio GPU device (virtio id 16)
#   bound_driver DEV    name of the driver bound to DEV (empty if none)
#   drm_card_of DEV     /sys/class/drm/cardN of the virtio device DEV
#   kmemleak_phase TAG [clear]  leaks found now (count; kmemleak-TAG.txt)
# Variables: SCENARIO, DRIVER, RESULTS (the results share), MODROOT.

BB=/bin/busybox
HARNESS_RUN=/run/harness
VERDICT_FILE=$HARNESS_RUN/verdict

log() {
	echo "harness: $*"
}

# The verdict lives on the guest's tmpfs until finish() copies it to the
# results share.  A recorded failure is never overwritten by a pass.
record_verdict() {
	if [ -s "$VERDICT_FILE" ] && [ "$(cut -c1-4 "$VERDICT_FILE")" = FAIL ]; then
		return 0
	fi
	echo "$1" > "$VERDICT_FILE"
}

pass() {
	record_verdict PASS
	log "pass${1:+: $*}"
	exit 0
}

fail() {
	record_verdict "FAIL: ${*:-unspecified failure}"
	log "FAIL: $*"
	exit 1
}

must() {
	"$@"
	_rc=$?
	[ $_rc -eq 0 ] || fail "'$*' exited with status $_rc"
}

# Whole seconds since boot, into $_now (no subshell).
now_s() {
	read -r _now _ < /proc/uptime
	_now=${_now%%.*}
}

# Deadlines use the clock, not a count of rounds: under TCG each round's
# programs take a noticeable, load-dependent time.
wait_for() {
	now_s
	_end=$((_now + $1))
	shift
	until "$@"; do
		now_s
		[ "$_now" -lt "$_end" ] || return 1
		sleep 0.2
	done
}

# Shell builtins only: every program started over 9p under TCG costs time.
param() {
	[ -n "${CMDLINE+set}" ] || read -r CMDLINE < /proc/cmdline
	_set=$-
	set -f
	_val=${2-}
	for _w in $CMDLINE; do
		case $_w in
		harness.$1=*) _val=${_w#*=} ;;
		esac
	done
	case $_set in *f*) ;; *) set +f ;; esac
	echo "$_val"
}

uptime_s() {
	read -r _up _ < /proc/uptime
	echo "$_up"
}

# host_request TAG LINE...: print LINE on the console for the host runner,
# which answers by creating TAG.done in the results share ("ok" or an error).
# Kernel messages are kept off the console meanwhile (they still reach
# dmesg) so that they cannot split the line.
host_request() {
	_tag=$1
	shift
	case $_tag in
	'' | *[!A-Za-z0-9_.-]*)
		log "host request: bad tag '$_tag'"
		return 1
		;;
	esac
	rm -f "$RESULTS/$_tag.done"
	dmesg --console-off
	echo "$*"
	sleep 0.2
	dmesg --console-on
	now_s
	_end=$((_now + 60))
	while [ ! -e "$RESULTS/$_tag.done" ]; do
		# Under -icount guest time runs ahead while the guest idles:
		# only the host's timeout applies then.
		now_s
		if [ -z "$ICOUNT" ] && [ "$_now" -ge "$_end" ]; then
			log "$_tag: no answer from the host in 60 s"
			return 1
		fi
		sleep 0.1
	done
	_st=$(cat "$RESULTS/$_tag.done")
	if [ "$_st" != ok ]; then
		log "$_tag: $_st"
		return 1
	fi
	log "$_tag: done"
}

# shot TAG: the host takes a screendump of every head (shot-TAG*.png).
shot() {
	host_request "$1" "READY $1"
}

# host_resize TAG WIDTH HEIGHT: the host asks QEMU, as a VNC client would, to
# resize the first head (0 0 unplugs it); needs the runner's --vnc.
host_resize() {
	host_request "$1" "RESIZE $1 $2 $3"
}

virtio_gpu_device() {
	for _d in /sys/bus/virtio/devices/*; do
		[ -e "$_d/device" ] || continue
		# virtio device id 16 (VIRTIO_ID_GPU)
		if [ "$(cat "$_d/device")" = 0x0010 ]; then
			echo "$_d"
			return 0
		fi
	done
	return 1
}

bound_driver() {
	[ -e "$1/driver" ] || return 0
	basename "$(readlink "$1/driver")"
}

# The DRM device of virtio device DEV: its parent is either DEV itself or,
# as with the C driver, DEV's transport (the PCI function).
drm_card_of() {
	_dev=$(readlink -f "$1")
	_pci=$(readlink -f "$1/..")
	for _c in /sys/class/drm/card[0-9]*; do
		[ -e "$_c/device" ] || continue
		case $(basename "$_c") in *-*) continue ;; esac # connectors
		_p=$(readlink -f "$_c/device")
		if [ "$_p" = "$_dev" ] || [ "$_p" = "$_pci" ]; then
			echo "$_c"
			return 0
		fi
	done
	return 1
}

# modetest_show TAG ARGS...: run modetest ARGS (which sets modes and shows its
# test pattern until it reads a line), take screendump TAG while the pattern is
# up, run the scenario's function while_shown if it has one, then let modetest
# clean up. Output in $RESULTS/modetest.txt.
modetest_show() {
	_tag=$1
	shift
	rm -f /tmp/modetest.in
	mkfifo /tmp/modetest.in
	stdbuf -oL modetest "$@" < /tmp/modetest.in > "$RESULTS/modetest.txt" 2>&1 &
	_pid=$!
	exec 3> /tmp/modetest.in
	if ! wait_for 20 grep -q "setting mode" "$RESULTS/modetest.txt"; then
		exec 3>&-
		fail "modetest did not set the mode: $(tail -n 2 "$RESULTS/modetest.txt")"
	fi
	sleep 1
	shot "$_tag" || fail "screendump failed"
	if command -v while_shown > /dev/null; then
		while_shown
	fi
	echo >&3
	exec 3>&-
	wait "$_pid" || fail "modetest failed: $(tail -n 2 "$RESULTS/modetest.txt")"
}

# drm_test_card: the device node of the virtio GPU's DRM device (fails the
# scenario if there is none).
drm_test_card() {
	_dev=$(virtio_gpu_device) || fail "no virtio GPU device on the virtio bus"
	wait_for 10 drm_card_of "$_dev" > /dev/null || fail "$DRIVER created no DRM device"
	_card=/dev/dri/$(basename "$(drm_card_of "$_dev")")
	wait_for 10 test -c "$_card" || fail "no device node $_card"
	echo "$_card"
}

# vkms_card CARD: loads vkms beside the virtio GPU's card CARD (e.g. card0),
# for compositors that render there, and prints the name of vkms' card.
vkms_card() {
	must modprobe -d "$MODROOT" vkms
	for _c in /sys/class/drm/card[0-9]*; do
		_name=$(basename "$_c")
		case $_name in *-*) continue ;; esac # connectors
		[ "$_name" = "$1" ] && continue
		wait_for 10 test -c "/dev/dri/$_name" || fail "no device node /dev/dri/$_name"
		echo "$_name"
		return 0
	done
	fail "vkms created no DRM device"
}

# weston_desktop SETTLE ARGS...: weston with ARGS and tests/weston/weston.ini
# (log in $RESULTS/weston.log); SETTLE seconds after its socket appears the
# desktop is taken (shot desktop), then a weston-simple-shm window (shot
# client); then both are stopped.
weston_desktop() {
	_settle=$1
	shift
	LIBSEAT_BACKEND=noop weston "$@" --continue-without-input --socket=wayland-0 \
		--config=/src/tests/weston/weston.ini --log="$RESULTS/weston.log" &
	_wpid=$!
	wait_for 300 test -S "$XDG_RUNTIME_DIR/wayland-0" ||
		fail "weston did not start: $(tail -n 3 "$RESULTS/weston.log")"
	log "weston is up"
	sleep "$_settle"
	kill -0 "$_wpid" || fail "weston exited: $(tail -n 3 "$RESULTS/weston.log")"
	shot desktop || fail "screendump failed"
	WAYLAND_DISPLAY=wayland-0 weston-simple-shm > "$RESULTS/simple-shm.log" 2>&1 &
	_cpid=$!
	sleep "$_settle"
	kill -0 "$_cpid" || fail "weston-simple-shm exited: $(tail -n 3 "$RESULTS/simple-shm.log")"
	shot client || fail "screendump failed"
	kill "$_cpid"
	kill "$_wpid"
	wait "$_wpid"
}

# mover_setup: loads the test exporter (tests/dmabuf-mover) and mounts debugfs,
# where virtio_rs accounts for its imports.
mover_setup() {
	must modprobe -d "$MODROOT" dmabuf_mover
	mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
}

# numbered_tags N PREFIX...: the screendump tags PREFIX1 ... for 1 to N, in
# that order ("numbered_tags 2 R S" is "R1 S1 R2 S2").
numbered_tags() {
	_n=$1
	shift
	_i=1
	_tags=
	while [ "$_i" -le "$_n" ]; do
		for _p in "$@"; do
			_tags="$_tags $_p$_i"
		done
		_i=$((_i + 1))
	done
	echo "$_tags"
}

# drm_test_run TAGS -- ARGS...: run tests/drm-test with ARGS (output in
# $RESULTS/drm-test.txt); at each of the space-separated TAGS it prints
# "WAIT TAG" and waits for a line: take screendump TAG, then let it go on.
# Fails the scenario unless the program exits 0 after the last tag.
drm_test_run() {
	_tags=$1
	shift 2
	_bin=/cache/drm-test-target/release/drm-test
	_out=$RESULTS/drm-test.txt
	[ -x "$_bin" ] || fail "no $_bin: run scripts/build-drm-test.sh"
	rm -f /tmp/drm-test.in /tmp/drm-test.rc
	mkfifo /tmp/drm-test.in
	("$_bin" "$@" < /tmp/drm-test.in > "$_out" 2>&1
		echo $? > /tmp/drm-test.rc) &
	exec 3> /tmp/drm-test.in
	for _tag in $_tags; do
		# Waiting at the tag, or ended.
		wait_for 120 sh -c "grep -qx 'WAIT $_tag' '$_out' || [ -e /tmp/drm-test.rc ]" ||
			fail "drm-test did not reach WAIT $_tag in 120 s: $(tail -n 2 "$_out")"
		grep -qx "WAIT $_tag" "$_out" ||
			fail "drm-test ended (status $(cat /tmp/drm-test.rc)) before WAIT $_tag: $(tail -n 2 "$_out")"
		shot "$_tag" || fail "screendump $_tag failed"
		echo >&3
	done
	exec 3>&-
	wait_for 30 test -e /tmp/drm-test.rc || fail "drm-test did not end after its last WAIT"
	_rc=$(cat /tmp/drm-test.rc)
	if [ "$_rc" != 0 ]; then
		grep '^FAIL ' "$_out" | while read -r _line; do log "$_line"; done
		fail "drm-test $1 exited with status $_rc: $(tail -n 1 "$_out")"
	fi
}

# ---- for init.sh only --------------------------------------------------

# Writes dmesg and the verdict to the results share and powers off.  Runs at
# most once (init's main path or the watchdog, whichever comes first).  The
# files come first and the console last: a wedged console must not cost the
# verdict.
KMEMLEAK_FILE=/sys/kernel/debug/kmemleak

# Forget the objects allocated so far (boot), so that a later scan reports
# only what the scenario leaked.
kmemleak_start() {
	grep -q ' /sys/kernel/debug ' /proc/mounts ||
		$BB mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
	if [ -w "$KMEMLEAK_FILE" ]; then
		echo clear > "$KMEMLEAK_FILE"
	else
		log "kmemleak: unavailable"
	fi
}

# Scan for leaks into the results share (kmemleak.txt, empty when clean).
# kmemleak reports objects only once they are 5 s old, and a second scan
# drops objects whose last reference was merely in flight during the first.
kmemleak_scan() {
	[ -n "$RESULTS" ] || return 0
	if [ ! -w "$KMEMLEAK_FILE" ]; then
		echo "kmemleak: unavailable in the guest" > "$RESULTS/kmemleak.txt"
		return 0
	fi
	sleep 6
	echo scan > "$KMEMLEAK_FILE"
	echo scan > "$KMEMLEAK_FILE"
	cat "$KMEMLEAK_FILE" > "$RESULTS/kmemleak.txt"
	log "kmemleak: $(grep -c 'unreferenced object' "$RESULTS/kmemleak.txt") unreferenced object(s)"
}

# kmemleak_excuse TAG FROM: objects allocated from uptime FROM (seconds, as
# uptime_s prints it) until now belong to TAG (e.g. the other driver, loaded
# and unloaded meanwhile): if a later scan finds them (kmemleak may see a
# stale reference for a while), the runner logs them as TAG's instead of
# failing the run.
kmemleak_excuse() {
	[ -n "$KMEMLEAK" ] && [ -n "$RESULTS" ] && [ -n "$2" ] || return 0
	echo "$2 $(uptime_s) $1" >> "$RESULTS/kmemleak-excused.txt"
}

# Scan for leaks now, for the part of a scenario that just ended: prints the
# number of unreferenced objects and saves them as $RESULTS/kmemleak-TAG.txt
# (none when clean, 0 without kmemleak). With "clear", they are then
# forgotten, so that later scans (the final one included) do not see them.
kmemleak_phase() {	# TAG [clear]
	[ -n "$KMEMLEAK" ] && [ -w "$KMEMLEAK_FILE" ] || { echo 0; return 0; }
	sleep 6
	echo scan > "$KMEMLEAK_FILE"
	echo scan > "$KMEMLEAK_FILE"
	_n=$(grep -c 'unreferenced object' "$KMEMLEAK_FILE")
	[ "$_n" = 0 ] || cat "$KMEMLEAK_FILE" > "$RESULTS/kmemleak-$1.txt"
	[ "$2" = clear ] && echo clear > "$KMEMLEAK_FILE"
	echo "$_n"
}

finish() {
	mkdir "$HARNESS_RUN/finishing" 2>/dev/null || {
		sleep 60
		$BB poweroff -f
	}
	[ -s "$VERDICT_FILE" ] || echo "FAIL: no verdict recorded" > "$VERDICT_FILE"
	if [ -n "$RESULTS" ]; then
		dmesg > "$RESULTS/dmesg.txt" 2>&1 || $BB dmesg > "$RESULTS/dmesg.txt"
		$BB cp "$VERDICT_FILE" "$RESULTS/verdict"
		$BB sync
	fi
	[ -r /proc/sys/kernel/tainted ] &&
		log "tainted: $(cat /proc/sys/kernel/tainted)"
	log "uptime: $(uptime_s) s, verdict: $(cat "$VERDICT_FILE")"
	$BB poweroff -f
	# not reached unless poweroff failed
	echo o > /proc/sysrq-trigger 2>/dev/null
	exit 1
}
