#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The test suite (run after scripts/build.sh, which also enforces clippy with
# warnings as errors). With no argument: every group. Groups: shim, rustfmt,
# layers, checkpatch, kunit, e2e, sanitizer (builds the sanitizer kernel first).
# Ends with 'N passed, M failed'.
#
# checkpatch ignores FILE_PATH_CHANGES only: the series adds files in several
# patches and lists them all in MAINTAINERS in one (see patches/).

. "$(dirname "$0")/lib.sh"
cache_lock

groups=${*:-shim rustfmt layers checkpatch kunit e2e sanitizer}
passed=0
failed=0
failures=()

result() {	# name rc
	if [ "$2" = 0 ]; then
		passed=$((passed + 1))
		printf 'PASS %s\n' "$1"
	else
		failed=$((failed + 1))
		failures+=("$1")
		printf 'FAIL %s\n' "$1"
	fi
}

run() {		# name command...
	local name=$1; shift
	local t0=$SECONDS rc=0
	"$@" || rc=$?
	log "$name: rc=$rc in $((SECONDS - t0)) s"
	result "$name" "$rc"
}

guest() {	# scenario driver [runner options]
	guest_as "e2e:$1:$2" "$@"
}

guest_as() {	# name scenario driver [runner options]
	local name=$1 scenario=$2 driver=$3; shift 3
	run "$name" "$TOP/scripts/inroot.sh" python3 /src/scripts/guest-run.py \
		--scenario "$scenario" --driver "$driver" "$@"
}

