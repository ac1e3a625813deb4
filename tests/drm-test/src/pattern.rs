// SPDX-License-Identifier: GPL-2.0

//! `pattern`: a modeset with pattern A, a page flip to pattern B, timed flips between them, and
//! a cursor that is set and then moved. The host checks the screendumps at `WAIT A` ... `WAIT D`
//! (tests/png_check.py pattern-a, pattern-b) and the cursor commands in QEMU's trace
//! (png_check.py cursor-trace).

use crate::kms::{self, make_fb, Card, Fb, Pipe, Placement};
use crate::patterns::{self, Pattern, CURSOR_SIZE};
use crate::{wait_for_host, Res};
use drm::buffer::DrmFourcc;
use drm::control::{atomic::AtomicModeReq, AtomicCommitFlags};
use std::time::{Duration, Instant};

/// Where the cursor is set (`WAIT C`) and where it is moved to (`WAIT D`).
pub const CURSOR_AT: (i32, i32) = (200, 150);
pub const CURSOR_TO: (i32, i32) = (400, 300);

/// How long a page flip may take: the vblank timer runs at the mode's refresh rate, but a guest
/// under TCG on a loaded host can be slow.
const FLIP_TIMEOUT: Duration = Duration::from_secs(5);

/// Creates a framebuffer of the mode's size showing `p`.
pub fn pattern_fb(card: &Card, pipe: &Pipe, p: Pattern) -> Res<Fb> {
    let (w, h) = pipe.size();
    let (mw, mh) = p.min_size();
    if w < mw || h < mh {
        return Err(
            format!("mode {w}x{h} is too small for pattern {p:?} (needs {mw}x{mh})").into(),
        );
    }
    make_fb(card, (w, h), DrmFourcc::Xrgb8888, |x, y| {
        patterns::xrgb(p.pixel(x, y, w, h))
    })
}

/// Creates the 64x64 ARGB8888 cursor framebuffer.
pub fn cursor_fb(card: &Card) -> Res<Fb> {
    make_fb(
        card,
        (CURSOR_SIZE, CURSOR_SIZE),
        DrmFourcc::Argb8888,
        patterns::cursor_pixel,
    )
}

/// Flips the primary plane to `fb` and waits for the event.
fn flip(card: &Card, pipe: &Pipe, fb: &Fb) -> Res<kms::Flip> {
    kms::flip(card, pipe, fb.fb, FLIP_TIMEOUT)
}

pub fn run(device: &str, flips: u32) -> Res<()> {
    let card = Card::open(device)?;
    let driver = card.driver_name()?;
    let pipe = Pipe::find(&card)?;
    println!("driver {driver}: {}", pipe.describe());

    let a = pattern_fb(&card, &pipe, Pattern::A)?;
    let b = pattern_fb(&card, &pipe, Pattern::B)?;
    kms::modeset_to(&card, &pipe, a.fb, "modeset with pattern A")?;
    println!("modeset: pattern A");
    wait_for_host("A")?;

    let first = flip(&card, &pipe, &b)?;
    println!("flip to pattern B: event sequence {}", first.sequence);
    wait_for_host("B")?;

    // Timed flips, A first: each waits for the previous one's event.
    let mut sequences = vec![first.sequence];
    let mut last = first.time;
    let t0 = Instant::now();
    for i in 0..flips {
        let fb = if i % 2 == 0 { &a } else { &b };
        let f = flip(&card, &pipe, fb).map_err(|e| format!("flip {}: {e}", i + 1))?;
        if f.time < last {
            return Err(format!("flip {}: event time stamp went backwards", i + 1).into());
        }
        last = f.time;
        sequences.push(f.sequence);
    }
    let secs = t0.elapsed().as_secs_f64();
    let seq_text: Vec<String> = sequences.iter().map(u32::to_string).collect();
    println!("sequences: {}", seq_text.join(" "));
    if flips > 0 {
        println!(
            "flips: {flips} in {secs:.3} s, {:.1} flips/s",
            f64::from(flips) / secs
        );
    }
    if let Some(w) = sequences.windows(2).position(|w| w[1] <= w[0]) {
        return Err(format!(
            "page flip event sequence did not increase: {} then {} (events {} and {})",
            sequences[w],
            sequences[w + 1],
            w + 1,
            w + 2
        )
        .into());
    }
    // Pattern B again under the cursor.
    if flips % 2 == 1 {
        flip(&card, &pipe, &b)?;
    }

    let cursor = pipe.cursor.as_ref().ok_or("the CRTC has no cursor plane")?;
    let cfb = cursor_fb(&card)?;
    let mut req = AtomicModeReq::new();
    let (x, y) = CURSOR_AT;
    cursor.show(
        &mut req,
        pipe.crtc,
        cfb.fb,
        Placement::at(x, y, CURSOR_SIZE, CURSOR_SIZE),
    )?;
    for hotspot in ["HOTSPOT_X", "HOTSPOT_Y"] {
        if cursor.props.has(hotspot) {
            cursor.props.set(&mut req, cursor.handle, hotspot, 0)?;
        }
    }
    kms::commit(&card, AtomicCommitFlags::empty(), req, "cursor plane on")?;
    println!("cursor at {x},{y}");
    wait_for_host("C")?;

    let mut req = AtomicModeReq::new();
    let (x, y) = CURSOR_TO;
    cursor
        .props
        .set(&mut req, cursor.handle, "CRTC_X", i64::from(x) as u64)?;
    cursor
        .props
        .set(&mut req, cursor.handle, "CRTC_Y", i64::from(y) as u64)?;
    kms::commit(&card, AtomicCommitFlags::empty(), req, "cursor move")?;
    println!("cursor moved to {x},{y}");
    wait_for_host("D")?;

    println!("pattern: done");
    Ok(())
}
