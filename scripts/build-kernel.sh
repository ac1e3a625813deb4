#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the test kernel: root -> pristine source -> assembled tree -> config
# -> vmlinux, bzImage and modules, all incremental. Extra arguments are passed
# to kbuild (e.g. CLIPPY=1, or a target such as rustfmtcheck). With
# --sanitizer or --bench first, that variant (configs/sanitizer.config or
# configs/bench.config on top of the main configuration) is built from the
# same tree into its own directory, $VIRTIO_RS_CACHE/build-san or build-bench
# (scripts/build-variant.sh).

. "$(dirname "$0")/lib.sh"
cache_lock

O=/cache/build
extra=()
case ${1:-} in
--sanitizer)
	shift
	O=/cache/build-san
	extra=(/src/configs/sanitizer.config)
	;;
--bench)
	shift
	O=/cache/build-bench
	extra=(/src/configs/bench.config)
	;;
esac

"$TOP/scripts/setup-root.sh"
"$TOP/scripts/fetch-kernel.sh"
"$TOP/scripts/inroot.sh" python3 /src/scripts/assemble.py

JOBS=${VIRTIO_RS_JOBS:-$(($(nproc) + 1))}
"$TOP/scripts/inroot.sh" /src/scripts/kconfig.sh "$O" "${extra[@]}"
log "building the kernel in ${O#/cache/} (-j$JOBS)"
"$TOP/scripts/inroot.sh" make -C /cache/tree O="$O" LLVM=1 -j"$JOBS" \
	--no-print-directory "$@"
