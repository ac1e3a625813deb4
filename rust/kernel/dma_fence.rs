// SPDX-License-Identifier: GPL-2.0

//! DMA fences (`struct dma_fence`): completion points of device work, shared between drivers.
//!
//! Consumers hold [`Fence`] references and wait for them. An issuer (a driver whose device
//! completes work in order) owns a [`FenceTimeline`]: it allocates a [`FenceSlot`] before it
//! submits a piece of work (so that submission itself cannot fail for want of memory), arms the
//! slot when the work enters the device's queue, which gives the fence the next sequence number
//! of the timeline, and signals the fences in order as the device reports completions. Arming
//! needs an [`Arming`] guard, held by one thread at a time, under which the sequence number of
//! the next fence is known before it is armed (to be named in the work). Only the timeline
//! signals its fences; when it is dropped, the fences still pending are signalled with an
//! error.
//!
//! The fences are independent of the issuer's module once signalled (their operations have no
//! `release` or `wait`, so the DMA fence core detaches them and frees them itself). A timeline
//! must therefore be dropped (which signals what is left) before its module goes; one that is
//! leaked leaves unsignalled fences whose operations point into the module. Timelines are used
//! from process context: arming and signalling take a plain spinlock and a mutex.
//!
//! C header: [`include/linux/dma-fence.h`](srctree/include/linux/dma-fence.h)

use crate::{
    bindings,
    error::to_result,
    ffi::{
        c_char,
        c_int,
        c_long, //
    },
    new_mutex, new_spinlock,
    prelude::*,
    sync::{
        aref::{
            ARef,
            AlwaysRefCounted, //
        },
        Mutex,
        MutexGuard,
        SpinLock, //
    },
    time::{
        msecs_to_jiffies,
        Delta, //
    },
    types::Opaque,
};
use core::{
    marker::PhantomData,
    mem::MaybeUninit,
    ptr::{
        self,
        NonNull, //
    },
};

/// A reference-counted DMA fence, of any issuer.
///
/// # Invariants
///
/// `self.0` is an initialised `struct dma_fence` whose reference count is non-zero for as long
/// as `self` exists.
#[repr(transparent)]
pub struct Fence(Opaque<bindings::dma_fence>);

// SAFETY: The DMA fence core synchronises all accesses to a fence with its lock and atomics;
// references may be taken and dropped from any thread.
unsafe impl Send for Fence {}

// SAFETY: As for `Send`: every method takes `&self` and is safe to call concurrently.
unsafe impl Sync for Fence {}

