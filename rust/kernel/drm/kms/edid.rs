// SPDX-License-Identifier: GPL-2.0 OR MIT

//! EDIDs (`struct drm_edid`).
//!
//! An [`Edid`] owns a copy of an EDID. Updating a connector with it
//! ([`ConnectorProbe::update_edid`](super::ConnectorProbe::update_edid)) copies it again into
//! the connector's `EDID` property and display info: the driver decides how long it keeps its
//! own copy (e.g. cached in its connector data until the next hotplug), and drops it when it
//! likes.
//!
//! C header: [`include/drm/drm_edid.h`](srctree/include/drm/drm_edid.h)

use crate::{
    bindings,
    prelude::*, //
};
use core::ptr::NonNull;

/// An EDID.
///
/// # Invariants
///
/// `self.0` was returned by `drm_edid_alloc()` or `drm_edid_dup()`, is owned by `self` and
/// passed `drm_edid_valid()`. It is never modified.
pub struct Edid(NonNull<bindings::drm_edid>);

// SAFETY: An `Edid` is an immutable heap allocation that can be freed from any thread.
unsafe impl Send for Edid {}

// SAFETY: An `Edid` is immutable.
unsafe impl Sync for Edid {}

impl Edid {
    /// Copies a raw EDID (the base block and its extensions, `data.len()` bytes).
    ///
    /// Fails with [`EINVAL`] if `data` is not a valid EDID (shorter than a block, bad header or
    /// checksum), with [`ENOMEM`] if the copy cannot be allocated.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::drm::kms::Edid;
    ///
    /// // Too short to hold the base block.
    /// assert_eq!(Edid::from_bytes(&[0; 16]).err(), Some(EINVAL));
    /// // A block without the EDID header.
    /// assert_eq!(Edid::from_bytes(&[0xa5; 128]).err(), Some(EINVAL));
    /// ```
    pub fn from_bytes(data: &[u8]) -> Result<Self> {
        if data.len() < 128 {
            return Err(EINVAL);
        }

        // SAFETY: `data` is valid for `data.len()` bytes; the function copies them.
        let raw = unsafe { bindings::drm_edid_alloc(data.as_ptr().cast(), data.len()) };
        let raw = NonNull::new(raw.cast_mut()).ok_or(ENOMEM)?;

        // SAFETY: `raw` is a valid `struct drm_edid`.
        if !unsafe { bindings::drm_edid_valid(raw.as_ptr()) } {
            // SAFETY: `raw` was returned by `drm_edid_alloc()` and is not used afterwards.
            unsafe { bindings::drm_edid_free(raw.as_ptr()) };
            return Err(EINVAL);
        }

        // INVARIANT: `raw` was allocated above, is owned and valid.
        Ok(Self(raw))
    }

    /// Returns another copy of the EDID (`drm_edid_dup()`).
    pub fn try_clone(&self) -> Result<Self> {
        // SAFETY: `self.0` is a valid `struct drm_edid`.
        let raw = unsafe { bindings::drm_edid_dup(self.as_raw()) };
        // INVARIANT: A copy of a valid EDID is valid and owned by the new `Edid`.
        Ok(Self(NonNull::new(raw.cast_mut()).ok_or(ENOMEM)?))
    }

    /// Returns the raw `struct drm_edid`.
    pub fn as_raw(&self) -> *const bindings::drm_edid {
        self.0.as_ptr()
    }
}

impl Drop for Edid {
    fn drop(&mut self) {
        // SAFETY: `self.0` is owned by `self` (type invariant) and not used afterwards.
        unsafe { bindings::drm_edid_free(self.0.as_ptr()) };
    }
}
