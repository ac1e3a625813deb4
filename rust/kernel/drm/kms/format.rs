// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Pixel formats.
//!
//! The fourcc codes are function-like macros on the C side, which bindgen does not expand: the
//! ones drivers need are defined here.
//!
//! C headers: [`include/uapi/drm/drm_fourcc.h`](srctree/include/uapi/drm/drm_fourcc.h),
//! [`include/drm/drm_fourcc.h`](srctree/include/drm/drm_fourcc.h)

use crate::{
    bindings,
    types::Opaque, //
};

/// Builds a fourcc code (`fourcc_code()`).
///
/// # Examples
///
/// ```
/// use kernel::drm::kms::format::{fourcc, XRGB8888};
///
/// assert_eq!(fourcc(b'X', b'R', b'2', b'4'), XRGB8888);
/// assert_eq!(XRGB8888, 0x3432_5258);
/// ```
pub const fn fourcc(a: u8, b: u8, c: u8, d: u8) -> u32 {
    (a as u32) | (b as u32) << 8 | (c as u32) << 16 | (d as u32) << 24
}

/// `[31:0] x:R:G:B 8:8:8:8` little endian (`DRM_FORMAT_XRGB8888`).
pub const XRGB8888: u32 = fourcc(b'X', b'R', b'2', b'4');
/// `[31:0] A:R:G:B 8:8:8:8` little endian (`DRM_FORMAT_ARGB8888`).
pub const ARGB8888: u32 = fourcc(b'A', b'R', b'2', b'4');
/// `[31:0] B:G:R:x 8:8:8:8` little endian (`DRM_FORMAT_BGRX8888`).
pub const BGRX8888: u32 = fourcc(b'B', b'X', b'2', b'4');
/// `[31:0] B:G:R:A 8:8:8:8` little endian (`DRM_FORMAT_BGRA8888`).
pub const BGRA8888: u32 = fourcc(b'B', b'A', b'2', b'4');

/// 32-bit xRGB in host byte order (`DRM_FORMAT_HOST_XRGB8888`).
#[cfg(target_endian = "little")]
pub const HOST_XRGB8888: u32 = XRGB8888;
/// 32-bit ARGB in host byte order (`DRM_FORMAT_HOST_ARGB8888`).
#[cfg(target_endian = "little")]
pub const HOST_ARGB8888: u32 = ARGB8888;
/// 32-bit xRGB in host byte order (`DRM_FORMAT_HOST_XRGB8888`).
#[cfg(target_endian = "big")]
pub const HOST_XRGB8888: u32 = BGRX8888;
/// 32-bit ARGB in host byte order (`DRM_FORMAT_HOST_ARGB8888`).
#[cfg(target_endian = "big")]
pub const HOST_ARGB8888: u32 = BGRA8888;

/// The linear layout modifier (`DRM_FORMAT_MOD_LINEAR`).
pub const FORMAT_MOD_LINEAR: u64 = 0;
/// The invalid modifier, which ends modifier lists (`DRM_FORMAT_MOD_INVALID`).
pub const FORMAT_MOD_INVALID: u64 = (1 << 56) - 1;

/// The description of a pixel format (`struct drm_format_info`).
///
/// # Invariants
///
/// `self.0` is one of the kernel's constant format descriptions.
#[repr(transparent)]
pub struct FormatInfo(Opaque<bindings::drm_format_info>);

impl FormatInfo {
    /// # Safety
    ///
    /// `ptr` must point to a valid `struct drm_format_info` that lives for `'a` (the kernel's
    /// format descriptions are static).
    pub(crate) unsafe fn from_raw<'a>(ptr: *const bindings::drm_format_info) -> &'a Self {
        // SAFETY: `FormatInfo` is a transparent wrapper; by the safety requirements.
        unsafe { &*ptr.cast() }
    }

    fn raw(&self) -> &bindings::drm_format_info {
        // SAFETY: Format descriptions are constant (type invariant).
        unsafe { &*self.0.get() }
    }

    /// Returns the fourcc code.
    pub fn format(&self) -> u32 {
        self.raw().format
    }

    /// Returns the number of color planes (1 to 4).
    pub fn num_planes(&self) -> usize {
        self.raw().num_planes.into()
    }

    /// Returns the bytes per pixel of color plane `plane` (0 for block formats).
    pub fn cpp(&self, plane: usize) -> u8 {
        // SAFETY: Reading the `cpp` view of a union of two `u8` arrays of the same size.
        let cpp = unsafe { self.raw().__bindgen_anon_1.cpp };
        cpp.get(plane).copied().unwrap_or(0)
    }

    /// Returns whether the format has an alpha channel.
    pub fn has_alpha(&self) -> bool {
        self.raw().has_alpha
    }
}
