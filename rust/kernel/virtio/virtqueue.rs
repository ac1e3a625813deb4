// SPDX-License-Identifier: GPL-2.0

//! Virtqueues: the rings through which a driver passes buffers to a virtio device.
//!
//! A buffer is a driver type implementing [`Buffer`]; it describes the memory the device reads
//! (requests) and writes (responses) as [`Segments`]. [`VirtqueueGuard::add`] takes the buffer by
//! value (a [`KBox`]): from then on the device owns it, and the driver only gets it back as the
//! token returned by [`Virtqueue::get_buf`] once the device has used it. A buffer can
//! therefore not be freed or reused while the device may still access it.
//!
//! C header: [`include/linux/virtio.h`](srctree/include/linux/virtio.h)

use super::Device;
use crate::{
    bindings, device,
    prelude::*,
    sync::{
        atomic::{
            Atomic,
            Relaxed, //
        },
        lock::{
            spinlock::SpinLockBackend,
            Guard, //
        },
        new_spinlock,
        Arc,
        SpinLock, //
    },
    types::ForeignOwnable,
    workqueue::{
        self,
        impl_has_work,
        new_work,
        Work,
        WorkItem, //
    },
};
use core::{
    ffi::c_void,
    marker::PhantomData,
    mem::MaybeUninit,
    ptr::NonNull, //
};
use zerocopy::{
    FromBytes,
    Immutable,
    IntoBytes, //
};

/// The number of memory segments one buffer may describe, readable and writable together.
pub const MAX_SEGMENTS: usize = 8;

/// Processes the buffers that the device used.
///
/// The virtqueue interrupt only schedules work; the handler runs from that work item, in process
/// context (it may sleep and lock the queues), once per queue whose buffers were used since the
/// last run, or more often.
pub trait QueueHandler<T: Buffer>: Send + Sync + Sized + 'static {
    /// The device used buffers of `queue`: collect them with [`Virtqueue::get_buf`].
    fn queue_done(&self, queue: &Virtqueue<T>);

    /// `queue` was revoked (the device is being unbound, or frozen): the buffers the device
    /// held were taken back and dropped, and adding buffers fails with [`ENODEV`] from now on.
    /// Wake whoever waits for the queue. Called in process context, once per queue, after the
    /// last [`QueueHandler::queue_done`] call for it returned.
    fn queue_revoked(&self, queue: &Virtqueue<T>) {
        let _ = queue;
    }
}

/// A buffer that can be passed to a virtio device.
///
/// The device reads the readable segments and then writes the writable ones. The memory of the
/// segments belongs to the buffer (it is borrowed from `self`), so it stays valid for as long as
/// the device owns the buffer.
///
/// # Examples
///
/// ```
/// use kernel::virtio::{Buffer, Segments};
///
/// struct Request {
///     command: KBox<[u32; 4]>,
///     response: KBox<[u32; 2]>,
/// }
///
/// impl Buffer for Request {
///     fn segments<'a>(&'a mut self, segments: &mut Segments<'a>) -> Result {
///         segments.readable(&self.command)?;
///         segments.writable(&mut self.response)
///     }
/// }
///
/// let mut request = Request {
///     command: KBox::new([1, 2, 3, 4], GFP_KERNEL)?,
///     response: KBox::new([0; 2], GFP_KERNEL)?,
/// };
/// let mut segments = Segments::new();
/// request.segments(&mut segments)?;
/// assert_eq!(segments.readable_count(), 1);
/// assert_eq!(segments.writable_count(), 1);
/// # Ok::<(), Error>(())
/// ```
pub trait Buffer: Send + 'static {
    /// Describes the buffer's memory: all readable segments first, then the writable ones.
    ///
    /// Called by [`Prepared::new`], in the caller's context and without any queue lock held.
    fn segments<'a>(&'a mut self, segments: &mut Segments<'a>) -> Result;
}

/// One memory segment of a [`Buffer`].
#[derive(Clone, Copy)]
struct Segment {
    addr: NonNull<u8>,
    len: u32,
    /// The memory is part of the buffer itself rather than an allocation the buffer owns: see
    /// [`Segments::split_in_buffer`].
    in_buffer: bool,
}

