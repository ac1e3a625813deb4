#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# A variant of the test kernel and its modules, incrementally, from the same
# tree as the main build (scripts/build-kernel.sh):
#   sanitizer  KASAN, UBSAN, kmemleak on top of lockdep and the atomic-sleep
#              checks (configs/sanitizer.config), for make check's sanitizer
#              runs; build-san/ and modroot-san/;
#   bench      no lock debugging, full SLUB, -O2 (configs/bench.config), for
#              make bench and make profile; build-bench/ and modroot-bench/.
# Warnings are errors here too; clippy runs in the main build.

. "$(dirname "$0")/lib.sh"
cache_lock

case ${1:-} in
sanitizer) dir=san ;;
bench) dir=bench ;;
*) die "usage: build-variant.sh sanitizer|bench" ;;
esac

"$TOP/scripts/build-kernel.sh" "--$1" KRUSTFLAGS=-Dwarnings all

log "installing the $1 kernel's modules"
"$TOP/scripts/inroot.sh" sh -c "make -s -C /cache/tree O=/cache/build-$dir LLVM=1 \
	INSTALL_MOD_PATH=/cache/modroot-$dir.new modules_install >/dev/null"
build_mover "/cache/build-$dir" "/cache/mover-build-$dir" "/cache/modroot-$dir.new"
"$TOP/scripts/inroot.sh" sh -c "rm -rf /cache/modroot-$dir && mv /cache/modroot-$dir.new /cache/modroot-$dir"
