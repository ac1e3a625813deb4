// SPDX-License-Identifier: GPL-2.0

//! `badimport`: imports that must fail, and exporters that misbehave while their buffer is
//! used, with buffers of the test exporter (/dev/dmabuf_mover). One line per check, as
//! `badinput`; the display must keep its last good frame throughout (screendumps A, K: pattern
//! A; R, R2: the colour `shown` names). The program ends with an imported buffer on screen whose
//! DMA-buf it closed; the scenario then unloads the GPU's driver and the exporter.
//!
//! | check                    | virtio_rs | virtio_gpu | why                                  |
//! |--------------------------|-----------|------------|--------------------------------------|
//! | addfb2-larger-than-buffer| EINVAL    | success    | the GEM fb helper checks the object  |
//! |                          |           |            | size; the C driver's fb_create not   |
//! | import-stalled-fence     | ETIMEDOUT | (skipped)  | virtio_rs waits 2 s for the kernel   |
//! |                          |           |            | fences; the C driver without limit   |
//! | import-over-list-limit   | E2BIG     | success    | a host maps a blob with a udmabuf of |
//! |                          |           |            | at most 1024 entries (by default);   |
//! |                          |           |            | QEMU copies one it cannot map: the C |
//! |                          |           |            | driver's import silently copies      |
//! | import-contiguous-1080p  | success   | success    | 4 MiB blocks: a few entries          |
//! | cursor-imported-image    | EINVAL    | success    | virtio_rs: the cursor queue is not   |
//! | (TEST_ONLY)              |           |            | ordered with the detach of a move    |
//! | flip-refused-mapping     | EBUSY     | EBUSY      | the exporter's errno, from prepare_fb|
//! | unload-exporter-in-use   | EAGAIN    | EAGAIN     | the imported buffer holds the        |
//! |                          |           |            | exporter's module                    |

use crate::badinput::addfb2;
use crate::checks::{
    errno, Checks,
    Want::{Errno, Success},
};
use crate::kms::{self, Card, Pipe};
use crate::modules;
use crate::mover::{Layout, Mover};
use crate::pattern::pattern_fb;
use crate::patterns::Pattern;
use crate::{wait_for_host, Res};
use drm::buffer::DrmFourcc;
use drm::control::{
    atomic::AtomicModeReq, framebuffer, AtomicCommitFlags, Device as _, FbCmd2Flags,
};
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

/// The size of a 1920x1080 XRGB8888 buffer, in whole pages: 2025 pages, more than the host's
/// 1024 udmabuf entries when scattered.
const SIZE_1080P: u64 = (1920 * 1080 * 4u64).div_ceil(4096) * 4096;

/// DRM_IOCTL_PRIME_FD_TO_HANDLE: the imported buffer's GEM handle, or the errno.
fn import(card: &Card, fd: &OwnedFd) -> Result<u32, i32> {
    let r = card.prime_fd_to_buffer(fd.as_fd());
    errno(&r)?;
    r.map(u32::from).map_err(|_| libc::EIO)
}

/// A nonblocking page flip of `pipe`'s primary plane to `fb`: the commit's errno, or the flip
/// event.
fn flip(card: &Card, pipe: &Pipe, fb: framebuffer::Handle) -> Res<Result<(), i32>> {
    let mut req = AtomicModeReq::new();
    pipe.primary
        .props
        .set(&mut req, pipe.primary.handle, "FB_ID", u32::from(fb).into())?;
    let r = card.atomic_commit(
        AtomicCommitFlags::NONBLOCK | AtomicCommitFlags::PAGE_FLIP_EVENT,
        req,
    );
    if errno(&r).is_ok() {
        kms::wait_flip(card, pipe.crtc, Duration::from_secs(5))?;
    }
    Ok(errno(&r))
}

