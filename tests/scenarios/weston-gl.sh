# SPDX-License-Identifier: GPL-2.0
#
# weston-gl: weston renders with its GL renderer (Mesa's kms_swrast on vkms,
# card1) and shows its desktop on the virtio GPU's head too
# (--additional-devices): the output buffers are vkms' and the virtio GPU's
# driver imports them through PRIME, with no copy. Then a client
# (weston-simple-shm) draws into a window. The host checks the desktop's
# colours (tests/weston/weston.ini) in the screendumps of the virtio head and,
# in the trace, imported blobs that are shown and never uploaded.

card=$(basename "$(drm_test_card)") || exit 1
must modprobe -d "$MODROOT" vkms
vkms=
for c in /sys/class/drm/card[0-9]*; do
	case $(basename "$c") in *-*) continue ;; esac # connectors
	[ "$(basename "$c")" = "$card" ] && continue
	vkms=$(basename "$c")
done
[ -n "$vkms" ] || fail "vkms created no DRM device"
wait_for 10 test -c "/dev/dri/$vkms" || fail "no device node /dev/dri/$vkms"
log "rendering on $vkms (vkms), displaying on $card ($DRIVER) too"

export LIBSEAT_BACKEND=noop
weston --backend=drm --drm-device="$vkms" --additional-devices="$card" --renderer=gl \
	--continue-without-input --socket=wayland-0 --config=/src/tests/weston/weston.ini \
	--log="$RESULTS/weston.log" &
wpid=$!
# llvmpipe under TCG: the first frames take a while.
wait_for 300 test -S "$XDG_RUNTIME_DIR/wayland-0" ||
	fail "weston did not start: $(tail -n 3 "$RESULTS/weston.log")"
log "weston is up"
sleep 20
kill -0 "$wpid" || fail "weston exited: $(tail -n 3 "$RESULTS/weston.log")"
shot desktop || fail "screendump failed"

WAYLAND_DISPLAY=wayland-0 weston-simple-shm > "$RESULTS/simple-shm.log" 2>&1 &
cpid=$!
sleep 20
kill -0 "$cpid" || fail "weston-simple-shm exited: $(tail -n 3 "$RESULTS/simple-shm.log")"
shot client || fail "screendump failed"
kill "$cpid"
kill "$wpid"
wait "$wpid"
pass "weston (GL on $vkms) ran on $card"
