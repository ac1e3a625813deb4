#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Edit the patches to upstream files as commits:
#   scripts/patch-work.sh init DIR     a git repository in DIR: the pristine
#                                      files the patches touch, then one
#                                      commit per patch (git am)
#   scripts/patch-work.sh export DIR   patches/ from DIR's commits after the
#                                      base (git format-patch), replacing the
#                                      old ones
# Between the two, edit, amend, split or reorder the commits in DIR.

. "$(dirname "$0")/lib.sh"

cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: $0 init|export DIR"
git_() { git -C "$dir" -c user.name="virtio_rs developers" \
	-c user.email="virtio-rs@localhost" -c commit.gpgsign=false "$@"; }

case $cmd in
init)
	PRISTINE=$CACHE/pristine
	[ -d "$PRISTINE" ] || "$TOP/scripts/fetch-kernel.sh"
	[ ! -e "$dir" ] || die "$dir exists"
	mkdir -p "$dir"
	git_ init -q
	pristine_base "$dir"
	git_ add -A
	git_ commit -q -m "base: Linux 7.3.4 (the files the patches touch)"
	git_ tag base
	for p in "$TOP"/patches/*.patch; do
		git_ am -q --keep-cr "$p" || die "$(basename "$p") does not apply"
	done
	log "patches as commits in $dir (base: tag 'base')"
	;;
export)
	out=$(mktemp -d)
	trap 'rm -rf "$out"' EXIT
	git_ format-patch -q -N --zero-commit --no-signature -o "$out" base..HEAD
	rm -f "$TOP"/patches/*.patch
	cp "$out"/*.patch "$TOP/patches/"
	log "patches/: $(ls "$out" | wc -l) patches"
	;;
*)
	die "usage: $0 init|export DIR"
	;;
esac
