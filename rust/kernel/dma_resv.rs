// SPDX-License-Identifier: GPL-2.0

//! Reservation objects (`struct dma_resv`): the lock and the fences of a buffer shared between
//! drivers.
//!
//! The lock is a `ww_mutex`; this module locks one reservation object at a time (no acquire
//! context). Operations that need the lock take a [`Locked`] proof: the [`DmaResvGuard`] of a
//! lock taken here, or the proof that the DMA-buf core hands to callbacks it calls with the
//! lock held (see `kernel::dma_buf`).
//!
//! C header: [`include/linux/dma-resv.h`](srctree/include/linux/dma-resv.h)

use crate::{
    bindings,
    dma_fence::Fence,
    error::to_result,
    ffi::{
        c_int,
        c_long,
        c_ulong, //
    },
    prelude::*,
    time::{
        msecs_to_jiffies,
        Delta, //
    },
    types::{
        NotThreadSafe,
        Opaque, //
    },
};
use core::ops::Deref;

/// What the fences of a reservation object stand for (`enum dma_resv_usage`), in the order in
/// which waiting for one class waits for those before it too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Usage {
    /// Memory management by the kernel (moves, clears): everybody waits for these.
    Kernel = bindings::dma_resv_usage_DMA_RESV_USAGE_KERNEL,
    /// Implicitly synchronised writes.
    Write = bindings::dma_resv_usage_DMA_RESV_USAGE_WRITE,
    /// Implicitly synchronised reads.
    Read = bindings::dma_resv_usage_DMA_RESV_USAGE_READ,
    /// Work outside implicit synchronisation.
    Bookkeep = bindings::dma_resv_usage_DMA_RESV_USAGE_BOOKKEEP,
}

/// A reservation object.
///
/// # Invariants
///
/// `self.0` is an initialised `struct dma_resv`.
///
/// # Examples
///
/// ```
/// use kernel::{dma_resv::{DmaResv, Usage}, prelude::*, time::Delta};
///
/// let resv = KBox::pin_init(DmaResv::new(), GFP_KERNEL)?;
/// {
///     let guard = resv.lock();
///     guard.assert_held();
/// }
/// // No fences: nothing to wait for.
/// assert_eq!(resv.wait_timeout(Usage::Bookkeep, false, Delta::from_millis(1)), Ok(()));
/// # Ok::<(), Error>(())
/// ```
#[repr(transparent)]
#[pin_data(PinnedDrop)]
pub struct DmaResv {
    #[pin]
    inner: Opaque<bindings::dma_resv>,
}

// SAFETY: A reservation object is a lock with the fences it protects; it is used from any
// thread.
unsafe impl Send for DmaResv {}

// SAFETY: All methods taking `&self` are safe to call concurrently (they lock or use RCU).
unsafe impl Sync for DmaResv {}

