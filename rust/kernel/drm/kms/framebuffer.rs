// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Framebuffers backed by GEM objects.
//!
//! All framebuffers of a modesetting driver are created by the GEM framebuffer helpers
//! (`drm_gem_fb_create_with_funcs()`), from the `fb_create` mode config function that
//! [`KmsBuilder::finish`](super::KmsBuilder::finish) installs: userspace's `ADDFB2` and the
//! in-kernel clients (fbdev emulation) both go through it.
//!
//! C headers: [`include/drm/drm_framebuffer.h`](srctree/include/drm/drm_framebuffer.h),
//! [`include/drm/drm_gem_framebuffer_helper.h`](srctree/include/drm/drm_gem_framebuffer_helper.h)

use super::{
    format::FormatInfo,
    KmsDriver, //
};
use crate::{
    bindings,
    drm::{
        self,
        gem::IntoGEMObject, //
    },
    prelude::*,
    types::Opaque, //
};
use core::marker::PhantomData;

/// The functions of all framebuffers created by [`fb_create_callback`]: those of the GEM
/// framebuffer helpers, and `dirty` through atomic commits (for the damage of front-buffer
/// rendering, e.g. by fbdev emulation).
///
/// A `static` (not a constant), so that its address identifies the framebuffers of Rust KMS
/// drivers.
static GEM_FB_FUNCS: bindings::drm_framebuffer_funcs = bindings::drm_framebuffer_funcs {
    destroy: Some(bindings::drm_gem_fb_destroy),
    create_handle: Some(bindings::drm_gem_fb_create_handle),
    dirty: Some(bindings::drm_atomic_helper_dirtyfb),
};

/// A framebuffer creation request (`struct drm_mode_fb_cmd2`).
///
/// # Invariants
///
/// `self.0` is the request of a framebuffer being created.
#[repr(transparent)]
pub struct FbCreateRequest(bindings::drm_mode_fb_cmd2);

impl FbCreateRequest {
    /// Returns the width in pixels.
    pub fn width(&self) -> u32 {
        self.0.width
    }

    /// Returns the height in pixels.
    pub fn height(&self) -> u32 {
        self.0.height
    }

    /// Returns the pixel format (fourcc code).
    pub fn pixel_format(&self) -> u32 {
        self.0.pixel_format
    }

    /// Returns the modifier of color plane `plane`, if the request has modifiers
    /// (`DRM_MODE_FB_MODIFIERS`).
    pub fn modifier(&self, plane: usize) -> Option<u64> {
        if self.0.flags & bindings::DRM_MODE_FB_MODIFIERS == 0 {
            return None;
        }
        self.0.modifier.get(plane).copied()
    }
}

/// The `fb_create` mode config function of driver `D`.
pub(super) extern "C" fn fb_create_callback<D: KmsDriver>(
    dev: *mut bindings::drm_device,
    file: *mut bindings::drm_file,
    info: *const bindings::drm_format_info,
    cmd: *const bindings::drm_mode_fb_cmd2,
) -> *mut bindings::drm_framebuffer {
    // SAFETY: `fb_create` is only installed on devices of driver `D`; it is called from the
    // `ADDFB2` ioctl or by an in-kernel client, both only after registration.
    let drm = unsafe { drm::Device::<D, drm::Ioctl>::from_raw(dev) };

    // SAFETY: `info` is the (static) description of the requested format.
    let format = unsafe { FormatInfo::from_raw(info) };

    // SAFETY: `cmd` is valid for the call; `FbCreateRequest` is a transparent wrapper.
    let request = unsafe { &*cmd.cast::<FbCreateRequest>() };

    if let Err(e) = D::fb_check(drm, format, request) {
        return e.to_ptr();
    }

    // SAFETY: All arguments are valid for the call. `GEM_FB_FUNCS` is static. The helper looks
    // the GEM objects up in `file`, i.e. among the objects of this device, and checks their
    // sizes against the request.
    unsafe { bindings::drm_gem_fb_create_with_funcs(dev, file, info, cmd, &GEM_FB_FUNCS) }
}

