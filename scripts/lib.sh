# SPDX-License-Identifier: GPL-2.0
# Common settings for the virtio_rs scripts. Sourced, never executed.

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${VIRTIO_RS_CACHE:-/var/cache/virtio-rs}
ROOT=$CACHE/root
SUITE=trixie

log() { printf '[virtio_rs] %s\n' "$*" >&2; }
die() { printf '[virtio_rs] error: %s\n' "$*" >&2; exit 1; }

# The Debian mirror the host's apt already uses: the root is built from the
# same archive, so no host name is hard-coded here. VIRTIO_RS_MIRROR overrides.
debian_mirror() {
	local m=${VIRTIO_RS_MIRROR:-}
	if [ -z "$m" ]; then
		m=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources |
			awk '{print $2}' | grep -v security | head -n1 || true)
	fi
	if [ -z "$m" ]; then
		m=$(grep -hs '^deb ' /etc/apt/sources.list |
			awk '{print $2}' | grep -v security | head -n1 || true)
	fi
	[ -n "$m" ] || die "no Debian mirror found in the host's apt sources; set VIRTIO_RS_MIRROR"
	echo "$m"
}

# Copy into DIR the pristine versions of the upstream files that patches/
# touch: the base the patches apply to (scripts/series.sh, patch-work.sh).
pristine_base() {	# DIR
	local dir=$1 p f
	for p in "$TOP"/patches/*.patch; do
		grep -E '^\+\+\+ b/' "$p" | sed 's|^+++ b/||'
	done | sort -u | while read -r f; do
		# A file a patch creates has no pristine version.
		[ -e "$CACHE/pristine/$f" ] || continue
		mkdir -p "$dir/$(dirname "$f")"
		cp "$CACHE/pristine/$f" "$dir/$f"
	done
}

# Serialise everything that writes into the cache; nested scripts inherit
# the lock through the environment instead of taking it again.
cache_lock() {
	[ -n "${VIRTIO_RS_LOCKED:-}" ] && return 0
	mkdir -p "$CACHE"
	exec 9>"$CACHE/.lock"
	flock 9
	export VIRTIO_RS_LOCKED=1
}

# The kernel make bench and make profile boot, by BENCH_KERNEL: "bench"
# (default; configs/bench.config, built here if needed) or "test" (the test
# guest's kernel, lockdep and the other lock checks on). Sets the array
# BENCH_KERNEL_OPTS to guest-run.py's options for it.
bench_kernel() {
	case ${BENCH_KERNEL:-bench} in
	bench)
		"$TOP/scripts/build-variant.sh" bench
		BENCH_KERNEL_OPTS=(--kernel /cache/build-bench/arch/x86/boot/bzImage
			--modroot /cache/modroot-bench)
		;;
	test) BENCH_KERNEL_OPTS=() ;;
	*) die "BENCH_KERNEL must be bench or test" ;;
	esac
}

# Build QEMU's instruction counter (tests/insn-profile) for make bench and
# make profile, incrementally.
build_insn_counter() {
	log "building the instruction counter (tests/insn-profile)"
	"$TOP/scripts/inroot.sh" sh -c 'mkdir -p /cache/insn-profile &&
		make -s -C /src/tests/insn-profile O=/cache/insn-profile'
}

# Build the test exporter tests/dmabuf-mover as an external module of the
# kernel in O (its objects in MO, outside the checkout) and install it into
# the module root ROOT (before that root is moved in place).
build_mover() {	# O MO ROOT
	"$TOP/scripts/inroot.sh" sh -c "make -s -C /cache/tree O=$1 LLVM=1 W=1 \
		M=/src/tests/dmabuf-mover MO=$2 KCFLAGS=-Werror modules &&
		make -s -C /cache/tree O=$1 LLVM=1 M=/src/tests/dmabuf-mover MO=$2 \
		INSTALL_MOD_PATH=$3 modules_install >/dev/null"
}
