// SPDX-License-Identifier: GPL-2.0

//! `moves`: buffers of the test exporter (tests/dmabuf-mover, /dev/dmabuf_mover) imported
//! into the GPU's card, then moved by the exporter while the other one is on screen, and
//! flipped to: each move must reach the host as a detach, and the next frame must show the
//! moved buffer's new pages. With `--revokes N`, then the buffer on screen is revoked (moved
//! despite its pin) N times. Prints `shown TAG RRGGBB` for every screendump (`WAIT TAG`) that
//! must show that colour, `off TAG RRGGBB` for one that must not, which the host checks
//! (png_check.py shown, off).

use crate::debugfs;
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

/// How long a flip waits for its event.
const FLIP_WAIT: Duration = Duration::from_secs(5);

/// An imported buffer of the test exporter: its DMA-buf, framebuffer and current colour.
struct Buf {
    fd: OwnedFd,
    fb: framebuffer::Handle,
    fill: u32,
}

/// The card, its pipe, the exporter and its two imported buffers, one of them on screen.
struct Scene<'a> {
    card: &'a Card,
    pipe: &'a Pipe,
    mover: &'a Mover,
    bufs: [Buf; 2],
    on_screen: usize,
}

impl Scene<'_> {
    /// Flips to buffer `which`; the screendump `tag` after it must show the buffer's colour.
    fn show(&mut self, which: usize, tag: &str) -> Res<()> {
        kms::flip(self.card, self.pipe, self.bufs[which].fb, FLIP_WAIT)
            .map_err(|e| format!("{tag}: flip: {e}"))?;
        self.on_screen = which;
        println!("shown {tag} {:06x}", self.bufs[which].fill);
        wait_for_host(tag)
    }

    /// Moves buffer `which` to new pages of colour `fill` (`flags`: FORCE for a revocation).
    fn move_buf(&mut self, which: usize, fill: u32, flags: u32, what: &str) -> Res<()> {
        self.mover
            .move_to(&self.bufs[which].fd, fill, flags)
            .ctx(format!("{what}: DMABUF_MOVER_MOVE"))?;
        self.bufs[which].fill = fill;
        Ok(())
    }

    /// Moves the buffer off screen and flips to it, `moves` times (`M<i>`).
    fn move_hidden(&mut self, moves: u32) -> Res<()> {
        for i in 1..=moves {
            let off = 1 - self.on_screen;
            self.move_buf(off, color(i), 0, &format!("move {i}"))?;
            self.show(off, &format!("M{i}"))?;
        }
        Ok(())
    }

    /// Revokes the buffer on screen `revokes` times (a forced move, as by an exporter whose
    /// device goes away): the screendump right after it (`off R<i>`) must not show its old
    /// pages, nor crash the host; a flip to the same framebuffer shows the new pages (`S<i>`),
    /// then the other buffer is flipped to (`F<i>`), and is the next one revoked.
    fn revoke_shown(&mut self, revokes: u32) -> Res<()> {
        for i in 1..=revokes {
            let shown = self.on_screen;
            let old = self.bufs[shown].fill;
            self.move_buf(shown, color(1000 + i), FORCE, &format!("revocation {i}"))?;
            println!("off R{i} {old:06x}");
            wait_for_host(&format!("R{i}"))?;
            self.show(shown, &format!("S{i}"))?;
            self.show(1 - shown, &format!("F{i}"))?;
        }
        Ok(())
    }

    /// Flips between the two buffers `flips` times while another thread keeps moving them
    /// (the one on screen is refused, pinned, unless revoked: every third move is forced).
    /// Every flip must succeed. Then, with the mover stopped, each buffer is flipped to once
    /// more and must show its last pages (`X0`, `X1`).
    fn race_flips(&mut self, flips: u32) -> Res<()> {
        let fills = Mutex::new([self.bufs[0].fill, self.bufs[1].fill]);
        let stop = AtomicBool::new(false);
        let (moved, refused) = (AtomicU32::new(0), AtomicU32::new(0));
        let (mover, card, pipe) = (self.mover, self.card, self.pipe);
        let fds = [&self.bufs[0].fd, &self.bufs[1].fd];
        let fbs = [self.bufs[0].fb, self.bufs[1].fb];
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
                if let Err(e) = kms::flip(card, pipe, fbs[(f % 2) as usize], FLIP_WAIT) {
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
        for (i, fill) in fills.into_iter().enumerate() {
            self.bufs[i].fill = fill;
            self.show(i, &format!("X{i}"))?;
        }
        Ok(())
    }

    /// The exporter's counters: the buffer on screen holds one pin, the other none; with
    /// virtio_rs, its debugfs account of the last two imports agrees.
    fn check_accounts(&self, device: &str) -> Res<()> {
        let imports = if self.card.driver_name()? == "virtio_rs" {
            let imports = debugfs::imports(device)?;
            let first = imports
                .len()
                .checked_sub(2)
                .ok_or("debugfs lists fewer than 2 imports")?;
            Some(imports.into_iter().skip(first).collect::<Vec<_>>())
        } else {
            None
        };
        for (i, buf) in self.bufs.iter().enumerate() {
            let s = self.mover.stats(&buf.fd)?;
            println!(
                "buffer {i}: moves {}, pins {}, maps {}",
                s.moves, s.pins, s.maps
            );
            let pins = u32::from(i == self.on_screen);
            if s.pins != pins {
                return Err(format!("buffer {i}: {} pins held, expected {pins}", s.pins).into());
            }
            let Some(import) = imports.as_ref().and_then(|v| v.get(i)) else {
                continue;
            };
            println!(
                "buffer {i}: debugfs pinned {}, mapped {}",
                import.pinned, import.mapped
            );
            if (import.pinned, u32::from(import.mapped)) != (s.pins, s.maps) {
                return Err(format!(
                    "buffer {i}: debugfs shows {} pins, mapped {}; the exporter {} pins, {} maps",
                    import.pinned, import.mapped, s.pins, s.maps
                )
                .into());
            }
        }
        Ok(())
    }
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
    let bufs = [import(0x00c0_2020)?, import(0x0020_c020)?];

    kms::modeset_to(&card, &pipe, bufs[0].fb, "modeset")?;
    println!("shown A {:06x}", bufs[0].fill);
    wait_for_host("A")?;

    // The buffer on screen is pinned: a well-behaved exporter cannot move it.
    match mover.move_to(&bufs[0].fd, 0, 0) {
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => println!("pinned: move refused"),
        Err(e) => return Err(format!("moving the shown buffer: {}", crate::describe(&e)).into()),
        Ok(()) => return Err("the exporter moved the buffer on screen: it was not pinned".into()),
    }

    let mut scene = Scene {
        card: &card,
        pipe: &pipe,
        mover: &mover,
        bufs,
        on_screen: 0,
    };
    scene.move_hidden(moves)?;
    scene.revoke_shown(revokes)?;
    if race > 0 {
        scene.race_flips(race)?;
    }
    scene.check_accounts(device)?;
    println!("moves: {moves}, revocations: {revokes}, racing flips: {race}");
    Ok(())
}