// SAFETY: `dma_fence_get()` and `dma_fence_put()` keep the object alive while the count is
// non-zero, and free it (through the fence's operations, or RCU) when it drops to zero.
unsafe impl AlwaysRefCounted for Fence {
    fn inc_ref(&self) {
        // SAFETY: The fence is valid by the type invariant.
        unsafe { bindings::dma_fence_get(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives up a reference it owns.
        unsafe { bindings::dma_fence_put(obj.cast().as_ptr()) };
    }
}

impl Fence {
    /// Borrows the fence at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` must point to an initialised `struct dma_fence` on which the caller holds a
    /// reference for `'a`.
    pub unsafe fn from_raw<'a>(ptr: *const bindings::dma_fence) -> &'a Self {
        // SAFETY: `Fence` is a transparent wrapper; the reference is valid for `'a` by the safety
        // requirements.
        unsafe { &*ptr.cast() }
    }

    /// Returns the raw `struct dma_fence`.
    pub fn as_raw(&self) -> *mut bindings::dma_fence {
        self.0.get()
    }

    /// The fence context (timeline) this fence belongs to.
    pub fn context(&self) -> u64 {
        // SAFETY: The fence is valid; `context` is set at initialisation and never changes.
        unsafe { (*self.as_raw()).context }
    }

    /// The sequence number of this fence in its context.
    pub fn seqno(&self) -> u64 {
        // SAFETY: As for `context`.
        unsafe { (*self.as_raw()).seqno }
    }

    /// Returns whether the fence was signalled (`dma_fence_is_signaled()`).
    pub fn is_signaled(&self) -> bool {
        // SAFETY: The fence is valid by the type invariant.
        unsafe { bindings::dma_fence_is_signaled(self.as_raw()) }
    }

    /// Returns `Ok(true)` if the fence was signalled without error, `Ok(false)` if it was not
    /// signalled yet, and the error it was signalled with otherwise (`dma_fence_get_status()`).
    pub fn status(&self) -> Result<bool> {
        // SAFETY: The fence is valid by the type invariant.
        let status = unsafe { bindings::dma_fence_get_status(self.as_raw()) };
        to_result(status).map(|()| status > 0)
    }

    /// Waits at most `timeout` for the fence to be signalled; `interruptible` lets signals end
    /// the wait. Returns [`ETIMEDOUT`] if it was not signalled in time, [`ERESTARTSYS`] if a
    /// signal ended the wait, and `Ok` once signalled (whether with an error or not: see
    /// [`Fence::status`]). May sleep.
    pub fn wait_timeout(&self, interruptible: bool, timeout: Delta) -> Result {
        let ms = u32::try_from(timeout.as_millis_ceil()).unwrap_or(u32::MAX);
        // `dma_fence_wait_timeout()` takes a signed jiffies count.
        let jiffies = c_long::try_from(msecs_to_jiffies(ms)).unwrap_or(c_long::MAX);

        // SAFETY: The fence is valid by the type invariant.
        let left =
            unsafe { bindings::dma_fence_wait_timeout(self.as_raw(), interruptible, jiffies) };
        match left {
            0 => Err(ETIMEDOUT),
            l if l < 0 => Err(Error::from_errno(l as c_int)),
            _ => Ok(()),
        }
    }
}

/// An issuer of fences: names its fences for debugging output (`/sys/kernel/debug/dma_buf`,
/// traces).
pub trait FenceIssuer: 'static {
    /// The name of the driver (`dma_fence_ops::get_driver_name`).
    const DRIVER_NAME: &'static CStr;
    /// The name of the timeline (`dma_fence_ops::get_timeline_name`).
    const TIMELINE_NAME: &'static CStr;
}

/// The memory of one fence of a [`FenceTimeline`].
///
/// # Invariants
///
/// `fence` is the first field, so that the DMA fence core's `dma_fence_free()` (`kfree_rcu()` of
/// the fence) frees the whole `kmalloc` allocation. `next` is only used under the lock of the
/// timeline whose pending list holds the fence.
#[repr(C)]
struct RawFence {
    fence: Opaque<bindings::dma_fence>,
    /// The next (later) pending fence of the timeline.
    next: *mut RawFence,
}

/// Memory for a fence, allocated before the work it completes is submitted: arming it with
/// [`FenceTimeline::arm`] cannot fail. Dropping an unarmed slot just frees it.
pub struct FenceSlot<I: FenceIssuer> {
    raw: KBox<MaybeUninit<RawFence>>,
    _issuer: PhantomData<fn() -> I>,
}

// SAFETY: An unarmed slot is uninitialised memory that nothing else points to; it may be moved
// to, and dropped on, any thread.
unsafe impl<I: FenceIssuer> Send for FenceSlot<I> {}

// SAFETY: A shared slot gives no access to its memory.
unsafe impl<I: FenceIssuer> Sync for FenceSlot<I> {}

/// The fences of a timeline not signalled yet, oldest first.
///
/// # Invariants
///
/// `head` is null or the first of a list of initialised fences linked through `next` ending in
/// `tail` (null only with `head`); each holds a reference owned by the list, and their sequence
/// numbers increase along the list. `next_seqno` is larger than every armed fence's, and than
/// `completed`, the largest sequence number completed so far (0 for none); every fence on the
/// list has a sequence number above `completed`.
struct Pending {
    head: *mut RawFence,
    tail: *mut RawFence,
    next_seqno: u64,
    completed: u64,
}

// SAFETY: The fences of the list may be signalled and released from any thread.
unsafe impl Send for Pending {}

impl Pending {
    // The locks are made outside the generic timeline, so that each has one lock class (and
    // name) however many crates instantiate the timeline.

