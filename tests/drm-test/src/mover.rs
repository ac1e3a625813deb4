// SPDX-License-Identifier: GPL-2.0

//! The test exporter's device, /dev/dmabuf_mover (tests/dmabuf-mover/dmabuf_mover.h).

use crate::{Context, Res};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

#[repr(C)]
struct Create {
    size: u64,
    fill: u32,
    fd: i32,
    layout: u32,
    pad: u32,
}

#[repr(C)]
struct Move {
    fd: i32,
    fill: u32,
    flags: u32,
    pad: u32,
}

/// The exporter's counters of a buffer.
#[repr(C)]
#[derive(Default)]
pub struct Stats {
    fd: i32,
    pub moves: u32,
    pub pins: u32,
    pub maps: u32,
}

#[repr(C)]
struct Refuse {
    fd: i32,
    error: i32,
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
const STALL: u64 = iow(4, std::mem::size_of::<i32>());
const REFUSE: u64 = iow(5, std::mem::size_of::<Refuse>());

/// Move even while pinned (`DMABUF_MOVER_FORCE`): a revocation.
pub const FORCE: u32 = 1;

/// How a buffer's pages lie in memory.
#[derive(Clone, Copy, Debug)]
pub enum Layout {
    /// Single pages as the allocator gives them.
    Pages = 0,
    /// No page follows the one before it: one DMA segment per page.
    Scattered = 1,
    /// Blocks of up to 4 MiB.
    Contiguous = 2,
}

pub struct Mover(File);

impl Mover {
    pub fn open() -> Res<Mover> {
        let dev = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/dmabuf_mover")
            .ctx("opening /dev/dmabuf_mover")?;
        Ok(Mover(dev))
    }

    fn ioctl<T>(&self, request: u64, arg: &mut T) -> io::Result<()> {
        // SAFETY: `arg` is the structure the request reads and writes.
        let r = unsafe { libc::ioctl(self.0.as_raw_fd(), request as _, arg as *mut T) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// A buffer of `size` bytes filled with `fill`, as a DMA-buf.
    pub fn create(&self, size: u64, fill: u32, layout: Layout) -> Res<OwnedFd> {
        let mut arg = Create {
            size,
            fill,
            fd: -1,
            layout: layout as u32,
            pad: 0,
        };
        self.ioctl(CREATE, &mut arg)
            .ctx(format!("DMABUF_MOVER_CREATE {size} bytes {layout:?}"))?;
        // SAFETY: The exporter returned a new file descriptor, which is ours.
        Ok(unsafe { OwnedFd::from_raw_fd(arg.fd) })
    }

    /// Moves the buffer to new pages filled with `fill` (`FORCE`: even while pinned).
    pub fn move_to(&self, fd: &OwnedFd, fill: u32, flags: u32) -> io::Result<()> {
        let mut arg = Move {
            fd: fd.as_raw_fd(),
            fill,
            flags,
            pad: 0,
        };
        self.ioctl(MOVE, &mut arg)
    }

    pub fn stats(&self, fd: &OwnedFd) -> Res<Stats> {
        let mut arg = Stats {
            fd: fd.as_raw_fd(),
            ..Default::default()
        };
        self.ioctl(STATS, &mut arg).ctx("DMABUF_MOVER_STATS")?;
        Ok(arg)
    }

    /// Adds a kernel fence to the buffer that signals only when the buffer is freed.
    pub fn stall(&self, fd: &OwnedFd) -> Res<()> {
        let mut arg = fd.as_raw_fd();
        self.ioctl(STALL, &mut arg).ctx("DMABUF_MOVER_STALL")
    }

    /// Makes the buffer's mappings fail with `error` (0: work again).
    pub fn refuse(&self, fd: &OwnedFd, error: i32) -> Res<()> {
        let mut arg = Refuse {
            fd: fd.as_raw_fd(),
            error,
        };
        self.ioctl(REFUSE, &mut arg).ctx("DMABUF_MOVER_REFUSE")
    }
}
