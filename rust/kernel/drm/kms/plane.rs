// SPDX-License-Identifier: GPL-2.0 OR MIT

//! KMS planes.
//!
//! C headers: [`include/drm/drm_plane.h`](srctree/include/drm/drm_plane.h),
//! [`include/drm/drm_modeset_helper_vtables.h`](srctree/include/drm/drm_modeset_helper_vtables.h),
//! [`include/drm/drm_damage_helper.h`](srctree/include/drm/drm_damage_helper.h),
//! [`include/drm/drm_blend.h`](srctree/include/drm/drm_blend.h)

use super::{
    atomic::{
        AtomicCheck,
        AtomicCommit, //
    },
    crtc::{
        Crtc,
        CrtcState, //
    },
    format::FORMAT_MOD_INVALID,
    framebuffer::Framebuffer,
    object::{
        ModeObject,
        PlaneObject, //
    },
    state::{
        PlaneKind,
        State,
        StateData, //
    },
    KmsBuilder,
    KmsDriver, //
};
use crate::{
    bindings,
    drm,
    error::{
        from_result,
        to_result, //
    },
    prelude::*, //
};
use core::{
    cell::UnsafeCell,
    ffi::c_int,
    ops::{
        Deref,
        DerefMut, //
    },
    ptr, //
};

/// The type of a plane.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PlaneType {
    /// An overlay plane.
    Overlay,
    /// The primary plane of a CRTC.
    Primary,
    /// The cursor plane of a CRTC.
    Cursor,
}

impl PlaneType {
    fn as_raw(self) -> bindings::drm_plane_type {
        match self {
            Self::Overlay => bindings::drm_plane_type_DRM_PLANE_TYPE_OVERLAY,
            Self::Primary => bindings::drm_plane_type_DRM_PLANE_TYPE_PRIMARY,
            Self::Cursor => bindings::drm_plane_type_DRM_PLANE_TYPE_CURSOR,
        }
    }
}

/// A set of pixel blend modes (`BIT(DRM_MODE_BLEND_*)`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct BlendModes(u32);

impl BlendModes {
    /// Pre-multiplied alpha (`DRM_MODE_BLEND_PREMULTI`), the default; always supported.
    pub const PREMULTI: Self = Self(1 << bindings::DRM_MODE_BLEND_PREMULTI);
    /// Non-pre-multiplied alpha (`DRM_MODE_BLEND_COVERAGE`).
    pub const COVERAGE: Self = Self(1 << bindings::DRM_MODE_BLEND_COVERAGE);
    /// The alpha channel is ignored (`DRM_MODE_BLEND_PIXEL_NONE`).
    pub const PIXEL_NONE: Self = Self(1 << bindings::DRM_MODE_BLEND_PIXEL_NONE);

    /// Returns the union of two sets.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// How a plane may scale its source, in 16.16 fixed point (see
/// `drm_atomic_helper_check_plane_state()`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Scaling {
    /// No scaling (`DRM_PLANE_NO_SCALING` for both limits).
    None,
    /// Scaling factors between the given limits (source/destination, 16.16 fixed point).
    Range {
        /// The smallest factor.
        min: i32,
        /// The largest factor.
        max: i32,
    },
}

/// The description of a plane to create with [`KmsBuilder::add_plane`].
#[derive(Clone, Copy)]
pub struct PlaneConfig<'f> {
    /// The type of the plane.
    pub plane_type: PlaneType,
    /// The mask of the CRTCs that can use the plane (by CRTC index; CRTCs are numbered in the
    /// order in which they are added). 0: the CRTC the plane is given to as primary or cursor.
    pub possible_crtcs: u32,
    /// The supported pixel formats (fourcc codes, see [`super::format`]); at most 64.
    pub formats: &'f [u32],
    /// The supported format modifiers, `None` for the default (linear, unless
    /// [`super::ModeConfigInfo::fb_modifiers_not_supported`]).
    pub modifiers: Option<&'f [u64]>,
    /// Whether the plane has the `FB_DAMAGE_CLIPS` property (`drm_plane_enable_fb_damage_clips()`).
    pub damage_clips: bool,
    /// The blend modes of the `pixel blend mode` property, if the plane has one. Must contain
    /// [`BlendModes::PREMULTI`]. Planes with formats that have alpha should have it.
    pub blend_modes: Option<BlendModes>,
    /// The plane's name, `None` for the default.
    pub name: Option<&'f CStr>,
}

