# SPDX-License-Identifier: GPL-2.0
#
# first-light: the loaded driver binds the virtio GPU and reports its display;
# it unloads without a warning, the other driver (Rust <-> C) then binds the
# same device, unloads too, and the first driver binds again.
#
# On the sanitizer kernel (kmemleak), leaks are looked for after each unload:
# the driver under test must leave none; the other driver's are saved
# (kmemleak-OTHER.txt) and logged, then forgotten, as they are not the test's.
# (The C driver can leak its fbdev buffer and the request of a last damage
# update when it is unloaded while that update is in flight.)

dev=$(virtio_gpu_device) || fail "no virtio GPU device on the virtio bus"

case $DRIVER in
virtio_rs) other=virtio_gpu ;;
virtio_gpu) other=virtio_rs ;;
*) fail "first-light needs driver=virtio_rs or virtio_gpu, not '$DRIVER'" ;;
esac

expect_bound() {
	_d=$(bound_driver "$dev" | tr - _)
	[ "$_d" = "$1" ] || fail "virtio GPU bound to '${_d:-nothing}', expected ${1:-nothing}"
	log "bound: ${1:-nothing}"
}

# What each driver shows of the display once bound.
expect_display() {
	case $1 in
	virtio_rs)
		wait_for 10 sh -c 'dmesg | grep -q "virtio_rs.*scanout 0: connected"' ||
			fail "virtio_rs did not report scanout 0"
		dmesg | grep "virtio_rs" | tail -n 3
		_n=$(dmesg | grep -c "virtio_rs.*scanout 0: connected")
		[ "$_n" -ge "$2" ] || fail "expected $2 scanout reports of virtio_rs, saw $_n"
		# The device offers EDID (QEMU's default): it must have been read.
		dmesg | grep "virtio_rs.*scanout 0:" | tail -n 1 | grep -q "EDID [1-9]" ||
			fail "virtio_rs read no EDID"
		;;
	virtio_gpu)
		wait_for 10 drm_card_of "$dev" > /dev/null ||
			fail "the C driver created no DRM device"
		log "C driver: $(basename "$(drm_card_of "$dev")")"
		;;
	esac
}

unload() {
	must modprobe -d "$MODROOT" -r "$1"
	expect_bound ""
}

expect_bound "$DRIVER"
expect_display "$DRIVER" 1

unload "$DRIVER"
leaks=$(kmemleak_phase "$DRIVER")
[ "$leaks" = 0 ] ||
	fail "$leaks object(s) leaked by $DRIVER's first binding (kmemleak-$DRIVER.txt)"
other_from=$(uptime_s)
must modprobe -d "$MODROOT" "$other"
expect_bound "$other"
expect_display "$other" 1

unload "$other"
leaks=$(kmemleak_phase "$other" clear)
[ "$leaks" = 0 ] ||
	log "$other leaked $leaks object(s), not counted (kmemleak-$other.txt)"
# What the other driver leaked but kmemleak reports only later is its too.
kmemleak_excuse "$other" "$other_from"
must modprobe -d "$MODROOT" "$DRIVER"
expect_bound "$DRIVER"
expect_display "$DRIVER" 2

pass "$DRIVER and $other take turns on $(basename "$dev")"