    fn new_lock() -> impl PinInit<SpinLock<Self>> {
        // INVARIANT: The list is empty; no fence was armed.
        new_spinlock!(
            Self {
                head: ptr::null_mut(),
                tail: ptr::null_mut(),
                next_seqno: 1,
                completed: 0,
            },
            "FenceTimeline::pending"
        )
    }

    fn new_order_lock() -> impl PinInit<Mutex<()>> {
        new_mutex!((), "FenceTimeline::signalling")
    }

    fn new_arming_lock() -> impl PinInit<Mutex<()>> {
        new_mutex!((), "FenceTimeline::arming")
    }
}

/// The right to arm the fences of a [`FenceTimeline`], held by one thread at a time (see
/// [`FenceTimeline::arming`]): while it lives, [`Arming::next_seqno`] is the sequence number
/// that the next [`Arming::arm`] gives.
pub struct Arming<'a, I: FenceIssuer> {
    timeline: &'a FenceTimeline<I>,
    _arming: MutexGuard<'a, ()>,
}

impl<I: FenceIssuer> Arming<'_, I> {
    /// The sequence number of the next fence armed: an issuer can name it in its work (e.g. a
    /// command's fence id) before it arms the fence, just before the device may see the work.
    pub fn next_seqno(&self) -> u64 {
        self.timeline.pending.lock().next_seqno
    }

    /// Makes `slot` the timeline's next fence, with sequence number [`Arming::next_seqno`], and
    /// returns a reference to it. Never fails, nor allocates, nor sleeps.
    ///
    /// Arm fences in the order the device will complete their work (e.g. while holding the
    /// lock that orders submissions to its queue): [`FenceTimeline::signal_through`] relies on
    /// it.
    pub fn arm(&self, slot: FenceSlot<I>) -> ARef<Fence> {
        self.timeline.arm(slot)
    }
}

/// A fence context whose fences the issuer signals in the order it armed them.
///
/// # Examples
///
/// ```
/// use kernel::{
///     c_str,
///     dma_fence::{FenceIssuer, FenceTimeline},
///     prelude::*,
///     sync::Arc,
///     time::Delta,
/// };
///
/// struct Ring;
///
/// impl FenceIssuer for Ring {
///     const DRIVER_NAME: &'static CStr = c"example";
///     const TIMELINE_NAME: &'static CStr = c"example-ring";
/// }
///
/// let timeline = Arc::pin_init(FenceTimeline::<Ring>::new(), GFP_KERNEL)?;
///
/// // Before submitting: the memory. When the work enters the ring: the sequence number.
/// let slot = timeline.alloc()?;
/// let arming = timeline.arming();
/// let seqno = arming.next_seqno();
/// let fence = arming.arm(slot);
/// assert_eq!(fence.seqno(), seqno);
/// drop(arming);
/// assert!(!fence.is_signaled());
///
/// // The device completed everything up to this fence.
/// timeline.signal_through(fence.seqno(), Ok(()));
/// assert_eq!(fence.status(), Ok(true));
/// assert_eq!(fence.wait_timeout(false, Delta::from_millis(10)), Ok(()));
/// # Ok::<(), Error>(())
/// ```
#[pin_data(PinnedDrop)]
pub struct FenceTimeline<I: FenceIssuer> {
    context: u64,
    #[pin]
    pending: SpinLock<Pending>,
    /// Held while fences are signalled, so that they are signalled in order.
    #[pin]
    signalling: Mutex<()>,
    /// Held by [`Arming`]: fences are armed by one thread at a time.
    #[pin]
    arming: Mutex<()>,
    _issuer: PhantomData<fn() -> I>,
}

impl<I: FenceIssuer> FenceTimeline<I> {
    /// The operations of the fences of issuer `I`: names only, no `release` or `wait`, so that a
    /// signalled fence is detached from the issuer's code and freed by the DMA fence core.
    const OPS: bindings::dma_fence_ops = bindings::dma_fence_ops {
        get_driver_name: Some(Self::driver_name),
        get_timeline_name: Some(Self::timeline_name),
        enable_signaling: None,
        signaled: None,
        wait: None,
        release: None,
        set_deadline: None,
    };

