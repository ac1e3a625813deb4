#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run a command inside the trixie root: a private mount namespace with /proc,
# /sys, /dev, the checkout (at /src) and the cache (at /cache) bound in.
# Paths inside are therefore the same for every checkout, which keeps kbuild's
# incremental state valid when CI builds from a fresh clone.

. "$(dirname "$0")/lib.sh"

[ -x "$ROOT/bin/sh" ] || die "no root at $ROOT: run scripts/setup-root.sh"
[ $# -gt 0 ] || set -- /bin/bash

exec unshare -m --propagation private -- /bin/bash -c '
	set -e
	R=$1; T=$2; C=$3; shift 3
	mkdir -p "$R/src" "$R/cache" "$R/proc" "$R/sys" "$R/dev"
	mount --rbind /dev "$R/dev"
	mount -t proc proc "$R/proc"
	mount --rbind /sys "$R/sys"
	mount --bind "$T" "$R/src"
	mount --bind "$C" "$R/cache"
	cp -L /etc/resolv.conf "$R/etc/resolv.conf" 2>/dev/null || true
	exec chroot "$R" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		CI="${CI:-}" "$@"
' inroot "$ROOT" "$TOP" "$CACHE" "$@"