impl Segment {
    /// Whether the segment lies within the `size` bytes at `start`.
    fn lies_within(&self, start: usize, size: usize) -> bool {
        let len = usize::try_from(self.len).unwrap_or(usize::MAX);
        self.addr
            .addr()
            .get()
            .checked_sub(start)
            .and_then(|offset| offset.checked_add(len))
            .is_some_and(|end| end <= size)
    }
}

/// The memory segments of a [`Buffer`], in the order the device accesses them.
///
/// # Invariants
///
/// Each of the first `out + in_` entries of `entries` points to `len > 0` bytes of memory that
/// is borrowed for `'a`: shared for the first `out` entries, exclusively for the `in_` ones after
/// them. That memory comes from `kmalloc` (so it is in the kernel's linear map), unless the entry
/// is marked `in_buffer`: then it is only known to be borrowed.
pub struct Segments<'a> {
    entries: [Option<Segment>; MAX_SEGMENTS],
    out: usize,
    in_: usize,
    _borrow: PhantomData<&'a mut [u8]>,
}

impl<'a> Segments<'a> {
    /// Creates an empty list.
    pub fn new() -> Self {
        // INVARIANT: No entry is in use.
        Self {
            entries: [None; MAX_SEGMENTS],
            out: 0,
            in_: 0,
            _borrow: PhantomData,
        }
    }

    fn push(&mut self, addr: *const u8, len: usize, writable: bool, in_buffer: bool) -> Result {
        if !writable && self.in_ > 0 {
            // The device reads all readable segments before it writes.
            return Err(EINVAL);
        }
        if len == 0 {
            return Ok(());
        }
        let len = u32::try_from(len).map_err(|_| EINVAL)?;
        let index = self.out + self.in_;
        let slot = self.entries.get_mut(index).ok_or(E2BIG)?;
        let addr = NonNull::new(addr.cast_mut()).ok_or(EINVAL)?;
        *slot = Some(Segment {
            addr,
            len,
            in_buffer,
        });
        if writable {
            self.in_ += 1;
        } else {
            self.out += 1;
        }
        Ok(())
    }

    /// Adds a segment that the device reads.
    pub fn readable<U: IntoBytes + Immutable>(&mut self, data: &'a KBox<U>) -> Result {
        let bytes = data.as_bytes();
        // INVARIANT: `KBox` memory comes from `kmalloc`; it is borrowed for `'a`.
        self.push(bytes.as_ptr(), bytes.len(), false, false)
    }

    /// Adds the elements of `data` as one segment that the device reads.
    pub fn readable_slice<U: IntoBytes + Immutable>(&mut self, data: &'a KVec<U>) -> Result {
        let bytes = data.as_slice().as_bytes();
        // INVARIANT: `KVec` memory comes from `kmalloc`; it is borrowed for `'a`.
        self.push(bytes.as_ptr(), bytes.len(), false, false)
    }

    /// Adds a segment that the device writes. The device may write any bytes, hence `FromBytes`.
    pub fn writable<U: FromBytes + IntoBytes>(&mut self, data: &'a mut KBox<U>) -> Result {
        let bytes = data.as_mut_bytes();
        // INVARIANT: `KBox` memory comes from `kmalloc`; it is borrowed exclusively for `'a`.
        self.push(bytes.as_mut_ptr(), bytes.len(), true, false)
    }

    /// Adds the elements of `data` as one segment that the device writes.
    pub fn writable_slice<U: FromBytes + IntoBytes>(&mut self, data: &'a mut KVec<U>) -> Result {
        let bytes = data.as_mut_slice().as_mut_bytes();
        // INVARIANT: `KVec` memory comes from `kmalloc`; it is borrowed exclusively for `'a`.
        self.push(bytes.as_mut_ptr(), bytes.len(), true, false)
    }

