// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Atomic commits (`struct drm_atomic_commit`, formerly `struct drm_atomic_state`).
//!
//! The driver's callbacks see a commit through one of two handles:
//!
//! - [`AtomicCheck`] while the commit is checked: the callback's own new state is passed as
//!   `&mut`; the handle gives shared access to the states of the other objects and can add
//!   objects to the commit.
//! - [`AtomicCommit`] while the commit is applied to the hardware: all states are shared, and the
//!   page flip events can be taken.
//!
//! C header: [`include/drm/drm_atomic.h`](srctree/include/drm/drm_atomic.h)

use super::{
    connector::{
        Connector,
        ConnectorState, //
    },
    crtc::{
        Crtc,
        CrtcState, //
    },
    plane::{
        Plane,
        PlaneState, //
    },
    vblank::PendingVblankEvent,
    KmsDriver,
};
use crate::{
    bindings,
    drm,
    error::from_err_ptr,
    prelude::*, //
};
use core::{
    ffi::c_void,
    marker::PhantomData,
    ptr::NonNull, //
};

/// A commit in its check phase, as seen by the check callback of one object.
///
/// # Invariants
///
/// - `raw` is a valid commit of a device of driver `D`, in its check phase (before
///   `drm_atomic_helper_swap_state()`), used only by the current thread, for `'a`.
/// - The new state of the object `excluded` (a `struct drm_crtc`, `drm_plane` or
///   `drm_connector`) is mutably borrowed by the callback: the handle never returns a reference
///   to a state of that object.
pub struct AtomicCheck<'a, D: KmsDriver> {
    raw: NonNull<bindings::drm_atomic_commit>,
    excluded: *const c_void,
    _p: PhantomData<(&'a bindings::drm_atomic_commit, D)>,
}

impl<'a, D: KmsDriver> AtomicCheck<'a, D> {
    /// # Safety
    ///
    /// `raw` must be a valid commit of a device of driver `D` in its check phase, used only by
    /// the current thread for `'a`, and the caller must not hand out references to the states
    /// of `excluded` other than the callback's own.
    pub(super) unsafe fn new(
        raw: *mut bindings::drm_atomic_commit,
        excluded: *const c_void,
    ) -> Self {
        // INVARIANT: By the safety requirements.
        Self {
            // SAFETY: The helpers never pass a NULL commit.
            raw: unsafe { NonNull::new_unchecked(raw) },
            excluded,
            _p: PhantomData,
        }
    }

    /// Returns the raw `struct drm_atomic_commit`.
    pub fn as_raw(&self) -> *mut bindings::drm_atomic_commit {
        self.raw.as_ptr()
    }