/// The driver's part of a plane.
#[vtable]
pub trait DriverPlane: Send + Sync + Sized + 'static {
    /// The driver this plane belongs to.
    type Driver: KmsDriver<Plane = Self>;

    /// The driver's data in each atomic state of the plane ([`PlaneState`]).
    ///
    /// The initial state gets [`Default::default`]; a state duplicated for a new commit gets a
    /// clone of the current one.
    type State: Clone + Default + Send + Sync + 'static;

    /// What [`DriverPlane::prepare_fb`] prepared for a state, handed back to
    /// [`DriverPlane::cleanup_fb`]. `()` if the driver does not implement `prepare_fb`.
    ///
    /// `Sync`: commit callbacks of one commit and checks of the next may read it at once.
    type FbPrepared: Send + Sync + 'static;

    /// Checks the plane's new state (`drm_plane_helper_funcs.atomic_check`).
    ///
    /// `new` is private to the commit being checked. The default,
    /// [`PlaneState::check_on_crtc`], accepts any position of the plane within its CRTC,
    /// without scaling, for an enabled or disabled CRTC; drivers override it to add
    /// constraints.
    fn atomic_check(
        plane: &Plane<Self>,
        new: &mut PlaneState<Self>,
        old: &PlaneState<Self>,
        commit: &AtomicCheck<'_, Self::Driver>,
    ) -> Result {
        let _ = (plane, old);
        new.check_on_crtc(commit)
    }

    /// Prepares the framebuffer `fb` of the new state `new` for scanout (`prepare_fb`), e.g.
    /// pins or maps it, before the commit is applied.
    ///
    /// Only called for states with a framebuffer. The implicit fences of the framebuffer's GEM
    /// objects are added to the state before (`drm_gem_plane_helper_prepare_fb()`). What this
    /// returns is kept in the state ([`PlaneState::prepared`]) and handed to
    /// [`DriverPlane::cleanup_fb`] exactly once, when the state is replaced by a later commit,
    /// or when this commit fails; a state that is destroyed otherwise drops it.
    fn prepare_fb(
        plane: &Plane<Self>,
        new: &PlaneState<Self>,
        fb: &Framebuffer<Self::Driver>,
        dev: &drm::Device<Self::Driver, drm::Ioctl>,
    ) -> Result<Self::FbPrepared> {
        let _ = (plane, new, fb, dev);
        build_error!(crate::error::VTABLE_DEFAULT_ERROR)
    }

    /// Releases what [`DriverPlane::prepare_fb`] prepared for `state` (`cleanup_fb`).
    ///
    /// The default drops `prepared`.
    fn cleanup_fb(
        plane: &Plane<Self>,
        state: &PlaneState<Self>,
        prepared: Self::FbPrepared,
        dev: &drm::Device<Self::Driver, drm::Ioctl>,
    ) {
        let _ = (plane, state, dev);
        drop(prepared);
    }

    /// Updates the plane to its new state (`atomic_update`). Also called to disable the plane
    /// unless [`DriverPlane::atomic_disable`] is implemented.
    fn atomic_update(
        plane: &Plane<Self>,
        new: &PlaneState<Self>,
        old: &PlaneState<Self>,
        commit: &AtomicCommit<'_, Self::Driver>,
    );

    /// Disables the plane (`atomic_disable`).
    fn atomic_disable(
        plane: &Plane<Self>,
        new: &PlaneState<Self>,
        old: &PlaneState<Self>,
        commit: &AtomicCommit<'_, Self::Driver>,
    ) {
        let _ = (plane, new, old, commit);
        build_error!(crate::error::VTABLE_DEFAULT_ERROR)
    }
}

/// A plane of a driver whose plane type is `T`.
///
/// # Invariants
///
/// - `self.0` is a plane initialised by `drm_universal_plane_init()` with `Self::FUNCS` and
///   `Self::HELPER_FUNCS`, on a device of driver `T::Driver`.
/// - `self.0` was created by [`Plane::new`] with [`ModeObject::create`]: it is valid (and
///   pinned) for as long as a reference to its device exists.
/// - All atomic states of the plane are [`PlaneState<T>`].
#[repr(transparent)]
pub struct Plane<T: DriverPlane>(ModeObject<PlaneObject, T>);

// SAFETY: The C part is protected by the DRM locks; the driver part is `Send + Sync`.
unsafe impl<T: DriverPlane> Send for Plane<T> {}

