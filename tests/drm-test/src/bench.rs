// SPDX-License-Identifier: GPL-2.0

//! `bench`: what display operations cost a DRM driver, for comparing virtio_rs with virtio_gpu
//! (`make bench`). After a modeset with the cursor shown, each operation runs in `rounds`
//! rounds of `iterations`; one line per operation gives the guest nanoseconds per operation of
//! every round, their median and their minimum:
//!
//! ```text
//! bench: <name> ns/op <median> min <minimum> rounds <r1> <r2> ...
//! ```
//!
//! Under QEMU's `-icount shift=0` (as `make bench` runs it) a guest nanosecond is one guest
//! instruction while the guest runs, so these are instruction counts of the guest's kernel and
//! of this program, not host seconds.

use crate::debugfs;
use crate::kmemtrace::{KmemTrace, PAGE_SIZE};
use crate::kms::{self, make_fb, Card, Layout as FbLayout, Pipe, Placement};
use crate::mover::{Layout, Mover};
use crate::pattern::cursor_fb;
use crate::{Context, Res};
use drm::buffer::{Buffer as _, DrmFourcc};
use drm::control::{
    atomic::AtomicModeReq, framebuffer, property, AtomicCommitFlags, ClipRect, Device as _,
    FbCmd2Flags,
};
use std::os::fd::{AsFd, OwnedFd};
use std::thread;
use std::time::{Duration, Instant};

/// Runs `op(i)` for i in 0..iterations, `rounds` times; prints and returns the median of the
/// rounds' nanoseconds per operation.
fn measure(
    name: &str,
    iterations: u32,
    rounds: u32,
    mut op: impl FnMut(u32) -> Res<()>,
) -> Res<u64> {
    // One untimed operation: the first one may allocate what the others reuse.
    op(0).map_err(|e| format!("{name}: {e}"))?;
    let mut per_op = Vec::new();
    for _ in 0..rounds {
        let t0 = Instant::now();
        for i in 0..iterations {
            op(i).map_err(|e| format!("{name}, operation {i}: {e}"))?;
        }
        per_op.push(t0.elapsed().as_nanos() as u64 / u64::from(iterations));
    }
    Ok(report(name, &per_op))
}

/// Like [`measure`] for operations that come in pairs (create, destroy): each round runs
/// `iterations` of `first`, then as many of `second`, timed apart.
fn measure_pair(
    (name1, name2): (&str, &str),
    iterations: u32,
    rounds: u32,
    mut first: impl FnMut(u32) -> Res<()>,
    mut second: impl FnMut(u32) -> Res<()>,
) -> Res<()> {
    let mut times = (Vec::new(), Vec::new());
    // One untimed round.
    for r in 0..=rounds {
        let t0 = Instant::now();
        for i in 0..iterations {
            first(i).map_err(|e| format!("{name1}, operation {i}: {e}"))?;
        }
        let t1 = Instant::now();
        for i in 0..iterations {
            second(i).map_err(|e| format!("{name2}, operation {i}: {e}"))?;
        }
        if r > 0 {
            times
                .0
                .push((t1 - t0).as_nanos() as u64 / u64::from(iterations));
            times
                .1
                .push(t1.elapsed().as_nanos() as u64 / u64::from(iterations));
        }
    }
    report(name1, &times.0);
    report(name2, &times.1);
    Ok(())
}

/// Prints the median, the minimum and every round of `per_op`; returns the median.
fn report(name: &str, per_op: &[u64]) -> u64 {
    let mut sorted = per_op.to_vec();
    sorted.sort_unstable();
    let median = sorted[sorted.len() / 2];
    let text: Vec<String> = per_op.iter().map(u64::to_string).collect();
    println!(
        "bench: {name} ns/op {median} min {} rounds {}",
        sorted[0],
        text.join(" ")
    );
    median
}

fn mode_blob(card: &Card, pipe: &Pipe) -> Res<u64> {
    match card
        .create_property_blob(&pipe.mode)
        .ctx("DRM_IOCTL_MODE_CREATEPROPBLOB (mode)")?
    {
        property::Value::Blob(id) => Ok(id),
        _ => Err("CREATEPROPBLOB returned no blob id".into()),
    }
}

