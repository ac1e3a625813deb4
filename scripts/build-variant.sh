#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The sanitizer variant of the test kernel (KASAN, UBSAN, kmemleak, lockdep,
# atomic-sleep checks) and its modules, incrementally, for the sanitizer runs
# of make check. Warnings are errors here too; clippy runs in the main build.

. "$(dirname "$0")/lib.sh"
cache_lock

"$TOP/scripts/build-kernel.sh" --sanitizer KRUSTFLAGS=-Dwarnings all

log "installing the sanitizer kernel's modules"
"$TOP/scripts/inroot.sh" sh -c 'make -s -C /cache/tree O=/cache/build-san LLVM=1 \
	INSTALL_MOD_PATH=/cache/modroot-san.new modules_install >/dev/null'
build_mover /cache/build-san /cache/mover-build-san /cache/modroot-san.new
"$TOP/scripts/inroot.sh" sh -c 'rm -rf /cache/modroot-san && mv /cache/modroot-san.new /cache/modroot-san'