pub fn run(device: &str) -> Res<()> {
    let card = Card::open(device)?;
    let driver = card.driver_name()?;
    let pipe = Pipe::find(&card)?;
    println!("driver {driver}: {}", pipe.describe());
    let mut c = Checks::new(driver.clone());
    let mover = Mover::open()?;
    let (w, h) = pipe.size();
    let pitch = w * 4;
    let size = u64::from(pitch) * u64::from(h);

    // The last good frame: pattern A, in a buffer of the card's own.
    let good = pattern_fb(&card, &pipe, Pattern::A)?;
    kms::modeset_to(&card, &pipe, good.fb, "modeset with pattern A")?;
    wait_for_host("A")?;

    // A buffer smaller than the framebuffer that names it.
    let small = mover.create(4096, 0x00ff_0000, Layout::Pages)?;
    let handle = import(&card, &small).map_err(|e| format!("importing one page: errno {e}"))?;
    let want = c.per_driver(Errno(libc::EINVAL), Success)?;
    let r = addfb2(
        &card,
        (w, h),
        DrmFourcc::Xrgb8888,
        handle,
        pitch,
        0,
        FbCmd2Flags::empty(),
    );
    c.check("addfb2-larger-than-buffer", r, want);

    // An imported cursor image (TEST_ONLY).
    if let Some(cursor) = &pipe.cursor {
        let image = mover.create(64 * 64 * 4, 0x8020_4060, Layout::Pages)?;
        let handle = import(&card, &image).map_err(|e| format!("importing 64x64: errno {e}"))?;
        let layout = kms::Layout {
            size: (64, 64),
            format: DrmFourcc::Argb8888,
            handle: drm::control::from_u32(handle).ok_or("GEM handle 0")?,
            pitch: 64 * 4,
            offset: 0,
        };
        let fb = card
            .add_planar_framebuffer(&layout, FbCmd2Flags::empty())
            .map_err(|e| {
                format!(
                    "ADDFB2 on the imported cursor image: {}",
                    crate::describe(&e)
                )
            })?;
        let mut req = AtomicModeReq::new();
        cursor.show(&mut req, pipe.crtc, fb, kms::Placement::at(0, 0, 64, 64))?;
        let r = card.atomic_commit(AtomicCommitFlags::TEST_ONLY, req);
        let want = c.per_driver(Errno(libc::EINVAL), Success)?;
        c.check("cursor-imported-image", errno(&r), want);
        let _ = card.destroy_framebuffer(fb);
    }

    // Kernel fences of the exporter that never signal.
    let stalled = mover.create(size, 0x00ff_00ff, Layout::Pages)?;
    mover.stall(&stalled)?;
    if driver == "virtio_gpu" {
        c.skip(
            "import-stalled-fence",
            "the C driver waits for the exporter's fences without limit (a hung task)",
        );
    } else {
        let t0 = Instant::now();
        let r = import(&card, &stalled).map(|_| ());
        println!(
            "import-stalled-fence: answered in {} ms",
            t0.elapsed().as_millis()
        );
        c.check("import-stalled-fence", r, Errno(libc::ETIMEDOUT));
    }
    drop(stalled);

    // More memory entries than the host's udmabuf list limit.
    let scattered = mover.create(SIZE_1080P, 0x0000_ff00, Layout::Scattered)?;
    let want = c.per_driver(Errno(libc::E2BIG), Success)?;
    c.check(
        "import-over-list-limit",
        import(&card, &scattered).map(|_| ()),
        want,
    );
    drop(scattered);
    // The same size in 4 MiB blocks: a few entries, within the limit.
    let contiguous = mover.create(SIZE_1080P, 0x0000_ff00, Layout::Contiguous)?;
    c.check(
        "import-contiguous-1080p",
        import(&card, &contiguous).map(|_| ()),
        Success,
    );
    drop(contiguous);

    // The exporter refuses to map a buffer again after moving it: the commit that shows it
    // fails with the exporter's errno, and the screen keeps pattern A.
    let refused = mover.create(size, 0x0030_60c0, Layout::Pages)?;
    let fb = kms::import_fb(&card, refused.as_fd(), pitch, (w, h))?.fb;
    mover.refuse(&refused, libc::EBUSY)?;
    mover
        .move_to(&refused, 0x00c0_6030, 0)
        .map_err(|e| format!("moving the refused buffer: {}", crate::describe(&e)))?;
    c.check(
        "flip-refused-mapping",
        flip(&card, &pipe, fb)?,
        Errno(libc::EBUSY),
    );
    wait_for_host("K")?;

    // It maps again: shown with its new pages.
    mover.refuse(&refused, 0)?;
    flip(&card, &pipe, fb)?.map_err(|e| format!("flip once the exporter maps again: errno {e}"))?;
    println!("shown R c06030");
    wait_for_host("R")?;

    // The exporter's DMA-buf closed and its module unloading while the buffer is on screen:
    // the imported buffer keeps both, and stays on screen.
    drop(refused);
    drop(small);
    c.check(
        "unload-exporter-in-use",
        modules::unload("dmabuf_mover"),
        Errno(libc::EAGAIN),
    );
    println!("shown R2 c06030");
    wait_for_host("R2")?;
    c.finish()
}