    extern "C" fn driver_name(_fence: *mut bindings::dma_fence) -> *const c_char {
        I::DRIVER_NAME.as_char_ptr()
    }

    extern "C" fn timeline_name(_fence: *mut bindings::dma_fence) -> *const c_char {
        I::TIMELINE_NAME.as_char_ptr()
    }

    /// Creates a timeline: a new fence context (`dma_fence_context_alloc()`).
    pub fn new() -> impl PinInit<Self> {
        // SAFETY: `dma_fence_context_alloc()` may be called from any context.
        let context = unsafe { bindings::dma_fence_context_alloc(1) };
        pin_init!(Self {
            context,
            pending <- Pending::new_lock(),
            signalling <- Pending::new_order_lock(),
            arming <- Pending::new_arming_lock(),
            _issuer: PhantomData,
        })
    }

    /// The fence context of this timeline.
    pub fn context(&self) -> u64 {
        self.context
    }

    /// Allocates the memory of a fence of this timeline.
    pub fn alloc(&self) -> Result<FenceSlot<I>> {
        Ok(FenceSlot {
            raw: KBox::new_uninit(GFP_KERNEL)?,
            _issuer: PhantomData,
        })
    }

    /// Takes the right to arm fences, waiting for the thread that holds it. May sleep.
    pub fn arming(&self) -> Arming<'_, I> {
        Arming {
            timeline: self,
            _arming: self.arming.lock(),
        }
    }

    /// The last sequence number armed and the last one completed (0 for none), e.g. for
    /// debugging output.
    pub fn seqnos(&self) -> (u64, u64) {
        let pending = self.pending.lock();
        (pending.next_seqno - 1, pending.completed)
    }

    /// See [`Arming::arm`]; the caller holds the arming lock.
    fn arm(&self, slot: FenceSlot<I>) -> ARef<Fence> {
        let raw = KBox::into_raw(slot.raw).cast::<RawFence>();
        let mut pending = self.pending.lock();
        let seqno = pending.next_seqno;
        // No overflow: one arm per nanosecond would take 584 years to reach `u64::MAX`.
        pending.next_seqno += 1;

        // SAFETY: `raw` is a valid, exclusively owned allocation for a `RawFence`; `fence` is
        // its first field (`repr(C)`). `OPS` is a static table with both name callbacks. A null
        // lock selects the fence's inline lock. The fence starts with one reference, which the
        // pending list owns.
        unsafe {
            (&raw mut (*raw).next).write(ptr::null_mut());
            bindings::dma_fence_init64(
                Opaque::cast_into(&raw const (*raw).fence),
                &Self::OPS,
                ptr::null_mut(),
                self.context,
                seqno,
            );
        }

        // INVARIANT: The new fence goes last, with the largest sequence number so far.
        if pending.tail.is_null() {
            pending.head = raw;
        } else {
            // SAFETY: `tail` is a live fence of the list, whose `next` the lock protects.
            unsafe { (*pending.tail).next = raw };
        }
        pending.tail = raw;

        // SAFETY: The fence is initialised and the list holds a reference to it.
        let fence = unsafe { Fence::from_raw(Opaque::cast_into(&raw const (*raw).fence)) };
        fence.into()
    }

    /// Signals the pending fences up to sequence number `seqno`: fence `seqno` itself with
    /// `result`, the earlier ones without error (the device completed them first). Returns
    /// whether that was news: a sequence number the timeline never armed (e.g. from a
    /// misbehaving device) changes nothing, nor does one completed already (e.g. through a
    /// concurrent call for a later one, which signals this fence without error). May sleep;
    /// fences are signalled in order, also across concurrent calls. Must not be called from the
    /// callback of one of the timeline's fences.
    pub fn signal_through(&self, seqno: u64, result: Result) -> bool {
        let _order = self.signalling.lock();
        let Some(mut fence) = self.take_through(Some(seqno)) else {
            return false;
        };
        while let Some(raw) = NonNull::new(fence) {
            let raw = raw.as_ptr();
            // SAFETY: `raw` is a fence taken off the pending list, linked to the next taken one,
            // whose `next` nobody else uses any more.
            fence = unsafe { (*raw).next };
            // SAFETY: As above; `seqno` never changes.
            let this = unsafe { (*Opaque::cast_into(&raw const (*raw).fence)).seqno };
            let error = if this == seqno { result.err() } else { None };
            // SAFETY: The fence is unsignalled and the list's reference is ours now.
            unsafe { Self::signal(raw, error) };
        }
        true
    }

    /// Signals all pending fences with `error` (e.g. the device was reset and will never
    /// complete their work). May sleep.
    pub fn cancel_all(&self, error: Error) {
        let _order = self.signalling.lock();
        let mut fence = self.take_through(None).unwrap_or(ptr::null_mut());
        while let Some(raw) = NonNull::new(fence) {
            let raw = raw.as_ptr();
            // SAFETY: As in `signal_through`.
            fence = unsafe { (*raw).next };
            // SAFETY: As in `signal_through`.
            unsafe { Self::signal(raw, Some(error)) };
        }
    }

    /// Completes the sequence numbers up to `seqno` (`None`: all armed ones): takes their
    /// pending fences off the list, and returns the first of them, linked to the others through
    /// `next` (null if none); `None` if `seqno` was never armed or was completed already.
    fn take_through(&self, seqno: Option<u64>) -> Option<*mut RawFence> {
        let mut pending = self.pending.lock();
        let armed = pending.next_seqno - 1;
        let seqno = seqno.unwrap_or(armed);
        if seqno > armed || seqno <= pending.completed {
            return None;
        }
        // INVARIANT: `seqno` was armed, so it is below `next_seqno`; the fences up to it leave
        // the list below.
        pending.completed = seqno;
        let first = pending.head;
        let mut last: *mut RawFence = ptr::null_mut();
        let mut raw = first;
        while !raw.is_null() {
            // SAFETY: `raw` is a live fence of the list; `seqno` never changes.
            if unsafe { (*Opaque::cast_into(&raw const (*raw).fence)).seqno } > seqno {
                break;
            }
            last = raw;
            // SAFETY: `raw` is a live fence of the list, whose `next` the lock protects.
            raw = unsafe { (*raw).next };
        }
        if last.is_null() {
            return Some(ptr::null_mut());
        }
        // INVARIANT: The list keeps the fences after `last`, in order.
        pending.head = raw;
        if raw.is_null() {
            pending.tail = ptr::null_mut();
        }
        // SAFETY: `last` is one of the taken fences; ending their chain there.
        unsafe { (*last).next = ptr::null_mut() };
        Some(first)
    }

    /// Signals `raw`'s fence, with `error` if any, and drops a reference to it.
    ///
    /// # Safety
    ///
    /// `raw` must be an unsignalled fence of this timeline, no longer on its pending list, on
    /// which the caller owns a reference.
    unsafe fn signal(raw: *mut RawFence, error: Option<Error>) {
        // SAFETY: `raw` is a valid fence by the safety requirements.
        let fence = unsafe { Opaque::cast_into(&raw const (*raw).fence) };
        if let Some(error) = error {
            // SAFETY: `fence` is valid and not signalled yet (only the timeline signals it).
            unsafe { bindings::dma_fence_set_error(fence, error.to_errno()) };
        }
        // SAFETY: `fence` is valid.
        unsafe { bindings::dma_fence_signal(fence) };
        // SAFETY: The caller owns this reference. The last one frees the memory (the DMA fence
        // core's `dma_fence_free()`, by the invariants of `RawFence`).
        unsafe { bindings::dma_fence_put(fence) };
    }
}

