#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the test kernel: root -> pristine source -> assembled tree -> config
# -> vmlinux, bzImage and modules, all incremental. Extra arguments are passed
# to kbuild (e.g. CLIPPY=1, or a target such as rustfmtcheck).

. "$(dirname "$0")/lib.sh"
cache_lock

"$TOP/scripts/setup-root.sh"
"$TOP/scripts/fetch-kernel.sh"
"$TOP/scripts/inroot.sh" python3 /src/scripts/assemble.py

JOBS=${VIRTIO_RS_JOBS:-$(($(nproc) + 1))}
"$TOP/scripts/inroot.sh" /src/scripts/kconfig.sh
log "building the kernel (-j$JOBS)"
"$TOP/scripts/inroot.sh" make -C /cache/tree O=/cache/build LLVM=1 -j"$JOBS" \
	--no-print-directory "$@"
