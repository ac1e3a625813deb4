# SPDX-License-Identifier: GPL-2.0
#
# drm-badimport: imports that must fail and exporters that misbehave
# (tests/dmabuf-mover), checked by drm-test badimport with each driver's
# errnos; the screen keeps its last good frame (shots A, K: pattern A; R,
# R2: the colour drm-test names). drm-test ends with an imported buffer on
# screen whose DMA-buf it closed; then the GPU's driver unloads, and with it
# the last reference to the exporter's buffers: the exporter unloads too.

mover_setup
card=$(drm_test_card) || exit 1
drm_test_run "A K R R2" -- badimport --device "$card"
log "drm-test badimport: $(grep ' passed, ' "$RESULTS/drm-test.txt")"
must modprobe -d "$MODROOT" -r "$DRIVER"
must rmmod dmabuf_mover
pass "drm-test badimport: $(grep ' passed, ' "$RESULTS/drm-test.txt"); $DRIVER and the exporter unloaded"
