# SPDX-License-Identifier: GPL-2.0
#
# hotplug: the host resizes and unplugs the first head (QEMU's display event,
# asked for over VNC by the runner, see host_resize).  The driver must read
# the display configuration again and send a hotplug event: the connector's
# preferred mode and status follow, the fbdev console takes the new size,
# and a mode of the new size can be set (screendumps checked by the host).

dev=$(virtio_gpu_device) || fail "no virtio GPU device on the virtio bus"
wait_for 10 drm_card_of "$dev" > /dev/null || fail "$DRIVER created no DRM device"
conn=$(drm_card_of "$dev")-Virtual-1
[ -d "$conn" ] || fail "no connector $conn"

preferred() {
	read -r _mode < "$conn/modes" || _mode=none
	echo "$_mode"
}

status_is() {
	[ "$(cat "$conn/status")" = "$1" ]
}

preferred_is() {
	status_is connected && [ "$(preferred)" = "$1" ]
}

# The fbdev client probes on every hotplug event, which refreshes the
# connector's status and mode list in sysfs.
expect() {	# WHAT TEST ARGS...
	_what=$1
	shift
	wait_for 10 "$@" ||
		fail "$_what: status $(cat "$conn/status"), preferred mode $(preferred)"
	log "$_what: status $(cat "$conn/status"), preferred mode $(preferred)"
}

expect "at boot" preferred_is 1024x768
shot boot || fail "screendump failed"

host_resize shrink 800 600 || fail "the host could not resize the display"
expect "after the resize to 800x600" preferred_is 800x600
# fbdev keeps its buffer and shows the new, smaller mode.
sleep 1
shot console-800x600 || fail "screendump failed"

host_resize unplug 0 0 || fail "the host could not unplug the display"
expect "after the unplug" status_is disconnected

host_resize replug 1280 800 || fail "the host could not plug the display back"
expect "after the replug" status_is connected

# fbdev probes only up to the size of its buffer (1024x768); a probe by the
# DRM master (modetest) sees the new preferred mode.
replugged() {
	modetest -M "$DRIVER" -c > "$RESULTS/connectors.txt" 2>&1 &&
		grep -q '#0 1280x800 .*type: preferred' "$RESULTS/connectors.txt"
}
wait_for 10 replugged ||
	fail "modetest -c does not list 1280x800 as preferred: $(grep -m 1 '#0 ' "$RESULTS/connectors.txt")"
id=$(awk '$3 == "connected" { print $1; exit }' "$RESULTS/connectors.txt")
[ -n "$id" ] || fail "no connected connector in modetest -c"
modetest_show pattern-1280x800 -M "$DRIVER" -s "$id:1280x800"
pass "resize, unplug and replug seen; 1280x800 set after the replug"
