// SPDX-License-Identifier: GPL-2.0 OR MIT

//! KMS CRTCs.
//!
//! C headers: [`include/drm/drm_crtc.h`](srctree/include/drm/drm_crtc.h),
//! [`include/drm/drm_modeset_helper_vtables.h`](srctree/include/drm/drm_modeset_helper_vtables.h),
//! [`include/drm/drm_vblank_helper.h`](srctree/include/drm/drm_vblank_helper.h)

use super::{
    atomic::{
        AtomicCheck,
        AtomicCommit, //
    },
    mode::DisplayMode,
    object::{
        CrtcObject,
        ModeObject, //
    },
    plane::{
        Plane,
        PlaneType, //
    },
    state::{
        CrtcKind,
        DriverData,
        State, //
    },
    KmsBuilder,
    KmsDriver,
    VblankSupport, //
};
use crate::{
    bindings, drm,
    error::{
        from_result,
        to_result, //
    },
    prelude::*,
};
use core::{
    ffi::c_int,
    ops::{
        Deref,
        DerefMut, //
    },
    ptr, //
};

/// The driver's part of a CRTC.
///
/// The CRTC callbacks of the atomic helpers call these methods. Vblank handling and page flip
/// events are done by the abstraction (see [`DriverCrtc::atomic_flush`]).
#[vtable]
pub trait DriverCrtc: Send + Sync + Sized + 'static {
    /// The driver this CRTC belongs to.
    type Driver: KmsDriver<Crtc = Self>;

    /// The driver's data in each atomic state of the CRTC ([`CrtcState`]).
    ///
    /// The initial state gets [`Default::default`]; a state duplicated for a new commit gets a
    /// clone of the current one.
    type State: Clone + Default + Send + Sync + 'static;

    /// Checks the CRTC's new state (`drm_crtc_helper_funcs.atomic_check`).
    ///
    /// `new` is private to the commit being checked. Called for each CRTC in the commit, after
    /// the planes' checks.
    fn atomic_check(
        crtc: &Crtc<Self>,
        new: &mut CrtcState<Self>,
        old: &CrtcState<Self>,
        commit: &AtomicCheck<'_, Self::Driver>,
    ) -> Result {
        let _ = (crtc, new, old, commit);
        Ok(())
    }

    /// Enables the CRTC (`atomic_enable`). With [`VblankSupport::Timer`], vblanks are switched
    /// on after this returns.
    fn atomic_enable(
        crtc: &Crtc<Self>,
        new: &CrtcState<Self>,
        old: &CrtcState<Self>,
        commit: &AtomicCommit<'_, Self::Driver>,
    ) {
        let _ = (crtc, new, old, commit);
    }

    /// Disables the CRTC (`atomic_disable`). With [`VblankSupport::Timer`], vblanks are
    /// switched off before this is called.
    fn atomic_disable(
        crtc: &Crtc<Self>,
        new: &CrtcState<Self>,
        old: &CrtcState<Self>,
        commit: &AtomicCommit<'_, Self::Driver>,
    ) {
        let _ = (crtc, new, old, commit);
    }

    /// Programs the new mode before the planes are updated (`mode_set_nofb`): called in a
    /// commit for a CRTC that is enabled in its new state and whose mode changed (a change of
    /// `active` alone does not count), with that state, which is now current. Implementing
    /// this callback is optional.
    fn mode_set_nofb(
        crtc: &Crtc<Self>,
        state: &CrtcState<Self>,
        dev: &drm::Device<Self::Driver, drm::Ioctl>,
    ) {
        let _ = (crtc, state, dev);
        build_error!(crate::error::VTABLE_DEFAULT_ERROR)
    }

    /// Completes the CRTC's part of a commit, after its planes were updated (`atomic_flush`).
    ///
    /// The driver may take the commit's page flip event with [`AtomicCommit::take_event`] to
    /// arm or send it itself. When this returns, the abstraction arms the event if it is still
    /// there (or sends it if vblanks are off), as `drm_crtc_vblank_atomic_flush()` does: an
    /// event is never left behind.
    fn atomic_flush(
        crtc: &Crtc<Self>,
        new: &CrtcState<Self>,
        old: &CrtcState<Self>,
        commit: &AtomicCommit<'_, Self::Driver>,
    ) {
        let _ = (crtc, new, old, commit);
    }
}