// SAFETY: See `Send`.
unsafe impl<T: DriverPlane> Sync for Plane<T> {}

impl<T: DriverPlane> Plane<T> {
    const FUNCS: bindings::drm_plane_funcs = bindings::drm_plane_funcs {
        update_plane: Some(bindings::drm_atomic_helper_update_plane),
        disable_plane: Some(bindings::drm_atomic_helper_disable_plane),
        destroy: Some(ModeObject::<PlaneObject, T>::destroy_callback),
        atomic_create_state: Some(StateOf::<T>::create_callback),
        atomic_duplicate_state: Some(StateOf::<T>::duplicate_callback),
        atomic_destroy_state: Some(StateOf::<T>::destroy_callback),
        ..pin_init::zeroed()
    };

    const HELPER_FUNCS: bindings::drm_plane_helper_funcs = bindings::drm_plane_helper_funcs {
        // Always set, so that the abstraction pairs `prepare_fb` with `cleanup_fb` per state.
        prepare_fb: if T::HAS_PREPARE_FB {
            Some(Self::prepare_fb_callback)
        } else {
            Some(Self::prepare_fb_gem_callback)
        },
        cleanup_fb: Some(Self::cleanup_fb_callback),
        atomic_check: Some(Self::atomic_check_callback),
        atomic_update: Some(Self::atomic_update_callback),
        atomic_disable: if T::HAS_ATOMIC_DISABLE {
            Some(Self::atomic_disable_callback)
        } else {
            None
        },
        ..pin_init::zeroed()
    };

