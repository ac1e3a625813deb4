# SPDX-License-Identifier: GPL-2.0
#
# drm-import: buffers of vgem (harness.exporter=DRIVER, --append, picks
# another exporter) imported into the virtio GPU's card through PRIME and
# scanned out: a modeset with pattern A (shot A), then a page flip with event
# to pattern B (shot B). The host checks the shots with tests/png_check.py
# pattern-a/pattern-b, and the trace for one RESOURCE_CREATE_BLOB per import
# and no TRANSFER_TO_HOST_2D. Then the exporter's fds are closed and its
# module must stay loaded (EAGAIN) while B is on screen (shot C: pattern
# B); once the card's own pattern A replaces it (shot D) and the imports are
# removed, the module unloads. With harness.refused=1 (a device without
# blobs) the import must fail with ENODEV instead.

exporter=$(param exporter vgem)
must modprobe -d "$MODROOT" "$exporter"
card=$(drm_test_card) || exit 1
if [ "$(param refused 0)" = 1 ]; then
	drm_test_run "" -- import --device "$card" --exporter "$exporter" --refused
	pass "drm-test import: $(grep '^refused:' "$RESULTS/drm-test.txt")"
fi
drm_test_run "A B C D" -- import --device "$card" --exporter "$exporter" --unload-exporter
pass "drm-test import: $(grep '^imported:' "$RESULTS/drm-test.txt"); $exporter unloaded after: $(grep ' passed, ' "$RESULTS/drm-test.txt")"
