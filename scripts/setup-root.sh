#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Create (once) and update (when scripts/root-packages.txt changes) the Debian
# trixie root that builds the kernel and serves as the guest's root file
# system. Idempotent: with an unchanged package list it does nothing.

. "$(dirname "$0")/lib.sh"
cache_lock

pkgs=$(sed -e 's/#.*//' -e '/^\s*$/d' "$TOP/scripts/root-packages.txt" | sort -u)
want=$(printf '%s\n' "$pkgs" | sha256sum | cut -d' ' -f1)
stamp=$ROOT/.virtio-rs-packages

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
	exit 0
fi

need_host_tool() {
	command -v "$1" >/dev/null && return 0
	log "installing $2 on the host"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}

mirror=$(debian_mirror)
if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
	need_host_tool debootstrap debootstrap
	log "debootstrap $SUITE into $ROOT (from $mirror)"
	rm -rf "$ROOT.tmp"
	keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	[ -f /usr/share/keyrings/debian-archive-trixie-stable.gpg ] &&
		keyring=/usr/share/keyrings/debian-archive-trixie-stable.gpg
	debootstrap --variant=minbase --keyring="$keyring" "$SUITE" "$ROOT.tmp" "$mirror" \
		> "$CACHE/debootstrap.log" 2>&1 ||
		die "debootstrap failed, see $CACHE/debootstrap.log"
	mv "$ROOT.tmp" "$ROOT"
fi

cat > "$ROOT/etc/apt/sources.list" <<SRC
deb $mirror $SUITE main
deb $mirror $SUITE-updates main
deb $mirror $SUITE-backports main
SRC
printf 'path-exclude=/usr/share/doc/*\npath-exclude=/usr/share/man/*\npath-include=/usr/share/doc/*/copyright\n' \
	> "$ROOT/etc/dpkg/dpkg.cfg.d/01-nodoc"

log "installing the root's packages ($(printf '%s\n' "$pkgs" | wc -l) listed)"
# shellcheck disable=SC2086
"$TOP/scripts/inroot.sh" sh -c "apt-get update -qq &&
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(echo $pkgs) >/dev/null" ||
	die "package installation in the root failed"
echo "$want" > "$stamp"
log "root ready"
