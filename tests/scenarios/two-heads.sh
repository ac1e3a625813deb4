# SPDX-License-Identifier: GPL-2.0
#
# two-heads (max_outputs=2): the driver exposes two CRTCs and two connectors.
# Without a user interface QEMU enables only the first head, so the second
# connector is disconnected; modetest drives the first one with its test
# pattern and the host checks the screendump.

dev=$(virtio_gpu_device) || fail "no virtio GPU device on the virtio bus"
wait_for 10 drm_card_of "$dev" > /dev/null || fail "$DRIVER created no DRM device"

modetest -M "$DRIVER" -c > "$RESULTS/connectors.txt" 2>&1 ||
	fail "modetest -c failed: $(tail -n 1 "$RESULTS/connectors.txt")"
status=$(awk '$4 ~ /^Virtual-/ { print $4 "=" $3 }' "$RESULTS/connectors.txt" | tr '\n' ' ')
log "connectors: $status"
[ "$status" = "Virtual-1=connected Virtual-2=disconnected " ] ||
	fail "unexpected connectors: $status"
modetest -M "$DRIVER" -p > "$RESULTS/planes.txt" 2>&1
ncrtc=$(awk '/^CRTCs:/ { on = 1; next } /^Planes:/ { on = 0 } on && /^[0-9]/ { n++ } END { print n + 0 }' \
	"$RESULTS/planes.txt")
[ "$ncrtc" = 2 ] || fail "expected 2 CRTCs, found $ncrtc"
nplane=$(awk '/^Planes:/ { on = 1; next } on && /^[0-9]/ { n++ } END { print n + 0 }' \
	"$RESULTS/planes.txt")
[ "$nplane" = 4 ] || fail "expected 4 planes (primary and cursor per head), found $nplane"

conn=$(awk '$3 == "connected" { print $1; exit }' "$RESULTS/connectors.txt")
modetest_show pattern -M "$DRIVER" -s "$conn:1024x768"
pass "two heads, $ncrtc CRTCs, $nplane planes"