impl DmaResv {
    /// Creates a reservation object (`dma_resv_init()`), e.g. for a buffer an exporter makes.
    pub fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `dma_resv_init()` initialises the object in place; it cannot fail.
            inner <- Opaque::ffi_init(|slot| unsafe { bindings::dma_resv_init(slot) }),
        })
    }

    /// Borrows the reservation object at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` must point to an initialised `struct dma_resv` that stays valid for `'a` and is not
    /// moved meanwhile.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::dma_resv) -> &'a Self {
        // SAFETY: `DmaResv` is a transparent wrapper; valid for `'a` by the safety requirements.
        unsafe { &*ptr.cast() }
    }

    /// Returns the raw `struct dma_resv`.
    pub fn as_raw(&self) -> *mut bindings::dma_resv {
        self.inner.get()
    }

    /// Locks the reservation object, waiting as long as needed (`dma_resv_lock()`). May sleep.
    ///
    /// Locking a second reservation object while holding one needs an acquire context, which
    /// this does not offer: lock them one at a time.
    #[must_use]
    pub fn lock(&self) -> DmaResvGuard<'_> {
        // SAFETY: The object is valid by the type invariant. Without an acquire context, the
        // lock cannot fail.
        unsafe { bindings::dma_resv_lock(self.as_raw(), core::ptr::null_mut()) };
        // INVARIANT: The lock is held, by this thread.
        DmaResvGuard {
            locked: Locked::new(self),
        }
    }

    /// Locks the reservation object unless a signal interrupts the wait (`EINTR`).
    pub fn lock_interruptible(&self) -> Result<DmaResvGuard<'_>> {
        // SAFETY: The object is valid by the type invariant.
        to_result(unsafe {
            bindings::dma_resv_lock_interruptible(self.as_raw(), core::ptr::null_mut())
        })?;
        // INVARIANT: The lock is held, by this thread.
        Ok(DmaResvGuard {
            locked: Locked::new(self),
        })
    }

    /// Locks the reservation object if nobody holds it (`dma_resv_trylock()`).
    pub fn try_lock(&self) -> Option<DmaResvGuard<'_>> {
        // SAFETY: The object is valid by the type invariant.
        if !unsafe { bindings::dma_resv_trylock(self.as_raw()) } {
            return None;
        }
        // INVARIANT: The lock is held, by this thread.
        Some(DmaResvGuard {
            locked: Locked::new(self),
        })
    }

    /// Waits at most `timeout` for the fences of class `usage` (and those of the classes before
    /// it) to signal (`dma_resv_wait_timeout()`); `interruptible` lets a signal end the wait.
    /// Needs no lock. Returns [`ETIMEDOUT`] if some fence did not signal in time,
    /// [`ERESTARTSYS`] if a signal ended the wait. May sleep.
    pub fn wait_timeout(&self, usage: Usage, interruptible: bool, timeout: Delta) -> Result {
        let ms = u32::try_from(timeout.as_millis_ceil()).unwrap_or(u32::MAX);
        // `dma_resv_wait_timeout()` takes unsigned jiffies, at most `MAX_SCHEDULE_TIMEOUT`.
        let jiffies = c_ulong::from(msecs_to_jiffies(ms)).min(c_long::MAX as c_ulong);

        // SAFETY: The object is valid by the type invariant.
        let left = unsafe {
            bindings::dma_resv_wait_timeout(self.as_raw(), usage as u32, interruptible, jiffies)
        };
        match left {
            0 => Err(ETIMEDOUT),
            l if l < 0 => Err(c_int::try_from(l).map_or(EINVAL, Error::from_errno)),
            _ => Ok(()),
        }
    }

    /// Returns whether all fences of class `usage` (and before) have signalled
    /// (`dma_resv_test_signaled()`). Needs no lock.
    pub fn test_signaled(&self, usage: Usage) -> bool {
        // SAFETY: The object is valid by the type invariant.
        unsafe { bindings::dma_resv_test_signaled(self.as_raw(), usage as u32) }
    }
}

#[pinned_drop]
impl PinnedDrop for DmaResv {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: The object was initialised by `new` (`from_raw` only hands out references,
        // which are never dropped) and is not used after this.
        unsafe { bindings::dma_resv_fini(self.as_raw()) };
    }
}

/// A proof that the lock of a reservation object is held, by the current thread, for `'a`.
///
/// Only shared references to a proof are handed out (by [`DmaResvGuard`], and to callbacks that
/// run under someone else's lock), so that safe code cannot swap the proofs of two locks.
///
/// # Invariants
///
/// The lock of `resv` is held by the current thread for `'a`.
pub struct Locked<'a> {
    resv: &'a DmaResv,
    _not_send: NotThreadSafe,
}

impl<'a> Locked<'a> {
    /// Builds the proof from the guard's construction (the invariant is the caller's to hold).
    fn new(resv: &'a DmaResv) -> Self {
        Self {
            resv,
            _not_send: NotThreadSafe,
        }
    }

    /// Makes a proof for a lock the caller knows to be held.
    ///
    /// # Safety
    ///
    /// The current thread must hold the lock of `resv` for `'a`.
    pub unsafe fn assume_held(resv: &'a DmaResv) -> Self {
        // INVARIANT: By the safety requirements.
        Self::new(resv)
    }

    /// The reservation object whose lock is held.
    pub fn resv(&self) -> &'a DmaResv {
        self.resv
    }

    /// Checks the claim with lockdep, where it is enabled (`dma_resv_assert_held()`).
    pub fn assert_held(&self) {
        // SAFETY: The object is valid.
        unsafe { bindings::dma_resv_assert_held(self.resv.as_raw()) };
    }
}

