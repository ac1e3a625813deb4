#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Builds the guest's KMS test program (tests/drm-test, Rust with the drm
# crate) in the root with the root's cargo, incrementally. Crates are fetched
# from crates.io into the cache (CARGO_HOME) on the first build, as pinned by
# tests/drm-test/Cargo.lock; nothing is written into the checkout. The guest
# runs /cache/drm-test-target/release/drm-test.

. "$(dirname "$0")/lib.sh"
cache_lock

env=(CARGO_HOME=/cache/cargo CARGO_TARGET_DIR=/cache/drm-test-target)

log "building tests/drm-test"
"$TOP/scripts/inroot.sh" env "${env[@]}" \
	cargo build --quiet --release --locked \
	--manifest-path /src/tests/drm-test/Cargo.toml
[ -x "$CACHE/drm-test-target/release/drm-test" ] ||
	die "cargo left no $CACHE/drm-test-target/release/drm-test"
