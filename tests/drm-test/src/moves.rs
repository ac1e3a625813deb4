// SPDX-License-Identifier: GPL-2.0

//! `moves`: buffers of the test exporter (tests/dmabuf-mover, /dev/dmabuf_mover) imported
//! into the GPU's card, then moved by the exporter while the other one is on screen, and
//! flipped to: each move must reach the host as a detach, and the next frame must show the
//! moved buffer's new pages. With `--revokes N`, then the buffer on screen is revoked (moved
//! despite its pin) N times. Prints `shown TAG RRGGBB` for every screendump (`WAIT TAG`) that
//! must show that colour, `off TAG RRGGBB` for one that must not, which the host checks
//! (png_check.py shown, off).

use crate::kms::{self, Card, Pipe};
use crate::mover::{Layout, Mover, FORCE};
use crate::{wait_for_host, Context, Res};
use drm::control::framebuffer;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// The colour of the frame after move `i`: distinct for every move, never black.
fn color(i: u32) -> u32 {
    let r = (i * 37 + 64) % 256;
    let g = (i * 91 + 32) % 256;
    let b = (i * 53 + 128) % 256;
    (r << 16) | (g << 8) | b | 0x0010_1010
}

/// An imported buffer of the test exporter: its DMA-buf, framebuffer and current colour.
struct Buf {
    fd: OwnedFd,
    fb: framebuffer::Handle,
    fill: u32,
}

/// Moves the buffer off screen and flips to it, `moves` times; returns the one on screen.
fn move_hidden(
    card: &Card,
    pipe: &Pipe,
    mover: &Mover,
    bufs: &mut [Buf; 2],
    moves: u32,
) -> Res<usize> {
    let mut on_screen = 0;
    for i in 1..=moves {
        let off = 1 - on_screen;
        let fill = color(i);
        mover
            .move_to(&bufs[off].fd, fill, 0)
            .ctx(format!("move {i}: DMABUF_MOVER_MOVE"))?;
        bufs[off].fill = fill;
        kms::flip(card, pipe, bufs[off].fb, Duration::from_secs(5))
            .map_err(|e| format!("move {i}: {e}"))?;
        on_screen = off;
        println!("shown M{i} {fill:06x}");
        wait_for_host(&format!("M{i}"))?;
    }
    Ok(on_screen)
}

/// Revokes the buffer on screen `revokes` times (a forced move, as by an exporter whose device
/// goes away): the screendump right after it (`off R<i>`) must not show its old pages, nor
/// crash the host; a flip to the same framebuffer shows the new pages (`S<i>`), then the other
/// buffer is flipped to (`F<i>`), and is the next one revoked. Returns the one on screen.
fn revoke_shown(
    card: &Card,
    pipe: &Pipe,
    mover: &Mover,
    bufs: &mut [Buf; 2],
    mut on_screen: usize,
    revokes: u32,
) -> Res<usize> {
    for i in 1..=revokes {
        let old = bufs[on_screen].fill;
        let fill = color(1000 + i);
        mover
            .move_to(&bufs[on_screen].fd, fill, FORCE)
            .ctx(format!("revocation {i}: DMABUF_MOVER_MOVE (forced)"))?;
        bufs[on_screen].fill = fill;
        println!("off R{i} {old:06x}");
        wait_for_host(&format!("R{i}"))?;
        kms::flip(card, pipe, bufs[on_screen].fb, Duration::from_secs(5))
            .map_err(|e| format!("revocation {i}: flip to the same buffer: {e}"))?;
        println!("shown S{i} {fill:06x}");
        wait_for_host(&format!("S{i}"))?;
        on_screen = 1 - on_screen;
        kms::flip(card, pipe, bufs[on_screen].fb, Duration::from_secs(5))
            .map_err(|e| format!("revocation {i}: flip to the other buffer: {e}"))?;
        println!("shown F{i} {:06x}", bufs[on_screen].fill);
        wait_for_host(&format!("F{i}"))?;
    }
    Ok(on_screen)
}

/// Flips between the two buffers `flips` times while another thread keeps moving them (the
/// one on screen is refused, pinned, unless revoked: every third move is forced). Every flip
/// must succeed. Then, with the mover stopped, each buffer is flipped to once more and must
/// show its last pages (`X0`, `X1`). Returns the buffer on screen.
fn race_flips(
    card: &Card,
    pipe: &Pipe,
    mover: &Mover,
    bufs: &mut [Buf; 2],
    flips: u32,
) -> Res<usize> {
    if flips == 0 {
        return Ok(0);
    }
    let fills = Mutex::new([bufs[0].fill, bufs[1].fill]);
    let stop = AtomicBool::new(false);
    let (moved, refused) = (AtomicU32::new(0), AtomicU32::new(0));
    let fds = [&bufs[0].fd, &bufs[1].fd];
    let fbs = [bufs[0].fb, bufs[1].fb];
    let flipped: Res<()> = std::thread::scope(|s| {
        let movers = s.spawn(|| -> Result<(), String> {
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let which = (i % 2) as usize;
                let fill = color(2000 + i);
                let flags = if i % 3 == 0 { FORCE } else { 0 };
                // Held across the move: the colour recorded is the one of the last move.
                let mut fills = fills.lock().map_err(|_| "poisoned")?;
                match mover.move_to(fds[which], fill, flags) {
                    Ok(()) => {
                        fills[which] = fill;
                        moved.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => return Err(format!("move {i}: {}", crate::describe(&e))),
                }
                drop(fills);
                i += 1;
                std::thread::sleep(Duration::from_micros(500));
            }
            Ok(())
        });
        let mut result = Ok(());
        for f in 0..flips {
            let fb = fbs[(f % 2) as usize];
            if let Err(e) = kms::flip(card, pipe, fb, Duration::from_secs(5)) {
                result = Err(format!("racing flip {f}: {e}").into());
                break;
            }
        }
        stop.store(true, Ordering::Relaxed);
        match movers.join() {
            Ok(Ok(())) => result,
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err("the mover thread panicked".into()),
        }
    });
    flipped?;
    println!(
        "race: {flips} flips, {} moves, {} refused (pinned)",
        moved.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed)
    );
    let fills = *fills.lock().map_err(|_| "poisoned")?;
    for (i, buf) in bufs.iter_mut().enumerate() {
        buf.fill = fills[i];
        kms::flip(card, pipe, buf.fb, Duration::from_secs(5))
            .map_err(|e| format!("flip after the race: {e}"))?;
        println!("shown X{i} {:06x}", buf.fill);
        wait_for_host(&format!("X{i}"))?;
    }
    Ok(1)
}

