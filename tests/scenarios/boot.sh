# SPDX-License-Identifier: GPL-2.0
#
# boot: the loaded driver is bound to the virtio GPU and owns a DRM device;
# one screendump of whatever is on screen.  With driver=none: the device is
# present and nothing is bound to it.

dev=$(virtio_gpu_device) || fail "no virtio GPU device on the virtio bus"
drv=$(bound_driver "$dev")
log "virtio GPU device $(basename "$dev") (transport $(basename "$(readlink -f "$dev/..")")): driver '${drv:-none}'"

if [ "$DRIVER" = none ]; then
	[ -z "$drv" ] || fail "driver $drv is bound although none was loaded"
else
	[ "$(echo "$drv" | tr - _)" = "$DRIVER" ] ||
		fail "virtio GPU bound to '${drv:-nothing}', expected $DRIVER"
	wait_for 10 drm_card_of "$dev" > /dev/null ||
		fail "no DRM card for $(basename "$dev")"
	card=$(drm_card_of "$dev")
	parent=$(readlink -f "$card/device")
	if [ "$parent" = "$(readlink -f "$dev")" ]; then
		log "$(basename "$card") is parented to the virtio device"
	else
		log "$(basename "$card") is parented to the transport $(basename "$parent")"
	fi
	[ -e "/dev/dri/$(basename "$card")" ] ||
		fail "/dev/dri/$(basename "$card") missing"
	ls -l /dev/dri
fi
pattern='virtio.gpu|\[drm\]'
[ "$DRIVER" = none ] || pattern="$pattern|$DRIVER"
log "dmesg lines of the driver:"
dmesg | grep -iE "$pattern" | grep -v "ommand line:"

# Something to see in the screendump when fbcon runs on the driver.
[ -w /dev/tty1 ] &&
	printf '\n  virtio_rs harness: scenario boot, driver %s\n' "$DRIVER" > /dev/tty1

shot boot || fail "screendump failed"
pass
