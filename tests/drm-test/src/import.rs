// SPDX-License-Identifier: GPL-2.0

//! `import`: buffers rendered on another DRM device (the exporter: vgem) are imported through
//! PRIME into the GPU's card and scanned out: a modeset with pattern A (`WAIT A`), then a page
//! flip with event to pattern B (`WAIT B`), both from exported dumb buffers of the exporter. The
//! host checks the screendumps (png_check.py pattern-a, pattern-b) and that no upload was sent
//! (the trace).
//!
//! With `--unload-exporter`, the exporter then goes away under the buffer on screen: its device and DMA-bufs are closed
//! and unloading its module must fail (EAGAIN: the imports hold it) while B stays on screen
//! (`WAIT C`). Once a buffer of the card's own replaces B (`WAIT D`: pattern A) and the imports
//! are removed, the exporter's module must unload: nothing of it is left in the card.

use crate::checks::{
    Checks,
    Want::{Errno, Success},
};
use crate::kms::{self, Card, Pipe};
use crate::modules;
use crate::pattern::pattern_fb;
use crate::patterns::{self, Pattern};
use crate::{wait_for_host, Context, Res};
use drm::buffer::{self, DrmFourcc};
use drm::control::Device as _;
use drm::Device as _;
use std::fs::OpenOptions;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

/// A DRM device opened without modesetting: the exporter.
struct Exporter(std::fs::File);

impl AsFd for Exporter {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl drm::Device for Exporter {}
impl drm::control::Device for Exporter {}

/// The first card whose driver is `driver`.
fn open_exporter(driver: &str) -> Res<(String, Exporter)> {
    for i in 0..16 {
        let path = format!("/dev/dri/card{i}");
        let Ok(file) = OpenOptions::new().read(true).write(true).open(&path) else {
            continue;
        };
        let card = Exporter(file);
        if let Ok(v) = card.get_driver() {
            if v.name().to_string_lossy() == driver {
                return Ok((path, card));
            }
        }
    }
    Err(format!("no DRM device of driver {driver}").into())
}

/// A w x h XRGB8888 dumb buffer of the exporter showing `p`, exported as a DMA-buf.
fn exported(exp: &Exporter, (w, h): (u32, u32), p: Pattern) -> Res<(OwnedFd, u32)> {
    let mut dumb = exp
        .create_dumb_buffer((w, h), DrmFourcc::Xrgb8888, 32)
        .ctx(format!("exporter: DRM_IOCTL_MODE_CREATE_DUMB {w}x{h}"))?;
    let pitch = buffer::Buffer::pitch(&dumb);
    {
        let mut map = exp
            .map_dumb_buffer(&mut dumb)
            .ctx("exporter: mapping the dumb buffer")?;
        for (y, row) in map
            .chunks_exact_mut(pitch as usize)
            .take(h as usize)
            .enumerate()
        {
            for (x, px) in row.chunks_exact_mut(4).take(w as usize).enumerate() {
                let v = patterns::xrgb(p.pixel(x as u32, y as u32, w, h));
                px.copy_from_slice(&v.to_le_bytes());
            }
        }
    }
    let fd = exp
        .buffer_to_prime_fd(
            buffer::Buffer::handle(&dumb),
            libc::O_CLOEXEC as u32 | libc::O_RDWR as u32,
        )
        .ctx("exporter: DRM_IOCTL_PRIME_HANDLE_TO_FD")?;
    Ok((fd, pitch))
}

/// The import of an exporter's buffer must fail with `errno` (the device offers no blobs).
fn refused(card: &Card, exp: &Exporter, size: (u32, u32), errno: i32) -> Res<()> {
    let (fd, _) = exported(exp, size, Pattern::A)?;
    match card.prime_fd_to_buffer(fd.as_fd()) {
        Err(e) if e.raw_os_error() == Some(errno) => {
            println!("refused: {}", crate::errno_name(errno));
            Ok(())
        }
        Err(e) => Err(format!(
            "import: {}, expected {}",
            crate::describe(&e),
            crate::errno_name(errno)
        )
        .into()),
        Ok(_) => Err(format!("import succeeded, expected {}", crate::errno_name(errno)).into()),
    }
}

pub fn run(device: &str, exporter: &str, refuse: Option<i32>, unload: bool) -> Res<()> {
    let card = Card::open(device)?;
    let driver = card.driver_name()?;
    let pipe = Pipe::find(&card)?;
    let (exp_path, exp) = open_exporter(exporter)?;
    println!(
        "driver {driver}: {}; exporter {exporter} at {exp_path}",
        pipe.describe()
    );

    let size = pipe.size();
    if let Some(errno) = refuse {
        return refused(&card, &exp, size, errno);
    }
    // The buffer of the card's own that replaces the imports, made first: the trace check takes
    // the last blobs created for the imports.
    let own = if unload {
        Some(pattern_fb(&card, &pipe, Pattern::A)?)
    } else {
        None
    };
    let (fd_a, pitch_a) = exported(&exp, size, Pattern::A)?;
    let (fd_b, pitch_b) = exported(&exp, size, Pattern::B)?;
    let a = kms::import_fb(&card, fd_a.as_fd(), pitch_a, size)?;
    let b = kms::import_fb(&card, fd_b.as_fd(), pitch_b, size)?;
    println!("imported: 2 buffers of {}x{}", size.0, size.1);

    kms::modeset_to(&card, &pipe, a.fb, "modeset with imported A")?;
    println!("modeset: imported pattern A");
    wait_for_host("A")?;

    let flip = kms::flip(&card, &pipe, b.fb, Duration::from_secs(5))?;
    println!(
        "flip to imported pattern B: event sequence {}",
        flip.sequence
    );
    wait_for_host("B")?;
    let Some(own) = own else {
        return Ok(());
    };

    // The exporter's device and DMA-bufs closed while B is on screen.
    drop((fd_a, fd_b, exp));
    let mut c = Checks::new(driver);
    c.check(
        "unload-exporter-in-use",
        modules::unload(exporter),
        Errno(libc::EAGAIN),
    );
    wait_for_host("C")?;

    // Replaced by the buffer of the card's own, the imports removed.
    kms::flip(&card, &pipe, own.fb, Duration::from_secs(5))?;
    println!("flip to the card's own pattern A");
    wait_for_host("D")?;
    a.remove(&card)?;
    b.remove(&card)?;
    let (r, took) = modules::unload_within(exporter, Duration::from_secs(5));
    println!(
        "unload-exporter-after-replace: answered after {} ms",
        took.as_millis()
    );
    c.check("unload-exporter-after-replace", r, Success);
    c.finish()
}
