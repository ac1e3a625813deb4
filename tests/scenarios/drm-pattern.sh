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

BIN=/cache/drm-test-target/release/drm-test
OUT=$RESULTS/drm-test.txt
[ -x "$BIN" ] || fail "no $BIN: run scripts/build-drm-test.sh"

dev=$(virtio_gpu_device) || fail "no virtio GPU device on the virtio bus"
wait_for 10 drm_card_of "$dev" > /dev/null || fail "$DRIVER created no DRM device"
card=/dev/dri/$(basename "$(drm_card_of "$dev")")
wait_for 10 test -c "$card" || fail "no device node $card"

# drm-test stops at each "WAIT TAG" until it reads a line; its exit status
# lands in drm-test.rc.
mkfifo /tmp/drm-test.in
flips=$(param flips 60)
("$BIN" pattern --device "$card" --flips "$flips" < /tmp/drm-test.in > "$OUT" 2>&1
	echo $? > /tmp/drm-test.rc) &
exec 3> /tmp/drm-test.in

waiting_at() {	# TAG: drm-test waits at TAG, or it has ended
	grep -qx "WAIT $1" "$OUT" || [ -e /tmp/drm-test.rc ]
}

step() {	# TAG
	wait_for 120 waiting_at "$1" ||
		fail "drm-test did not reach WAIT $1 in 120 s: $(tail -n 2 "$OUT")"
	grep -qx "WAIT $1" "$OUT" ||
		fail "drm-test ended (status $(cat /tmp/drm-test.rc)) before WAIT $1: $(tail -n 2 "$OUT")"
	shot "$1" || fail "screendump $1 failed"
	echo >&3
}

for tag in A B C D; do
	step "$tag"
done
exec 3>&-
wait_for 30 test -e /tmp/drm-test.rc || fail "drm-test did not end after WAIT D"
rc=$(cat /tmp/drm-test.rc)
[ "$rc" = 0 ] || fail "drm-test pattern exited with status $rc: $(tail -n 2 "$OUT")"
pass "drm-test pattern: $(grep '^flips:' "$OUT")"