/// A framebuffer of a device of driver `D`.
///
/// # Invariants
///
/// `self.0` is a live `struct drm_framebuffer` of a device of driver `D`, created by
/// [`fb_create_callback`] (its GEM objects are objects of that device).
#[repr(transparent)]
pub struct Framebuffer<D: KmsDriver>(Opaque<bindings::drm_framebuffer>, PhantomData<D>);

impl<D: KmsDriver> Framebuffer<D> {
    /// # Safety
    ///
    /// `ptr` must be a framebuffer of a device of driver `D` on which a reference is held for
    /// `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *const bindings::drm_framebuffer) -> &'a Self {
        // SAFETY: `Framebuffer` is a transparent wrapper; by the safety requirements.
        unsafe { &*ptr.cast() }
    }

    /// Returns the raw `struct drm_framebuffer`.
    pub fn as_raw(&self) -> *mut bindings::drm_framebuffer {
        self.0.get()
    }

    /// Returns the width in pixels.
    pub fn width(&self) -> u32 {
        // SAFETY: `self.as_raw()` is valid; `width` is set at creation and never changes. (The
        // framebuffer as a whole is never borrowed: its refcount and list heads change.)
        unsafe { (*self.as_raw()).width }
    }

    /// Returns the height in pixels.
    pub fn height(&self) -> u32 {
        // SAFETY: As in `width()`.
        unsafe { (*self.as_raw()).height }
    }

    /// Returns the pixel format.
    pub fn format(&self) -> &FormatInfo {
        // SAFETY: As in `width()`; `format` points to a static format description.
        unsafe { FormatInfo::from_raw((*self.as_raw()).format) }
    }

    /// Returns the pitch (bytes per line) of color plane `plane`.
    pub fn pitch(&self, plane: usize) -> u32 {
        // SAFETY: As in `width()`.
        let pitches = unsafe { &(*self.as_raw()).pitches };
        pitches.get(plane).copied().unwrap_or(0)
    }

    /// Returns the offset of color plane `plane` in its GEM object.
    pub fn offset(&self, plane: usize) -> u32 {
        // SAFETY: As in `width()`.
        let offsets = unsafe { &(*self.as_raw()).offsets };
        offsets.get(plane).copied().unwrap_or(0)
    }

    /// Returns the format modifier.
    pub fn modifier(&self) -> u64 {
        // SAFETY: As in `width()`.
        unsafe { (*self.as_raw()).modifier }
    }

    /// Returns the GEM object behind color plane `plane` (0 for single-plane formats).
    ///
    /// Fails with [`EINVAL`] if the format has no such plane, or if the framebuffer or its
    /// object do not belong to this driver's device: a framebuffer made by other functions than
    /// the Rust KMS ones, or an object of another device, is never returned as `D::Object`.
    pub fn gem_object(&self, plane: usize) -> Result<&D::Object> {
        let fb = self.as_raw();

        // SAFETY: `fb` is valid; `funcs`, `dev` and `obj` are set at creation and never change.
        let (funcs, dev, objs) = unsafe { ((*fb).funcs, (*fb).dev, &(*fb).obj) };

        if !core::ptr::eq(funcs, &GEM_FB_FUNCS) || plane >= self.format().num_planes() {
            return Err(EINVAL);
        }
        let obj = *objs.get(plane).ok_or(EINVAL)?;

        // SAFETY: `obj` is NULL or a GEM object on which the framebuffer holds a reference.
        if obj.is_null() || unsafe { (*obj).dev } != dev {
            return Err(EINVAL);
        }

        // SAFETY:
        // - `obj` is a GEM object of a device of driver `D` (checked above). All GEM objects of
        //   such a device are `D::Object`, created by the Rust memory managers: no C helper
        //   allocates one, as their `gem_create_object` is absent or refuses, their dumb buffers
        //   are created in Rust and no C PRIME import helper (`gem_prime_import_sg_table`) is
        //   installed; importing one of the device's own exports returns the exported object.
        // - The framebuffer holds a reference on `obj` for as long as `self` is borrowed.
        Ok(unsafe { D::Object::from_raw(obj) })
    }
}
