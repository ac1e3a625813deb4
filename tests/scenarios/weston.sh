# SPDX-License-Identifier: GPL-2.0
#
# weston: weston's DRM backend (pixman renderer) runs its desktop on the
# driver's output, then a client (weston-simple-shm) draws into a window. The
# host checks the desktop's colours (tests/weston/weston.ini) in the screendump.

dev=$(virtio_gpu_device) || fail "no virtio GPU device on the virtio bus"
wait_for 10 drm_card_of "$dev" > /dev/null || fail "$DRIVER created no DRM device"
card=$(basename "$(drm_card_of "$dev")")

export LIBSEAT_BACKEND=noop
weston --backend=drm --drm-device="$card" --renderer=pixman --continue-without-input \
	--socket=wayland-0 --config=/src/tests/weston/weston.ini --log="$RESULTS/weston.log" &
wpid=$!
wait_for 120 test -S "$XDG_RUNTIME_DIR/wayland-0" || fail "weston did not start: $(tail -n 3 "$RESULTS/weston.log")"
log "weston is up"
# The desktop is drawn shortly after the socket appears.
sleep 5
kill -0 "$wpid" || fail "weston exited: $(tail -n 3 "$RESULTS/weston.log")"
shot desktop || fail "screendump failed"

WAYLAND_DISPLAY=wayland-0 weston-simple-shm > "$RESULTS/simple-shm.log" 2>&1 &
cpid=$!
sleep 5
kill -0 "$cpid" || fail "weston-simple-shm exited: $(tail -n 3 "$RESULTS/simple-shm.log")"
shot client || fail "screendump failed"
kill "$cpid"
kill "$wpid"
wait "$wpid"
pass "weston ran on $card"
