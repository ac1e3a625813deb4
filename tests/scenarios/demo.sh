# SPDX-License-Identifier: GPL-2.0
#
# demo (make run): virtio_rs drives the virtio GPU; show what it found.

dev=$(virtio_gpu_device) || fail "no virtio GPU device on the virtio bus"
[ "$(bound_driver "$dev" | tr - _)" = virtio_rs ] || fail "virtio_rs is not bound"
log "virtio_rs is bound to $(basename "$dev") (transport $(basename "$(readlink -f "$dev/..")"))"
dmesg | grep "virtio_rs virtio" | while read -r line; do log "  $line"; done
shot demo || fail "screendump failed"
pass "virtio_rs drives $(basename "$dev")"
