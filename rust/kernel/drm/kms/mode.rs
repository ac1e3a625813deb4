// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Display modes.
//!
//! C header: [`include/drm/drm_modes.h`](srctree/include/drm/drm_modes.h)

use crate::{
    bindings,
    types::Opaque, //
};

/// The result of a mode validation (`enum drm_mode_status`).
///
/// A newtype enum in the bindings (with its CFI encoding), as it is the return type of indirect
/// calls.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ModeStatus(bindings::drm_mode_status);

impl ModeStatus {
    /// The mode is usable (`MODE_OK`).
    pub const OK: Self = Self(bindings::drm_mode_status::MODE_OK);
    /// Unspecified reason (`MODE_BAD`).
    pub const BAD: Self = Self(bindings::drm_mode_status::MODE_BAD);
    /// Too wide (`MODE_VIRTUAL_X`).
    pub const VIRTUAL_X: Self = Self(bindings::drm_mode_status::MODE_VIRTUAL_X);
    /// Too tall (`MODE_VIRTUAL_Y`).
    pub const VIRTUAL_Y: Self = Self(bindings::drm_mode_status::MODE_VIRTUAL_Y);
    /// Not enough memory for the mode (`MODE_MEM`).
    pub const MEM: Self = Self(bindings::drm_mode_status::MODE_MEM);
    /// The pixel clock is too high (`MODE_CLOCK_HIGH`).
    pub const CLOCK_HIGH: Self = Self(bindings::drm_mode_status::MODE_CLOCK_HIGH);
    /// The pixel clock is too low (`MODE_CLOCK_LOW`).
    pub const CLOCK_LOW: Self = Self(bindings::drm_mode_status::MODE_CLOCK_LOW);
    /// Not the panel's (or host window's) fixed mode (`MODE_PANEL`).
    pub const PANEL: Self = Self(bindings::drm_mode_status::MODE_PANEL);

    pub(crate) fn into_raw(self) -> bindings::drm_mode_status {
        self.0
    }
}

/// A display mode (`struct drm_display_mode`).
///
/// # Examples
///
/// ```
/// use kernel::drm::kms::DisplayMode;
///
/// /// The pixels scanned out per frame, blanking included, if they fit in 32 bits.
/// fn frame_size(mode: &DisplayMode) -> Option<u32> {
///     u32::from(mode.htotal()).checked_mul(u32::from(mode.vtotal()))
/// }
/// ```
///
/// # Invariants
///
/// `self.0` is a valid mode that does not change while it is borrowed.
#[repr(transparent)]
pub struct DisplayMode(Opaque<bindings::drm_display_mode>);

impl DisplayMode {
    /// # Safety
    ///
    /// `ptr` must be a valid mode that does not change during `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *const bindings::drm_display_mode) -> &'a Self {
        // SAFETY: `DisplayMode` is a transparent wrapper; by the safety requirements.
        unsafe { &*ptr.cast() }
    }

    /// Returns the raw `struct drm_display_mode`.
    pub fn as_raw(&self) -> *mut bindings::drm_display_mode {
        self.0.get()
    }

    fn raw(&self) -> &bindings::drm_display_mode {
        // SAFETY: The mode does not change while borrowed (type invariant). Modes are not
        // refcounted; `head` is only changed by their owner, which does not do so while the mode
        // is lent out.
        unsafe { &*self.as_raw() }
    }

    /// Returns the visible width in pixels.
    pub fn hdisplay(&self) -> u16 {
        self.raw().hdisplay
    }

    /// Returns the visible height in lines.
    pub fn vdisplay(&self) -> u16 {
        self.raw().vdisplay
    }

    /// Returns the total width in pixels, blanking included.
    pub fn htotal(&self) -> u16 {
        self.raw().htotal
    }

    /// Returns the total height in lines, blanking included.
    pub fn vtotal(&self) -> u16 {
        self.raw().vtotal
    }

    /// Returns how often each line is scanned out (0 or 1 for once).
    pub fn vscan(&self) -> u16 {
        self.raw().vscan
    }

    /// Returns whether the mode is interlaced (`DRM_MODE_FLAG_INTERLACE`).
    pub fn is_interlaced(&self) -> bool {
        self.flags() & bindings::DRM_MODE_FLAG_INTERLACE != 0
    }

    /// Returns whether each line is scanned out twice (`DRM_MODE_FLAG_DBLSCAN`).
    pub fn is_doublescan(&self) -> bool {
        self.flags() & bindings::DRM_MODE_FLAG_DBLSCAN != 0
    }

    /// Returns the pixel clock in kHz.
    pub fn clock(&self) -> i32 {
        self.raw().clock
    }

    /// Returns the refresh rate in Hz (`drm_mode_vrefresh()`).
    pub fn vrefresh(&self) -> i32 {
        // SAFETY: `self.as_raw()` is a valid mode.
        unsafe { bindings::drm_mode_vrefresh(self.as_raw()) }
    }

    /// Returns whether the mode is marked preferred (`DRM_MODE_TYPE_PREFERRED`).
    pub fn is_preferred(&self) -> bool {
        u32::from(self.raw().type_) & bindings::DRM_MODE_TYPE_PREFERRED != 0
    }

    /// Returns the mode's flags (`DRM_MODE_FLAG_*`).
    pub fn flags(&self) -> u32 {
        self.raw().flags
    }
}