    /// Returns the device.
    ///
    /// Commits are only made on devices that were registered (by userspace, by in-kernel
    /// clients, or by [`drm::Registration`]'s suspend, resume and shutdown helpers); the
    /// device is in the [`drm::Ioctl`] context.
    pub fn device(&self) -> &'a drm::Device<D, drm::Ioctl> {
        // SAFETY: `dev` of a valid commit is its valid device, of driver `D` (type invariant);
        // it was registered, as only registered devices get commits (see above).
        unsafe { drm::Device::from_raw((*self.as_raw()).dev) }
    }

    fn check_excluded<O>(&self, object: *mut O) -> Result {
        let object = object.cast_const().cast::<c_void>();
        if object == self.excluded {
            Err(EINVAL)
        } else {
            Ok(())
        }
    }

    /// Returns the new state of `crtc`, adding the CRTC to the commit if needed
    /// (`drm_atomic_get_crtc_state()`).
    ///
    /// May fail with [`EDEADLK`], which the callback must return for the helpers to back off and
    /// retry. Fails with [`EINVAL`] for the CRTC whose check is running.
    pub fn crtc_state(&self, crtc: &Crtc<D::Crtc>) -> Result<&'a CrtcState<D::Crtc>> {
        self.check_excluded(crtc.as_raw())?;
        if !same_device(self.as_raw(), crtc.drm_dev().as_raw()) {
            return Err(EINVAL);
        }

        // SAFETY: `self.raw` is in its check phase; the helper takes the CRTC's lock through the
        // commit's acquire context.
        let state = from_err_ptr(unsafe {
            bindings::drm_atomic_get_crtc_state(self.as_raw(), crtc.as_raw())
        })?;

        // SAFETY: `state` is a state of `crtc`, a `Crtc<D::Crtc>`, kept alive by the commit for
        // `'a`; only the CRTC's own check mutates its driver data, and it cannot run during
        // `'a` (callbacks do not nest).
        Ok(unsafe { CrtcState::from_raw(state) })
    }

    /// Returns the new state of `crtc` if the CRTC is part of the commit.
    pub fn new_crtc_state(&self, crtc: &Crtc<D::Crtc>) -> Option<&'a CrtcState<D::Crtc>> {
        if !same_device(self.as_raw(), crtc.drm_dev().as_raw()) {
            return None;
        }
        self.check_excluded(crtc.as_raw()).ok()?;
        // SAFETY: `self.raw` and `crtc` are valid.
        let state =
            unsafe { bindings::drm_atomic_get_new_crtc_state(self.as_raw(), crtc.as_raw()) };
        // SAFETY: As in `crtc_state()`.
        (!state.is_null()).then(|| unsafe { CrtcState::from_raw(state) })
    }

    /// Returns the old (current) state of `crtc` if the CRTC is part of the commit.
    pub fn old_crtc_state(&self, crtc: &Crtc<D::Crtc>) -> Option<&'a CrtcState<D::Crtc>> {
        if !same_device(self.as_raw(), crtc.drm_dev().as_raw()) {
            return None;
        }
        // SAFETY: `self.raw` and `crtc` are valid.
        let state =
            unsafe { bindings::drm_atomic_get_old_crtc_state(self.as_raw(), crtc.as_raw()) };
        // SAFETY: Old states are no longer mutated; the commit keeps them alive for `'a`.
        (!state.is_null()).then(|| unsafe { CrtcState::from_raw(state) })
    }

    /// Returns the new state of `plane` if the plane is part of the commit.
    pub fn new_plane_state(&self, plane: &Plane<D::Plane>) -> Option<&'a PlaneState<D::Plane>> {
        if !same_device(self.as_raw(), plane.drm_dev().as_raw()) {
            return None;
        }
        self.check_excluded(plane.as_raw()).ok()?;
        // SAFETY: `self.raw` and `plane` are valid.
        let state =
            unsafe { bindings::drm_atomic_get_new_plane_state(self.as_raw(), plane.as_raw()) };
        // SAFETY: As in `crtc_state()`, for planes.
        (!state.is_null()).then(|| unsafe { PlaneState::from_raw(state) })
    }

    /// Returns the old (current) state of `plane` if the plane is part of the commit.
    pub fn old_plane_state(&self, plane: &Plane<D::Plane>) -> Option<&'a PlaneState<D::Plane>> {
        if !same_device(self.as_raw(), plane.drm_dev().as_raw()) {
            return None;
        }
        // SAFETY: `self.raw` and `plane` are valid.
        let state =
            unsafe { bindings::drm_atomic_get_old_plane_state(self.as_raw(), plane.as_raw()) };
        // SAFETY: As in `old_crtc_state()`.
        (!state.is_null()).then(|| unsafe { PlaneState::from_raw(state) })
    }

    /// Returns the new state of `connector` if the connector is part of the commit.
    pub fn new_connector_state(
        &self,
        connector: &Connector<D::Connector>,
    ) -> Option<&'a ConnectorState<D::Connector>> {
        if !same_device(self.as_raw(), connector.drm_dev().as_raw()) {
            return None;
        }
        self.check_excluded(connector.as_raw()).ok()?;
        // SAFETY: `self.raw` and `connector` are valid.
        let state = unsafe {
            bindings::drm_atomic_get_new_connector_state(self.as_raw(), connector.as_raw())
        };
        // SAFETY: As in `crtc_state()`, for connectors.
        (!state.is_null()).then(|| unsafe { ConnectorState::from_raw(state) })
    }
}

/// A commit being applied to the hardware (after `drm_atomic_helper_swap_state()`).
///
/// Its new states are the objects' current states and may be read concurrently, e.g. by the
/// next commit duplicating them: all of them are shared.
///
/// # Invariants
///
/// `raw` is a valid commit of a device of driver `D`, swapped in and being committed by the
/// atomic helpers (`drm_atomic_helper_commit_tail()`), for `'a`.
pub struct AtomicCommit<'a, D: KmsDriver> {
    raw: NonNull<bindings::drm_atomic_commit>,
    _p: PhantomData<(&'a bindings::drm_atomic_commit, D)>,
}

impl<'a, D: KmsDriver> AtomicCommit<'a, D> {
    /// # Safety
    ///
    /// `raw` must be a valid commit of a device of driver `D`, being committed by the helpers
    /// for `'a`.
    pub(super) unsafe fn new(raw: *mut bindings::drm_atomic_commit) -> Self {
        // INVARIANT: By the safety requirements.
        Self {
            // SAFETY: The helpers never pass a NULL commit.
            raw: unsafe { NonNull::new_unchecked(raw) },
            _p: PhantomData,
        }
    }

