# SPDX-License-Identifier: GPL-2.0
#
# demo (make run): virtio_rs drives the virtio GPU; its DRM device runs the
# kernel console (fbdev emulation) on the output. Shows what the driver found
# and saves a screendump of the console. Then a buffer rendered on another
# DRM device (vgem: test pattern A, then B) is imported through PRIME and
# scanned out in place (shots A and B); the host checks the trace for the
# missing copy.

dev=$(virtio_gpu_device) || fail "no virtio GPU device on the virtio bus"
[ "$(bound_driver "$dev" | tr - _)" = virtio_rs ] || fail "virtio_rs is not bound"
wait_for 10 drm_card_of "$dev" > /dev/null || fail "virtio_rs created no DRM device"
card=$(drm_card_of "$dev")
log "virtio_rs drives $(basename "$dev") as $(basename "$card") (parent $(basename "$(readlink -f "$card/device")"))"
dmesg | grep -E "virtio_rs virtio|Initialized virtio_rs|virtio_rsdrmfb" | while read -r line; do
	log "  $line"
done
[ -w /dev/tty1 ] || fail "no /dev/tty1 for the console"
{
	printf '\n  virtio_rs: the kernel console on a Rust virtio-gpu driver\n\n'
	dmesg | grep -E "virtio_rs virtio" | sed 's/^/  /'
} > /dev/tty1
shot demo || fail "screendump failed"
must modprobe -d "$MODROOT" vgem
drm_test_run "A B" -- import --device "$(drm_test_card)" --exporter vgem
grep -E "^(imported|modeset|flip)" "$RESULTS/drm-test.txt" | while read -r line; do
	log "  drm-test: $line"
done
pass "virtio_rs drives $(basename "$dev"), and showed vgem's buffers in place"