/// A CRTC of a driver whose CRTC type is `T`.
///
/// # Invariants
///
/// - `self.0` is a CRTC initialised by `drm_crtc_init_with_planes()` with `Self::FUNCS` and
///   `Self::HELPER_FUNCS`, on a device of driver `T::Driver`.
/// - `self.0` was created by [`Crtc::new`] with [`ModeObject::create`]: it is valid (and
///   pinned) for as long as a reference to its device exists.
/// - All atomic states of the CRTC are [`CrtcState<T>`].
#[repr(transparent)]
pub struct Crtc<T: DriverCrtc>(ModeObject<CrtcObject, T>);

// SAFETY: The C part is protected by the DRM locks (the CRTC's modeset lock, the device's event
// lock); the driver part is `Send + Sync`.
unsafe impl<T: DriverCrtc> Send for Crtc<T> {}

// SAFETY: See `Send`.
unsafe impl<T: DriverCrtc> Sync for Crtc<T> {}

impl<T: DriverCrtc> Crtc<T> {
    const TIMER: bool = matches!(<T::Driver as KmsDriver>::VBLANK, VblankSupport::Timer);

    const FUNCS: bindings::drm_crtc_funcs = bindings::drm_crtc_funcs {
        set_config: Some(bindings::drm_atomic_helper_set_config),
        page_flip: Some(bindings::drm_atomic_helper_page_flip),
        destroy: Some(ModeObject::<CrtcObject, T>::destroy_callback),
        atomic_create_state: Some(StateOf::<T>::create_callback),
        atomic_duplicate_state: Some(StateOf::<T>::duplicate_callback),
        atomic_destroy_state: Some(StateOf::<T>::destroy_callback),
        enable_vblank: if Self::TIMER {
            Some(bindings::drm_crtc_vblank_helper_enable_vblank_timer)
        } else {
            None
        },
        disable_vblank: if Self::TIMER {
            Some(bindings::drm_crtc_vblank_helper_disable_vblank_timer)
        } else {
            None
        },
        get_vblank_timestamp: if Self::TIMER {
            Some(bindings::drm_crtc_vblank_helper_get_vblank_timestamp_from_timer)
        } else {
            None
        },
        ..pin_init::zeroed()
    };

    const HELPER_FUNCS: bindings::drm_crtc_helper_funcs = bindings::drm_crtc_helper_funcs {
        atomic_check: Some(Self::atomic_check_callback),
        atomic_flush: Some(Self::atomic_flush_callback),
        atomic_enable: Some(Self::atomic_enable_callback),
        atomic_disable: Some(Self::atomic_disable_callback),
        mode_set_nofb: if T::HAS_MODE_SET_NOFB {
            Some(Self::mode_set_nofb_callback)
        } else {
            None
        },
        ..pin_init::zeroed()
    };

