#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make run: boot a guest where virtio_rs drives the virtio GPU (virtio-vga,
# blob resources on) and show what it reports. Logs and the screendump are
# kept in out/demo-virtio_rs/. Extra runner options: RUN_ARGS="...".

. "$(dirname "$0")/lib.sh"

# shellcheck disable=SC2086
"$TOP/scripts/inroot.sh" python3 /src/scripts/guest-run.py --scenario demo --driver virtio_rs \
	--blob true ${RUN_ARGS:-}
rc=$?
out=$TOP/out/demo-virtio_rs
grep -h "harness:" "$out/serial.log" | sed 's/^\[[ 0-9.]*\] //'
log "serial log, dmesg, QEMU trace and screendump: $out"
exit $rc
