// SPDX-License-Identifier: GPL-2.0

//! `bench`: what display operations cost a DRM driver, for comparing virtio_rs with virtio_gpu
//! (`make bench`). After a modeset of every head with the cursor shown on the first, each
//! operation runs in `rounds` rounds of `iterations`; per operation, one line gives the guest's
//! busy nanoseconds per operation of every round (module [`crate::schedstat`]: every CPU, idle
//! time left out), their median and their minimum, and one the elapsed nanoseconds:
//!
//! ```text
//! bench: <name> ns/op <median> min <minimum> rounds <r1> <r2> ...
//! elapsed: <name> ns/op <median> min <minimum> rounds <r1> <r2> ...
//! ```
//!
//! Under QEMU's `-icount shift=0` (as `make bench` runs it) a busy guest nanosecond is one guest
//! instruction, so the `bench` lines are instruction counts of the guest's kernel and of this
//! program, not host seconds. Page flips also give their latency, from the commit to the page
//! flip event, over every flip of every round, and the vblanks each flip took:
//!
//! ```text
//! latency: <name> median <ns> min <ns> max <ns> vblanks/flip <mean>
//! ```
//!
//! Around each flip loop the host notes where QEMU's command trace is (`MARK flip-<name>-begin`,
//! `-end`; [`crate::mark_trace`]), to count the commands of a frame.

use crate::debugfs;
use crate::kmemtrace::{KmemTrace, PAGE_SIZE};
use crate::kms::{self, make_fb, Card, Layout as FbLayout, Pipe, Placement};
use crate::mover::{Layout, Mover};
use crate::pattern::cursor_fb;
use crate::{mark_trace, profile, schedstat, Context, Res};
use drm::buffer::{Buffer as _, DrmFourcc};
use drm::control::{
    atomic::AtomicModeReq, framebuffer, property, AtomicCommitFlags, ClipRect, Device as _,
    FbCmd2Flags,
};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::thread;
use std::time::{Duration, Instant};

/// What a round of operations cost, per operation: busy and elapsed guest nanoseconds, and the
/// windows of QEMU's instruction count (see [`profile::window_open`]) that measured it.
#[derive(Default)]
struct Costs {
    busy: Vec<u64>,
    elapsed: Vec<u64>,
    /// Per round, its windows, comma-separated.
    windows: Vec<String>,
    /// Operations per round.
    per_round: u32,
}

impl Costs {
    /// Adds a round of `n` operations that took `busy` and `elapsed` nanoseconds, measured in
    /// `windows` (none unless counted).
    fn add(&mut self, n: u32, busy: u64, elapsed: Duration, windows: &[u64]) {
        self.per_round = n.max(1);
        let n = u64::from(self.per_round);
        self.busy.push(busy / n);
        self.elapsed
            .push(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX) / n);
        if !windows.is_empty() {
            let text: Vec<String> = windows.iter().map(u64::to_string).collect();
            self.windows.push(text.join(","));
        }
    }

    /// Prints the lines of `name`; returns the median busy time.
    fn report(&self, name: &str) -> u64 {
        report("elapsed", name, &self.elapsed);
        self.report_windows(name);
        report("bench", name, &self.busy)
    }

    /// Prints the windows of QEMU's count that measured `name`, if counted.
    fn report_windows(&self, name: &str) {
        if !self.windows.is_empty() {
            println!(
                "insns: {name} per-round {} windows {}",
                self.per_round,
                self.windows.join(" ")
            );
        }
    }
}

/// The busy time that measuring itself adds (reading the counter twice): taken off every
/// measurement. Set once by [`calibrate`].
static OVERHEAD: AtomicU64 = AtomicU64::new(0);

/// How long a measurement lets the work its operations left behind run (the host's answers,
/// the memory freed with them) before it reads the busy time: idle time, which the busy time
/// leaves out, so that each round counts its own deferred work rather than the next one.
const SETTLE: Duration = Duration::from_millis(20);

