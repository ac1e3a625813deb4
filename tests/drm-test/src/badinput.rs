// SPDX-License-Identifier: GPL-2.0

//! `badinput`: invalid requests must fail with the expected errno, and the display must work
//! afterwards. One line per check (`ok NAME (RESULT)`, `FAIL NAME: got X, want Y` or
//! `skip NAME: WHY`), then `N passed, M failed`; any failure makes the exit status non-zero.
//!
//! Where the two drivers differ, the expectation depends on the driver's name
//! (DRM_IOCTL_VERSION). The values below were observed under QEMU 10.0 with Linux 7.3.4:
//!
//! | check                  | virtio_rs | virtio_gpu | who decides                          |
//! |------------------------|-----------|------------|--------------------------------------|
//! | addfb2-bad-handle      | ENOENT    | EINVAL     | drm_gem_fb_init_with_funcs() / the C |
//! |                        |           |            | driver's fb_create (its own lookup)  |
//! | addfb2-offset-past-end | EINVAL    | success    | the GEM fb helper checks the object  |
//! |                        |           |            | size; the C driver's fb_create does  |
//! |                        |           |            | not                                  |
//! | addfb2-rgb565          | ENOENT    | ENOENT     | the drivers' fb_create: only         |
//! |                        |           |            | XRGB/ARGB8888 (core checks pass)     |
//! | cursor-128x128         | EINVAL    | success    | virtio_rs refuses cursors larger     |
//! |                        |           |            | than the 64x64 the host reads; the C |
//! |                        |           |            | driver lets the host crop            |
//! | atomic-mode-*          | EINVAL    | success    | virtio_rs refuses timings its vblank |
//! | (TEST_ONLY)            |           |            | timer cannot pace; the C driver does |
//! |                        |           |            | not check them                       |
//!
//! Everything else is decided by the DRM core, the same for both.

use crate::checks::{
    errno, Checks,
    Want::{Errno, Success},
};
use crate::kms::{self, Card, Pipe, Placement};
use crate::pattern::{cursor_fb, pattern_fb};
use crate::patterns::{Pattern, CURSOR_SIZE};
use crate::{wait_for_host, Res};
use drm::buffer::{Buffer as _, DrmFourcc};
use drm::control::{
    atomic::AtomicModeReq, from_u32, property, AtomicCommitFlags, Device as _, FbCmd2Flags,
    RawResourceHandle,
};

use std::os::fd::AsFd;
use std::time::Duration;

/// DRM_IOCTL_MODE_ADDFB2 with one plane, raw; a framebuffer that should not have been created
/// is removed again.
#[allow(clippy::too_many_arguments)]
pub(crate) fn addfb2(
    card: &Card,
    (w, h): (u32, u32),
    format: DrmFourcc,
    handle: u32,
    pitch: u32,
    offset: u32,
    flags: FbCmd2Flags,
) -> Result<(), i32> {
    let r = drm_ffi::mode::add_fb2(
        card.as_fd(),
        w,
        h,
        format as u32,
        &[handle, 0, 0, 0],
        &[pitch, 0, 0, 0],
        &[offset, 0, 0, 0],
        &[0; 4],
        flags.bits(),
    );
    if let Ok(info) = &r {
        if let Some(fb) = from_u32(info.fb_id) {
            let _ = card.destroy_framebuffer(fb);
        }
    }
    errno(&r)
}

/// DRM_IOCTL_MODE_CREATE_DUMB, raw; a buffer that should not have been created is destroyed.
fn create_dumb(card: &Card, w: u32, h: u32, bpp: u32) -> Result<(), i32> {
    let r = drm_ffi::mode::dumbbuffer::create(card.as_fd(), w, h, bpp, 0);
    if let Ok(info) = &r {
        let _ = drm_ffi::mode::dumbbuffer::destroy(card.as_fd(), info.handle);
    }
    errno(&r)
}

fn mode_blob(card: &Card, pipe: &Pipe) -> Res<u64> {
    blob_of(card, &drm_ffi::drm_mode_modeinfo::from(pipe.mode))
}

/// A property blob holding the user mode `mode`.
fn blob_of(card: &Card, mode: &drm_ffi::drm_mode_modeinfo) -> Res<u64> {
    match card.create_property_blob(mode) {
        Ok(property::Value::Blob(id)) => Ok(id),
        Ok(_) => Err("CREATEPROPBLOB returned no blob id".into()),
        Err(e) => Err(format!(
            "DRM_IOCTL_MODE_CREATEPROPBLOB (mode): {}",
            crate::describe(&e)
        )
        .into()),
    }
}

