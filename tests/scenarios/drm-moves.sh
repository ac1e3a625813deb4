# SPDX-License-Identifier: GPL-2.0
#
# drm-moves: two buffers of the test exporter (tests/dmabuf-mover) imported
# into the virtio GPU's card; the one on screen cannot be moved (it is
# pinned), the other is moved (new pages, new colour) and flipped to,
# harness.moves=N times (default 50), with a screendump after every flip
# (shots A, M1 ... MN). The host checks each shot against the colour
# drm-test printed for it (png_check.py shown) and the trace for one
# detach per move.

moves=$(param moves 50)
mover_setup
card=$(drm_test_card) || exit 1
drm_test_run "A $(numbered_tags "$moves" M)" -- moves --device "$card" --moves "$moves"
pass "drm-test moves: $(grep '^moves:' "$RESULTS/drm-test.txt")"