    /// Adds the first `readable` bytes of `data` as a segment that the device reads and the
    /// rest as one that it writes: a request and the room for its answer in one allocation.
    /// `EINVAL` if `data` is shorter than `readable`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::virtio::Segments;
    ///
    /// let mut request = KVec::new();
    /// request.extend_from_slice(&[1u8, 2, 3, 4], GFP_KERNEL)?;
    /// request.resize(12, 0u8, GFP_KERNEL)?;
    /// {
    ///     let mut too_short = Segments::new();
    ///     assert_eq!(too_short.split_slice(&mut request, 13), Err(EINVAL));
    /// }
    /// let mut segments = Segments::new();
    /// segments.split_slice(&mut request, 4)?;
    /// assert_eq!(segments.readable_count(), 1);
    /// assert_eq!(segments.writable_count(), 1);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn split_slice(&mut self, data: &'a mut KVec<u8>, readable: usize) -> Result {
        // `KVec` memory comes from `kmalloc`.
        self.split(data.as_mut_slice(), readable, false)
    }

    /// Adds `data` as a readable and a writable segment, split at `readable`; `in_buffer`
    /// unless `data` is `kmalloc` memory.
    fn split(&mut self, data: &'a mut [u8], readable: usize, in_buffer: bool) -> Result {
        let (read, write) = data.split_at_mut_checked(readable).ok_or(EINVAL)?;
        // INVARIANT: Both halves are borrowed exclusively for `'a`, which covers the shared
        // borrow of the readable one; they are `kmalloc` memory or marked `in_buffer`, as the
        // caller says.
        self.push(read.as_ptr(), read.len(), false, in_buffer)?;
        self.push(write.as_mut_ptr(), write.len(), true, in_buffer)
    }

    /// Like [`Self::split_slice`], for bytes that are part of the buffer itself (an array
    /// field, say) rather than an allocation of their own: a small request and its answer then
    /// cost no allocation besides the buffer's box. [`Prepared::new`] refuses the buffer with
    /// `EINVAL` unless `data` lies within it.
    ///
    /// The writable bytes then share cache lines with the buffer's other fields. That is safe
    /// for non-coherent DMA too (see `Documentation/core-api/dma-api-howto.rst`, on cache
    /// lines), as nothing writes to the buffer while the device owns it.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::virtio::{Buffer, Prepared, Segments};
    ///
    /// struct Small {
    ///     bytes: [u8; 16],
    /// }
    ///
    /// impl Buffer for Small {
    ///     fn segments<'a>(&'a mut self, segments: &mut Segments<'a>) -> Result {
    ///         segments.split_in_buffer(&mut self.bytes, 8)
    ///     }
    /// }
    ///
    /// assert!(Prepared::new(KBox::new(Small { bytes: [0; 16] }, GFP_KERNEL)?).is_ok());
    ///
    /// // Bytes elsewhere, here in an allocation of their own, are not part of the buffer.
    /// struct Boxed {
    ///     bytes: KBox<[u8; 16]>,
    /// }
    ///
    /// impl Buffer for Boxed {
    ///     fn segments<'a>(&'a mut self, segments: &mut Segments<'a>) -> Result {
    ///         segments.split_in_buffer(&mut self.bytes[..], 8)
    ///     }
    /// }
    ///
    /// let boxed = Boxed {
    ///     bytes: KBox::new([0; 16], GFP_KERNEL)?,
    /// };
    /// let refused = Prepared::new(KBox::new(boxed, GFP_KERNEL)?);
    /// assert_eq!(refused.err().map(|e| e.error), Some(EINVAL));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn split_in_buffer(&mut self, data: &'a mut [u8], readable: usize) -> Result {
        // Marked, for `Prepared::new` to check where the bytes are.
        self.split(data, readable, true)
    }

    /// Returns the number of readable segments.
    pub fn readable_count(&self) -> usize {
        self.out
    }

    /// Returns the number of writable segments.
    pub fn writable_count(&self) -> usize {
        self.in_
    }
}

impl Default for Segments<'_> {
    fn default() -> Self {
        Self::new()
    }
}

/// The error of [`Prepared::new`] and [`VirtqueueGuard::add`]: the buffer is handed back with
/// the reason.
///
/// The buffer comes back while the queue may still be locked: drop it only after the guard.
pub struct AddError<T> {
    /// The buffer that was not added.
    pub buffer: KBox<T>,
    /// [`ENOSPC`] when the ring is full, [`ENODEV`] when the queue was revoked, [`EIO`] when the
    /// device broke the queue, [`EINVAL`] or [`E2BIG`] for a malformed buffer.
    pub error: Error,
}

