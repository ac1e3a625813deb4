# SPDX-License-Identifier: GPL-2.0
#
# drm-badinput: tests/drm-test's `badinput` (Rust, drm crate) on the virtio
# GPU's card: invalid ADDFB2, CREATE_DUMB and atomic requests must fail with
# the expected errno (one line each in drm-test.txt, then "N passed, M
# failed"), closing the device with a page flip in flight must be harmless,
# and afterwards a modeset with pattern A must work (shot E, checked by the
# host with tests/png_check.py pattern-a). With --max-outputs 2 it also tries
# a plane on a CRTC it cannot be on.

card=$(drm_test_card) || exit 1
drm_test_run "E" -- badinput --device "$card"
pass "drm-test badinput: $(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$RESULTS/drm-test.txt")"
