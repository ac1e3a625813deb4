# SPDX-License-Identifier: GPL-2.0
#
# kunit: the built-in suites ran at boot and the module's suites ran when init
# loaded it; the host parses the KTAP output from dmesg. Here: the module is
# loaded and bound, so its suites had their chance to run.

dev=$(virtio_gpu_device) || fail "no virtio GPU device on the virtio bus"
[ "$(bound_driver "$dev" | tr - _)" = "$DRIVER" ] || fail "$DRIVER is not bound"
grep -q "^$DRIVER " /proc/modules || fail "$DRIVER is not loaded"
pass "KUnit output is in dmesg"
