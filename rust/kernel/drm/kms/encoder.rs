// SPDX-License-Identifier: GPL-2.0 OR MIT

//! KMS encoders.
//!
//! Encoders without hardware of their own (virtual, or fully handled by the CRTC) need no
//! callbacks: the atomic helpers skip encoders without helper functions.
//!
//! C header: [`include/drm/drm_encoder.h`](srctree/include/drm/drm_encoder.h)

use super::{
    object::{
        EncoderObject,
        ModeObject, //
    },
    KmsBuilder,
    KmsDriver, //
};
use crate::{
    bindings,
    error::to_result,
    prelude::*, //
};
use core::{
    ffi::c_int,
    ops::Deref,
    ptr, //
};

/// The type of an encoder (`DRM_MODE_ENCODER_*`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum EncoderType {
    /// No encoder hardware (`DRM_MODE_ENCODER_NONE`).
    None,
    /// A DAC (`DRM_MODE_ENCODER_DAC`).
    Dac,
    /// A TMDS encoder, for DVI and HDMI (`DRM_MODE_ENCODER_TMDS`).
    Tmds,
    /// An LVDS encoder (`DRM_MODE_ENCODER_LVDS`).
    Lvds,
    /// A virtual encoder, e.g. of a paravirtualised GPU (`DRM_MODE_ENCODER_VIRTUAL`).
    Virtual,
    /// A DSI encoder (`DRM_MODE_ENCODER_DSI`).
    Dsi,
    /// A DPI encoder (`DRM_MODE_ENCODER_DPI`).
    Dpi,
}

impl EncoderType {
    fn as_raw(self) -> c_int {
        let raw = match self {
            Self::None => bindings::DRM_MODE_ENCODER_NONE,
            Self::Dac => bindings::DRM_MODE_ENCODER_DAC,
            Self::Tmds => bindings::DRM_MODE_ENCODER_TMDS,
            Self::Lvds => bindings::DRM_MODE_ENCODER_LVDS,
            Self::Virtual => bindings::DRM_MODE_ENCODER_VIRTUAL,
            Self::Dsi => bindings::DRM_MODE_ENCODER_DSI,
            Self::Dpi => bindings::DRM_MODE_ENCODER_DPI,
        };
        // The values are small constants.
        raw as c_int
    }
}

/// The driver's part of an encoder.
pub trait DriverEncoder: Send + Sync + Sized + 'static {
    /// The driver this encoder belongs to.
    type Driver: KmsDriver<Encoder = Self>;
}

/// An encoder of a driver whose encoder type is `T`.
///
/// # Invariants
///
/// - `self.0` is an encoder initialised by `drm_encoder_init()` with `Self::FUNCS`, on a device
///   of driver `T::Driver`.
/// - `self.0` was created by [`Encoder::new`] with [`ModeObject::create`]: it is valid (and
///   pinned) for as long as a reference to its device exists.
#[repr(transparent)]
pub struct Encoder<T: DriverEncoder>(ModeObject<EncoderObject, T>);

// SAFETY: The C part is protected by the DRM locks; the driver part is `Send + Sync`.
unsafe impl<T: DriverEncoder> Send for Encoder<T> {}

// SAFETY: See `Send`.
unsafe impl<T: DriverEncoder> Sync for Encoder<T> {}

impl<T: DriverEncoder> Encoder<T> {
    const FUNCS: bindings::drm_encoder_funcs = bindings::drm_encoder_funcs {
        destroy: Some(ModeObject::<EncoderObject, T>::destroy_callback),
        ..pin_init::zeroed()
    };

    pub(super) fn new<'a>(
        kms: &KmsBuilder<'a, T::Driver>,
        encoder_type: EncoderType,
        possible_crtcs: u32,
        data: impl PinInit<T, Error>,
    ) -> Result<&'a Self> {
        let dev = kms.as_raw();

        // `drm_mode_config_validate()` warns about encoders without CRTC.
        if possible_crtcs == 0 {
            return Err(EINVAL);
        }

        let init = |encoder: *mut bindings::drm_encoder| {
            // SAFETY:
            // - `dev` is a valid, unregistered device with an initialised mode configuration.
            // - `encoder` points to a zeroed `struct drm_encoder` that lives until its
            //   `destroy`.
            // - `FUNCS` is a promoted constant with a `destroy` callback.
            // - A NULL name format selects the default name.
            to_result(unsafe {
                bindings::drm_encoder_init(
                    dev,
                    encoder,
                    &Self::FUNCS,
                    encoder_type.as_raw(),
                    ptr::null(),
                )
            })?;
            // SAFETY: `encoder` is initialised and not registered yet. 0 `possible_clones` is
            // fixed up to the encoder itself at registration.
            unsafe { (*encoder).possible_crtcs = possible_crtcs };
            Ok(())
        };

        // SAFETY: `init` initialises the encoder with `FUNCS`, whose `destroy` is the object's,
        // on `dev`, which `kms` borrows for `'a`.
        let this = unsafe { ModeObject::<EncoderObject, T>::create(data, init) }?;

        // SAFETY: `Self` is a transparent wrapper of the object.
        // INVARIANT: Initialised above with `FUNCS`, by `ModeObject::create`.
        Ok(unsafe { &*ptr::from_ref(this).cast::<Self>() })
    }

    /// Returns the raw `struct drm_encoder`.
    pub fn as_raw(&self) -> *mut bindings::drm_encoder {
        self.0.as_raw()
    }

    /// Returns the encoder's index (`drm_encoder_index()`).
    pub fn index(&self) -> u32 {
        // SAFETY: `index` is set at initialisation and never changes.
        unsafe { (*self.as_raw()).index }
    }
}

impl<T: DriverEncoder> Deref for Encoder<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}
