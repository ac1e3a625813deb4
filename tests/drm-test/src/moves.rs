// SPDX-License-Identifier: GPL-2.0

//! `moves`: buffers of the test exporter (tests/dmabuf-mover, /dev/dmabuf_mover) imported
//! into the GPU's card, then moved by the exporter while the other one is on screen, and
//! flipped to: each move must reach the host as a detach, and the next frame must show the
//! moved buffer's new pages. Prints `shown TAG RRGGBB` for every screendump (`WAIT TAG`), which
//! the host checks (png_check.py shown).

use crate::kms::{self, Card, Pipe};
use crate::{wait_for_host, Context, Res};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

#[repr(C)]
struct Create {
    size: u64,
    fill: u32,
    fd: i32,
}

#[repr(C)]
struct Move {
    fd: i32,
    fill: u32,
    flags: u32,
    pad: u32,
}

#[repr(C)]
#[derive(Default)]
struct Stats {
    fd: i32,
    moves: u32,
    pins: u32,
    maps: u32,
}

const fn iowr(nr: u64, size: usize) -> u64 {
    (3 << 30) | ((size as u64) << 16) | ((b'M' as u64) << 8) | nr
}

const fn iow(nr: u64, size: usize) -> u64 {
    (1 << 30) | ((size as u64) << 16) | ((b'M' as u64) << 8) | nr
}

const CREATE: u64 = iowr(1, std::mem::size_of::<Create>());
const MOVE: u64 = iow(2, std::mem::size_of::<Move>());
const STATS: u64 = iowr(3, std::mem::size_of::<Stats>());

fn ioctl<T>(dev: &File, request: u64, arg: &mut T) -> io::Result<()> {
    // SAFETY: `arg` is the structure the request reads and writes.
    let r = unsafe { libc::ioctl(dev.as_raw_fd(), request as _, arg as *mut T) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A buffer of `size` bytes filled with `fill`, as a DMA-buf.
fn create(dev: &File, size: u64, fill: u32) -> Res<OwnedFd> {
    let mut arg = Create { size, fill, fd: -1 };
    ioctl(dev, CREATE, &mut arg).ctx("DMABUF_MOVER_CREATE")?;
    // SAFETY: The exporter returned a new file descriptor, which is ours.
    Ok(unsafe { OwnedFd::from_raw_fd(arg.fd) })
}

fn move_to(dev: &File, fd: &OwnedFd, fill: u32, flags: u32) -> io::Result<()> {
    let mut arg = Move {
        fd: fd.as_raw_fd(),
        fill,
        flags,
        pad: 0,
    };
    ioctl(dev, MOVE, &mut arg)
}

fn stats(dev: &File, fd: &OwnedFd) -> Res<Stats> {
    let mut arg = Stats {
        fd: fd.as_raw_fd(),
        ..Default::default()
    };
    ioctl(dev, STATS, &mut arg).ctx("DMABUF_MOVER_STATS")?;
    Ok(arg)
}

/// The colour of the frame after move `i`: distinct for every move, never black.
fn color(i: u32) -> u32 {
    let r = (i * 37 + 64) % 256;
    let g = (i * 91 + 32) % 256;
    let b = (i * 53 + 128) % 256;
    (r << 16) | (g << 8) | b | 0x0010_1010
}

pub fn run(device: &str, moves: u32) -> Res<()> {
    let card = Card::open(device)?;
    let pipe = Pipe::find(&card)?;
    let mover = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/dmabuf_mover")
        .ctx("opening /dev/dmabuf_mover")?;
    let (w, h) = pipe.size();
    let pitch = w * 4;
    let size = u64::from(pitch) * u64::from(h);
    println!("driver {}: {}", card.driver_name()?, pipe.describe());

    let fills = [0x00c0_2020, 0x0020_c020];
    let mut bufs = Vec::new();
    for fill in fills {
        let fd = create(&mover, size, fill)?;
        let fb = kms::import_fb(&card, fd.as_fd(), pitch, (w, h))?.fb;
        bufs.push((fd, fb));
    }

    kms::modeset_to(&card, &pipe, bufs[0].1, "modeset")?;
    println!("shown A {:06x}", fills[0]);
    wait_for_host("A")?;

    // The buffer on screen is pinned: a well-behaved exporter cannot move it.
    match move_to(&mover, &bufs[0].0, 0, 0) {
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => println!("pinned: move refused"),
        Err(e) => return Err(format!("moving the shown buffer: {}", crate::describe(&e)).into()),
        Ok(()) => return Err("the exporter moved the buffer on screen: it was not pinned".into()),
    }

    let mut on_screen = 0;
    for i in 1..=moves {
        let off = 1 - on_screen;
        let fill = color(i);
        move_to(&mover, &bufs[off].0, fill, 0).ctx(format!("move {i}: DMABUF_MOVER_MOVE"))?;
        kms::flip(&card, &pipe, bufs[off].1, Duration::from_secs(5))
            .map_err(|e| format!("move {i}: {e}"))?;
        on_screen = off;
        println!("shown M{i} {fill:06x}");
        wait_for_host(&format!("M{i}"))?;
    }

    for (i, (fd, _)) in bufs.iter().enumerate() {
        let s = stats(&mover, fd)?;
        println!(
            "buffer {i}: moves {}, pins {}, maps {}",
            s.moves, s.pins, s.maps
        );
        let pins = u32::from(i == on_screen);
        if s.pins != pins {
            return Err(format!("buffer {i}: {} pins held, expected {pins}", s.pins).into());
        }
    }
    println!("moves: {moves}");
    Ok(())
}
