# SPDX-License-Identifier: GPL-2.0
#
# gnome-shell: a GNOME Shell Wayland session (mutter) renders on vkms (Mesa's
# kms_swrast, tagged mutter's preferred primary GPU) and shows its output on
# the virtio GPU's head too, importing vkms' buffers (mutter's zero-copy
# path for a secondary GPU). mutter needs udev (it takes only the cards udev
# tagged for its seat), a system bus and logind, which
# tests/gnome/logind.py stands in for.

card=$(basename "$(drm_test_card)") || exit 1
vkms=$(vkms_card "$card") || exit 1
log "rendering on $vkms (vkms), displaying on $card ($DRIVER) too"

mkdir -p /run/udev/rules.d
echo "SUBSYSTEM==\"drm\", KERNEL==\"$vkms\", TAG+=\"mutter-device-preferred-primary\"" \
	> /run/udev/rules.d/61-render-on-vkms.rules
/usr/lib/systemd/systemd-udevd --daemon > "$RESULTS/udevd.log" 2>&1 ||
	fail "systemd-udevd did not start"
udevadm trigger --action=add
udevadm settle -t 60 || fail "udev did not settle in 60 s"
udevadm info "/dev/dri/$card" > "$RESULTS/udev-$card.txt"
udevadm info "/dev/dri/$vkms" > "$RESULTS/udev-$vkms.txt"
grep -q "seat" "$RESULTS/udev-$card.txt" || fail "udev did not tag $card for a seat"

mkdir -p /run/dbus
dbus-daemon --config-file=/src/tests/gnome/system-bus.conf --fork ||
	fail "the system bus did not start"
python3 /src/tests/gnome/logind.py > "$RESULTS/logind.log" 2>&1 &
wait_for 60 dbus-send --system --print-reply --dest=org.freedesktop.login1 \
	/org/freedesktop/login1 org.freedesktop.login1.Manager.GetSession string:c1 ||
	fail "the logind stand-in did not answer: $(tail -n 3 "$RESULTS/logind.log")"

export XDG_SESSION_TYPE=wayland XDG_SESSION_ID=c1 XDG_SEAT=seat0 \
	XDG_CURRENT_DESKTOP=GNOME XDG_SESSION_DESKTOP=gnome MUTTER_DEBUG=backend,kms,render
dbus-run-session -- gnome-shell --wayland --no-x11 > "$RESULTS/gnome-shell.log" 2>&1 &
gpid=$!
# mutter says which path it takes to the secondary GPU's screen.
zero_copy="Using zero-copy for /dev/dri/$card succeeded"
wait_for 300 grep -q "$zero_copy" "$RESULTS/gnome-shell.log" ||
	fail "mutter did not scan out on $card without copies in 300 s: $(tail -n 3 "$RESULTS/gnome-shell.log")"
grep -E "KMS: Using .* for /dev/dri/$card" "$RESULTS/gnome-shell.log" | while read -r line; do
	log "mutter: $line"
done
sleep 30
kill -0 "$gpid" || fail "gnome-shell exited: $(tail -n 3 "$RESULTS/gnome-shell.log")"
shot session || fail "screendump failed"
kill "$gpid"
wait "$gpid"
pass "gnome-shell (rendering on $vkms) ran on $card"
