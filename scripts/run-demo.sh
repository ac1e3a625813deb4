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
if [ $rc = 0 ]; then
	# The imported buffers on screen, every pixel, and the host's commands:
	# a blob of the vgem pages, scanned out and flushed, never uploaded.
	python3 "$TOP/tests/png_check.py" pattern-a "$out/shot-A.png" &&
		python3 "$TOP/tests/png_check.py" pattern-b "$out/shot-B.png" &&
		python3 "$TOP/tests/png_check.py" import-trace "$out/trace.log" 2 || rc=1
	log "QEMU's commands for the imported buffers (no TRANSFER_TO_HOST_2D: no copy):"
	for id in $(grep -o "res_create_blob res 0x[0-9a-f]*" "$out/trace.log" | tail -n 2 |
			cut -d' ' -f3); do
		grep -E "virtio_gpu_cmd_\w+ (id [0-9]+, )?res $id(,|\$)" "$out/trace.log" |
			sed 's/^virtio_gpu_cmd_/  /' | uniq -c
	done
fi
log "serial log, dmesg, QEMU trace and screendump: $out"
exit $rc