/// Times `ops` (which runs `n` operations): busy and elapsed guest nanoseconds, added to `costs`,
/// and QEMU's instruction count of the same span when asked for (`--insn-windows`).
fn timed(costs: &mut Costs, n: u32, ops: impl FnOnce() -> Res<()>) -> Res<()> {
    let window = profile::window_open();
    let busy = schedstat::busy_ns()?;
    let t0 = Instant::now();
    ops()?;
    let elapsed = t0.elapsed();
    thread::sleep(SETTLE);
    let busy = schedstat::busy_ns()?.saturating_sub(busy);
    profile::window_close(window);
    let windows: Vec<u64> = window.into_iter().collect();
    costs.add(
        n,
        busy.saturating_sub(OVERHEAD.load(Relaxed)),
        elapsed,
        &windows,
    );
    Ok(())
}

/// Measures [`OVERHEAD`]: the median of 9 measurements of nothing.
fn calibrate() -> Res<()> {
    let mut costs = Costs::default();
    for _ in 0..9 {
        timed(&mut costs, 1, || Ok(()))?;
    }
    let (median, min) = median_min(&costs.busy);
    OVERHEAD.store(median, Relaxed);
    println!("overhead: busy ns {median} min {min} per measurement, taken off each");
    // QEMU's counts of these measurements of nothing: bench-report.py takes their median off.
    costs.report_windows("overhead");
    Ok(())
}

/// Runs `op(i)` for i in 0..n; an error names the operation that failed.
fn run_ops(name: &str, n: u32, op: &mut impl FnMut(u32) -> Res<()>) -> Res<()> {
    (0..n).try_for_each(|i| op(i).map_err(|e| format!("{name}, operation {i}: {e}").into()))
}

/// Runs `op(i)` for i in 0..iterations, `rounds` times; prints the rounds' busy and elapsed
/// nanoseconds per operation, returns the median busy time.
fn measure(
    name: &str,
    iterations: u32,
    rounds: u32,
    mut op: impl FnMut(u32) -> Res<()>,
) -> Res<u64> {
    // One untimed operation: the first one may allocate what the others reuse.
    op(0).map_err(|e| format!("{name}: {e}"))?;
    let mut costs = Costs::default();
    let ops = u64::from(iterations) * u64::from(rounds);
    profile::around(&[name], ops, || {
        for _ in 0..rounds {
            timed(&mut costs, iterations, || {
                run_ops(name, iterations, &mut op)
            })?;
        }
        Ok(())
    })?;
    Ok(costs.report(name))
}

/// The most operations of a pair profiled: the profile of a pair holds what each first
/// operation made (a dumb buffer) until the second ones start.
const PAIR_PROFILE_MAX: u32 = 256;

/// Like [`measure`] for operations that come in pairs (create, destroy): each round runs
/// `iterations` of `first`, then as many of `second`, timed apart.
fn measure_pair(
    (name1, name2): (&str, &str),
    iterations: u32,
    rounds: u32,
    mut first: impl FnMut(u32) -> Res<()>,
    mut second: impl FnMut(u32) -> Res<()>,
) -> Res<()> {
    let mut round = |costs: &mut (Costs, Costs)| -> Res<()> {
        timed(&mut costs.0, iterations, || {
            run_ops(name1, iterations, &mut first)
        })?;
        timed(&mut costs.1, iterations, || {
            run_ops(name2, iterations, &mut second)
        })
    };
    // One untimed round.
    round(&mut (Costs::default(), Costs::default()))?;
    let mut costs = (Costs::default(), Costs::default());
    (0..rounds).try_for_each(|_| round(&mut costs))?;
    costs.0.report(name1);
    costs.1.report(name2);
    // Profiled in a pass of their own, each operation alone (the profiler's counts start when
    // it is turned on): all the first ones, then all the second ones.
    if profile::wanted(&[name1, name2]) {
        // All of the first are alive when the second start: at most PAIR_PROFILE_MAX of them.
        let n = iterations
            .checked_mul(rounds)
            .ok_or("too many operations to profile")?
            .min(PAIR_PROFILE_MAX);
        // Each with the work it left behind, as measured.
        profile::around(&[name1], n.into(), || {
            run_ops(name1, n, &mut first)?;
            thread::sleep(SETTLE);
            Ok(())
        })?;
        profile::around(&[name2], n.into(), || {
            run_ops(name2, n, &mut second)?;
            thread::sleep(SETTLE);
            Ok(())
        })?;
    }
    Ok(())
}