for g in $groups; do
	case $g in
	shim)
		run shim-selftest "$TOP/scripts/inroot.sh" make -s -C /src/tests/udmabuf-shim \
			O=/cache/harness check ;;
	rustfmt)
		run rustfmtcheck "$TOP/scripts/inroot.sh" make -s -C /cache/tree O=/cache/build \
			LLVM=1 rustfmtcheck ;;
	layers)
		# The driver's modules use only those below them (no cycle).
		run layers python3 "$TOP/tests/module_graph.py" "$TOP/drivers/gpu/drm/virtio_rs"
		# make bench's and make profile's reports.
		run report-tools python3 "$TOP/tests/report_test.py" ;;
	checkpatch)
		"$TOP/scripts/series.sh"
		run checkpatch "$TOP/scripts/inroot.sh" sh -c \
			'cd /cache/tree && fail=0; for p in /src/out/series/0*.patch; do
				case $p in */0000-cover-letter.patch) continue;; esac
				perl scripts/checkpatch.pl --no-tree -q --strict \
					--ignore FILE_PATH_CHANGES "$p" || fail=1
			done; exit $fail' ;;
	kunit)
		# virtio_rs alone drives the device in this run: the trace shows
		# what it sent.
		guest kunit virtio_rs --kunit --blob true \
			--expect-trace get_display_info --expect-trace get_edid ;;
	e2e)
		# make run's demo: the console, then vgem's buffers imported and
		# shown in place (pixels and the trace checked by run-demo.sh).
		run e2e:make-run "$TOP/scripts/run-demo.sh"
		# Unloading the C driver sometimes warns "Memory manager not clean
		# during takedown" (drm_vma_offset_manager): its fbdev buffer can
		# still await the host's RESOURCE_UNREF answer. That is the
		# reference driver's race; these runs unload it, so they tolerate
		# exactly that warning. Runs that unload only virtio_rs do not.
		for driver in virtio_rs virtio_gpu; do
			guest first-light "$driver" --blob true \
				--expect-trace get_display_info --expect-trace get_edid \
				--ignore-problem 'WARNING: at drm_mm_takedown\+'
		done
		# modetest's SMPTE pattern, through blob resources and through 2D
		# resources; the Rust driver's screen must equal the C driver's.
		for driver in virtio_gpu virtio_rs; do
			guest modetest "$driver" --blob true --expect-trace set_scanout_blob
			run "pixels:modetest:$driver" python3 "$TOP/tests/png_check.py" smpte \
				"$TOP/out/modetest-$driver/shot-pattern.png"
		done
		guest_as e2e:modetest-2d:virtio_rs modetest virtio_rs --blob false \
			--out /src/out/modetest-2d-virtio_rs \
			--expect-trace res_create_2d --expect-trace res_back_attach
		run "pixels:modetest-2d:virtio_rs" python3 "$TOP/tests/png_check.py" smpte \
			"$TOP/out/modetest-2d-virtio_rs/shot-pattern.png"
		# A device that needs the DMA API (ACCESS_PLATFORM) with every
		# mapping bounced (swiotlb=force): 2D uploads show the pattern only
		# if the driver syncs the buffer for the device before the
		# transfer, as the C driver does; both drivers.
		for driver in virtio_gpu virtio_rs; do
			guest_as "e2e:modetest-swiotlb:$driver" modetest "$driver" --blob false \
				--access-platform --append swiotlb=force \
				--out "/src/out/modetest-swiotlb-$driver" --expect-trace res_create_2d
			run "pixels:modetest-swiotlb:$driver" python3 "$TOP/tests/png_check.py" smpte \
				"$TOP/out/modetest-swiotlb-$driver/shot-pattern.png"
		done
		run "pixels:modetest:rust-equals-c" python3 "$TOP/tests/png_check.py" same \
			"$TOP/out/modetest-virtio_rs/shot-pattern.png" \
			"$TOP/out/modetest-virtio_gpu/shot-pattern.png"
		# Two heads: two CRTCs and connectors (the second one disconnected,
		# as QEMU enables only the first head without a UI).
		for driver in virtio_gpu virtio_rs; do
			guest two-heads "$driver" --blob true --max-outputs 2
		done
		run "pixels:two-heads:virtio_rs" python3 "$TOP/tests/png_check.py" smpte \
			"$TOP/out/two-heads-virtio_rs/shot-pattern.png"
		# The same objects, ids, modes and properties as the C driver
		# (modetest -c, all but its first line, which names the driver).
		run "objects:two-heads:rust-equals-c" sh -c "
			tail -n +2 '$TOP/out/two-heads-virtio_rs/connectors.txt' > '$TOP/out/two-heads-connectors-rs.txt' &&
			tail -n +2 '$TOP/out/two-heads-virtio_gpu/connectors.txt' > '$TOP/out/two-heads-connectors-c.txt' &&
			diff -u '$TOP/out/two-heads-connectors-c.txt' '$TOP/out/two-heads-connectors-rs.txt'"
		# The framebuffer console (fbdev emulation) shows text, the same
		# pixels with either driver.
		for driver in virtio_gpu virtio_rs; do
			guest console "$driver" --blob true
			run "pixels:console:$driver" python3 "$TOP/tests/png_check.py" text \
				"$TOP/out/console-$driver/shot-console.png" 32 500
		done
		run "pixels:console:rust-equals-c" python3 "$TOP/tests/png_check.py" same \
			"$TOP/out/console-virtio_rs/shot-console.png" \
			"$TOP/out/console-virtio_gpu/shot-console.png"
		# Hotplug: the host resizes, unplugs and replugs the first head (over
		# VNC); the console follows, and the new size can be set.
		for driver in virtio_gpu virtio_rs; do
			out=$TOP/out/hotplug-$driver
			guest hotplug "$driver" --blob true --vnc \
				--expect-trace get_display_info=4 --expect-trace get_edid=4
			run "pixels:hotplug:$driver" sh -c "
				python3 '$TOP/tests/png_check.py' size '$out/shot-boot.png' 1024x768 &&
				python3 '$TOP/tests/png_check.py' size '$out/shot-console-800x600.png' 800x600 &&
				python3 '$TOP/tests/png_check.py' size '$out/shot-pattern-1280x800.png' 1280x800 &&
				python3 '$TOP/tests/png_check.py' smpte '$out/shot-pattern-1280x800.png'"
		done
		run "pixels:hotplug:rust-equals-c" python3 "$TOP/tests/png_check.py" same \
			"$TOP/out/hotplug-virtio_rs/shot-pattern-1280x800.png" \
			"$TOP/out/hotplug-virtio_gpu/shot-pattern-1280x800.png"
		# weston and a client (weston-simple-shm): with the pixman renderer
		# on the driver's own output, and with the GL renderer on vkms
		# (Mesa's kms_swrast), its desktop also on the virtio head
		# (--additional-devices): vkms' buffers imported, shown and flushed,
		# never uploaded. The desktop's colours, the client's window, and the
		# same desktop as with the C driver.
		for scenario in weston weston-gl; do
			for driver in virtio_gpu virtio_rs; do
				out=$TOP/out/$scenario-$driver
				guest "$scenario" "$driver" --blob true --timeout 600
				run "pixels:$scenario:$driver" sh -c "
					python3 '$TOP/tests/png_check.py' color '$out/shot-desktop.png' 900 600 2060a0 &&
					python3 '$TOP/tests/png_check.py' color '$out/shot-desktop.png' 500 10 c04000"
				run "pixels:$scenario-client:$driver" python3 "$TOP/tests/png_check.py" \
					window "$out/shot-client.png" 40000 2060a0 c04000
				if [ "$scenario" = weston-gl ]; then
					run "trace:weston-gl-zero-copy:$driver" python3 "$TOP/tests/png_check.py" \
						import-trace "$out/trace.log" 2
				fi
			done
			run "pixels:$scenario:rust-equals-c" python3 "$TOP/tests/png_check.py" same \
				"$TOP/out/$scenario-virtio_rs/shot-desktop.png" \
				"$TOP/out/$scenario-virtio_gpu/shot-desktop.png"
		done
		# A gnome-shell Wayland session on vkms, shown on the virtio head
		# through mutter's zero-copy path (the scenario checks mutter's log):
		# the overview's backdrop and wallpaper, and imported buffers shown
		# and flushed, never uploaded.
		for driver in virtio_gpu virtio_rs; do
			out=$TOP/out/gnome-shell-$driver
			guest gnome-shell "$driver" --blob true --timeout 600
			run "pixels:gnome-shell:$driver" sh -c "
				python3 '$TOP/tests/png_check.py' color '$out/shot-session.png' 5 5 222226 &&
				python3 '$TOP/tests/png_check.py' window '$out/shot-session.png' 200000 222226"
			run "trace:gnome-shell-zero-copy:$driver" python3 "$TOP/tests/png_check.py" \
				unuploaded-trace "$out/trace.log" 2
		done
		# drm-test (Rust, drm crate): patterns, page flips with events, the
		# cursor plane (through QEMU's trace: screendumps have no cursor);
		# invalid requests with each driver's errnos, then pattern A again.
		for driver in virtio_gpu virtio_rs; do
			out=$TOP/out/drm-pattern-$driver
			guest drm-pattern "$driver" --blob true
			run "pixels:drm-pattern-A:$driver" python3 "$TOP/tests/png_check.py" pattern-a "$out/shot-A.png"
			for t in B C D; do
				run "pixels:drm-pattern-$t:$driver" python3 "$TOP/tests/png_check.py" pattern-b "$out/shot-$t.png"
			done
			run "trace:drm-pattern-cursor:$driver" python3 "$TOP/tests/png_check.py" cursor-trace \
				"$out/trace.log" 200 150 400 300
			guest drm-badinput "$driver" --blob true --max-outputs 2
			run "pixels:drm-badinput-E:$driver" python3 "$TOP/tests/png_check.py" pattern-a \
				"$TOP/out/drm-badinput-$driver/shot-E.png"
			# PRIME import of vgem buffers, scanned out in place: the
			# pixels, and no copy in the trace.
			out=$TOP/out/drm-import-$driver
			guest drm-import "$driver" --blob true --expect-trace res_create_blob=3
			run "pixels:drm-import-A:$driver" python3 "$TOP/tests/png_check.py" pattern-a "$out/shot-A.png"
			run "pixels:drm-import-B:$driver" python3 "$TOP/tests/png_check.py" pattern-b "$out/shot-B.png"
			# B stays on screen with the exporter closed, until replaced.
			run "pixels:drm-import-C:$driver" python3 "$TOP/tests/png_check.py" pattern-b "$out/shot-C.png"
			run "pixels:drm-import-D:$driver" python3 "$TOP/tests/png_check.py" pattern-a "$out/shot-D.png"
			run "trace:drm-import-zero-copy:$driver" python3 "$TOP/tests/png_check.py" \
				import-trace "$out/trace.log" 2
			# The same with vkms' dumb buffers.
			out=$TOP/out/drm-import-vkms-$driver
			guest_as "e2e:drm-import-vkms:$driver" drm-import "$driver" --blob true \
				--append harness.exporter=vkms --out "/src/out/drm-import-vkms-$driver" \
				--expect-trace res_create_blob=3
			run "pixels:drm-import-vkms-A:$driver" python3 "$TOP/tests/png_check.py" pattern-a "$out/shot-A.png"
			run "pixels:drm-import-vkms-B:$driver" python3 "$TOP/tests/png_check.py" pattern-b "$out/shot-B.png"
			run "pixels:drm-import-vkms-C:$driver" python3 "$TOP/tests/png_check.py" pattern-b "$out/shot-C.png"
			run "pixels:drm-import-vkms-D:$driver" python3 "$TOP/tests/png_check.py" pattern-a "$out/shot-D.png"
			run "trace:drm-import-vkms-zero-copy:$driver" python3 "$TOP/tests/png_check.py" \
				import-trace "$out/trace.log" 2
			# Without blobs the import fails (ENODEV), as the C driver's.
			guest_as "e2e:drm-import-noblob:$driver" drm-import "$driver" --blob false \
				--append harness.refused=1 --out "/src/out/drm-import-noblob-$driver"
			# Imports that must fail and misbehaving exporters, with each
			# driver's errnos (drm-test badimport's table); the screen keeps
			# its last good frame; the driver and the exporter unload after.
			out=$TOP/out/drm-badimport-$driver
			# It unloads the driver: the C driver's takedown warning (above)
			# is tolerated for the C driver only.
			c_unload=()
			[ "$driver" = virtio_gpu ] &&
				c_unload=(--ignore-problem 'WARNING: at drm_mm_takedown\+')
			guest drm-badimport "$driver" --blob true "${c_unload[@]}"
			for t in A K; do
				run "pixels:drm-badimport-$t:$driver" python3 "$TOP/tests/png_check.py" \
					pattern-a "$out/shot-$t.png"
			done
			run "pixels:drm-badimport-R:$driver" python3 "$TOP/tests/png_check.py" shown \
				"$out/drm-test.txt" "$out"
			# The test exporter moves an imported buffer while the other is
			# shown, 50 times: every frame shows the new pages, every move is
			# a detach, an attach and a new SET_SCANOUT_BLOB.
			out=$TOP/out/drm-moves-$driver
			guest drm-moves "$driver" --blob true
			run "pixels:drm-moves:$driver" python3 "$TOP/tests/png_check.py" shown \
				"$out/drm-test.txt" "$out"
			run "trace:drm-moves:$driver" python3 "$TOP/tests/png_check.py" move-trace \
				"$out/trace.log" 50
		done
		# The exporter revokes the buffer on screen (a forced move), 50
		# times: the host never shows (nor reads) detached pages, and the
		# next flip shows the new ones; then 200 flips race a thread that
		# moves the buffers. The C driver detaches the blob a
		# scanout shows: QEMU crashes (SIGSEGV) at the first screendump
		# after it; that is checked, as the reference's known behaviour.
		out=$TOP/out/drm-revoke-virtio_rs
		guest drm-revoke virtio_rs --blob true --timeout 600
		run "pixels:drm-revoke-shown:virtio_rs" python3 "$TOP/tests/png_check.py" shown \
			"$out/drm-test.txt" "$out"
		run "pixels:drm-revoke-off:virtio_rs" python3 "$TOP/tests/png_check.py" off \
			"$out/drm-test.txt" "$out"
		run "trace:drm-revoke-no-shown-detach:virtio_rs" python3 "$TOP/tests/png_check.py" \
			detach-trace "$out/trace.log" 50
		run "trace:drm-revoke-reattach:virtio_rs" python3 "$TOP/tests/png_check.py" \
			move-trace "$out/trace.log" 50+
		"$TOP/scripts/inroot.sh" python3 /src/scripts/guest-run.py --scenario drm-revoke \
			--driver virtio_gpu --blob true --append harness.revokes=3 || true
		run "reference:drm-revoke-crashes-qemu:virtio_gpu" grep -q \
			'QEMU exit status -11; screendump R1' "$TOP/out/drm-revoke-virtio_gpu/summary.txt"
		# What each driver sent, side by side (differences are explained
		# in notes/trace-differences.md).
		python3 "$TOP/tests/trace_diff.py" "$TOP/out/modetest-virtio_gpu/trace.log" \
			"$TOP/out/modetest-virtio_rs/trace.log" > "$TOP/out/trace-diff-modetest.txt" || true
		log "command streams compared: out/trace-diff-modetest.txt"
		;;
	sanitizer)
		# The KUnit suites and a representative set of scenarios on the
		# sanitizer kernel (KASAN, UBSAN, kmemleak, lockdep, atomic
		# sleeps): any report, or a leak kmemleak finds after the
		# scenario, fails the run. release-fault unloads the driver too. virtio_rs only: the C driver is the
		# reference, not under test.
		t0=$SECONDS
		if ! "$TOP/scripts/build-variant.sh" sanitizer; then
			result sanitizer:build 1
			continue
		fi
		log "sanitizer kernel built in $((SECONDS - t0)) s"
		san() {	# scenario [runner options]
			local scenario=$1; shift
			guest_as "sanitizer:$scenario:virtio_rs" "$scenario" virtio_rs --sanitizer \
				--out "/src/out/sanitizer-$scenario-virtio_rs" --timeout 900 "$@"
		}
		san kunit --kunit --blob true
		# Unload and reload, handing the device to the C driver and back:
		# leaks are looked for after each unload, and the C driver's
		# (its fbdev buffer, when unloaded during a damage update) are
		# logged but not counted; so is its drm_mm_takedown warning (e2e).
		san first-light --blob true --expect-trace get_edid \
			--ignore-problem 'WARNING: at drm_mm_takedown\+'
		san modetest --blob true --expect-trace set_scanout_blob
		san drm-badinput --blob true --max-outputs 2
		san hotplug --blob true --vnc --expect-trace get_display_info=4
		# PRIME import: attach, pin, map, blob, scanout, release.
		san drm-import --blob true --expect-trace res_create_blob=3
		# 10 moves: detaches from the exporter's invalidation, re-attaches.
		san drm-moves --blob true --append harness.moves=10 --expect-trace res_back_detach=10
		# Failed imports (a fence that never signals, too many entries), a
		# refused mapping, the exporter unloading under the import; then
		# the driver and the exporter unload.
		san drm-badimport --blob true
		# 5 revocations of the buffer on screen: off its scanout, detached,
		# attached again at the next flip; then 25 racing flips. (Each costs
		# seconds under KASAN: the e2e runs do 50 and 200.)
		san drm-revoke --blob true --append "harness.revokes=5 harness.race=25" \
			--expect-trace res_back_detach=5
		# An injected allocation failure in a buffer's release: kept
		# until the device is reset, freed at unbind (kmemleak checks).
		san release-fault --blob true
		log "sanitizer group in $((SECONDS - t0)) s"
		;;
	*)
		die "unknown test group '$g'" ;;
	esac
done

[ ${#failures[@]} = 0 ] || log "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
