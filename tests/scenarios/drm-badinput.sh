# SPDX-License-Identifier: GPL-2.0
#
# drm-badinput: tests/drm-test's `badinput` (Rust, drm crate) on the virtio
# GPU's card: invalid ADDFB2, CREATE_DUMB and atomic requests must fail with
# the expected errno (one line each in drm-test.txt, then "N passed, M
# failed"), closing the device with a page flip in flight must be harmless,
# and afterwards a modeset with pattern A must work (shot E, checked by the
# host with tests/png_check.py pattern-a). With --max-outputs 2 it also tries
# a plane on a CRTC it cannot be on.

BIN=/cache/drm-test-target/release/drm-test
OUT=$RESULTS/drm-test.txt
[ -x "$BIN" ] || fail "no $BIN: run scripts/build-drm-test.sh"

dev=$(virtio_gpu_device) || fail "no virtio GPU device on the virtio bus"
wait_for 10 drm_card_of "$dev" > /dev/null || fail "$DRIVER created no DRM device"
card=/dev/dri/$(basename "$(drm_card_of "$dev")")
wait_for 10 test -c "$card" || fail "no device node $card"

# drm-test stops at "WAIT E" until it reads a line; its exit status lands in
# drm-test.rc.
mkfifo /tmp/drm-test.in
("$BIN" badinput --device "$card" < /tmp/drm-test.in > "$OUT" 2>&1
	echo $? > /tmp/drm-test.rc) &
exec 3> /tmp/drm-test.in

waiting_at() {	# TAG: drm-test waits at TAG, or it has ended
	grep -qx "WAIT $1" "$OUT" || [ -e /tmp/drm-test.rc ]
}

wait_for 120 waiting_at E || fail "drm-test did not reach WAIT E in 120 s: $(tail -n 2 "$OUT")"
grep -qx "WAIT E" "$OUT" ||
	fail "drm-test ended (status $(cat /tmp/drm-test.rc)) before WAIT E: $(tail -n 2 "$OUT")"
shot E || fail "screendump E failed"
echo >&3
exec 3>&-
wait_for 30 test -e /tmp/drm-test.rc || fail "drm-test did not end after WAIT E"
rc=$(cat /tmp/drm-test.rc)
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$OUT")
grep '^FAIL ' "$OUT" | while read -r line; do log "$line"; done
[ "$rc" = 0 ] || fail "drm-test badinput exited with status $rc: ${summary:-$(tail -n 1 "$OUT")}"
pass "drm-test badinput: $summary"
