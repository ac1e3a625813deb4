# SPDX-License-Identifier: GPL-2.0
#
# virtio_rs: build the kernel with the driver, boot it in QEMU, test it.
# Every target does its own set-up (build root, kernel source, build) and is
# incremental; see README.md.

export VIRTIO_RS_CACHE ?= /var/cache/virtio-rs
SCRIPTS := scripts

.PHONY: all build run check bench profile kunit e2e sanitizer lint rustfmtcheck checkpatch series shim-check \
	clean distclean help

all: build

help:
	@echo 'make            build the kernel, modules and test tools (incremental)'
	@echo 'make run        boot a guest where virtio_rs drives the display'
	@echo '                (SCENARIO=weston: weston GL on vkms, shown through virtio_rs)'
	@echo 'make check      all tests: lint, KUnit, end-to-end scenarios (both drivers)'
	@echo 'make bench      costs of display operations, virtio_rs against virtio_gpu'
	@echo '                (guest instructions counted by QEMU, benchmark kernel)'
	@echo 'make profile    where an operation'"'"'s instructions go, C against Rust'
	@echo '                (PROFILE_OP=NAME, a make bench operation; ftrace profiler,'
	@echo '                or PROFILE_WITH=insns: QEMU'"'"'s counts per function, Rust too)'
	@echo 'make kunit      KUnit suites only'
	@echo 'make e2e        end-to-end scenarios only'
	@echo 'make sanitizer  KUnit and scenarios on the KASAN/UBSAN/kmemleak kernel'
	@echo 'make lint       rustfmtcheck, clippy (part of every build), checkpatch'
	@echo 'make series     export the patch series to out/series'
	@echo 'make clean      remove out/ and the kernel build output'
	@echo 'make distclean  also remove the whole cache ($(VIRTIO_RS_CACHE))'

build:
	$(SCRIPTS)/build.sh

run: build
	$(SCRIPTS)/run-demo.sh

check: build
	$(SCRIPTS)/check.sh

bench: build
	$(SCRIPTS)/bench.sh

profile: build
	$(SCRIPTS)/profile.sh

kunit: build
	$(SCRIPTS)/check.sh kunit

e2e: build
	$(SCRIPTS)/check.sh e2e

sanitizer: build
	$(SCRIPTS)/check.sh sanitizer

lint: build
	$(SCRIPTS)/check.sh lint

rustfmtcheck: build
	$(SCRIPTS)/check.sh rustfmt

checkpatch: series
	$(SCRIPTS)/check.sh checkpatch

series:
	$(SCRIPTS)/series.sh

shim-check: build
	$(SCRIPTS)/check.sh shim

clean:
	rm -rf out
	rm -rf "$(VIRTIO_RS_CACHE)/build" "$(VIRTIO_RS_CACHE)/modroot" "$(VIRTIO_RS_CACHE)/harness" \
		"$(VIRTIO_RS_CACHE)/build-san" "$(VIRTIO_RS_CACHE)/modroot-san" \
		"$(VIRTIO_RS_CACHE)/build-bench" "$(VIRTIO_RS_CACHE)/modroot-bench"

distclean: clean
	rm -rf "$(VIRTIO_RS_CACHE)"
