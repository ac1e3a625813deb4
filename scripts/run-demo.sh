#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make run: boot a guest where virtio_rs drives the virtio GPU (virtio-vga,
# blob resources on) and show what it reports. Logs and the screendump are
# kept in out/demo-virtio_rs/. Extra runner options: RUN_ARGS="...".
#
# make run SCENARIO=weston: weston renders with its GL renderer on vkms and
# shows its desktop, with a client's window, on the virtio_rs head through
# PRIME imports (tests/scenarios/weston-gl.sh); the screendumps are kept in
# out/weston-gl-virtio_rs/.

. "$(dirname "$0")/lib.sh"

case ${SCENARIO:-demo} in
demo) scenario=demo timeout=300 ;;
weston) scenario=weston-gl timeout=600 ;;
*) die "SCENARIO=$SCENARIO: demo (the default) or weston" ;;
esac
# shellcheck disable=SC2086
"$TOP/scripts/inroot.sh" python3 /src/scripts/guest-run.py --scenario "$scenario" \
	--driver virtio_rs --blob true --timeout "$timeout" ${RUN_ARGS:-}
rc=$?
out=$TOP/out/$scenario-virtio_rs
grep -h "harness:" "$out/serial.log" | sed 's/^\[[ 0-9.]*\] //'
if [ $rc = 0 ]; then
	# The imported buffers on screen and the host's commands: blobs of the
	# exporter's pages, scanned out and flushed, never uploaded.
	if [ "$scenario" = demo ]; then
		python3 "$TOP/tests/png_check.py" pattern-a "$out/shot-A.png" &&
			python3 "$TOP/tests/png_check.py" pattern-b "$out/shot-B.png" || rc=1
	else
		python3 "$TOP/tests/png_check.py" color "$out/shot-desktop.png" 900 600 2060a0 &&
			python3 "$TOP/tests/png_check.py" window "$out/shot-client.png" 40000 \
				2060a0 c04000 || rc=1
	fi
	python3 "$TOP/tests/png_check.py" import-trace "$out/trace.log" 2 || rc=1
	log "QEMU's commands for the imported buffers, counted (no TRANSFER_TO_HOST_2D: no copy):"
	for id in $(grep -o "res_create_blob res 0x[0-9a-f]*" "$out/trace.log" | tail -n 2 |
			cut -d' ' -f3); do
		echo "  resource $id:"
		grep -E "virtio_gpu_cmd_\w+ (id [0-9]+, )?res $id(,|\$)" "$out/trace.log" |
			sed -E 's/^virtio_gpu_cmd_(\w+) .*/\1/' |
			awk '!($0 in n) { order[++k] = $0 } { n[$0]++ }
				END { for (i = 1; i <= k; i++) printf "    %5d %s\n", n[order[i]], order[i] }'
	done
fi
log "serial log, dmesg, QEMU trace and screendumps: $out"
exit $rc