/// A buffer whose segments were described, ready for [`VirtqueueGuard::add`].
///
/// The segments are described here, before the queue is locked, so that a buffer's
/// [`Buffer::segments`] never runs in atomic context. They are kept as addresses and lengths,
/// not as scatterlists: this is moved a few times on its way to the ring, and the add builds the
/// scatterlists of the used segments only.
///
/// # Invariants
///
/// The first `out + in_` entries of `segments` are `Some` and describe `kmalloc` memory of
/// `buffer`'s segments (see the invariants of [`Segments`]): the first `out` readable, the `in_`
/// others writable. That memory is in `buffer`'s box or in allocations owned by (or outliving)
/// the buffer, so it keeps its address when the box moves; nothing mutates the buffer while it
/// is here, as `Prepared` gives no access to it but [`Prepared::into_inner`].
pub struct Prepared<T: Buffer> {
    buffer: KBox<T>,
    segments: [Option<Segment>; MAX_SEGMENTS],
    out: usize,
    in_: usize,
}

impl<T: Buffer> Prepared<T> {
    /// Describes the segments of `buffer`.
    pub fn new(mut buffer: KBox<T>) -> core::result::Result<Self, AddError<T>> {
        let (segments, out, in_) = {
            let mut segments = Segments::new();
            if let Err(error) = buffer.segments(&mut segments) {
                return Err(AddError { buffer, error });
            }
            if segments.out + segments.in_ == 0 {
                return Err(AddError {
                    buffer,
                    error: EINVAL,
                });
            }
            (segments.entries, segments.out, segments.in_)
        };
        // The address of the buffer in its box, not of the box.
        let start = (&raw const *buffer).addr();
        let outside = segments
            .iter()
            .flatten()
            .take(out + in_)
            .any(|s| s.in_buffer && !s.lies_within(start, core::mem::size_of::<T>()));
        if outside {
            return Err(AddError {
                buffer,
                error: EINVAL,
            });
        }
        // INVARIANT: By the invariants of `Segments`, its first `out + in_` entries describe
        // memory borrowed from the buffer, as required: `kmalloc` memory owned by (or
        // outliving) the buffer, or, checked above, bytes of the buffer itself, in its box's
        // `kmalloc` allocation. The borrow of `buffer` ended; the box's allocation does not
        // move when the box does.
        Ok(Self {
            buffer,
            segments,
            out,
            in_,
        })
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> KBox<T> {
        self.buffer
    }
}

struct QueueState {
    vq: Option<NonNull<bindings::virtqueue>>,
}

// SAFETY: The virtqueue is only accessed with the lock held, from any thread; the tokens it
// holds are `KBox<T>` of a `T: Buffer`, which is `Send`.
unsafe impl Send for QueueState {}

impl QueueState {
    /// The lock of a queue. Made outside the generic queue, so that there is one lock class
    /// (and name) whichever drivers instantiate it.
    fn new_lock() -> impl PinInit<SpinLock<Self>> {
        new_spinlock!(Self { vq: None }, "virtqueue")
    }
}

/// A virtqueue whose buffers are of type `T`.
///
/// # Invariants
///
/// While `state.vq` is `Some`, it points to a live virtqueue of the device, and every token the
/// ring holds came from `KBox::<T>::into_raw` of a [`Prepared`] buffer. The device accesses
/// that buffer only through its segments, and writes only the writable ones: bytes that were
/// borrowed exclusively as `[u8]` or `FromBytes` data, so any value it writes is valid. The
/// device does not access the buffer once the ring gave the token up.
#[pin_data]
pub struct Virtqueue<T: Buffer> {
    #[pin]
    state: SpinLock<QueueState>,
    index: usize,
    _tokens: PhantomData<fn() -> KBox<T>>,
}

impl<T: Buffer> Virtqueue<T> {
    fn new(index: usize) -> impl PinInit<Self> {
        // INVARIANT: No virtqueue yet.
        pin_init!(Self {
            state <- QueueState::new_lock(),
            index,
            _tokens: PhantomData,
        })
    }

    /// Returns the position of this queue in [`Device::find_vqs`].
    pub fn index(&self) -> usize {
        self.index
    }

    /// Locks the queue for adding buffers.
    pub fn lock(&self) -> VirtqueueGuard<'_, T> {
        VirtqueueGuard(self.state.lock(), PhantomData)
    }

