# SPDX-License-Identifier: GPL-2.0
#
# weston-gl: weston renders with its GL renderer (Mesa's kms_swrast on vkms)
# and shows its desktop on the virtio GPU's head too (--additional-devices):
# the output buffers are vkms' and the virtio GPU's driver imports them
# through PRIME, with no copy. Then a client (weston-simple-shm) draws into a
# window. The host checks the desktop's colours (tests/weston/weston.ini) and
# the client's window in the screendumps of the virtio head and, in the
# trace, imported blobs that are shown and never uploaded.

card=$(basename "$(drm_test_card)") || exit 1
vkms=$(vkms_card "$card") || exit 1
log "rendering on $vkms (vkms), displaying on $card ($DRIVER) too"
# llvmpipe under TCG: the first frames take a while.
weston_desktop 20 --backend=drm --drm-device="$vkms" --additional-devices="$card" --renderer=gl
pass "weston (GL on $vkms) ran on $card"