/// The imported buffers in virtio_rs' debugfs `resources` file of the card at `device`, in
/// the order of their resource ids: their pins for scanout, and whether they are mapped (and
/// attached: a mapped import must be).
fn debugfs_imports(device: &str) -> Res<Vec<(u32, bool)>> {
    let minor = device
        .rsplit("card")
        .next()
        .ok_or(format!("{device}: not a card"))?;
    let path = format!("/sys/kernel/debug/dri/{minor}/virtio_rs-resources");
    let text = std::fs::read_to_string(&path).ctx(format!("reading {path}"))?;
    let mut imports = Vec::new();
    for line in text.lines().filter(|l| l.contains(" import ")) {
        let field = |name: &str| {
            let mut words = line.split_whitespace();
            words.find(|w| *w == name).and(words.next())
        };
        let pinned = field("pinned").and_then(|v| v.parse().ok());
        let (Some(pinned), Some(mapped), Some(attached)) =
            (pinned, field("mapped"), field("attached"))
        else {
            return Err(format!("{path}: cannot read '{line}'").into());
        };
        if mapped != attached {
            return Err(
                format!("{path}: mapped but not attached, or the reverse: '{line}'").into(),
            );
        }
        imports.push((pinned, mapped == "yes"));
    }
    Ok(imports)
}

pub fn run(device: &str, moves: u32, revokes: u32, race: u32) -> Res<()> {
    let card = Card::open(device)?;
    let pipe = Pipe::find(&card)?;
    let mover = Mover::open()?;
    let (w, h) = pipe.size();
    let pitch = w * 4;
    let size = u64::from(pitch) * u64::from(h);
    println!("driver {}: {}", card.driver_name()?, pipe.describe());

    let import = |fill: u32| -> Res<Buf> {
        let fd = mover.create(size, fill, Layout::Pages)?;
        let fb = kms::import_fb(&card, fd.as_fd(), pitch, (w, h))?.fb;
        Ok(Buf { fd, fb, fill })
    };
    let mut bufs = [import(0x00c0_2020)?, import(0x0020_c020)?];

    kms::modeset_to(&card, &pipe, bufs[0].fb, "modeset")?;
    println!("shown A {:06x}", bufs[0].fill);
    wait_for_host("A")?;

    // The buffer on screen is pinned: a well-behaved exporter cannot move it.
    match mover.move_to(&bufs[0].fd, 0, 0) {
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => println!("pinned: move refused"),
        Err(e) => return Err(format!("moving the shown buffer: {}", crate::describe(&e)).into()),
        Ok(()) => return Err("the exporter moved the buffer on screen: it was not pinned".into()),
    }

    let on_screen = move_hidden(&card, &pipe, &mover, &mut bufs, moves)?;
    let mut on_screen = revoke_shown(&card, &pipe, &mover, &mut bufs, on_screen, revokes)?;
    if race > 0 {
        on_screen = race_flips(&card, &pipe, &mover, &mut bufs, race)?;
    }

    let imports = if card.driver_name()? == "virtio_rs" {
        Some(debugfs_imports(device)?)
    } else {
        None
    };
    for (i, buf) in bufs.iter().enumerate() {
        let s = mover.stats(&buf.fd)?;
        println!(
            "buffer {i}: moves {}, pins {}, maps {}",
            s.moves, s.pins, s.maps
        );
        let pins = u32::from(i == on_screen);
        if s.pins != pins {
            return Err(format!("buffer {i}: {} pins held, expected {pins}", s.pins).into());
        }
        // The driver's account agrees with the exporter's.
        if let Some(imports) = &imports {
            let (pinned, mapped) = imports
                .get(imports.len().wrapping_sub(2) + i)
                .ok_or("debugfs lists fewer than 2 imports")?;
            println!("buffer {i}: debugfs pinned {pinned}, mapped {mapped}");
            if (*pinned, u32::from(*mapped)) != (s.pins, s.maps) {
                return Err(format!(
                    "buffer {i}: debugfs shows {pinned} pins, mapped {mapped}; the exporter \
                     {} pins, {} maps",
                    s.pins, s.maps
                )
                .into());
            }
        }
    }
    println!("moves: {moves}, revocations: {revokes}, racing flips: {race}");
    Ok(())
}