    pub(super) fn new<'a>(
        kms: &KmsBuilder<'a, T::Driver>,
        primary: &'a Plane<<T::Driver as KmsDriver>::Plane>,
        cursor: Option<&'a Plane<<T::Driver as KmsDriver>::Plane>>,
        name: Option<&CStr>,
        data: impl PinInit<T, Error>,
    ) -> Result<&'a Self> {
        let dev = kms.as_raw();

        // `drm_crtc_init_with_planes()` only warns about these.
        if primary.plane_type() != PlaneType::Primary || primary.dev_raw() != dev {
            return Err(EINVAL);
        }
        if let Some(cursor) = cursor {
            if cursor.plane_type() != PlaneType::Cursor || cursor.dev_raw() != dev {
                return Err(EINVAL);
            }
        }

        let (fmt, name) = match name {
            Some(name) => (c"%s".as_char_ptr(), name.as_char_ptr()),
            None => (ptr::null(), ptr::null()),
        };

        let init = |crtc: *mut bindings::drm_crtc| {
            // SAFETY:
            // - `dev` is a valid, unregistered device with an initialised mode configuration
            //   (`KmsBuilder` invariant).
            // - `crtc` points to a zeroed `struct drm_crtc` that lives until its `destroy`.
            // - `primary` and `cursor` are planes of `dev` of the right types (checked above).
            // - `FUNCS` is a promoted constant with a `destroy` callback; its atomic state
            //   callbacks are set, as atomic drivers must.
            // - `fmt` is NULL (default name) or `"%s"` with a NUL-terminated `name`.
            to_result(unsafe {
                bindings::drm_crtc_init_with_planes(
                    dev,
                    crtc,
                    primary.as_raw(),
                    cursor.map_or(ptr::null_mut(), |c| c.as_raw()),
                    &Self::FUNCS,
                    fmt,
                    name,
                )
            })?;
            // SAFETY: `crtc` is initialised; nothing uses the helper functions before
            // registration.
            unsafe { (*crtc).helper_private = &Self::HELPER_FUNCS };
            Ok(())
        };

        // SAFETY: `init` initialises the CRTC with `FUNCS`, whose `destroy` is the object's,
        // on `dev`, which `kms` borrows for `'a`.
        let this = unsafe { ModeObject::<CrtcObject, T>::create(data, init) }?;

        // SAFETY: `Self` is a transparent wrapper of the object.
        // INVARIANT: Initialised above with `FUNCS` and `HELPER_FUNCS`, by `ModeObject::create`.
        Ok(unsafe { &*ptr::from_ref(this).cast::<Self>() })
    }

    /// Returns the raw `struct drm_crtc`.
    pub fn as_raw(&self) -> *mut bindings::drm_crtc {
        self.0.as_raw()
    }

    /// Converts a `struct drm_crtc` into its [`Crtc`].
    ///
    /// # Safety
    ///
    /// `ptr` must be the C part of a live `Crtc<T>`, which must stay alive for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *const bindings::drm_crtc) -> &'a Self {
        // SAFETY: By the safety requirements `ptr` is the C part of a `Crtc<T>`, a transparent
        // wrapper of its `ModeObject`.
        unsafe { &*ptr::from_ref(ModeObject::<CrtcObject, T>::from_raw(ptr)).cast::<Self>() }
    }

    /// Returns the CRTC's index (`drm_crtc_index()`).
    pub fn index(&self) -> u32 {
        // SAFETY: `index` is set at initialisation and never changes.
        unsafe { (*self.as_raw()).index }
    }

    /// Returns the CRTC's bit in masks of CRTCs (`drm_crtc_mask()`).
    pub fn mask(&self) -> u32 {
        1 << self.index()
    }

    /// Returns the device of the CRTC.
    pub fn drm_dev(&self) -> &drm::Device<T::Driver> {
        // SAFETY: `dev` is set at initialisation to a device of driver `T::Driver` (type
        // invariant), which outlives its CRTCs.
        unsafe { drm::Device::from_raw((*self.as_raw()).dev) }
    }

    /// Returns the CRTC and its new and old state in `commit`.
    ///
    /// # Safety
    ///
    /// `crtc` must be a `Crtc<T>` that is part of `commit`, valid for `'a`; `commit` must be
    /// valid for `'a`.
    unsafe fn commit_parts<'a>(
        crtc: *mut bindings::drm_crtc,
        commit: *mut bindings::drm_atomic_commit,
    ) -> (
        &'a Self,
        *mut bindings::drm_crtc_state,
        *mut bindings::drm_crtc_state,
    ) {
        // SAFETY: By the safety requirements.
        unsafe {
            (
                Self::from_raw(crtc),
                bindings::drm_atomic_get_new_crtc_state(commit, crtc),
                bindings::drm_atomic_get_old_crtc_state(commit, crtc),
            )
        }
    }

    extern "C" fn atomic_check_callback(
        crtc: *mut bindings::drm_crtc,
        commit: *mut bindings::drm_atomic_commit,
    ) -> c_int {
        // SAFETY: The helpers call `atomic_check` with a CRTC of ours (`Self::HELPER_FUNCS`) that
        // is part of `commit`, both valid for the call.
        let (this, new, old) = unsafe { Self::commit_parts(crtc, commit) };

        // SAFETY: During the check phase the new state belongs to `commit`, which only this
        // thread uses, and nothing else refers to it: no other callback runs concurrently and
        // `AtomicCheck` refuses to hand out this CRTC's states (it excludes `crtc`).
        let new = unsafe { CrtcState::<T>::from_raw_mut(new) };

        // SAFETY: The old state is a state of this CRTC, kept alive by `commit`; its driver data
        // is not mutated any more.
        let old = unsafe { CrtcState::<T>::from_raw(old) };

        // SAFETY: `commit` is in its check phase; `crtc` is excluded as its new state is
        // borrowed mutably above.
        let check = unsafe { AtomicCheck::<T::Driver>::new(commit, crtc.cast_const().cast()) };

        from_result(|| {
            T::atomic_check(this, new, old, &check)?;
            Ok(0)
        })
    }

    extern "C" fn atomic_enable_callback(
        crtc: *mut bindings::drm_crtc,
        commit: *mut bindings::drm_atomic_commit,
    ) {
        // SAFETY: As in `atomic_check_callback()`.
        let (this, new, old) = unsafe { Self::commit_parts(crtc, commit) };

        // SAFETY: Commit phase: the states are kept alive by `commit`; their driver data is no
        // longer mutated, so shared references are fine even if they are read concurrently.
        let (new, old) = unsafe { (CrtcState::from_raw(new), CrtcState::from_raw(old)) };

        // SAFETY: `commit` is being committed by the helpers.
        let commit = unsafe { AtomicCommit::<T::Driver>::new(commit) };

        T::atomic_enable(this, new, old, &commit);

        if Self::TIMER {
            // SAFETY: `crtc` is valid and vblank support was initialised by
            // `KmsBuilder::finish()`.
            unsafe { bindings::drm_crtc_vblank_on(crtc) };
        }
    }

    extern "C" fn atomic_disable_callback(
        crtc: *mut bindings::drm_crtc,
        commit: *mut bindings::drm_atomic_commit,
    ) {
        // SAFETY: As in `atomic_enable_callback()`.
        let (this, new, old) = unsafe { Self::commit_parts(crtc, commit) };
        // SAFETY: As in `atomic_enable_callback()`.
        let (new, old) = unsafe { (CrtcState::from_raw(new), CrtcState::from_raw(old)) };
        // SAFETY: As in `atomic_enable_callback()`.
        let commit = unsafe { AtomicCommit::<T::Driver>::new(commit) };

        if Self::TIMER {
            // SAFETY: `crtc` is valid and vblank support was initialised. This also sends the
            // events still armed on the CRTC.
            unsafe { bindings::drm_crtc_vblank_off(crtc) };
        }

        T::atomic_disable(this, new, old, &commit);
    }

    extern "C" fn mode_set_nofb_callback(crtc: *mut bindings::drm_crtc) {
        // SAFETY: The helpers call `mode_set_nofb` with a CRTC of ours (`Self::HELPER_FUNCS`)
        // during a commit.
        let this = unsafe { Self::from_raw(crtc) };

        // SAFETY: The commit swapped in the CRTC's new state, a state of ours that it keeps
        // alive; its driver data is no longer mutated.
        let state = unsafe { CrtcState::from_raw((*crtc).state) };

        // SAFETY: Commits are only made on registered devices (see `AtomicCheck::device()`);
        // `dev` is a device of driver `T::Driver`.
        let dev = unsafe { drm::Device::<T::Driver, drm::Ioctl>::from_raw((*crtc).dev) };

        T::mode_set_nofb(this, state, dev);
    }

    extern "C" fn atomic_flush_callback(
        crtc: *mut bindings::drm_crtc,
        commit: *mut bindings::drm_atomic_commit,
    ) {
        // SAFETY: As in `atomic_enable_callback()`.
        let (this, new, old) = unsafe { Self::commit_parts(crtc, commit) };
        // SAFETY: As in `atomic_enable_callback()`.
        let (new, old) = unsafe { (CrtcState::from_raw(new), CrtcState::from_raw(old)) };
        // SAFETY: As in `atomic_enable_callback()`.
        let commit = unsafe { AtomicCommit::<T::Driver>::new(commit) };

        if T::HAS_ATOMIC_FLUSH {
            T::atomic_flush(this, new, old, &commit);
        }

        // `drm_atomic_helper_commit_hw_done()` expects the event to be consumed by now.
        if let Some(event) = commit.take_event(this) {
            event.arm();
        }
    }
}