/// The median and minimum of `values` (not empty).
fn median_min(values: &[u64]) -> (u64, u64) {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    (
        sorted.get(sorted.len() / 2).copied().unwrap_or(0),
        sorted.first().copied().unwrap_or(0),
    )
}

/// Prints the median, the minimum and every round of `per_op` as a `kind` line; returns the
/// median.
fn report(kind: &str, name: &str, per_op: &[u64]) -> u64 {
    let (median, min) = median_min(per_op);
    let text: Vec<String> = per_op.iter().map(u64::to_string).collect();
    println!(
        "{kind}: {name} ns/op {median} min {min} rounds {}",
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

/// How long a page flip event may take (guest time).
const FLIP_TIMEOUT: Duration = Duration::from_secs(2);

/// Measures everything on `device`, or with `flips_only` (other head counts and modes) what
/// depends on the heads and the mode: page flips and the first scanout of an import.
pub fn run(device: &str, iterations: u32, rounds: u32, flips_only: bool) -> Res<()> {
    if iterations == 0 || rounds == 0 {
        return Err("--iterations and --rounds must be positive".into());
    }
    let card = Card::open(device)?;
    let driver = card.driver_name()?;
    let pipes = Pipe::every(&card)?;
    let pipe = pipes.first().ok_or("no display pipeline")?;
    println!("driver {driver}: {}", pipe.describe());
    let (w, h) = pipe.size();
    println!("setup: heads {} mode {w}x{h}", pipes.len());

    let screen = make_fb(&card, (w, h), DrmFourcc::Xrgb8888, |x, y| {
        ((x & 0xff) << 16) | ((y & 0xff) << 8) | 0x40
    })?;
    let _cursor = light(&card, &pipes, screen.fb)?;
    calibrate()?;
    if !flips_only {
        display_ops(&card, pipe, screen.fb, iterations, rounds)?;
    }
    let dumb = [0x00c0_2020, 0x0020_20c0]
        .map(|colour| make_fb(&card, (w, h), DrmFourcc::Xrgb8888, |_, _| colour));
    let [a, b] = dumb;
    let head = Head {
        card: &card,
        pipe,
        screen: screen.fb,
        iterations,
        rounds,
    };
    flips(&head, "dumb", [a?.fb, b?.fb])?;
    if std::path::Path::new("/dev/dmabuf_mover").exists() {
        let mover = Mover::open()?;
        imported_flips(&head, &mover)?;
        first_scanout(&head, &mover)?;
        if !flips_only {
            bench_imports(&card, device, iterations, rounds)?;
        }
    }
    profile::check_profiled()
}

/// Lights every pipeline of `pipes` with `fb` in one modeset, the cursor shown on the first;
/// returns the cursor's framebuffer.
fn light(card: &Card, pipes: &[Pipe], fb: framebuffer::Handle) -> Res<kms::Fb> {
    let first = pipes.first().ok_or("no display pipeline")?;
    let blob = mode_blob(card, first)?;
    let mut req = AtomicModeReq::new();
    for pipe in pipes {
        pipe.add_modeset(&mut req, blob, fb, pipe.full_screen())?;
    }
    let cursor_plane = first.cursor.as_ref().ok_or("no cursor plane")?;
    let cursor = cursor_fb(card)?;
    cursor_plane.show(
        &mut req,
        first.crtc,
        cursor.fb,
        Placement::at(100, 100, 64, 64),
    )?;
    kms::commit(
        card,
        AtomicCommitFlags::ALLOW_MODESET,
        req,
        &format!("modeset of {} heads with a cursor", pipes.len()),
    )?;
    Ok(cursor)
}

/// What the flip measurements work on: the lit first head of `card`, which shows `screen`
/// between them, and the rounds to run.
struct Head<'a> {
    card: &'a Card,
    pipe: &'a Pipe,
    screen: framebuffer::Handle,
    iterations: u32,
    rounds: u32,
}

/// Page flips of `pipe` between the framebuffers `fbs`, each a nonblocking commit with a page
/// flip event waited for: `flip-<name>`, its cost per flip and its latency. The host marks its
/// command trace around all rounds; the screen is shown again at the end.
fn flips(head: &Head<'_>, name: &str, fbs: [framebuffer::Handle; 2]) -> Res<()> {
    let Head {
        card,
        pipe,
        screen,
        iterations,
        rounds,
    } = *head;
    let name = format!("flip-{name}");
    // Untimed: the first showing of each.
    for fb in fbs {
        kms::flip(card, pipe, fb, FLIP_TIMEOUT).map_err(|e| format!("{name}: {e}"))?;
    }
    let mut costs = Costs::default();
    let mut latencies = Vec::new();
    let mut vblanks = 0u64;
    let mut round = || -> Res<()> {
        let mut last = None;
        for i in 0..iterations {
            let t0 = Instant::now();
            let flip = kms::flip(card, pipe, fbs[(i % 2) as usize], FLIP_TIMEOUT)
                .map_err(|e| format!("{name}, flip {i}: {e}"))?;
            latencies.push(u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX));
            if let Some(sequence) = last {
                vblanks += u64::from(flip.sequence.wrapping_sub(sequence));
            }
            last = Some(flip.sequence);
        }
        Ok(())
    };
    mark_trace(&format!("{name}-begin"))?;
    let ops = u64::from(iterations) * u64::from(rounds);
    profile::around(&[&name], ops, || {
        (0..rounds).try_for_each(|_| timed(&mut costs, iterations, &mut round))
    })?;
    mark_trace(&format!("{name}-end"))?;
    costs.report(&name);
    let (median, min) = median_min(&latencies);
    let max = latencies.iter().max().copied().unwrap_or(0);
    let intervals = u64::from(iterations.saturating_sub(1)) * u64::from(rounds);
    println!(
        "latency: {name} median {median} min {min} max {max} vblanks/flip {:.2}",
        vblanks as f64 / intervals.max(1) as f64
    );
    kms::flip(card, pipe, screen, FLIP_TIMEOUT).map(|_| ())
}

