#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Everything a test or the demo needs, incrementally: the kernel with clippy
# and warnings as errors, its modules installed for the guest, the udmabuf
# stand-in for QEMU.

. "$(dirname "$0")/lib.sh"
cache_lock

"$TOP/scripts/build-kernel.sh" CLIPPY=1 KRUSTFLAGS=-Dwarnings all

log "installing modules"
"$TOP/scripts/inroot.sh" sh -c 'make -s -C /cache/tree O=/cache/build LLVM=1 \
	INSTALL_MOD_PATH=/cache/modroot.new modules_install >/dev/null'
log "building the test exporter (tests/dmabuf-mover)"
build_mover /cache/build /cache/mover-build /cache/modroot.new
"$TOP/scripts/inroot.sh" sh -c 'rm -rf /cache/modroot && mv /cache/modroot.new /cache/modroot'

log "building the udmabuf stand-in"
"$TOP/scripts/inroot.sh" make -s -C /src/tests/udmabuf-shim O=/cache/harness

log "building the KMS test program"
"$TOP/scripts/build-drm-test.sh"