    /// Returns the raw `struct drm_atomic_commit`.
    pub fn as_raw(&self) -> *mut bindings::drm_atomic_commit {
        self.raw.as_ptr()
    }

    /// Returns the device; see [`AtomicCheck::device`].
    ///
    /// Hardware access must be done within [`drm::Device::registration_guard`]: commits also
    /// happen after the parent device was unbound, e.g. from [`drm::Registration`]'s drop, or
    /// when userspace closes a file holding framebuffers.
    pub fn device(&self) -> &'a drm::Device<D, drm::Ioctl> {
        // SAFETY: As in `AtomicCheck::device()`.
        unsafe { drm::Device::from_raw((*self.as_raw()).dev) }
    }

    /// Returns the new state of `crtc` if the CRTC is part of the commit.
    pub fn new_crtc_state(&self, crtc: &Crtc<D::Crtc>) -> Option<&'a CrtcState<D::Crtc>> {
        if !same_device(self.as_raw(), crtc.drm_dev().as_raw()) {
            return None;
        }
        // SAFETY: `self.raw` and `crtc` are valid.
        let state =
            unsafe { bindings::drm_atomic_get_new_crtc_state(self.as_raw(), crtc.as_raw()) };
        // SAFETY: States are not mutated during the commit phase (only `event` is taken, under
        // the event lock); the commit keeps them alive for `'a`.
        (!state.is_null()).then(|| unsafe { CrtcState::from_raw(state) })
    }

    /// Returns the old state of `crtc` if the CRTC is part of the commit.
    pub fn old_crtc_state(&self, crtc: &Crtc<D::Crtc>) -> Option<&'a CrtcState<D::Crtc>> {
        if !same_device(self.as_raw(), crtc.drm_dev().as_raw()) {
            return None;
        }
        // SAFETY: `self.raw` and `crtc` are valid.
        let state =
            unsafe { bindings::drm_atomic_get_old_crtc_state(self.as_raw(), crtc.as_raw()) };
        // SAFETY: As in `new_crtc_state()`.
        (!state.is_null()).then(|| unsafe { CrtcState::from_raw(state) })
    }

    /// Returns the new state of `plane` if the plane is part of the commit.
    pub fn new_plane_state(&self, plane: &Plane<D::Plane>) -> Option<&'a PlaneState<D::Plane>> {
        if !same_device(self.as_raw(), plane.drm_dev().as_raw()) {
            return None;
        }
        // SAFETY: `self.raw` and `plane` are valid.
        let state =
            unsafe { bindings::drm_atomic_get_new_plane_state(self.as_raw(), plane.as_raw()) };
        // SAFETY: As in `new_crtc_state()`.
        (!state.is_null()).then(|| unsafe { PlaneState::from_raw(state) })
    }

    /// Returns the old state of `plane` if the plane is part of the commit.
    pub fn old_plane_state(&self, plane: &Plane<D::Plane>) -> Option<&'a PlaneState<D::Plane>> {
        if !same_device(self.as_raw(), plane.drm_dev().as_raw()) {
            return None;
        }
        // SAFETY: `self.raw` and `plane` are valid.
        let state =
            unsafe { bindings::drm_atomic_get_old_plane_state(self.as_raw(), plane.as_raw()) };
        // SAFETY: As in `new_crtc_state()`.
        (!state.is_null()).then(|| unsafe { PlaneState::from_raw(state) })
    }

    /// Takes the page flip event of `crtc` in this commit, if there is one.
    ///
    /// The event must then be armed or sent ([`PendingVblankEvent`]); an event the driver does
    /// not take is armed when the CRTC's [`atomic_flush`](super::DriverCrtc::atomic_flush)
    /// returns.
    pub fn take_event(&self, crtc: &Crtc<D::Crtc>) -> Option<PendingVblankEvent<'a>> {
        if !same_device(self.as_raw(), crtc.drm_dev().as_raw()) {
            return None;
        }
        // SAFETY: `self.raw` and `crtc` are valid.
        let state =
            unsafe { bindings::drm_atomic_get_new_crtc_state(self.as_raw(), crtc.as_raw()) };
        if state.is_null() {
            return None;
        }
        // SAFETY: `state` is the new state of `crtc` in a commit being committed; both live for
        // `'a`.
        unsafe { PendingVblankEvent::take(crtc.as_raw(), state) }
    }
}

/// Whether an object of device `object` may be looked up in a commit of device `commit`: the
/// commit's state arrays are indexed by object index and sized for its own device.
fn same_device(
    commit: *mut bindings::drm_atomic_commit,
    object: *mut bindings::drm_device,
) -> bool {
    // SAFETY: `commit` is a valid commit (a type invariant of the handles calling this).
    unsafe { (*commit).dev == object }
}