    pub(super) fn new<'a>(
        kms: &KmsBuilder<'a, T::Driver>,
        config: &PlaneConfig<'_>,
        data: impl PinInit<T, Error>,
    ) -> Result<&'a Self> {
        let dev = kms.as_raw();

        // `drm_universal_plane_init()` warns about these.
        if config.formats.is_empty() || config.formats.len() > 64 {
            return Err(EINVAL);
        }
        if let Some(modes) = config.blend_modes {
            let all = BlendModes::PREMULTI
                .union(BlendModes::COVERAGE)
                .union(BlendModes::PIXEL_NONE);
            if modes.0 & !all.0 != 0 || modes.0 & BlendModes::PREMULTI.0 == 0 {
                return Err(EINVAL);
            }
        }

        // SAFETY: `dev` is valid and its mode configuration initialised (`KmsBuilder`
        // invariant); only this thread writes it before registration.
        let no_modifiers = unsafe { (*dev).mode_config.fb_modifiers_not_supported };
        // `__drm_universal_plane_init()` warns about modifiers a device refuses.
        if no_modifiers && config.modifiers.is_some() {
            return Err(EINVAL);
        }

        // The C side wants a `DRM_FORMAT_MOD_INVALID`-terminated list; it copies it.
        let mut modifiers = KVec::new();
        if let Some(list) = config.modifiers {
            modifiers.extend_from_slice(list, GFP_KERNEL)?;
            modifiers.push(FORMAT_MOD_INVALID, GFP_KERNEL)?;
        }
        let modifiers_ptr = if config.modifiers.is_some() {
            modifiers.as_ptr()
        } else {
            ptr::null()
        };
        let format_count = u32::try_from(config.formats.len())?;

        let (fmt, name) = match config.name {
            Some(name) => (c"%s".as_char_ptr(), name.as_char_ptr()),
            None => (ptr::null(), ptr::null()),
        };

        let init = |plane: *mut bindings::drm_plane| {
            // SAFETY:
            // - `dev` is a valid, unregistered device with an initialised mode configuration.
            // - `plane` points to a zeroed `struct drm_plane` that lives until its `destroy`.
            // - `FUNCS` is a promoted constant with `destroy` and the atomic state callbacks.
            // - The format and modifier lists are valid for the call (the C side copies them).
            // - `fmt` is NULL (default name) or `"%s"` with a NUL-terminated `name`.
            to_result(unsafe {
                bindings::drm_universal_plane_init(
                    dev,
                    plane,
                    config.possible_crtcs,
                    &Self::FUNCS,
                    config.formats.as_ptr(),
                    format_count,
                    modifiers_ptr,
                    config.plane_type.as_raw(),
                    fmt,
                    name,
                )
            })?;

            // From here on the plane belongs to the device: on failure it is freed with the
            // device.
            //
            // SAFETY: `plane` is initialised; nothing uses the helper functions before
            // registration.
            unsafe { (*plane).helper_private = &Self::HELPER_FUNCS };

            if config.damage_clips {
                // SAFETY: `plane` is an initialised, unregistered plane.
                unsafe { bindings::drm_plane_enable_fb_damage_clips(plane) };
            }

            if let Some(modes) = config.blend_modes {
                // SAFETY: `plane` is an initialised, unregistered plane; `modes` was checked
                // above.
                to_result(unsafe {
                    bindings::drm_plane_create_blend_mode_property(plane, modes.0)
                })?;
            }
            Ok(())
        };

        // SAFETY: `init` initialises the plane with `FUNCS`, whose `destroy` is the object's, on
        // `dev`, which `kms` borrows for `'a`.
        let this = unsafe { ModeObject::<PlaneObject, T>::create(data, init) }?;

        // SAFETY: `Self` is a transparent wrapper of the object.
        // INVARIANT: Initialised above with `FUNCS` and `HELPER_FUNCS`, by `ModeObject::create`.
        Ok(unsafe { &*ptr::from_ref(this).cast::<Self>() })
    }

    /// Returns the raw `struct drm_plane`.
    pub fn as_raw(&self) -> *mut bindings::drm_plane {
        self.0.as_raw()
    }

    pub(super) fn dev_raw(&self) -> *mut bindings::drm_device {
        // SAFETY: `dev` is set at initialisation and never changes.
        unsafe { (*self.as_raw()).dev }
    }

    /// Converts a `struct drm_plane` into its [`Plane`].
    ///
    /// # Safety
    ///
    /// `ptr` must be the C part of a live `Plane<T>`, which must stay alive for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *const bindings::drm_plane) -> &'a Self {
        // SAFETY: By the safety requirements `ptr` is the C part of a `Plane<T>`, a transparent
        // wrapper of its `ModeObject`.
        unsafe { &*ptr::from_ref(ModeObject::<PlaneObject, T>::from_raw(ptr)).cast::<Self>() }
    }

    /// Returns the plane's index (`drm_plane_index()`).
    pub fn index(&self) -> u32 {
        // SAFETY: `index` is set at initialisation and never changes.
        unsafe { (*self.as_raw()).index }
    }

    /// Returns the plane's type.
    pub fn plane_type(&self) -> PlaneType {
        // SAFETY: `type` is set at initialisation and never changes.
        match unsafe { (*self.as_raw()).type_ } {
            bindings::drm_plane_type_DRM_PLANE_TYPE_PRIMARY => PlaneType::Primary,
            bindings::drm_plane_type_DRM_PLANE_TYPE_CURSOR => PlaneType::Cursor,
            _ => PlaneType::Overlay,
        }
    }

    /// Returns the device of the plane.
    pub fn drm_dev(&self) -> &drm::Device<T::Driver> {
        // SAFETY: `dev` is a device of driver `T::Driver` (type invariant), which outlives its
        // planes.
        unsafe { drm::Device::from_raw(self.dev_raw()) }
    }

    /// Returns the device in the context of commits.
    ///
    /// # Safety
    ///
    /// `plane` must be a valid plane of ours, and a commit involving it must be underway.
    unsafe fn commit_device<'a>(
        plane: *mut bindings::drm_plane,
    ) -> &'a drm::Device<T::Driver, drm::Ioctl> {
        // SAFETY: Commits are only made on devices that were registered (see
        // `AtomicCheck::device()`); `dev` is a device of driver `T::Driver`.
        unsafe { drm::Device::from_raw((*plane).dev) }
    }

    /// `prepare_fb` for drivers without [`DriverPlane::prepare_fb`]: what
    /// `drm_atomic_helper_prepare_planes()` does for planes without `prepare_fb`, i.e. make the
    /// commit wait for the implicit fences of the framebuffer's GEM objects.
    extern "C" fn prepare_fb_gem_callback(
        plane: *mut bindings::drm_plane,
        state: *mut bindings::drm_plane_state,
    ) -> c_int {
        // SAFETY: `plane` and its new state `state` are valid for the call.
        unsafe { bindings::drm_gem_plane_helper_prepare_fb(plane, state) }
    }

    extern "C" fn prepare_fb_callback(
        plane: *mut bindings::drm_plane,
        state: *mut bindings::drm_plane_state,
    ) -> c_int {
        from_result(|| {
            to_result(Self::prepare_fb_gem_callback(plane, state))?;

            // SAFETY: `plane` is one of ours (`Self::HELPER_FUNCS`).
            let this = unsafe { Self::from_raw(plane) };

            // SAFETY: `state` is a new state of ours in a commit being prepared, which keeps it
            // alive; its driver data is not mutated any more (it was checked).
            let new = unsafe { PlaneState::<T>::from_raw(state) };

            let Some(fb) = new.fb() else {
                return Ok(0);
            };

            // SAFETY: A commit involving `plane` is being prepared.
            let dev = unsafe { Self::commit_device(plane) };

            let prepared = T::prepare_fb(this, new, fb, dev)?;

            // SAFETY: `prepared` is only accessed by `prepare_fb` and `cleanup_fb` of this state,
            // which the helpers call in sequence (never concurrently), and read by commit
            // callbacks, which run after `prepare_fb` and before `cleanup_fb`. A state is
            // prepared once; should it be prepared again, the previous preparation is released.
            unsafe { *new.prepared_slot().get() = Some(prepared) };
            Ok(0)
        })
    }

    extern "C" fn cleanup_fb_callback(
        plane: *mut bindings::drm_plane,
        state: *mut bindings::drm_plane_state,
    ) {
        // SAFETY: `plane` is one of ours.
        let this = unsafe { Self::from_raw(plane) };

        // SAFETY: `state` is a state of ours, kept alive by the commit being cleaned up.
        let st = unsafe { PlaneState::<T>::from_raw(state) };

        // SAFETY: See `prepare_fb_callback()`: no other access to `prepared` is underway.
        // Taking it out makes the pairing exact: a state that was not prepared (e.g. the
        // initial one), or whose preparation was cleaned up already, has nothing to clean up.
        let Some(prepared) = (unsafe { (*st.prepared_slot().get()).take() }) else {
            return;
        };

        // SAFETY: A commit involving `plane` is underway.
        let dev = unsafe { Self::commit_device(plane) };

        T::cleanup_fb(this, st, prepared, dev);
    }

    /// # Safety
    ///
    /// `plane` must be a `Plane<T>` that is part of `commit`, valid for `'a`.
    unsafe fn commit_parts<'a>(
        plane: *mut bindings::drm_plane,
        commit: *mut bindings::drm_atomic_commit,
    ) -> (
        &'a Self,
        *mut bindings::drm_plane_state,
        *mut bindings::drm_plane_state,
    ) {
        // SAFETY: By the safety requirements.
        unsafe {
            (
                Self::from_raw(plane),
                bindings::drm_atomic_get_new_plane_state(commit, plane),
                bindings::drm_atomic_get_old_plane_state(commit, plane),
            )
        }
    }

    extern "C" fn atomic_check_callback(
        plane: *mut bindings::drm_plane,
        commit: *mut bindings::drm_atomic_commit,
    ) -> c_int {
        // SAFETY: The helpers call `atomic_check` with a plane of ours that is part of `commit`.
        let (this, new, old) = unsafe { Self::commit_parts(plane, commit) };

        // SAFETY: Check phase: the new state is private to `commit`, used by this thread only,
        // and `AtomicCheck` excludes `plane`, so this is the only reference to it.
        let new = unsafe { PlaneState::<T>::from_raw_mut(new) };

        // SAFETY: The old state is kept alive by `commit`; its driver data is not mutated.
        let old = unsafe { PlaneState::<T>::from_raw(old) };

        // SAFETY: `commit` is in its check phase; `plane` is excluded.
        let check = unsafe { AtomicCheck::<T::Driver>::new(commit, plane.cast_const().cast()) };

        from_result(|| {
            T::atomic_check(this, new, old, &check)?;
            Ok(0)
        })
    }

    extern "C" fn atomic_update_callback(
        plane: *mut bindings::drm_plane,
        commit: *mut bindings::drm_atomic_commit,
    ) {
        // SAFETY: As in `atomic_check_callback()`.
        let (this, new, old) = unsafe { Self::commit_parts(plane, commit) };

        // SAFETY: Commit phase: the states are kept alive by `commit`; their driver data is not
        // mutated any more.
        let (new, old) = unsafe { (PlaneState::from_raw(new), PlaneState::from_raw(old)) };

        // SAFETY: `commit` is being committed by the helpers.
        let commit = unsafe { AtomicCommit::<T::Driver>::new(commit) };

        T::atomic_update(this, new, old, &commit);
    }

    extern "C" fn atomic_disable_callback(
        plane: *mut bindings::drm_plane,
        commit: *mut bindings::drm_atomic_commit,
    ) {
        // SAFETY: As in `atomic_update_callback()`.
        let (this, new, old) = unsafe { Self::commit_parts(plane, commit) };
        // SAFETY: As in `atomic_update_callback()`.
        let (new, old) = unsafe { (PlaneState::from_raw(new), PlaneState::from_raw(old)) };
        // SAFETY: As in `atomic_update_callback()`.
        let commit = unsafe { AtomicCommit::<T::Driver>::new(commit) };

        T::atomic_disable(this, new, old, &commit);
    }
}