pub fn run(device: &str, iterations: u32, rounds: u32) -> Res<()> {
    if iterations == 0 || rounds == 0 {
        return Err("--iterations and --rounds must be positive".into());
    }
    let card = Card::open(device)?;
    let driver = card.driver_name()?;
    let pipe = Pipe::find(&card)?;
    println!("driver {driver}: {}", pipe.describe());
    let (w, h) = pipe.size();

    let screen = make_fb(&card, (w, h), DrmFourcc::Xrgb8888, |x, y| {
        ((x & 0xff) << 16) | ((y & 0xff) << 8) | 0x40
    })?;
    let blob = mode_blob(&card, &pipe)?;
    let mut req = pipe.modeset(blob, screen.fb, pipe.full_screen())?;
    let cursor_plane = pipe.cursor.as_ref().ok_or("no cursor plane")?;
    let cursor = cursor_fb(&card)?;
    cursor_plane.show(
        &mut req,
        pipe.crtc,
        cursor.fb,
        Placement::at(100, 100, 64, 64),
    )?;
    kms::commit(
        &card,
        AtomicCommitFlags::ALLOW_MODESET,
        req,
        "modeset with a cursor",
    )?;

    // The atomic check of a full primary plane update (nothing is committed).
    measure("atomic-test-only", iterations, rounds, |_| {
        let mut req = AtomicModeReq::new();
        pipe.primary
            .show(&mut req, pipe.crtc, screen.fb, pipe.full_screen())?;
        kms::commit(&card, AtomicCommitFlags::TEST_ONLY, req, "TEST_ONLY update")
    })?;

    // Cursor moves through the legacy ioctl, which does not wait for a vblank.
    measure("cursor-move", iterations, rounds, |i| {
        let x = 100 + (i % 64) as i32 * 8;
        #[allow(deprecated)]
        card.move_cursor(pipe.crtc, (x, 200))
            .ctx("DRM_IOCTL_MODE_CURSOR (move)")
    })?;

    // A damaged 64x64 rectangle of the scanned-out buffer (DIRTYFB): a transfer and a flush
    // to the host, as for the fbdev console or a compositor's damage.
    measure("dirtyfb-64x64", iterations, rounds, |i| {
        let x = ((i % 8) * 64) as u16;
        let clip = ClipRect::new(x, 64, x + 64, 128);
        card.dirty_framebuffer(screen.fb, &[clip])
            .ctx("DRM_IOCTL_MODE_DIRTYFB")
    })?;

    // A framebuffer added on an existing buffer and removed again (no host command).
    let mut dumb = card
        .create_dumb_buffer((256, 256), DrmFourcc::Xrgb8888, 32)
        .ctx("DRM_IOCTL_MODE_CREATE_DUMB 256x256")?;
    let layout = FbLayout {
        size: (256, 256),
        format: DrmFourcc::Xrgb8888,
        handle: dumb.handle(),
        pitch: dumb.pitch(),
        offset: 0,
    };
    measure("addfb2-rmfb", iterations, rounds, |_| {
        let fb: framebuffer::Handle = card
            .add_planar_framebuffer(&layout, FbCmd2Flags::empty())
            .ctx("DRM_IOCTL_MODE_ADDFB2")?;
        card.destroy_framebuffer(fb).ctx("DRM_IOCTL_MODE_RMFB")
    })?;
    {
        // The buffer was usable all along.
        let map = card
            .map_dumb_buffer(&mut dumb)
            .ctx("mapping the dumb buffer")?;
        if map.len() < 256 * 256 * 4 {
            return Err(format!("dumb buffer of {} bytes", map.len()).into());
        }
    }
    card.destroy_dumb_buffer(dumb)
        .ctx("DRM_IOCTL_MODE_DESTROY_DUMB")?;

    // 256x256 dumb buffers (host resources with their backing): `iterations` created, then
    // destroyed, timed apart.
    let buffers = std::cell::RefCell::new(Vec::new());
    let create = |_| -> Res<()> {
        let dumb = card
            .create_dumb_buffer((256, 256), DrmFourcc::Xrgb8888, 32)
            .ctx("DRM_IOCTL_MODE_CREATE_DUMB 256x256")?;
        buffers.borrow_mut().push(dumb);
        Ok(())
    };
    let destroy = |_| -> Res<()> {
        let dumb = buffers.borrow_mut().pop().ok_or("no dumb buffer left")?;
        card.destroy_dumb_buffer(dumb)
            .ctx("DRM_IOCTL_MODE_DESTROY_DUMB")
    };
    measure_pair(
        ("dumb-create-256x256", "dumb-destroy-256x256"),
        iterations,
        rounds,
        create,
        destroy,
    )?;
    if std::path::Path::new("/dev/dmabuf_mover").exists() {
        bench_imports(&card, device, iterations, rounds)?;
    }
    Ok(())
}