#[pinned_drop]
impl<I: FenceIssuer> PinnedDrop for FenceTimeline<I> {
    fn drop(self: Pin<&mut Self>) {
        // Whatever was armed will never be completed by this issuer.
        self.cancel_all(ECANCELED);
    }
}

#[kunit_tests(rust_dma_fence)]
mod tests {
    use super::*;
    use crate::sync::Arc;

    struct Test;

    impl FenceIssuer for Test {
        const DRIVER_NAME: &'static CStr = c"rust_dma_fence_test";
        const TIMELINE_NAME: &'static CStr = c"test";
    }

    fn timeline() -> Result<Arc<FenceTimeline<Test>>> {
        Arc::pin_init(FenceTimeline::new(), GFP_KERNEL)
    }

    #[test]
    fn fences_signal_in_order() -> Result {
        let timeline = timeline()?;
        let slots = [timeline.alloc()?, timeline.alloc()?, timeline.alloc()?];
        let arming = timeline.arming();
        let [a, b, c] = slots.map(|slot| arming.arm(slot));
        drop(arming);
        assert!(a.seqno() < b.seqno() && b.seqno() < c.seqno());
        assert_eq!(a.context(), timeline.context());

        // Completing the second completes the first too, not the third.
        timeline.signal_through(b.seqno(), Ok(()));
        assert_eq!(
            (a.status(), b.status(), c.status()),
            (Ok(true), Ok(true), Ok(false))
        );
        assert_eq!(c.wait_timeout(false, Delta::from_millis(1)), Err(ETIMEDOUT));

        // Signalling again, or a sequence number never armed, changes nothing.
        timeline.signal_through(b.seqno(), Err(EIO));
        assert_eq!(b.status(), Ok(true));
        timeline.signal_through(c.seqno(), Ok(()));
        assert_eq!(c.wait_timeout(false, Delta::from_millis(1)), Ok(()));
        Ok(())
    }

