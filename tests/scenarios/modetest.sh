# SPDX-License-Identifier: GPL-2.0
#
# modetest: libdrm's modetest sets 1024x768 on the first connected connector
# with its test pattern (SMPTE bars, XRGB8888 dumb buffer); the host takes a
# screendump and checks its pixels (tests/png_check.py).

dev=$(virtio_gpu_device) || fail "no virtio GPU device on the virtio bus"
wait_for 10 drm_card_of "$dev" > /dev/null || fail "$DRIVER created no DRM device"

modetest -M "$DRIVER" -c > "$RESULTS/connectors.txt" 2>&1 ||
	fail "modetest -c failed: $(tail -n 1 "$RESULTS/connectors.txt")"
conn=$(awk '$3 == "connected" { print $1; exit }' "$RESULTS/connectors.txt")
[ -n "$conn" ] || fail "no connected connector in modetest -c"
log "connector $conn: $(grep -c '^  #' "$RESULTS/connectors.txt") modes listed"

# virtio_rs reports its features and live resources in debugfs; look while
# modetest's buffer exists.
while_shown() {
	[ "$DRIVER" = virtio_rs ] || return 0
	mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
	# The DRM device's directory, named after its minor (cardN).
	card=$(drm_card_of "$(virtio_gpu_device)") || fail "no DRM device"
	dbg=/sys/kernel/debug/dri/${card##*card}
	[ -r "$dbg/virtio_rs-features" ] || fail "no virtio_rs files in $dbg"
	# Only there: nothing of virtio_rs at the debugfs top level.
	[ -z "$(ls -d /sys/kernel/debug/virtio_rs* 2>/dev/null)" ] ||
		fail "virtio_rs debugfs files at the top level"
	cat "$dbg/virtio_rs-features" > "$RESULTS/debugfs-features.txt"
	cat "$dbg/virtio_rs-resources" > "$RESULTS/debugfs-resources.txt"
	grep -q "^edid *: yes" "$RESULTS/debugfs-features.txt" || fail "debugfs features lack edid"
	# fbdev's buffer and modetest's: two 1024x768 resources.
	n=$(grep -c " 1024x768 " "$RESULTS/debugfs-resources.txt")
	[ "$n" -ge 2 ] || fail "debugfs shows $n 1024x768 resources, expected 2"
	log "debugfs: $(tr '\n' ';' < "$RESULTS/debugfs-resources.txt")"
	# Blob flushes are fenced: with blobs, fences were emitted and signalled.
	cat "$dbg/virtio_rs-fences" > "$RESULTS/debugfs-fences.txt"
	read -r word signalled emitted < "$RESULTS/debugfs-fences.txt"
	min=0
	grep -q "^blob resources *: yes" "$RESULTS/debugfs-features.txt" && min=1
	[ "$word" = fence ] && [ "$emitted" -ge "$min" ] ||
		fail "debugfs fences: $(cat "$RESULTS/debugfs-fences.txt")"
	log "fences: $signalled of $emitted signalled"
}

modetest_show pattern -M "$DRIVER" -s "$conn:1024x768"
pass "modetest pattern on connector $conn"