/// The buffers whose import is measured: name, bytes, layout. The scattered ones have one
/// memory entry per page, up to the host's limit of 1024; the contiguous ones a few.
const IMPORTS: [(&str, u64, Layout); 6] = [
    ("256p-scattered", 256 * 4096, Layout::Scattered),
    ("512p-scattered", 512 * 4096, Layout::Scattered),
    ("1024p-scattered", 1024 * 4096, Layout::Scattered),
    ("720p-contiguous", 1280 * 720 * 4, Layout::Contiguous),
    (
        "1080p-contiguous",
        (1920 * 1080 * 4 + 4095) / 4096 * 4096,
        Layout::Contiguous,
    ),
    ("4k-contiguous", 3840 * 2160 * 4, Layout::Contiguous),
];

/// The imports kept at once when measuring what an import holds.
const MEMORY_IMPORTS: u64 = 8;

/// The kernel memory that each of [`MEMORY_IMPORTS`] imports of `size`-byte buffers in `layout`
/// holds while the imports live (module [`crate::kmemtrace`]), exporter's mapping included:
/// bytes of slab objects and bytes of pages, per import.
fn import_memory(card: &Card, mover: &Mover, size: u64, layout: Layout) -> Res<(u64, u64)> {
    let fds = (0..MEMORY_IMPORTS)
        .map(|_| mover.create(size, 0x0020_4080, layout))
        .collect::<Res<Vec<OwnedFd>>>()?;
    let trace = KmemTrace::start()?;
    let mut handles = Vec::new();
    for fd in &fds {
        handles.push(
            card.prime_fd_to_buffer(fd.as_fd())
                .ctx("DRM_IOCTL_PRIME_FD_TO_HANDLE")?,
        );
    }
    // What the imports left to the driver's workers (the host's answers) is done by then.
    thread::sleep(Duration::from_millis(200));
    let kept = trace.stop()?;
    for handle in handles {
        drm_ffi::gem::close(card.as_fd(), u32::from(handle)).ctx("DRM_IOCTL_GEM_CLOSE")?;
    }
    Ok((
        kept.slab_bytes / MEMORY_IMPORTS,
        kept.pages * PAGE_SIZE / MEMORY_IMPORTS,
    ))
}

/// PRIME import and close of buffers of the test exporter (/dev/dmabuf_mover), by size and
/// layout: `import-close-<name>`. The import makes the host resource; the close frees it (an
/// import of a buffer the file still has would only look up its handle). A tenth of the
/// iterations, these being large buffers. Then the memory an import holds:
///
/// ```text
/// memory: <name> slab-bytes <per import> page-bytes <per import>
/// ```
fn bench_imports(card: &Card, device: &str, iterations: u32, rounds: u32) -> Res<()> {
    let mover = Mover::open()?;
    let iterations = (iterations / 10).max(3);
    for (name, size, layout) in IMPORTS {
        let fd = mover.create(size, 0x0040_8020, layout)?;
        // virtio_rs tells how many memory entries the host got.
        if card.driver_name()? == "virtio_rs" {
            let handle = card
                .prime_fd_to_buffer(fd.as_fd())
                .ctx("DRM_IOCTL_PRIME_FD_TO_HANDLE")?;
            let entries = debugfs::imports(device)?
                .last()
                .map(|i| i.entries)
                .ok_or("virtio_rs' debugfs lists no import")?;
            println!("import: {name} pages {} entries {entries}", size / 4096);
            drm_ffi::gem::close(card.as_fd(), u32::from(handle)).ctx("DRM_IOCTL_GEM_CLOSE")?;
        }
        measure(&format!("import-close-{name}"), iterations, rounds, |_| {
            let handle = card
                .prime_fd_to_buffer(fd.as_fd())
                .ctx("DRM_IOCTL_PRIME_FD_TO_HANDLE")?;
            drm_ffi::gem::close(card.as_fd(), u32::from(handle)).ctx("DRM_IOCTL_GEM_CLOSE")?;
            Ok(())
        })?;
        drop(fd);
        let (slab, pages) = import_memory(card, &mover, size, layout)?;
        println!("memory: {name} slab-bytes {slab} page-bytes {pages}");
    }
    Ok(())
}
