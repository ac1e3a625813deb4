#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetch the pinned kernel source (Debian's linux-source-7.3 binary package),
# verify it and unpack it once into $CACHE/pristine. Never floats to another
# version: if the archive lost the pinned one, fail and say what it has.

. "$(dirname "$0")/lib.sh"
cache_lock

PKG=linux-source-7.3
VER=7.3.4-1~bpo13+1
DEB_SHA=703e369ddd4cce971452f5a593ee55df3a5c10c83caf0fa0df039633ed181ee3
TAR_SHA=76df1affb19f24926949369be1d74b60071c963c598ce8780bddd4bbf0fc3bc4
PRISTINE=$CACHE/pristine
DL=$CACHE/downloads

[ -f "$PRISTINE/.virtio-rs-$TAR_SHA" ] && exit 0

mkdir -p "$DL"
deb=$DL/${PKG}_${VER//:/%3a}_all.deb
if [ ! -f "$deb" ] || ! echo "$DEB_SHA  $deb" | sha256sum -c --quiet 2>/dev/null; then
	rm -f "$deb"
	log "downloading $PKG=$VER"
	if ! "$TOP/scripts/inroot.sh" sh -c "cd /cache/downloads && apt-get download -q '$PKG=$VER'" >&2; then
		avail=$("$TOP/scripts/inroot.sh" apt-cache madison "$PKG" 2>/dev/null |
			awk -F'|' '{gsub(/ /,"",$2); print $2}' | tr '\n' ' ')
		die "the archive no longer offers $PKG=$VER (it has: ${avail:-nothing}); update the pin in scripts/fetch-kernel.sh and DESIGN"
	fi
	f=$(ls "$DL"/${PKG}_*.deb 2>/dev/null | head -n1)
	[ -n "$f" ] && [ "$f" != "$deb" ] && mv "$f" "$deb"
fi
echo "$DEB_SHA  $deb" | sha256sum -c --quiet ||
	die "$deb does not match the pinned sha256"

log "unpacking the kernel source"
tmp=$CACHE/pristine.tmp
rm -rf "$tmp" && mkdir -p "$tmp"
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" ./usr/src/$PKG.tar.xz
tarball=$tmp/usr/src/$PKG.tar.xz
echo "$TAR_SHA  $tarball" | sha256sum -c --quiet ||
	die "the tarball inside $deb does not match the pinned sha256"
tar -xJf "$tarball" -C "$tmp"
rm -rf "$PRISTINE"
mv "$tmp/$PKG" "$PRISTINE"
rm -rf "$tmp"
# Pristine sources are read-only by convention: assembly copies from them.
touch "$PRISTINE/.virtio-rs-$TAR_SHA"
log "kernel source ready in $PRISTINE"
