# SPDX-License-Identifier: GPL-2.0
#
# console: the kernel's framebuffer console (fbdev emulation of the DRM
# driver) shows text. The scenario clears the console, hides the cursor and
# writes two known lines; the host checks that the screendump has text in the
# first two lines of the screen and nothing below, and that both drivers
# show the same pixels.

dev=$(virtio_gpu_device) || fail "no virtio GPU device on the virtio bus"
wait_for 10 drm_card_of "$dev" > /dev/null || fail "$DRIVER created no DRM device"
# Without CONFIG_FB_DEVICE there is no /dev/fb0 or /proc/fb: the kernel log
# tells which frame buffer device the console runs on.
fbdev_up() {
	dmesg | grep -q "fb0: ${DRIVER}drmfb frame buffer device"
}
wait_for 10 fbdev_up || fail "no ${DRIVER}drmfb frame buffer device in the kernel log"
[ -w /dev/tty1 ] || fail "no /dev/tty1 for the console"
grep -q . /sys/class/graphics/fbcon/cursor_blink 2>/dev/null &&
	echo 0 > /sys/class/graphics/fbcon/cursor_blink
# Hide the cursor, go home, clear; then the text.
printf '\033[?25l\033[H\033[2J' > /dev/tty1
printf 'virtio-gpu console check: %s\n0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz' \
	"fbdev emulation" > /dev/tty1
# fbdev emulation flushes the damage from a worker.
sleep 1
shot console || fail "screendump failed"
pass "text written to the console on ${DRIVER}drmfb"