impl<T: DriverPlane> Deref for Plane<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// A rectangle (`struct drm_rect`): `x1..x2` by `y1..y2`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Rect {
    /// Left edge (inclusive).
    pub x1: i32,
    /// Top edge (inclusive).
    pub y1: i32,
    /// Right edge (exclusive).
    pub x2: i32,
    /// Bottom edge (exclusive).
    pub y2: i32,
}

impl Rect {
    fn from_raw(r: bindings::drm_rect) -> Self {
        Self {
            x1: r.x1,
            y1: r.y1,
            x2: r.x2,
            y2: r.y2,
        }
    }

    /// Returns the width.
    pub fn width(&self) -> i32 {
        self.x2 - self.x1
    }

    /// Returns the height.
    pub fn height(&self) -> i32 {
        self.y2 - self.y1
    }
}

/// An atomic state of a plane of type `T`: the C state, what [`DriverPlane::prepare_fb`]
/// returned for it, and the driver's [`DriverPlane::State`].
///
/// # Invariants
///
/// `self.0` is a state of a `Plane<T>` (see [`State`]).
#[repr(transparent)]
pub struct PlaneState<T: DriverPlane>(StateOf<T>);

/// The generic state a [`PlaneState`] wraps.
type StateOf<T> = State<PlaneKind, PlaneData<T>>;

