// SPDX-License-Identifier: GPL-2.0 OR MIT

//! KMS encoders.
//!
//! Encoders without hardware of their own (virtual, or fully handled by the CRTC) need no
//! callbacks: the atomic helpers skip encoders without helper functions.
//!
//! C header: [`include/drm/drm_encoder.h`](srctree/include/drm/drm_encoder.h)

use super::{
    KmsBuilder,
    KmsDriver, //
};
use crate::{
    bindings,
    error::to_result,
    prelude::*,
    types::Opaque, //
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
/// - `self.encoder` is a `struct drm_encoder` initialised by `drm_encoder_init()` with
///   `Self::FUNCS`, on a device of driver `T::Driver`.
/// - `self` was allocated by [`KBox`] in [`Encoder::new`] and is owned by the C side: it is freed
///   by the `destroy` callback, which `drm_mode_config_cleanup()` calls when the device is
///   released.
#[repr(C)]
#[pin_data]
pub struct Encoder<T: DriverEncoder> {
    encoder: Opaque<bindings::drm_encoder>,
    #[pin]
    inner: T,
}

// SAFETY: The C part is protected by the DRM locks; the driver part is `Send + Sync`.
unsafe impl<T: DriverEncoder> Send for Encoder<T> {}

// SAFETY: See `Send`.
unsafe impl<T: DriverEncoder> Sync for Encoder<T> {}

impl<T: DriverEncoder> Encoder<T> {
    const FUNCS: bindings::drm_encoder_funcs = bindings::drm_encoder_funcs {
        destroy: Some(Self::destroy_callback),
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

        let this = KBox::pin_init(
            try_pin_init!(Self {
                encoder: Opaque::zeroed(),
                inner <- data,
            }),
            GFP_KERNEL,
        )?;

        // SAFETY: `this` is never moved out of its allocation, which the C side owns from now on.
        let this = KBox::into_raw(unsafe { Pin::into_inner_unchecked(this) });

        // SAFETY: `this` is valid.
        let encoder = unsafe { Opaque::cast_into(&raw const (*this).encoder) };

        // SAFETY:
        // - `dev` is a valid, unregistered device with an initialised mode configuration.
        // - `encoder` points to a zeroed `struct drm_encoder` that lives until
        //   `destroy_callback()`.
        // - `FUNCS` is a promoted constant with a `destroy` callback.
        // - A NULL name format selects the default name.
        let ret = unsafe {
            bindings::drm_encoder_init(
                dev,
                encoder,
                &Self::FUNCS,
                encoder_type.as_raw(),
                ptr::null(),
            )
        };
        if let Err(e) = to_result(ret) {
            // An encoder is added to the device's list last: a failed one is not referenced.
            //
            // SAFETY: `encoder` is valid; `head` was zeroed and is only set by `list_add_tail()`.
            if unsafe { (*encoder).head.next.is_null() } {
                // SAFETY: `this` came from `KBox::into_raw()` and nothing refers to it.
                drop(unsafe { KBox::from_raw(this) });
            }
            return Err(e);
        }

        // SAFETY: `encoder` is initialised and not registered yet. 0 `possible_clones` is
        // fixed up to the encoder itself at registration.
        unsafe { (*encoder).possible_crtcs = possible_crtcs };

        // SAFETY: `this` is valid until the device is released, which cannot happen during `'a`.
        Ok(unsafe { &*this })
    }

    /// Returns the raw `struct drm_encoder`.
    pub fn as_raw(&self) -> *mut bindings::drm_encoder {
        self.encoder.get()
    }

    /// Returns the encoder's index (`drm_encoder_index()`).
    pub fn index(&self) -> u32 {
        // SAFETY: `index` is set at initialisation and never changes.
        unsafe { (*self.as_raw()).index }
    }

    extern "C" fn destroy_callback(encoder: *mut bindings::drm_encoder) {
        // SAFETY: `destroy` is only called on encoders with `Self::FUNCS`, once, when nothing
        // refers to them any more.
        let this = unsafe { crate::container_of!(Opaque::cast_from(encoder), Self, encoder) };

        // SAFETY: `encoder` is initialised.
        unsafe { bindings::drm_encoder_cleanup(encoder) };

        // SAFETY: `this` came from `KBox::into_raw()` in `Encoder::new()`.
        drop(unsafe { KBox::from_raw(this.cast_mut()) });
    }
}

impl<T: DriverEncoder> Deref for Encoder<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner
    }
}