impl<T: DriverCrtc> Deref for Crtc<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// An atomic state of a CRTC of type `T`: the C state and the driver's [`DriverCrtc::State`].
///
/// # Invariants
///
/// `self.0` is a state of a `Crtc<T>` (see [`State`]).
#[repr(transparent)]
pub struct CrtcState<T: DriverCrtc>(StateOf<T>);

/// The generic state a [`CrtcState`] wraps.
type StateOf<T> = State<CrtcKind, DriverData<<T as DriverCrtc>::State>>;

impl<T: DriverCrtc> CrtcState<T> {
    /// Returns the raw `struct drm_crtc_state`.
    pub fn as_raw(&self) -> *mut bindings::drm_crtc_state {
        self.0.as_raw()
    }

    /// # Safety
    ///
    /// `ptr` must be the C part of a `CrtcState<T>` valid for `'a`, whose driver data is not
    /// mutated during `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *const bindings::drm_crtc_state) -> &'a Self {
        // SAFETY: By the safety requirements, which are those of `State::from_raw()`; `Self` is
        // a transparent wrapper.
        unsafe { &*ptr::from_ref(StateOf::<T>::from_raw(ptr)).cast::<Self>() }
    }

    /// # Safety
    ///
    /// `ptr` must be the C part of a `CrtcState<T>` valid for `'a`, to which no other reference
    /// exists during `'a`.
    pub(crate) unsafe fn from_raw_mut<'a>(ptr: *mut bindings::drm_crtc_state) -> &'a mut Self {
        // SAFETY: As in `from_raw()`.
        unsafe { &mut *ptr::from_mut(StateOf::<T>::from_raw_mut(ptr)).cast::<Self>() }
    }

    /// Returns the CRTC of this state.
    pub fn crtc(&self) -> &Crtc<T> {
        // SAFETY: `crtc` is set at creation to the state's `Crtc<T>`, which outlives its
        // states.
        unsafe { Crtc::from_raw((*self.as_raw()).crtc) }
    }

    /// Returns whether the CRTC should be enabled (`enable`).
    pub fn enable(&self) -> bool {
        // SAFETY: `self.as_raw()` is valid; a plain field read.
        unsafe { (*self.as_raw()).enable }
    }

    /// Returns whether the CRTC should be actively displaying (`active`).
    pub fn active(&self) -> bool {
        // SAFETY: As above.
        unsafe { (*self.as_raw()).active }
    }

    /// Returns whether this state needs a full modeset (`drm_atomic_crtc_needs_modeset()`).
    pub fn needs_modeset(&self) -> bool {
        // SAFETY: `self.as_raw()` is valid.
        unsafe { bindings::drm_atomic_crtc_needs_modeset(self.as_raw()) }
    }

    /// Returns the mode requested by userspace.
    pub fn mode(&self) -> &DisplayMode {
        // SAFETY: `mode` is embedded in the state and lives as long as it.
        unsafe { DisplayMode::from_raw(&raw const (*self.as_raw()).mode) }
    }

    /// Returns the mode adjusted for the hardware (`adjusted_mode`).
    pub fn adjusted_mode(&self) -> &DisplayMode {
        // SAFETY: As above.
        unsafe { DisplayMode::from_raw(&raw const (*self.as_raw()).adjusted_mode) }
    }

    /// Returns the mask of the planes attached to the CRTC in this state (`plane_mask`).
    pub fn plane_mask(&self) -> u32 {
        // SAFETY: As above.
        unsafe { (*self.as_raw()).plane_mask }
    }
}

impl<T: DriverCrtc> Deref for CrtcState<T> {
    type Target = T::State;

    fn deref(&self) -> &T::State {
        &self.0.data().0
    }
}

impl<T: DriverCrtc> DerefMut for CrtcState<T> {
    fn deref_mut(&mut self) -> &mut T::State {
        &mut self.0.data_mut().0
    }
}
