// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Atomic states of CRTCs, planes and connectors: one implementation of their allocation,
//! duplication and destruction for the three kinds.
//!
//! The state of a Rust KMS object is a [`State<K, D>`]: the C state of kind `K` ([`StateKind`])
//! followed by Rust data `D` ([`StateData`]). The public state types ([`super::CrtcState`],
//! [`super::PlaneState`], [`super::ConnectorState`]) wrap it, and the objects'
//! `atomic_create_state`, `atomic_duplicate_state` and `atomic_destroy_state` callbacks are its
//! [`create_callback`](State::create_callback), [`duplicate_callback`](State::duplicate_callback)
//! and [`destroy_callback`](State::destroy_callback), monomorphised per object type. What a kind
//! keeps beside the driver's data (a plane's framebuffer preparation) is part of its `D`.
//!
//! C header:
//! [`include/drm/drm_atomic_state_helper.h`](srctree/include/drm/drm_atomic_state_helper.h)

use crate::{
    bindings,
    prelude::*,
    types::Opaque, //
};
use core::ptr;

/// A kind of KMS object with atomic state, as the atomic state helpers see it.
///
/// # Safety
///
/// `Object` and `Raw` must be the C object and state types of one kind of KMS object, and the
/// functions must call that kind's atomic state helpers, with the contracts documented here.
pub(crate) unsafe trait StateKind: 'static {
    /// The C object (`struct drm_crtc`, ...).
    type Object;
    /// The C state (`struct drm_crtc_state`, ...).
    type Raw;

    /// Initialises `state` as the first state of `object` (`__drm_atomic_helper_*_state_init()`).
    ///
    /// # Safety
    ///
    /// `state` must be zeroed and `object` a valid, initialised object.
    unsafe fn init(state: *mut Self::Raw, object: *mut Self::Object);

    /// Initialises `state` as a copy of the current state of `object`, taking references on what
    /// it refers to (`__drm_atomic_helper_*_duplicate_state()`).
    ///
    /// # Safety
    ///
    /// `state` must be zeroed and `object` a valid object with a current state, whose lock the
    /// caller holds.
    unsafe fn duplicate(object: *mut Self::Object, state: *mut Self::Raw);

    /// Drops the references `state` holds (`__drm_atomic_helper_*_destroy_state()`).
    ///
    /// # Safety
    ///
    /// `state` must be an initialised state that nothing refers to any more.
    unsafe fn destroy(state: *mut Self::Raw);

    /// Returns the current state of `object` (`object->state`), or null.
    ///
    /// # Safety
    ///
    /// `object` must be valid, and its lock held by the caller.
    unsafe fn current(object: *mut Self::Object) -> *mut Self::Raw;
}

macro_rules! state_kind {
    (
        $(#[$doc:meta])*
        $kind:ident, $object:ident, $raw:ident, $init:ident, $dup:ident, $destroy:ident
    ) => {
        $(#[$doc])*
        pub(crate) enum $kind {}

        // SAFETY: `$object` and `$raw` are the C object and state of one kind, and the functions
        // are its atomic state helpers.
        unsafe impl StateKind for $kind {
            type Object = bindings::$object;
            type Raw = bindings::$raw;

            unsafe fn init(state: *mut Self::Raw, object: *mut Self::Object) {
                // SAFETY: By the safety requirements.
                unsafe { bindings::$init(state, object) }
            }

            unsafe fn duplicate(object: *mut Self::Object, state: *mut Self::Raw) {
                // SAFETY: By the safety requirements.
                unsafe { bindings::$dup(object, state) }
            }

            unsafe fn destroy(state: *mut Self::Raw) {
                // SAFETY: By the safety requirements.
                unsafe { bindings::$destroy(state) }
            }

            unsafe fn current(object: *mut Self::Object) -> *mut Self::Raw {
                // SAFETY: `object` is valid; its lock is held (safety requirements).
                unsafe { (*object).state }
            }
        }
    };
}

state_kind!(
    /// The states of CRTCs (`struct drm_crtc_state`).
    CrtcKind,
    drm_crtc,
    drm_crtc_state,
    __drm_atomic_helper_crtc_state_init,
    __drm_atomic_helper_crtc_duplicate_state,
    __drm_atomic_helper_crtc_destroy_state
);

state_kind!(
    /// The states of planes (`struct drm_plane_state`); they hold a framebuffer reference.
    PlaneKind,
    drm_plane,
    drm_plane_state,
    __drm_atomic_helper_plane_state_init,
    __drm_atomic_helper_plane_duplicate_state,
    __drm_atomic_helper_plane_destroy_state
);

state_kind!(
    /// The states of connectors (`struct drm_connector_state`); they hold a connector reference.
    ConnectorKind,
    drm_connector,
    drm_connector_state,
    __drm_atomic_helper_connector_state_init,
    __drm_atomic_helper_connector_duplicate_state,
    __drm_atomic_helper_connector_destroy_state
);

/// The Rust data of an atomic state.
pub(crate) trait StateData: Sized + Send + 'static {
    /// The data of an object's first state.
    fn first() -> Self;

    /// The data of a state duplicated from the current state, whose data is `current`, for a
    /// new commit.
    fn duplicated(current: &Self) -> Self;

    /// Called when the state is destroyed, before the C state drops its references: releases
    /// what may depend on them.
    fn release(&mut self) {}
}

/// The driver's data of a state: the default in an object's first state, a clone of the
/// current state's in a duplicated one.
pub(crate) struct DriverData<S>(pub(crate) S);

impl<S: Clone + Default + Send + 'static> StateData for DriverData<S> {
    fn first() -> Self {
        Self(S::default())
    }

    fn duplicated(current: &Self) -> Self {
        Self(current.0.clone())
    }
}