    /// Disables the [`QueueHandler`] notifications for this queue (a hint to the device).
    pub fn disable_cb(&self) {
        let guard = self.lock();
        if let Ok(vq) = guard.vq() {
            // SAFETY: `vq` is live by the type invariant; the lock is held.
            unsafe { bindings::virtqueue_disable_cb(vq.as_ptr()) }
        }
    }

    /// Re-enables notifications. Returns `false` if buffers were used meanwhile: collect them
    /// with [`Self::get_buf`] to not miss them.
    pub fn enable_cb(&self) -> bool {
        let guard = self.lock();
        match guard.vq() {
            // SAFETY: `vq` is live by the type invariant; the lock is held.
            Ok(vq) => unsafe { bindings::virtqueue_enable_cb(vq.as_ptr()) },
            Err(_) => true,
        }
    }

    /// Takes back a buffer the device used, with the number of bytes it wrote.
    ///
    /// The queue is locked only while the buffer is taken from the ring, so that dropping the
    /// buffer may sleep.
    pub fn get_buf(&self) -> Option<(KBox<T>, u32)> {
        let guard = self.lock();
        let vq = guard.vq().ok()?;
        let mut len = 0u32;

        // SAFETY: `vq` is live by the type invariant and the lock is held; `len` is valid for
        // writes.
        let token = unsafe { bindings::virtqueue_get_buf(vq.as_ptr(), &mut len) };
        drop(guard);
        let token = NonNull::new(token.cast::<T>())?;

        // SAFETY: By the type invariant, every token of the ring is a `KBox<T>` raw pointer, of
        // a buffer the device wrote only valid values to; the ring gave it up, so the device no
        // longer accesses it and we own it again.
        Some((unsafe { KBox::from_raw(token.as_ptr()) }, len))
    }
}

/// Exclusive access to a [`Virtqueue`].
pub struct VirtqueueGuard<'a, T: Buffer>(
    Guard<'a, QueueState, SpinLockBackend>,
    PhantomData<fn() -> KBox<T>>,
);

impl<T: Buffer> VirtqueueGuard<'_, T> {
    fn vq(&self) -> Result<NonNull<bindings::virtqueue>> {
        self.0.vq.ok_or(ENODEV)
    }

    /// Passes `buffer` to the device. Call [`Self::kick`] to notify the device.
    pub fn add(&mut self, buffer: Prepared<T>) -> core::result::Result<(), AddError<T>> {
        let Prepared {
            buffer,
            segments,
            out,
            in_,
        } = buffer;
        let vq = match self.vq() {
            Ok(vq) => vq,
            Err(error) => return Err(AddError { buffer, error }),
        };

        let mut sg = [const { MaybeUninit::<bindings::scatterlist>::uninit() }; MAX_SEGMENTS];
        let mut sgs: [*mut bindings::scatterlist; MAX_SEGMENTS] =
            [core::ptr::null_mut(); MAX_SEGMENTS];
        let used = segments.iter().flatten().take(out + in_);
        for ((ptr, entry), seg) in sgs.iter_mut().zip(sg.iter_mut()).zip(used) {
            // SAFETY: By the invariants of `Prepared`, `seg` is `len` bytes of kmalloc memory,
            // as `sg_init_one` requires; `entry` is valid for writes of a scatterlist, which
            // `sg_init_one` initialises whole.
            unsafe { bindings::sg_init_one(entry.as_mut_ptr(), seg.addr.as_ptr().cast(), seg.len) };
            *ptr = entry.as_mut_ptr();
        }

        let token = KBox::into_raw(buffer);

        // SAFETY: `vq` is live by the type invariant (the lock is held); by the invariants of
        // `Prepared`, its first `out + in_` segments are `Some`, so the first `out + in_`
        // entries of `sgs` point to scatterlists initialised above, each describing memory
        // owned by `token`'s buffer, which the ring keeps until the device used it; the counts
        // are at most `MAX_SEGMENTS`. `token` is non-null.
        let ret = unsafe {
            bindings::virtqueue_add_sgs(
                vq.as_ptr(),
                sgs.as_mut_ptr(),
                out as u32,
                in_ as u32,
                token.cast::<c_void>(),
                GFP_ATOMIC.as_raw(),
            )
        };
        if ret < 0 {
            // SAFETY: The ring did not take `token`, which came from `KBox::into_raw` above.
            let buffer = unsafe { KBox::from_raw(token) };
            return Err(AddError {
                buffer,
                error: Error::from_errno(ret),
            });
        }
        // INVARIANT: The ring holds `token`, a `KBox<T>` raw pointer of a prepared buffer, whose
        // segments are what the device was given.
        Ok(())
    }

    /// Notifies the device of added buffers. Returns `false` if the device is broken.
    pub fn kick(&mut self) -> bool {
        match self.vq() {
            // SAFETY: `vq` is live by the type invariant.
            Ok(vq) => unsafe { bindings::virtqueue_kick(vq.as_ptr()) },
            Err(_) => false,
        }
    }

    /// Returns the number of free descriptors of the ring (0 once revoked).
    pub fn num_free(&self) -> u32 {
        match self.vq() {
            // SAFETY: `vq` is live by the type invariant.
            Ok(vq) => unsafe { (*vq.as_ptr()).num_free },
            Err(_) => 0,
        }
    }

    /// Returns whether the device broke the queue (or it was revoked).
    pub fn is_broken(&self) -> bool {
        match self.vq() {
            // SAFETY: `vq` is live by the type invariant.
            Ok(vq) => unsafe { bindings::virtqueue_is_broken(vq.as_ptr()) },
            Err(_) => true,
        }
    }

    /// Takes back one buffer that the (reset) device no longer owns.
    fn detach_one(&mut self) -> Option<KBox<T>> {
        let vq = self.vq().ok()?;

        // SAFETY: `vq` is live by the type invariant; the caller reset the device.
        let token = unsafe { bindings::virtqueue_detach_unused_buf(vq.as_ptr()) };
        let token = NonNull::new(token.cast::<T>())?;

        // SAFETY: As in `get_buf`.
        Some(unsafe { KBox::from_raw(token.as_ptr()) })
    }
}

