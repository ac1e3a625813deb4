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

# cargo checks crates.io's certificate against the host's CA bundle, which
# also holds the CAs of any TLS proxy the host's network requires; the root's
# own bundle (package ca-certificates) is the fallback.
host_ca=/etc/ssl/certs/ca-certificates.crt
if [ -s "$host_ca" ]; then
	mkdir -p "$CACHE/cargo"
	cmp -s "$host_ca" "$CACHE/cargo/ca-certificates.crt" ||
		cp "$host_ca" "$CACHE/cargo/ca-certificates.crt"
	env+=(CARGO_HTTP_CAINFO=/cache/cargo/ca-certificates.crt)
fi

log "building tests/drm-test"
"$TOP/scripts/inroot.sh" env "${env[@]}" \
	cargo build --quiet --release --locked \
	--manifest-path /src/tests/drm-test/Cargo.toml
[ -x "$CACHE/drm-test-target/release/drm-test" ] ||
	die "cargo left no $CACHE/drm-test-target/release/drm-test"
# Its unit tests (parsers of what the guest's kernel prints) run here.
"$TOP/scripts/inroot.sh" env "${env[@]}" \
	cargo test --quiet --release --locked \
	--manifest-path /src/tests/drm-test/Cargo.toml >&2 ||
	die "tests/drm-test's unit tests failed"