/// An atomic state of kind `K` with the Rust data `D`.
///
/// # Invariants
///
/// - `raw` is a state of kind `K`, initialised by [`StateKind::init`] or
///   [`StateKind::duplicate`], of an object all of whose states are `State<K, D>`.
/// - `self` was allocated by [`KBox`] in [`State::create_callback`] or
///   [`State::duplicate_callback`] and is freed by [`State::destroy_callback`].
#[repr(C)]
pub(crate) struct State<K: StateKind, D: StateData> {
    raw: Opaque<K::Raw>,
    data: D,
}

// SAFETY: The C part is only written by the atomic helpers under their locking and commit
// ordering rules; the Rust data is `Send`.
unsafe impl<K: StateKind, D: StateData> Send for State<K, D> {}

// SAFETY: Shared references read the C part, which the atomic helpers do not write while a state
// is shared (a state is written only while it is private to the commit being checked), and
// the Rust data, which is `Sync`.
unsafe impl<K: StateKind, D: StateData + Sync> Sync for State<K, D> {}

impl<K: StateKind, D: StateData> State<K, D> {
    /// Returns the C state.
    pub(crate) fn as_raw(&self) -> *mut K::Raw {
        self.raw.get()
    }

    /// Returns the Rust data.
    pub(crate) fn data(&self) -> &D {
        &self.data
    }

    /// Returns the Rust data.
    pub(crate) fn data_mut(&mut self) -> &mut D {
        &mut self.data
    }

    fn container_ptr(state: *mut K::Raw) -> *mut Self {
        // SAFETY: Only computes an address; the callers guarantee that `state` is the `raw`
        // field of a `State<K, D>`.
        unsafe { crate::container_of!(Opaque::cast_from(state), Self, raw) }.cast_mut()
    }

    /// # Safety
    ///
    /// `ptr` must be the C part of a `State<K, D>` valid for `'a`, whose Rust data is not
    /// mutated during `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *const K::Raw) -> &'a Self {
        // SAFETY: By the safety requirements.
        unsafe { &*Self::container_ptr(ptr.cast_mut()) }
    }

    /// # Safety
    ///
    /// `ptr` must be the C part of a `State<K, D>` valid for `'a`, to which no other reference
    /// exists during `'a`.
    pub(crate) unsafe fn from_raw_mut<'a>(ptr: *mut K::Raw) -> &'a mut Self {
        // SAFETY: By the safety requirements.
        unsafe { &mut *Self::container_ptr(ptr) }
    }

    /// Allocates a state with a zeroed C part; returns it and its C part.
    fn alloc(data: D) -> Option<(*mut Self, *mut K::Raw)> {
        let new = KBox::new(
            Self {
                raw: Opaque::zeroed(),
                data,
            },
            GFP_KERNEL,
        )
        .ok()?;
        let new = KBox::into_raw(new);

        // SAFETY: `new` is valid.
        let raw = unsafe { Opaque::cast_into(&raw const (*new).raw) };
        Some((new, raw))
    }

    /// The `atomic_create_state` callback: the first state of `object`.
    ///
    /// Only installed in the functions of objects of kind `K` all of whose states are
    /// `State<K, D>`.
    pub(crate) extern "C" fn create_callback(object: *mut K::Object) -> *mut K::Raw {
        let Some((_, raw)) = Self::alloc(D::first()) else {
            return ENOMEM.to_ptr();
        };

        // SAFETY: `raw` is zeroed; the helpers call this with a valid, initialised object.
        // INVARIANT: The state is initialised and owned by the caller, who destroys it through
        // `destroy_callback()`.
        unsafe { K::init(raw, object) };
        raw
    }

    /// The `atomic_duplicate_state` callback: a copy of the current state of `object`, for a
    /// new commit.
    ///
    /// Only installed as [`State::create_callback`] is.
    pub(crate) extern "C" fn duplicate_callback(object: *mut K::Object) -> *mut K::Raw {
        // SAFETY: The helpers duplicate the current state of a valid object with its lock held.
        let current = unsafe { K::current(object) };
        if current.is_null() {
            return ptr::null_mut();
        }

        // SAFETY: All states of the object are `State<K, D>` (see above); the current state's
        // data is not mutated any more (it was checked).
        let current = unsafe { Self::from_raw(current) };

        let Some((_, raw)) = Self::alloc(D::duplicated(&current.data)) else {
            return ptr::null_mut();
        };

        // SAFETY: `raw` is zeroed and `object` has a current state, whose lock is held.
        // INVARIANT: As in `create_callback()`.
        unsafe { K::duplicate(object, raw) };
        raw
    }

    /// The `atomic_destroy_state` callback.
    ///
    /// Only installed as [`State::create_callback`] is.
    pub(crate) extern "C" fn destroy_callback(_object: *mut K::Object, state: *mut K::Raw) {
        let this = Self::container_ptr(state);

        // SAFETY: `state` is a state of ours that nothing refers to any more.
        unsafe { (*this).data.release() };

        // SAFETY: As above; this drops the references of the C state.
        unsafe { K::destroy(state) };

        // SAFETY: `this` was allocated by `create_callback()` or `duplicate_callback()` (type
        // invariant).
        drop(unsafe { KBox::from_raw(this) });
    }
}