/// The virtqueues of a device, with the handler of their notifications.
///
/// Created by [`Device::find_vqs`]; the handles stay usable after the device was unbound, but
/// then report [`ENODEV`].
#[pin_data]
pub struct Queues<T: Buffer, H: QueueHandler<T>> {
    handler: H,
    queues: KVec<Pin<KBox<Virtqueue<T>>>>,
    #[pin]
    work: Work<Queues<T, H>>,
}

impl_has_work! {
    impl{T: Buffer, H: QueueHandler<T>} HasWork<Queues<T, H>> for Queues<T, H> { self.work }
}

impl<T: Buffer, H: QueueHandler<T>> WorkItem for Queues<T, H> {
    type Pointer = Arc<Queues<T, H>>;

    fn run(this: Arc<Queues<T, H>>) {
        for queue in this.queues.iter() {
            this.handler.queue_done(queue);
        }
    }
}

impl<T: Buffer, H: QueueHandler<T>> Queues<T, H> {
    /// Returns the queue at `index`.
    pub fn get(&self, index: usize) -> Option<&Virtqueue<T>> {
        self.queues.get(index).map(|q| &**q)
    }

    /// Returns the notification handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// Returns the number of queues.
    pub fn len(&self) -> usize {
        self.queues.len()
    }

    /// Returns whether there are no queues (never the case once created).
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }
}

/// What the bus adapter needs of a [`Queues`] without knowing its types.
trait QueueSet: Send + Sync {
    /// Schedules the processing of used buffers.
    fn notify(&self);

    /// Takes back all buffers of the reset device and revokes the queues.
    fn revoke(&self);

    /// Waits until the processing work is idle. Called once no interrupt can queue it again, so
    /// that no work item runs code of the driver's module after the driver is gone.
    fn flush(&self);
}

struct TypedQueues<T: Buffer, H: QueueHandler<T>>(Arc<Queues<T, H>>);

impl<T: Buffer, H: QueueHandler<T>> QueueSet for TypedQueues<T, H> {
    fn notify(&self) {
        // Already queued work will see these buffers too.
        let _ = workqueue::system_percpu().enqueue(self.0.clone());
    }