/// What a plane state keeps beside the C state.
///
/// # Invariants
///
/// `prepared` is only written by the `prepare_fb` and `cleanup_fb` callbacks of its state, and
/// when the state is destroyed.
pub(crate) struct PlaneData<T: DriverPlane> {
    prepared: UnsafeCell<Option<T::FbPrepared>>,
    data: T::State,
}

// SAFETY: Shared references only read `prepared` (which commit callbacks read between
// `prepare_fb` and `cleanup_fb`, never concurrently with them) and the driver data, which is
// `Sync`.
unsafe impl<T: DriverPlane> Sync for PlaneData<T> where T::FbPrepared: Sync {}

impl<T: DriverPlane> StateData for PlaneData<T> {
    fn first() -> Self {
        Self {
            prepared: UnsafeCell::new(None),
            data: T::State::default(),
        }
    }

    /// Not copied: what was prepared belongs to the current state.
    fn duplicated(current: &Self) -> Self {
        Self {
            prepared: UnsafeCell::new(None),
            data: current.data.clone(),
        }
    }

    /// The preparation (if any) is released before the framebuffer reference it may depend on.
    /// It is only left when the state was prepared but never cleaned up (e.g. the current state
    /// when the device is released without shutdown).
    fn release(&mut self) {
        drop(self.prepared.get_mut().take());
    }
}

impl<T: DriverPlane> PlaneState<T> {
    /// Returns the raw `struct drm_plane_state`.
    pub fn as_raw(&self) -> *mut bindings::drm_plane_state {
        self.0.as_raw()
    }