    #[test]
    fn the_next_seqno_is_the_next_armed() -> Result {
        let timeline = timeline()?;
        let arming = timeline.arming();
        let next = arming.next_seqno();
        assert_eq!(arming.next_seqno(), next);
        let fence = arming.arm(timeline.alloc()?);
        assert_eq!(fence.seqno(), next);
        assert_eq!(arming.next_seqno(), next + 1);
        drop(arming);
        assert_eq!(timeline.seqnos(), (next, 0));
        Ok(())
    }

    #[test]
    fn only_armed_seqnos_complete() -> Result {
        let timeline = timeline()?;
        let a = timeline.arming().arm(timeline.alloc()?);
        // A device reporting a number never armed (past the last one) completes nothing.
        assert!(!timeline.signal_through(a.seqno() + 1, Ok(())));
        assert_eq!(a.status(), Ok(false));
        assert!(timeline.signal_through(a.seqno(), Ok(())));
        assert_eq!(a.status(), Ok(true));
        // Once completed, the same number is no news.
        assert!(!timeline.signal_through(a.seqno(), Ok(())));
        assert_eq!(timeline.seqnos(), (a.seqno(), a.seqno()));
        Ok(())
    }

    #[test]
    fn errors_reach_their_fence_only() -> Result {
        let timeline = timeline()?;
        let a = timeline.arming().arm(timeline.alloc()?);
        let b = timeline.arming().arm(timeline.alloc()?);
        timeline.signal_through(b.seqno(), Err(EIO));
        assert_eq!(a.status(), Ok(true));
        assert_eq!(b.status(), Err(EIO));
        Ok(())
    }

    #[test]
    fn dropped_timelines_cancel_their_fences() -> Result {
        let timeline = timeline()?;
        let armed = timeline.arming().arm(timeline.alloc()?);
        // Allocated, never armed: only memory, freed with the slot.
        let unarmed = timeline.alloc()?;
        drop(unarmed);
        drop(timeline);
        assert_eq!(armed.status(), Err(ECANCELED));
        Ok(())
    }

    #[test]
    fn cancelled_fences_report_the_reason() -> Result {
        let timeline = timeline()?;
        let a = timeline.arming().arm(timeline.alloc()?);
        timeline.cancel_all(ENODEV);
        assert_eq!(a.status(), Err(ENODEV));
        // The timeline goes on with later fences.
        let b = timeline.arming().arm(timeline.alloc()?);
        assert!(b.seqno() > a.seqno());
        assert_eq!(b.status(), Ok(false));
        Ok(())
    }
}
