# SPDX-License-Identifier: GPL-2.0
#
# weston: weston's DRM backend (pixman renderer) runs its desktop on the
# driver's output, then a client (weston-simple-shm) draws into a window. The
# host checks the desktop's colours (tests/weston/weston.ini) in the screendump.

card=$(basename "$(drm_test_card)") || exit 1
# The desktop is drawn shortly after the socket appears.
weston_desktop 5 --backend=drm --drm-device="$card" --renderer=pixman
pass "weston ran on $card"
