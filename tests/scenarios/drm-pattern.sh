# SPDX-License-Identifier: GPL-2.0
#
# drm-pattern: tests/drm-test's `pattern` (Rust, drm crate) on the virtio
# GPU's card: an atomic modeset with pattern A (shot A), a page flip with event
# to pattern B (shot B), timed flips between them (flips/s and event sequence
# numbers in drm-test.txt), then the cursor plane set at 200,150 (shot C) and
# moved to 400,300 (shot D). The host checks the shots with
# tests/png_check.py pattern-a/pattern-b and the cursor commands in QEMU's
# trace with png_check.py cursor-trace. harness.flips=N (--append) sets the
# number of timed flips (default 60).

card=$(drm_test_card) || exit 1
drm_test_run "A B C D" -- pattern --device "$card" --flips "$(param flips 60)"
pass "drm-test pattern: $(grep '^flips:' "$RESULTS/drm-test.txt")"