    fn revoke(&self) {
        for queue in self.0.queues.iter() {
            queue.revoke();
            self.0.handler.queue_revoked(queue);
        }
    }

    fn flush(&self) {
        // SAFETY: `work` is a valid, initialised work item of the pinned `Queues`.
        unsafe { bindings::flush_work(Work::raw_get(&self.0.work)) };
    }
}

impl<T: Buffer> Virtqueue<T> {
    /// Takes back the buffers of the reset device and revokes the queue.
    fn revoke(&self) {
        // Drop the buffers outside the lock: their destructors may sleep. The queue is revoked
        // under the same lock that found it empty, so that no buffer added in between is lost.
        loop {
            let mut guard = self.lock();
            match guard.detach_one() {
                Some(buffer) => {
                    drop(guard);
                    drop(buffer);
                }
                None => {
                    // INVARIANT: The queue is about to be deleted; nobody may use it any more.
                    guard.0.vq = None;
                    break;
                }
            }
        }
    }
}

/// The queues of a device as stored in `virtio_device::priv`.
pub(crate) struct ErasedQueues {
    queues: KBox<dyn QueueSet>,
    /// Set before the device is reset: interrupts no longer schedule the processing work.
    stopping: Atomic<bool>,
}

impl ErasedQueues {
    /// Stops interrupts from scheduling the processing work. Call before the device is reset,
    /// whose synchronisation of the interrupt handlers makes this take effect.
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Relaxed);
    }

    /// Takes back the buffers of the reset device and revokes the driver's queue handles.
    ///
    /// Call once the processing work is idle ([`Self::stop`], the reset, [`Self::flush`]), so
    /// that the driver's handler never collects a buffer while it is detached here.
    pub(crate) fn revoke(&self) {
        self.queues.revoke();
    }

    /// Waits until the processing work is idle.
    pub(crate) fn flush(&self) {
        self.queues.flush();
    }
}

extern "C" fn queue_callback(vq: *mut bindings::virtqueue) {
    // SAFETY: The virtio core calls this with a valid virtqueue of a live device.
    let vdev = unsafe { (*vq).vdev };

    // SAFETY: `vdev` is valid. `priv_` was set by `create` before the queues existed and is
    // cleared only after they were deleted, which waits for running callbacks.
    let queues = unsafe { (*vdev).priv_ };
    if queues.is_null() {
        return;
    }

    // SAFETY: `priv_` holds a `KBox<ErasedQueues>` from `into_foreign()` that outlives this call
    // (see above).
    let queues = unsafe { KBox::<ErasedQueues>::borrow(queues) };
    if !queues.stopping.load(Relaxed) {
        queues.queues.notify();
    }
}

