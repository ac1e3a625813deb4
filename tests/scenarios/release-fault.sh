# SPDX-License-Identifier: GPL-2.0
#
# release-fault (sanitizer kernel, virtio_rs): an allocation failure injected
# into the release of a dumb buffer (tests/drm-test release-fault) keeps the
# buffer until the device is reset; unbinding and unloading the driver then
# frees it. The runner's kmemleak scan after the scenario finds a leak, the
# kernel log any report.

[ "$DRIVER" = virtio_rs ] || fail "release-fault tests virtio_rs, not '$DRIVER'"
[ -w /proc/self/fail-nth ] || fail "the kernel has no fault injection (CONFIG_FAULT_INJECTION)"
mountpoint -q /sys/kernel/debug || mount -t debugfs debugfs /sys/kernel/debug
fs=/sys/kernel/debug/failslab
[ -d $fs ] || fail "no $fs (CONFIG_FAILSLAB, CONFIG_FAULT_INJECTION_DEBUG_FS)"
# Only the task's fail-nth decides; GFP_KERNEL allocations may fail too, and
# the injection prints no stack trace (which the runner would take for a
# problem report).
echo N > $fs/ignore-gfp-wait
echo 0 > $fs/verbose

card=$(drm_test_card) || exit 1
drm_test_run "" -- release-fault --device "$card"
dmesg | grep -q "virtio_rs.*cannot release resource .*kept until the device is reset" ||
	fail "virtio_rs did not report the failed release"

must modprobe -d "$MODROOT" -r virtio_rs
[ -d /sys/module/virtio_rs ] && fail "virtio_rs is still loaded"
pass "the failed release was kept until unbind, and the driver unloaded"
