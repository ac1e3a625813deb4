# SPDX-License-Identifier: GPL-2.0
#
# drm-revoke: two buffers of the test exporter (tests/dmabuf-mover)
# imported into the virtio GPU's card; the one on screen is revoked (a
# forced move despite its pin, as by an exporter whose device goes away),
# harness.revokes=N times (default 50). After each revocation the host
# takes a screendump at once (shot R<i>: it must neither crash nor show the
# old pages), then drm-test flips to the same framebuffer (S<i>: the new
# pages) and to the other buffer (F<i>), the next one revoked. The host
# checks the shots (png_check.py shown, off) and that no detach came while
# a scanout showed the buffer (png_check.py detach-trace). Then drm-test
# flips between the buffers harness.race=N times (default 200) while a
# thread keeps moving them, a third of the moves forced; with the mover
# stopped, each buffer is shown once more (X0, X1: its last pages).

revokes=$(param revokes 50)
race=$(param race 200)
mover_setup
card=$(drm_test_card) || exit 1
tags="A $(numbered_tags "$revokes" R S F)"
[ "$race" -gt 0 ] && tags="$tags X0 X1"
drm_test_run "$tags" -- moves --device "$card" --moves 0 --revokes "$revokes" --race "$race"
log "drm-test race: $(grep '^race:' "$RESULTS/drm-test.txt")"
pass "drm-test revocations: $(grep '^moves:' "$RESULTS/drm-test.txt")"
