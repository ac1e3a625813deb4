#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Export the project as the patch series a kernel maintainer reviews, against
# the pinned base: the patches/ to upstream files first, then the new files,
# one commit per area, with a cover letter. Output: out/series/.

. "$(dirname "$0")/lib.sh"

PRISTINE=$CACHE/pristine
[ -d "$PRISTINE" ] || "$TOP/scripts/fetch-kernel.sh"
OUT=$TOP/out/series
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

git_() { git -C "$work" -c user.name="virtio_rs developers" \
	-c user.email="virtio-rs@localhost" -c commit.gpgsign=false "$@"; }

git_ init -q
# The base: the pristine versions of the upstream files the patches touch.
pristine_base "$work"
git_ add -A
git_ commit -q -m "base: Linux 7.3.4 (the files the series touches)"
base=$(git_ rev-parse HEAD)

for p in "$TOP"/patches/*.patch; do
	git_ am -q --keep-cr "$p" || die "$(basename "$p") does not apply to the pristine base"
done

# New files, one commit per area, in dependency order.
add_area() {	# subject body paths...
	local subject=$1 body=$2; shift 2
	local any=0
	for path in "$@"; do
		for f in $(cd "$TOP" && git ls-files --cached --others --exclude-standard -- "$path"); do
			[ -f "$TOP/$f" ] || continue
			local dst=$f
			[ "$f" = Kconfig ] && dst=drivers/gpu/drm/virtio_rs.Kconfig
			mkdir -p "$work/$(dirname "$dst")"
			cp "$TOP/$f" "$work/$dst"
			any=1
		done
	done
	[ $any = 1 ] || return 0
	git_ add -A
	git_ commit -q -s -m "$subject" -m "$body"
}

add_area "rust: virtio: add virtio bus and virtqueue abstractions" \
"Add a virtio driver adapter in the bus-driver model of
rust/kernel/auxiliary.rs: a Driver trait with probe, unbind and
config_changed, a device id table and module macro, feature negotiation,
typed configuration space access and virtqueues whose buffers the device
owns until get_buf gives them back. On remove the adapter resets the
device and deletes the queues, as the virtio core requires." \
	rust/helpers/virtio.c rust/kernel/virtio.rs rust/kernel/virtio

add_area "rust: drm: kms: add kernel modesetting abstractions" \
"Mode config, CRTCs, planes, encoders and connectors with driver data on
the objects and on their atomic states, the atomic helper callbacks with
prepare_fb/cleanup_fb paired per state, vblank through the vblank timer
helpers with events as move-only tokens, GEM framebuffers with checked
access to their objects, EDIDs, hotplug events and fbdev emulation." \
	rust/helpers/drm_kms.c rust/helpers/kref.c rust/kernel/drm/kms

add_area "rust: add DMA-buf importer, fence and reservation object abstractions" \
"Fences consumers hold and wait for; timelines whose issuer allocates a
fence before it submits the work (so submission cannot fail), arms it
with the next sequence number when the work enters the device's queue,
and signals fences in order, with an error where the work failed, or
cancels them when dropped. Reservation objects: one lock at a time,
proofs of the held lock for the operations that need it, fence room
that cannot be overrun, waits bounded by a timeout. DMA-bufs and their
dynamic importers: an attachment that owns the importer's data, whose
invalidate callback gets the exporter's lock as a proof, pins, maps and
unmaps only with the buffer's own lock held, exposes only the DMA side
of its mapping, and unmaps, unpins and detaches when dropped." \
	rust/helpers/dma_buf.c rust/kernel/dma_buf.rs rust/kernel/dma_fence.rs \
	rust/kernel/dma_resv.rs

add_area "drm/virtio_rs: add a Rust virtio-gpu display driver" \
"Bind virtio-gpu devices, negotiate the display features (EDID, blob
resources, blob alignment; nothing 3D), create the control and cursor
queues and query the display configuration and EDIDs." \
	Kconfig drivers/gpu/drm/virtio_rs

add_area "Documentation: gpu: document virtio_rs" \
"Describe the driver, its design and how it is tested." \
	Documentation

# Every overlay file must be in one of the commits above.
missing=$(cd "$TOP" && git ls-files --cached --others --exclude-standard -- drivers rust Documentation tools Kconfig |
	while read -r f; do
		dst=$f
		[ "$f" = Kconfig ] && dst=drivers/gpu/drm/virtio_rs.Kconfig
		[ -f "$work/$dst" ] || echo "$f"
	done)
[ -z "$missing" ] || die "series.sh puts these overlay files in no patch: $missing"

rm -rf "$OUT"
mkdir -p "$OUT"
git_ format-patch -q --no-signature --zero-commit --cover-letter -o "$OUT" "$base..HEAD"
sed -i -e 's/\*\*\* SUBJECT HERE \*\*\*/virtio_rs: a Rust virtio-gpu display driver/' \
	-e 's/\*\*\* BLURB HERE \*\*\*/A Rust driver for the display side of virtio-gpu, with the virtio\nbus abstractions it needs. Based on Linux 7.3.4./' \
	"$OUT"/0000-cover-letter.patch
log "series: $(ls "$OUT" | wc -l) files in $OUT"
