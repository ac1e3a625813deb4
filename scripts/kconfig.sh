#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# (Inside the root.) Make $O/.config from the kernel's tiny configs and the
# project's fragments, when any input changed, and check that every requested
# option ended up as requested. Arguments: the build directory (default
# /cache/build), then extra fragments (the sanitizer variant's).

set -euo pipefail
T=/cache/tree
O=${1:-/cache/build}
frags=(/src/configs/guest.config /src/configs/virtio_rs.config "${@:2}")
export LLVM=1 ARCH=x86_64

mkdir -p "$O"
stamp=$O/.virtio-rs-config
want=$(cat "${frags[@]}" "$T"/drivers/gpu/drm/virtio_rs.Kconfig \
	$(find "$T/drivers/gpu/drm/virtio_rs" "$T/rust" -name Kconfig 2>/dev/null | sort) |
	sha256sum | cut -d' ' -f1)
if [ -f "$O/.config" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
	exit 0
fi

echo "[virtio_rs] configuring the kernel" >&2
(cd "$T" && scripts/kconfig/merge_config.sh -n -O "$O" \
	kernel/configs/tiny-base.config kernel/configs/tiny.config \
	arch/x86/configs/tiny.config "${frags[@]}" > "$O/merge_config.log" 2>&1) ||
	{ cat "$O/merge_config.log" >&2; exit 1; }

# What each option should end up as: a later fragment overrides an earlier
# one (the variants turn some of the guest's debugging off).
declare -A wanted=()
order=()
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*) sym=${line%%=*} ;;
	"# CONFIG_"*" is not set") sym=${line#\# }; sym=${sym%% *} ;;
	*) continue ;;
	esac
	[ -n "${wanted[$sym]+set}" ] || order+=("$sym")
	wanted[$sym]=$line
done < <(cat "${frags[@]}")

bad=0
for sym in "${order[@]}"; do
	line=${wanted[$sym]}
	case "$line" in
	CONFIG_*=*)
		grep -qxF -- "$line" "$O/.config" || {
			echo "[virtio_rs] config: wanted '$line', got '$(grep -E "^(# )?$sym[= ]" "$O/.config" || echo unset)'" >&2
			bad=1
		} ;;
	*)
		grep -qE "^$sym=" "$O/.config" && {
			echo "[virtio_rs] config: wanted $sym unset, got it set" >&2
			bad=1
		} ;;
	esac
done
[ $bad = 0 ] || { echo "[virtio_rs] error: the kernel config lacks requested options" >&2; exit 1; }
echo "$want" > "$stamp"