/// Creates the virtqueues of `dev` and records them in `virtio_device::priv`.
pub(super) fn create<T: Buffer, H: QueueHandler<T>>(
    dev: &Device<device::Core<'_>>,
    names: &[&'static CStr],
    handler: H,
) -> Result<Arc<Queues<T, H>>> {
    let count = names.len();
    if count == 0 {
        return Err(EINVAL);
    }

    let mut queues = KVec::with_capacity(count, GFP_KERNEL)?;
    let mut infos = KVec::with_capacity(count, GFP_KERNEL)?;
    let mut vqs = KVec::with_capacity(count, GFP_KERNEL)?;
    for (index, name) in names.iter().enumerate() {
        queues.push(
            KBox::pin_init(Virtqueue::new(index), GFP_KERNEL)?,
            GFP_KERNEL,
        )?;
        infos.push(
            bindings::virtqueue_info {
                name: name.as_char_ptr(),
                callback: Some(queue_callback),
                ctx: false,
            },
            GFP_KERNEL,
        )?;
        vqs.push(core::ptr::null_mut::<bindings::virtqueue>(), GFP_KERNEL)?;
    }

    let queues = Arc::pin_init(
        pin_init!(Queues {
            handler,
            queues,
            work <- new_work!("virtio::Queues::work"),
        }),
        GFP_KERNEL,
    )?;
    let typed: KBox<dyn QueueSet> = KBox::new(TypedQueues(queues.clone()), GFP_KERNEL)?;
    let erased = KBox::new(
        ErasedQueues {
            queues: typed,
            stopping: Atomic::new(false),
        },
        GFP_KERNEL,
    )?;

    let vdev = dev.as_raw();
    // SAFETY: `vdev` is valid; we are in probe and `priv_` is unset (checked by the caller).
    unsafe { (*vdev).priv_ = erased.into_foreign() };

    // SAFETY: `vdev` is valid; `vqs` and `infos` hold `count` entries each; the names are
    // `'static`.
    let ret = unsafe {
        bindings::virtio_find_vqs(vdev, count as u32, vqs.as_mut_ptr(), infos.as_mut_ptr())
    };
    if ret < 0 {
        // SAFETY: No queue exists, so no callback can use `priv_`; it holds the box stored above.
        drop(unsafe { KBox::<ErasedQueues>::from_foreign((*vdev).priv_) });
        // SAFETY: As above.
        unsafe { (*vdev).priv_ = core::ptr::null_mut() };
        return Err(Error::from_errno(ret));
    }

    for (queue, vq) in queues.queues.iter().zip(vqs.iter()) {
        // INVARIANT: `find_vqs` created the virtqueue `vq`; its ring is empty.
        queue.state.lock().vq = NonNull::new(*vq);
    }
    Ok(queues)
}

#[kunit_tests(rust_virtio_virtqueue)]
mod tests {
    use super::*;

    struct TwoWay {
        request: KBox<[u8; 24]>,
        extra: KVec<u64>,
        response: KBox<[u8; 24]>,
    }

    impl Buffer for TwoWay {
        fn segments<'a>(&'a mut self, segments: &mut Segments<'a>) -> Result {
            segments.readable(&self.request)?;
            segments.readable_slice(&self.extra)?;
            segments.writable(&mut self.response)
        }
    }

    fn two_way(extra: usize) -> Result<TwoWay> {
        let mut v = KVec::with_capacity(extra, GFP_KERNEL)?;
        for i in 0..extra {
            v.push(i as u64, GFP_KERNEL)?;
        }
        Ok(TwoWay {
            request: KBox::new([1; 24], GFP_KERNEL)?,
            extra: v,
            response: KBox::new([0; 24], GFP_KERNEL)?,
        })
    }

    #[test]
    fn segments_in_order() -> Result {
        let mut buf = two_way(3)?;
        let mut segments = Segments::new();
        buf.segments(&mut segments)?;
        assert_eq!(segments.readable_count(), 2);
        assert_eq!(segments.writable_count(), 1);
        assert_eq!(segments.entries[1].map(|s| s.len), Some(24));
        Ok(())
    }

    #[test]
    fn empty_segments_are_skipped() -> Result {
        let mut buf = two_way(0)?;
        let mut segments = Segments::new();
        buf.segments(&mut segments)?;
        assert_eq!(segments.readable_count(), 1);
        assert_eq!(segments.writable_count(), 1);
        Ok(())
    }

    #[test]
    fn readable_after_writable_is_rejected() -> Result {
        let request = KBox::new(7u32, GFP_KERNEL)?;
        let mut response = KBox::new(0u32, GFP_KERNEL)?;
        let mut segments = Segments::new();
        segments.writable(&mut response)?;
        assert_eq!(segments.readable(&request), Err(EINVAL));
        Ok(())
    }

    #[test]
    fn in_buffer_segments_lie_within() {
        let bytes = [0u8; 16];
        let start = bytes.as_ptr().addr();
        let at = |offset: usize, len: u32| Segment {
            addr: NonNull::from(&bytes[offset]),
            len,
            in_buffer: true,
        };
        assert!(at(0, 16).lies_within(start, 16));
        assert!(at(8, 8).lies_within(start, 16));
        assert!(!at(8, 9).lies_within(start, 16));
        assert!(!at(0, 16).lies_within(start + 1, 15));
        assert!(!at(15, u32::MAX).lies_within(start, 16));
    }

    #[test]
    fn too_many_segments() -> Result {
        let request = KBox::new(7u32, GFP_KERNEL)?;
        let mut segments = Segments::new();
        for _ in 0..MAX_SEGMENTS {
            segments.readable(&request)?;
        }
        assert_eq!(segments.readable(&request), Err(E2BIG));
        assert_eq!(segments.readable_count(), MAX_SEGMENTS);
        Ok(())
    }
}