    /// # Safety
    ///
    /// `ptr` must be the C part of a `PlaneState<T>` valid for `'a`, whose driver data is not
    /// mutated during `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *const bindings::drm_plane_state) -> &'a Self {
        // SAFETY: By the safety requirements, which are those of `State::from_raw()`; `Self` is
        // a transparent wrapper.
        unsafe { &*ptr::from_ref(StateOf::<T>::from_raw(ptr)).cast::<Self>() }
    }

    /// # Safety
    ///
    /// `ptr` must be the C part of a `PlaneState<T>` valid for `'a`, to which no other reference
    /// exists during `'a`.
    pub(crate) unsafe fn from_raw_mut<'a>(ptr: *mut bindings::drm_plane_state) -> &'a mut Self {
        // SAFETY: As in `from_raw()`.
        unsafe { &mut *ptr::from_mut(StateOf::<T>::from_raw_mut(ptr)).cast::<Self>() }
    }

    /// Where `prepare_fb` and `cleanup_fb` keep the preparation.
    fn prepared_slot(&self) -> &UnsafeCell<Option<T::FbPrepared>> {
        &self.0.data().prepared
    }

    /// Reads a field of the C state.
    ///
    /// The state as a whole is never borrowed: the fields read are not written while `self` is
    /// borrowed (in the check phase the state is private to its commit and written through
    /// `&mut self`; afterwards the helpers no longer change them), but others may be.
    fn field<R>(&self, read: impl FnOnce(*const bindings::drm_plane_state) -> R) -> R {
        read(self.as_raw())
    }

    /// Returns the plane of this state.
    pub fn plane(&self) -> &Plane<T> {
        // SAFETY: `plane` is set at creation to the state's `Plane<T>`, which outlives it.
        unsafe { Plane::from_raw((*self.as_raw()).plane) }
    }

    /// Returns the CRTC the plane is attached to in this state.
    pub fn crtc(&self) -> Option<&Crtc<<T::Driver as KmsDriver>::Crtc>> {
        // SAFETY: `self.as_raw()` is valid; see `field()`.
        let crtc = self.field(|s| unsafe { (*s).crtc });
        // SAFETY: All CRTCs of a device of driver `T::Driver` are
        // `Crtc<<T::Driver as KmsDriver>::Crtc>`; they live as long as the device, which
        // outlives its planes' states.
        (!crtc.is_null()).then(|| unsafe { Crtc::from_raw(crtc) })
    }

    /// Returns the framebuffer the plane shows in this state.
    pub fn fb(&self) -> Option<&Framebuffer<T::Driver>> {
        // SAFETY: `self.as_raw()` is valid; see `field()`.
        let fb = self.field(|s| unsafe { (*s).fb });
        // SAFETY: The state holds a reference on its framebuffer. All framebuffers of a device
        // of driver `T::Driver` are created by `fb_create_callback::<T::Driver>()`.
        (!fb.is_null()).then(|| unsafe { Framebuffer::from_raw(fb) })
    }

    /// Returns what [`DriverPlane::prepare_fb`] prepared for this state, if it was prepared.
    pub fn prepared(&self) -> Option<&T::FbPrepared> {
        // SAFETY: See the invariants of `PlaneData`: no write to `prepared` is underway while a
        // commit callback holds `&self`.
        unsafe { (*self.prepared_slot().get()).as_ref() }
    }

    /// Returns the position and size of the plane on the CRTC (`crtc_x`, `crtc_y`, `crtc_w`,
    /// `crtc_h`), as requested.
    pub fn crtc_rect(&self) -> Rect {
        let (x, y, w, h) = self.field(|s| {
            // SAFETY: `self.as_raw()` is valid; see `field()`.
            unsafe { ((*s).crtc_x, (*s).crtc_y, (*s).crtc_w, (*s).crtc_h) }
        });
        Rect {
            x1: x,
            y1: y,
            x2: x.saturating_add_unsigned(w),
            y2: y.saturating_add_unsigned(h),
        }
    }

    /// Returns the source rectangle in the framebuffer, in 16.16 fixed point, as requested
    /// (`src_x`, `src_y`, `src_w`, `src_h`).
    pub fn src_rect(&self) -> (u32, u32, u32, u32) {
        // SAFETY: `self.as_raw()` is valid; see `field()`.
        self.field(|s| unsafe { ((*s).src_x, (*s).src_y, (*s).src_w, (*s).src_h) })
    }

    /// Returns the clipped source rectangle (16.16 fixed point) computed by
    /// [`PlaneState::check_plane_state`].
    pub fn src(&self) -> Rect {
        // SAFETY: `self.as_raw()` is valid; see `field()`.
        Rect::from_raw(self.field(|s| unsafe { (*s).src }))
    }

    /// Returns the clipped destination rectangle computed by [`PlaneState::check_plane_state`].
    pub fn dst(&self) -> Rect {
        // SAFETY: `self.as_raw()` is valid; see `field()`.
        Rect::from_raw(self.field(|s| unsafe { (*s).dst }))
    }

    /// Returns whether the plane is visible, as computed by [`PlaneState::check_plane_state`].
    pub fn visible(&self) -> bool {
        // SAFETY: `self.as_raw()` is valid; see `field()`.
        self.field(|s| unsafe { (*s).visible })
    }

    /// Returns the cursor hotspot (`hotspot_x`, `hotspot_y`).
    pub fn hotspot(&self) -> (i32, i32) {
        // SAFETY: `self.as_raw()` is valid; see `field()`.
        self.field(|s| unsafe { ((*s).hotspot_x, (*s).hotspot_y) })
    }

    /// Returns the pixel blend mode (`DRM_MODE_BLEND_*`).
    pub fn pixel_blend_mode(&self) -> u16 {
        // SAFETY: `self.as_raw()` is valid; see `field()`.
        self.field(|s| unsafe { (*s).pixel_blend_mode })
    }

    /// Returns the plane's alpha (0: transparent, 0xffff: opaque).
    pub fn alpha(&self) -> u16 {
        // SAFETY: `self.as_raw()` is valid; see `field()`.
        self.field(|s| unsafe { (*s).alpha })
    }

    /// The default check of [`DriverPlane::atomic_check`]: a plane on a CRTC may cover any part
    /// of it, without scaling, whether the CRTC is enabled or not
    /// ([`PlaneState::check_plane_state`]); a plane without CRTC is fine.
    pub fn check_on_crtc(&mut self, commit: &AtomicCheck<'_, T::Driver>) -> Result {
        let Some(crtc) = self.crtc() else {
            return Ok(());
        };
        let crtc_state = commit.crtc_state(crtc)?;
        self.check_plane_state(crtc_state, Scaling::None, true, true)
    }

    /// Computes the clipped source and destination rectangles and the visibility of the plane
    /// on `crtc_state`, the new state of its CRTC, and checks scaling and positioning
    /// (`drm_atomic_helper_check_plane_state()`).
    ///
    /// `can_position`: whether the plane may cover only part of the CRTC;
    /// `can_update_disabled`: whether the plane may be updated while the CRTC is disabled.
    pub fn check_plane_state(
        &mut self,
        crtc_state: &CrtcState<<T::Driver as KmsDriver>::Crtc>,
        scaling: Scaling,
        can_position: bool,
        can_update_disabled: bool,
    ) -> Result {
        // SAFETY: `self.as_raw()` is valid; see `field()`.
        if self.field(|s| unsafe { (*s).crtc }) != crtc_state.crtc().as_raw() {
            return Err(EINVAL);
        }
        let (min, max) = match scaling {
            Scaling::None => (
                bindings::DRM_PLANE_NO_SCALING as c_int,
                bindings::DRM_PLANE_NO_SCALING as c_int,
            ),
            Scaling::Range { min, max } => (min, max),
        };

        // SAFETY: `self` is exclusively borrowed (check phase) and `crtc_state` is the new state
        // of its CRTC (checked above), which the helper only reads.
        to_result(unsafe {
            bindings::drm_atomic_helper_check_plane_state(
                self.as_raw(),
                crtc_state.as_raw(),
                min,
                max,
                can_position,
                can_update_disabled,
            )
        })
    }

    /// Makes the commit ignore the damage clips of this state and update the whole plane, e.g.
    /// because the framebuffer changed (`ignore_damage_clips`).
    pub fn set_ignore_damage_clips(&mut self, ignore: bool) {
        // SAFETY: `self` is exclusively borrowed (check phase).
        unsafe { (*self.as_raw()).ignore_damage_clips = ignore };
    }

    /// Returns the bounding box of the damage from `old` to this state, in framebuffer
    /// coordinates, or `None` if nothing changed (`drm_atomic_helper_damage_merged()`).
    ///
    /// The whole source rectangle is damaged if the framebuffer or the source rectangle changed,
    /// or if the damage clips are to be ignored.
    pub fn damage_merged(&self, old: &Self) -> Option<Rect> {
        let mut rect = bindings::drm_rect::default();
        // SAFETY: Both states are valid; the helper only reads them.
        unsafe { bindings::drm_atomic_helper_damage_merged(old.as_raw(), self.as_raw(), &mut rect) }
            .then(|| Rect::from_raw(rect))
    }
}

impl<T: DriverPlane> Deref for PlaneState<T> {
    type Target = T::State;

    fn deref(&self) -> &T::State {
        &self.0.data().data
    }
}

impl<T: DriverPlane> DerefMut for PlaneState<T> {
    fn deref_mut(&mut self) -> &mut T::State {
        &mut self.0.data_mut().data
    }
}