fn raw_handle(n: u32) -> RawResourceHandle {
    RawResourceHandle::new(n).expect("non-zero id")
}

/// An object or property id that no object of the device has.
const BOGUS_ID: u32 = 0x7fff_fff0;
/// A GEM handle that the file does not have.
const BOGUS_HANDLE: u32 = 0x7fff_fff0;

pub fn run(device: &str) -> Res<()> {
    let card = Card::open(device)?;
    let driver = card.driver_name()?;
    let pipe = Pipe::find(&card)?;
    println!("driver {driver}: {}", pipe.describe());
    let mut c = Checks::new(driver);
    let (w, h) = pipe.size();

    // ---- DRM_IOCTL_MODE_ADDFB2 -------------------------------------------------------------
    let small = card
        .create_dumb_buffer((64, 64), DrmFourcc::Xrgb8888, 32)
        .map_err(|e| format!("DRM_IOCTL_MODE_CREATE_DUMB 64x64: {}", crate::describe(&e)))?;
    let handle = u32::from(small.handle());
    let pitch = small.pitch();
    let xrgb = DrmFourcc::Xrgb8888;
    let none = FbCmd2Flags::empty();
    let fb64 = |(fw, fh), format, handle, pitch, offset, flags| {
        addfb2(&card, (fw, fh), format, handle, pitch, offset, flags)
    };

    c.check(
        "addfb2-valid",
        fb64((64, 64), xrgb, handle, pitch, 0, none),
        Success,
    );
    let want = c.per_driver(Errno(libc::ENOENT), Errno(libc::EINVAL))?;
    c.check(
        "addfb2-bad-handle",
        fb64((64, 64), xrgb, BOGUS_HANDLE, pitch, 0, none),
        want,
    );
    c.check(
        "addfb2-small-pitch",
        fb64((64, 64), xrgb, handle, 64 * 4 - 4, 0, none),
        Errno(libc::EINVAL),
    );
    // The buffer is 64 * pitch bytes: a framebuffer starting at its end lies wholly outside.
    let want = c.per_driver(Errno(libc::EINVAL), Success)?;
    c.check(
        "addfb2-offset-past-end",
        fb64((64, 64), xrgb, handle, pitch, 64 * pitch, none),
        want,
    );
    c.check(
        "addfb2-width-0",
        fb64((0, 64), xrgb, handle, pitch, 0, none),
        Errno(libc::EINVAL),
    );
    c.check(
        "addfb2-height-0",
        fb64((64, 0), xrgb, handle, pitch, 0, none),
        Errno(libc::EINVAL),
    );
    // RGB565 is a valid DRM format: the core's checks pass and the drivers' fb_create refuses
    // it with ENOENT (both; the C driver's own choice, which virtio_rs copies).
    c.check(
        "addfb2-rgb565",
        fb64((64, 64), DrmFourcc::Rgb565, handle, 128, 0, none),
        Errno(libc::ENOENT),
    );
    // Both drivers set fb_modifiers_not_supported.
    c.check(
        "addfb2-modifiers",
        fb64((64, 64), xrgb, handle, pitch, 0, FbCmd2Flags::MODIFIERS),
        Errno(libc::EINVAL),
    );
    c.check(
        "addfb2-width-8193",
        fb64((8193, 1), xrgb, handle, 8193 * 4, 0, none),
        Errno(libc::EINVAL),
    );
    c.check(
        "addfb2-height-8193",
        fb64((1, 8193), xrgb, handle, pitch, 0, none),
        Errno(libc::EINVAL),
    );
    c.check(
        "addfb2-bad-flags",
        fb64(
            (64, 64),
            xrgb,
            handle,
            pitch,
            0,
            FbCmd2Flags::from_bits_retain(0x8000),
        ),
        Errno(libc::EINVAL),
    );
    card.destroy_dumb_buffer(small)
        .map_err(|e| format!("DRM_IOCTL_MODE_DESTROY_DUMB: {}", crate::describe(&e)))?;

    // ---- DRM_IOCTL_MODE_CREATE_DUMB --------------------------------------------------------
    c.check("dumb-valid", create_dumb(&card, 64, 64, 32), Success);
    c.check(
        "dumb-width-0",
        create_dumb(&card, 0, 64, 32),
        Errno(libc::EINVAL),
    );
    c.check(
        "dumb-height-0",
        create_dumb(&card, 64, 0, 32),
        Errno(libc::EINVAL),
    );
    // Both drivers take 32 bits per pixel only.
    c.check(
        "dumb-bpp-16",
        create_dumb(&card, 64, 64, 16),
        Errno(libc::EINVAL),
    );
    // The core's 32-bit overflow checks: the pitch, then the size.
    c.check(
        "dumb-pitch-overflow",
        create_dumb(&card, 0x4000_0000, 1, 32),
        Errno(libc::EINVAL),
    );
    c.check(
        "dumb-size-overflow",
        create_dumb(&card, 0x1_0000, 0x1_0000, 32),
        Errno(libc::EINVAL),
    );
    c.check(
        "dumb-bpp-overflow",
        create_dumb(&card, 64, 64, u32::MAX),
        Errno(libc::EINVAL),
    );

    // ---- atomic commits ----------------------------------------------------------------------
    let a = pattern_fb(&card, &pipe, Pattern::A)?;
    let blob = mode_blob(&card, &pipe)?;
    let modeset = AtomicCommitFlags::ALLOW_MODESET;
    let commit =
        |req: AtomicModeReq, flags: AtomicCommitFlags| errno(&card.atomic_commit(flags, req));

    let mut req = pipe.modeset(blob, a.fb, pipe.full_screen())?;
    req.add_raw_property(
        pipe.crtc.into(),
        property::Handle::from(raw_handle(BOGUS_ID)),
        0,
    );
    c.check(
        "atomic-unknown-property",
        commit(req, modeset),
        Errno(libc::ENOENT),
    );

    let mut req = pipe.modeset(blob, a.fb, pipe.full_screen())?;
    req.add_raw_property(raw_handle(BOGUS_ID), pipe.crtc_props.id("ACTIVE")?, 1);
    c.check(
        "atomic-unknown-object",
        commit(req, modeset),
        Errno(libc::ENOENT),
    );

    // The primary plane on a CRTC outside its possible_crtcs.
    let primary_crtcs = pipe
        .planes
        .iter()
        .find(|p| p.0 == pipe.primary.handle)
        .map(|p| p.2.clone())
        .unwrap_or_default();
    match pipe.crtcs.iter().find(|&&x| !primary_crtcs.contains(&x)) {
        Some(&other) => {
            let mut req = AtomicModeReq::new();
            pipe.primary
                .show(&mut req, other, a.fb, pipe.full_screen())?;
            c.check(
                "atomic-plane-wrong-crtc",
                commit(req, modeset),
                Errno(libc::EINVAL),
            );
        }
        None => c.skip(
            "atomic-plane-wrong-crtc",
            &format!(
                "the primary plane can be on every CRTC ({})",
                pipe.crtcs.len()
            ),
        ),
    }

    // The primary plane must cover the CRTC (neither driver lets it be positioned).
    let quarter = Placement::at(0, 0, w / 2, h / 2);
    let req = pipe.modeset(blob, a.fb, quarter)?;
    c.check(
        "atomic-primary-not-covering",
        commit(req, modeset),
        Errno(libc::EINVAL),
    );

    // A source rectangle one pixel beyond the framebuffer's right edge.
    let beyond = Placement {
        src: (1, 0, w, h),
        dst: (0, 0, w, h),
    };
    let req = pipe.modeset(blob, a.fb, beyond)?;
    c.check(
        "atomic-src-outside-fb",
        commit(req, modeset),
        Errno(libc::ENOSPC),
    );

    // User modes whose timings the vblank timer cannot pace: a pixel clock of INT_MAX kHz, and
    // htotal * vtotal * vscan = 2^32 (0 in the DRM core's 32-bit arithmetic). virtio_rs refuses
    // both in its atomic check; the C driver accepts them, so it is only asked with TEST_ONLY
    // (committing the second wedges its vblank timer, with a kernel warning).
    let current = drm_ffi::drm_mode_modeinfo::from(pipe.mode);
    let bad_modes = [
        (
            "atomic-mode-clock-int-max",
            drm_ffi::drm_mode_modeinfo {
                clock: i32::MAX as u32,
                ..current
            },
        ),
        (
            "atomic-mode-frame-2^32",
            drm_ffi::drm_mode_modeinfo {
                htotal: 4096,
                vtotal: 4096,
                vscan: 256,
                ..current
            },
        ),
    ];
    for (name, mode) in &bad_modes {
        let bad = blob_of(&card, mode)?;
        let req = pipe.modeset(bad, a.fb, pipe.full_screen())?;
        let want = c.per_driver(Errno(libc::EINVAL), Success)?;
        c.check(
            &format!("{name} (test only)"),
            commit(req, modeset | AtomicCommitFlags::TEST_ONLY),
            want,
        );
        if c.driver == "virtio_rs" {
            let req = pipe.modeset(bad, a.fb, pipe.full_screen())?;
            c.check(name, commit(req, modeset), Errno(libc::EINVAL));
        } else {
            c.skip(
                name,
                "the C driver accepts the mode; committing it may wedge the pipe",
            );
        }
        let _ = card.destroy_property_blob(bad);
    }

    let req = pipe.modeset(blob, a.fb, pipe.full_screen())?;
    c.check("atomic-modeset", commit(req, modeset), Success);

    // ---- the cursor plane ------------------------------------------------------------------
    match pipe.cursor.as_ref() {
        None => c.skip("cursor-*", "the CRTC has no cursor plane"),
        Some(cursor) => {
            let off = |c: &kms::Plane| -> Res<AtomicModeReq> {
                let mut req = AtomicModeReq::new();
                c.hide(&mut req)?;
                Ok(req)
            };
            let small = cursor_fb(&card)?;
            let mut req = AtomicModeReq::new();
            let at = Placement::at(100, 100, CURSOR_SIZE, CURSOR_SIZE);
            cursor.show(&mut req, pipe.crtc, small.fb, at)?;
            c.check(
                "cursor-64x64",
                commit(req, AtomicCommitFlags::empty()),
                Success,
            );
            c.check(
                "cursor-off",
                commit(off(cursor)?, AtomicCommitFlags::empty()),
                Success,
            );

            let big = kms::make_fb(&card, (128, 128), DrmFourcc::Argb8888, |_, _| 0xff00_ff00)?;
            let mut req = AtomicModeReq::new();
            cursor.show(
                &mut req,
                pipe.crtc,
                big.fb,
                Placement::at(100, 100, 128, 128),
            )?;
            let want = c.per_driver(Errno(libc::EINVAL), Success)?;
            let got = commit(req, AtomicCommitFlags::empty());
            c.check("cursor-128x128", got, want);
            if got.is_ok() {
                c.check(
                    "cursor-off-again",
                    commit(off(cursor)?, AtomicCommitFlags::empty()),
                    Success,
                );
            }
        }
    }

    // ---- closing the file with a flip in flight ------------------------------------------------
    let b = pattern_fb(&card, &pipe, Pattern::B)?;
    let mut req = AtomicModeReq::new();
    pipe.primary.props.set(
        &mut req,
        pipe.primary.handle,
        "FB_ID",
        u32::from(b.fb).into(),
    )?;
    let flags = AtomicCommitFlags::NONBLOCK | AtomicCommitFlags::PAGE_FLIP_EVENT;
    c.check("close-after-flip: flip", commit(req, flags), Success);
    // Closing the file removes its framebuffers (so the display is turned off) while the flip
    // and its event may still be pending.
    drop(card);

    let card = Card::open(device)?;
    let pipe = Pipe::find(&card)?;
    let a = pattern_fb(&card, &pipe, Pattern::A)?;
    let blob = mode_blob(&card, &pipe)?;
    let req = pipe.modeset(blob, a.fb, pipe.full_screen())?;
    c.check(
        "close-after-flip: modeset after reopening",
        errno(&card.atomic_commit(AtomicCommitFlags::ALLOW_MODESET, req)),
        Success,
    );
    // And a page flip with its event on the new file.
    let b = pattern_fb(&card, &pipe, Pattern::B)?;
    let mut req = AtomicModeReq::new();
    pipe.primary.props.set(
        &mut req,
        pipe.primary.handle,
        "FB_ID",
        u32::from(b.fb).into(),
    )?;
    let flip = errno(&card.atomic_commit(flags, req)).and_then(|()| {
        kms::wait_flip(&card, pipe.crtc, Duration::from_secs(5)).map_err(|e| {
            println!("  {e}");
            libc::ETIMEDOUT
        })
    });
    c.check(
        "close-after-flip: flip after reopening",
        flip.map(|_| ()),
        Success,
    );
    let req = pipe.modeset(blob, a.fb, pipe.full_screen())?;
    kms::commit(
        &card,
        AtomicCommitFlags::ALLOW_MODESET,
        req,
        "final modeset with pattern A",
    )?;
    wait_for_host("E")?;

    c.finish()
}