/// The bytes and pitch of a `w` x `h` XRGB8888 buffer of the test exporter.
fn exporter_buffer((w, h): (u32, u32)) -> (u64, u32) {
    let pitch = w * 4;
    (
        (u64::from(pitch) * u64::from(h)).div_ceil(PAGE_SIZE) * PAGE_SIZE,
        pitch,
    )
}

/// [`flips`] between two imported full-screen buffers of the test exporter: `flip-import`.
fn imported_flips(head: &Head<'_>, mover: &Mover) -> Res<()> {
    let (card, pipe) = (head.card, head.pipe);
    let (size, pitch) = exporter_buffer(pipe.size());
    let fds = [0x0030_a030, 0x00a0_3030].map(|fill| mover.create(size, fill, Layout::Contiguous));
    let [a, b] = fds;
    let (a, b) = (a?, b?);
    let fb_a = kms::import_fb(card, a.as_fd(), pitch, pipe.size())?;
    let fb_b = kms::import_fb(card, b.as_fd(), pitch, pipe.size())?;
    flips(head, "import", [fb_a.fb, fb_b.fb])?;
    fb_a.remove(card)?;
    fb_b.remove(card)
}

/// PRIME import of a full-screen buffer of the test exporter, ADDFB2 and the page flip that
/// first shows it, up to its event: `first-scanout-import`. Each is then replaced by the screen
/// and removed, untimed. A tenth of the iterations, as the imports.
fn first_scanout(head: &Head<'_>, mover: &Mover) -> Res<()> {
    let iterations = (head.iterations / 10).max(3);
    first_scanout_measure(head, mover, iterations)?;
    first_scanout_profile(head, mover, iterations)
}

const FIRST_SCANOUT: &str = "first-scanout-import";