/// Room reserved for fences on a locked reservation object, used by
/// [`FenceRoom::add_fence`].
pub struct FenceRoom<'l, 'a> {
    guard: &'l mut DmaResvGuard<'a>,
    left: u32,
}

impl FenceRoom<'_, '_> {
    /// Adds `fence` with `usage` (`dma_resv_add_fence()`), replacing an earlier fence of the
    /// same context; the object takes its own reference. [`ENOSPC`] once the reserved room is
    /// used up.
    pub fn add_fence(&mut self, fence: &Fence, usage: Usage) -> Result {
        self.left = self.left.checked_sub(1).ok_or(ENOSPC)?;
        // SAFETY: The object is locked and has room for the fence (reserved by this room,
        // whose count was just taken); `fence` is a valid fence.
        unsafe {
            bindings::dma_resv_add_fence(
                self.guard.locked.resv.as_raw(),
                fence.as_raw(),
                usage as u32,
            )
        };
        Ok(())
    }

    /// The number of fences that can still be added.
    pub fn left(&self) -> u32 {
        self.left
    }
}

/// A held reservation lock, unlocked when dropped.
pub struct DmaResvGuard<'a> {
    locked: Locked<'a>,
}

impl<'a> Deref for DmaResvGuard<'a> {
    type Target = Locked<'a>;

    fn deref(&self) -> &Locked<'a> {
        &self.locked
    }
}

impl<'a> DmaResvGuard<'a> {
    /// Makes room for `count` more fences (`dma_resv_reserve_fences()`); the room lasts until
    /// the lock is dropped. A method of the guard, and one room at a time: reservations do not
    /// add up, and the callbacks that get a [`Locked`] proof of someone else's lock must not use
    /// up the room its holder reserved. `EINVAL` for no room at all.
    pub fn reserve_fences(&mut self, count: u32) -> Result<FenceRoom<'_, 'a>> {
        if count == 0 {
            return Err(EINVAL);
        }
        // SAFETY: The object is valid and locked by this guard.
        to_result(unsafe { bindings::dma_resv_reserve_fences(self.locked.resv.as_raw(), count) })?;
        Ok(FenceRoom {
            guard: self,
            left: count,
        })
    }
}

impl Drop for DmaResvGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: The guard holds the lock (the invariant of `Locked`), taken by this thread.
        unsafe { bindings::dma_resv_unlock(self.locked.resv.as_raw()) };
    }
}

#[kunit_tests(rust_dma_resv)]
mod tests {
    use super::*;
    use crate::{
        dma_fence::{
            FenceIssuer,
            FenceTimeline, //
        },
        sync::Arc,
    };

    struct Test;

    impl FenceIssuer for Test {
        const DRIVER_NAME: &'static CStr = c"rust_dma_resv_test";
        const TIMELINE_NAME: &'static CStr = c"test";
    }

    #[test]
    fn waits_follow_the_fences() -> Result {
        let resv = KBox::pin_init(DmaResv::new(), GFP_KERNEL)?;
        let timeline = Arc::pin_init(FenceTimeline::<Test>::new(), GFP_KERNEL)?;
        let write = timeline.arming().arm(timeline.alloc()?);
        {
            let mut guard = resv.lock();
            guard.assert_held();
            // Another lock attempt fails while it is held.
            assert!(resv.try_lock().is_none());
            let mut room = guard.reserve_fences(1)?;
            room.add_fence(&write, Usage::Write)?;
            assert_eq!(room.add_fence(&write, Usage::Write), Err(ENOSPC));
        }
        // A write fence: kernel waits do not see it, write (and read) waits do.
        assert!(resv.test_signaled(Usage::Kernel));
        assert!(!resv.test_signaled(Usage::Write));
        assert!(!resv.test_signaled(Usage::Read));
        assert_eq!(
            resv.wait_timeout(Usage::Read, false, Delta::from_millis(1)),
            Err(ETIMEDOUT)
        );
        timeline.signal_through(write.seqno(), Ok(()));
        assert_eq!(
            resv.wait_timeout(Usage::Bookkeep, true, Delta::from_millis(1)),
            Ok(())
        );
        assert!(resv.try_lock().is_some());
        Ok(())
    }
}
