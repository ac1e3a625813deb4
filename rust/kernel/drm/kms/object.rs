// SPDX-License-Identifier: GPL-2.0 OR MIT

//! The memory of KMS objects (CRTCs, planes, encoders, connectors): one implementation of their
//! allocation, failed initialisation and destruction for the four kinds.
//!
//! A Rust KMS object is a [`ModeObject<K, T>`]: the C object of kind `K` ([`ObjectKind`])
//! followed by the driver's data `T`. It is allocated by Rust and handed to the C side, which
//! owns it from then on: the C object's `destroy` callback, [`ModeObject::destroy_callback`],
//! called by `drm_mode_config_cleanup()` when the DRM device is released, frees it. The public
//! object types ([`super::Crtc`], [`super::Plane`], [`super::Encoder`], [`super::Connector`])
//! wrap it.

use crate::{
    bindings,
    prelude::*,
    types::Opaque, //
};
use core::ops::Deref;

/// A kind of KMS object, as its initialisation and cleanup functions see it.
///
/// # Safety
///
/// `Raw` must be the C object type of one kind of KMS object, and the functions must behave as
/// documented here.
pub(crate) unsafe trait ObjectKind: 'static {
    /// The C object (`struct drm_crtc`, ...).
    type Raw;

    /// Releases what an initialised object holds (`drm_crtc_cleanup()`, ...), including its
    /// current state.
    ///
    /// # Safety
    ///
    /// `raw` must be an initialised object that nothing refers to any more.
    unsafe fn cleanup(raw: *mut Self::Raw);

    /// Returns whether a zeroed object whose initialisation failed was nevertheless added to
    /// its device's list, in which case `drm_mode_config_cleanup()` destroys it. (Connectors
    /// initialise their `head` as an empty list before they are listed.)
    ///
    /// # Safety
    ///
    /// `raw` must be valid, zeroed before its initialisation was tried.
    unsafe fn is_listed(raw: *const Self::Raw) -> bool;
}

macro_rules! object_kind {
    ($(#[$doc:meta])* $kind:ident, $raw:ident, [$($cleanup:ident),+]) => {
        $(#[$doc])*
        pub(crate) enum $kind {}

        // SAFETY: `$raw` is the C object of one kind; `cleanup` releases an initialised one;
        // the device's list links it through `head`, which is zero or an empty list until
        // `list_add_tail()` adds the object.
        unsafe impl ObjectKind for $kind {
            type Raw = bindings::$raw;

            unsafe fn cleanup(raw: *mut Self::Raw) {
                // SAFETY: By the safety requirements.
                unsafe { $(bindings::$cleanup(raw);)+ }
            }

            unsafe fn is_listed(raw: *const Self::Raw) -> bool {
                // SAFETY: `raw` is valid (safety requirements).
                let (head, next) = unsafe { (&raw const (*raw).head, (*raw).head.next) };
                !next.is_null() && next.cast_const() != head
            }
        }
    };
}

object_kind!(
    /// CRTCs.
    CrtcObject,
    drm_crtc,
    [drm_crtc_cleanup]
);

object_kind!(
    /// Planes.
    PlaneObject,
    drm_plane,
    [drm_plane_cleanup]
);

object_kind!(
    /// Encoders.
    EncoderObject,
    drm_encoder,
    [drm_encoder_cleanup]
);

object_kind!(
    /// Connectors. Unregistering is a no-op for an unregistered connector;
    /// `drm_connector_cleanup()` warns about registered ones.
    ConnectorObject,
    drm_connector,
    [drm_connector_unregister, drm_connector_cleanup]
);

/// A KMS object of kind `K` with the driver's data `T`.
///
/// # Invariants
///
/// - `raw` was initialised by the initialisation function given to [`ModeObject::create`],
///   with functions whose `destroy` callback is [`ModeObject::destroy_callback`].
/// - `self` was allocated by [`KBox`] in [`ModeObject::create`] and is owned by the C side: it
///   is freed by `destroy_callback()`, which `drm_mode_config_cleanup()` calls when the device
///   is released. It is valid (and pinned) for as long as a reference to its device exists.
#[repr(C)]
#[pin_data]
pub(crate) struct ModeObject<K: ObjectKind, T> {
    raw: Opaque<K::Raw>,
    #[pin]
    inner: T,
}

impl<K: ObjectKind, T> ModeObject<K, T> {
    /// Allocates an object with `data` and a zeroed C part, and initialises the C part with
    /// `init`. On failure, the object is freed unless `init` added it to the device's list (then
    /// the device frees it when it is released).
    ///
    /// # Safety
    ///
    /// `init` must initialise the object it is given with functions whose `destroy` callback is
    /// [`Self::destroy_callback`], on a device that outlives `'a`; on success the object belongs
    /// to that device.
    pub(crate) unsafe fn create<'a>(
        data: impl PinInit<T, Error>,
        init: impl FnOnce(*mut K::Raw) -> Result,
    ) -> Result<&'a Self> {
        let this = KBox::pin_init(
            try_pin_init!(Self {
                raw: Opaque::zeroed(),
                inner <- data,
            }),
            GFP_KERNEL,
        )?;

        // SAFETY: `this` is never moved out of its allocation, which the C side owns from now
        // on (type invariant).
        let this = KBox::into_raw(unsafe { Pin::into_inner_unchecked(this) });

        // SAFETY: `this` is valid.
        let raw = unsafe { Opaque::cast_into(&raw const (*this).raw) };

        if let Err(e) = init(raw) {
            // SAFETY: `raw` is valid and was zeroed before `init`.
            if !unsafe { K::is_listed(raw) } {
                // SAFETY: `this` came from `KBox::into_raw()` above and nothing refers to it.
                drop(unsafe { KBox::from_raw(this) });
            }
            return Err(e);
        }

        // INVARIANT: `init` initialised the object with `destroy_callback()` as its `destroy`
        // (safety requirements); it belongs to the device.
        //
        // SAFETY: `this` is valid until the device is released, which does not happen during
        // `'a` (safety requirements).
        Ok(unsafe { &*this })
    }

    /// Returns the C object.
    pub(crate) fn as_raw(&self) -> *mut K::Raw {
        self.raw.get()
    }

    /// # Safety
    ///
    /// `ptr` must be the C part of a live `ModeObject<K, T>`, which must stay alive for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *const K::Raw) -> &'a Self {
        // SAFETY: By the safety requirements `ptr` is the `raw` field of a `ModeObject<K, T>`.
        unsafe { &*crate::container_of!(Opaque::cast_from(ptr), Self, raw) }
    }

    /// The C object's `destroy` callback.
    ///
    /// Only installed in the functions of objects created by [`Self::create`]; the C side calls
    /// it once, when nothing else refers to the object.
    pub(crate) extern "C" fn destroy_callback(raw: *mut K::Raw) {
        // SAFETY: By the above, `raw` is the C part of a `ModeObject<K, T>`.
        let this = unsafe { crate::container_of!(Opaque::cast_from(raw), Self, raw) };

        // SAFETY: `raw` is initialised (type invariant) and nothing refers to it any more.
        unsafe { K::cleanup(raw) };

        // SAFETY: `this` came from `KBox::into_raw()` in `create()` (type invariant).
        drop(unsafe { KBox::from_raw(this.cast_mut()) });
    }
}

impl<K: ObjectKind, T> Deref for ModeObject<K, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner
    }
}