/// The measurement of [`first_scanout`], `iterations` per round.
fn first_scanout_measure(head: &Head<'_>, mover: &Mover, iterations: u32) -> Res<()> {
    let (card, pipe, name) = (head.card, head.pipe, FIRST_SCANOUT);
    let (size, pitch) = exporter_buffer(pipe.size());
    let mut costs = Costs::default();
    // One untimed round.
    for r in 0..=head.rounds {
        let (mut busy, mut elapsed, mut windows) = (0u64, Duration::ZERO, Vec::new());
        for i in 0..iterations {
            let fd = mover.create(size, 0x0060_6060, Layout::Contiguous)?;
            let window = profile::window_open();
            let b0 = schedstat::busy_ns()?;
            let t0 = Instant::now();
            let imported = kms::import_fb(card, fd.as_fd(), pitch, pipe.size())?;
            kms::flip(card, pipe, imported.fb, FLIP_TIMEOUT)
                .map_err(|e| format!("{name}, operation {i}: {e}"))?;
            elapsed += t0.elapsed();
            thread::sleep(SETTLE);
            busy += schedstat::busy_ns()?
                .saturating_sub(b0)
                .saturating_sub(OVERHEAD.load(Relaxed));
            profile::window_close(window);
            windows.extend(window);
            kms::flip(card, pipe, head.screen, FLIP_TIMEOUT)?;
            imported.remove(card)?;
        }
        if r > 0 {
            costs.add(iterations, busy, elapsed, &windows);
        }
    }
    costs.report(name);
    Ok(())
}

/// The most bytes of exporter buffers the profile of [`first_scanout`] holds at once.
const FIRST_SCANOUT_PROFILE_BYTES: u64 = 256 << 20;

/// The profile of [`first_scanout`], in a pass of its own: a profile is one span, and the
/// measurement's untimed steps lie between its operations. The exporter's buffers are made
/// before the span, and the imports removed after it; within it, each import, ADDFB2 and first
/// flip replaces the previous import, whose cleanup (the flush's fence, the unpin) the span
/// therefore holds where the measurement's held the screen's.
fn first_scanout_profile(head: &Head<'_>, mover: &Mover, iterations: u32) -> Res<()> {
    let (card, pipe, name) = (head.card, head.pipe, FIRST_SCANOUT);
    if !profile::wanted(&[name]) {
        return Ok(());
    }
    let (size, pitch) = exporter_buffer(pipe.size());
    // Every buffer is alive until the span ends: at most FIRST_SCANOUT_PROFILE_BYTES of them.
    let most = u32::try_from(FIRST_SCANOUT_PROFILE_BYTES / size.max(1)).unwrap_or(u32::MAX);
    let n = iterations
        .checked_mul(head.rounds)
        .ok_or("too many operations to profile")?
        .min(most.max(1));
    let fds = (0..n)
        .map(|_| mover.create(size, 0x0060_6060, Layout::Contiguous))
        .collect::<Res<Vec<_>>>()?;
    let mut imported = Vec::new();
    let profiled = profile::around(&[name], n.into(), || {
        for (i, fd) in fds.iter().enumerate() {
            let fb = kms::import_fb(card, fd.as_fd(), pitch, pipe.size())?;
            let shown = kms::flip(card, pipe, fb.fb, FLIP_TIMEOUT);
            imported.push(fb);
            shown.map_err(|e| format!("{name}, operation {i}: {e}"))?;
        }
        thread::sleep(SETTLE);
        Ok(())
    });
    let shown = kms::flip(card, pipe, head.screen, FLIP_TIMEOUT).map(|_| ());
    let removed = imported.into_iter().try_for_each(|fb| fb.remove(card));
    profiled.and(shown).and(removed)
}

/// What does not depend on the heads and the mode: atomic checks, cursor moves, damage,
/// framebuffers and dumb buffers, on the lit `pipe` showing `screen`.
fn display_ops(
    card: &Card,
    pipe: &Pipe,
    screen: framebuffer::Handle,
    iterations: u32,
    rounds: u32,
) -> Res<()> {
    // The atomic check of a full primary plane update (nothing is committed).
    measure("atomic-test-only", iterations, rounds, |_| {
        let mut req = AtomicModeReq::new();
        pipe.primary
            .show(&mut req, pipe.crtc, screen, pipe.full_screen())?;
        kms::commit(card, AtomicCommitFlags::TEST_ONLY, req, "TEST_ONLY update")
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
        card.dirty_framebuffer(screen, &[clip])
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
    )
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
        (1920 * 1080 * 4u64).div_ceil(4096) * 4096,
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
