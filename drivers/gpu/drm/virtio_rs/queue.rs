// SPDX-License-Identifier: GPL-2.0

//! The control and cursor virtqueues: command submission and the responses.
//!
//! A command is encoded into a [`Request`] that owns the request bytes and room for the
//! response. [`CommandQueue::call`] adds it to the control queue (waiting for room when the ring
//! is full), and waits until the dequeue work, which runs after the queue interrupt, hands the
//! response back. Error responses become kernel errors.

use crate::protocol::{
    self,
    Command,
    CtrlHdr,
    UpdateCursor, //
};
use kernel::{
    device,
    dma_fence::{
        Fence,
        FenceIssuer,
        FenceSlot,
        FenceTimeline, //
    },
    new_condvar, new_mutex, new_spinlock,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{
            Atomic,
            Relaxed, //
        },
        Arc,
        CondVar,
        Mutex,
        SpinLock, //
    },
    time::{
        msecs_to_jiffies,
        Delta,
        Instant,
        Jiffies,
        Monotonic, //
    },
    virtio::{
        self,
        Prepared,
        Segments,
        Virtqueue, //
    },
};
use zerocopy::{
    FromZeros,
    Immutable,
    IntoBytes, //
};

/// The index of the control queue.
const CONTROL: usize = 0;

/// The index of the cursor queue, whose commands have no response.
const CURSOR: usize = 1;

/// How long a caller waits for room in the ring and then for the response, together, before
/// giving up on a device that stopped answering. Waits are not interruptible: the callers are
/// probe, the display-change work and commits, none of which can be restarted, and a command
/// whose answer matters (that the host let go of memory) must not be abandoned on a signal.
const RESPONSE_TIMEOUT: Delta = Delta::from_millis(5000);

/// The point in time at which a wait gives up.
#[derive(Clone, Copy)]
struct Deadline(Instant<Monotonic>);

impl Deadline {
    /// The deadline `timeout` from now.
    fn after(timeout: Delta) -> Self {
        Self(Instant::now() + timeout)
    }

    /// The time left, rounded up to whole jiffies; `None` once the deadline passed.
    fn left(&self) -> Option<Jiffies> {
        let left = self.0 - Instant::<Monotonic>::now();
        if left.as_nanos() <= 0 {
            return None;
        }
        let ms = u32::try_from(left.as_millis_ceil()).unwrap_or(u32::MAX);
        Some(msecs_to_jiffies(ms))
    }
}

/// Where the dequeue work hands a response to the submitter waiting for it.
#[pin_data]
struct Reply {
    /// The request's bytes, and where in them the response starts and ends.
    #[pin]
    response: SpinLock<Option<(Bytes, core::ops::Range<usize>)>>,
}

/// What a command keeps until the device answered it: e.g. an object whose memory the command
/// makes the device let go of.
pub(crate) trait Hold: Send + 'static {
    /// The host resource it belongs to, for log lines.
    fn resource_id(&self) -> u32;
}

/// The most bytes a request keeps in itself, command, data and room for the answer together:
/// enough for the commands of a frame and the cursor's (checked below).
const INLINE_BYTES: usize = 128;

/// The bytes a command of type `$c` and its answer take in a request.
macro_rules! request_size {
    ($c:ty) => {
        core::mem::size_of::<$c>() + core::mem::size_of::<<$c as Command>::Response>()
    };
}

// Every frame's commands (an imported frame's, a dumb one's, the cursor's) cost no allocation
// besides their request.
static_assert!(request_size!(protocol::SetScanoutBlob) <= INLINE_BYTES);
static_assert!(request_size!(protocol::SetScanout) <= INLINE_BYTES);
static_assert!(request_size!(protocol::ResourceFlush) <= INLINE_BYTES);
static_assert!(request_size!(protocol::TransferToHost2d) <= INLINE_BYTES);
static_assert!(core::mem::size_of::<UpdateCursor>() <= INLINE_BYTES);

/// The bytes of a request: in the request itself when they fit, so that a frame's commands
/// cost one allocation each (the request's box), else an allocation of their own (a resource's
/// memory entries, a large answer). They are written in place, in the request's box
/// ([`Bytes::new`]): a request is large, and moving it costs a copy of it.
///
/// # Invariants
///
/// If `len` is at most [`INLINE_BYTES`], the bytes are the first `len` of `inline` and
/// `allocated` is empty; else they are `allocated`, which holds `len` bytes.
struct Bytes {
    inline: [u8; INLINE_BYTES],
    len: usize,
    allocated: KVec<u8>,
}

impl Bytes {
    /// An initializer of `command` and `payload` one after the other, followed by `room`
    /// zeroed bytes.
    fn new<'a>(command: &'a [u8], payload: &'a [u8], room: usize) -> impl Init<Self, Error> + 'a {
        let filled = command.len().checked_add(payload.len());
        let total = filled.and_then(|filled| filled.checked_add(room));
        try_init!(Self {
            inline <- pin_init::init_zeroed(),
            len: total.ok_or(EINVAL)?,
            allocated: KVec::new(),
        })
        .chain(move |bytes| {
            if bytes.len > INLINE_BYTES {
                // INVARIANT: `len` bytes, allocated.
                bytes.allocated = Self::allocate(command, payload, bytes.len)?;
                return Ok(());
            }
            // INVARIANT: `len` inline bytes, of which those after the payload stay zeroed.
            bytes
                .inline
                .get_mut(..command.len())
                .ok_or(EINVAL)?
                .copy_from_slice(command);
            bytes
                .inline
                .get_mut(command.len()..)
                .and_then(|rest| rest.get_mut(..payload.len()))
                .ok_or(EINVAL)?
                .copy_from_slice(payload);
            Ok(())
        })
    }

    /// `command`, `payload` and zeroes up to `total` bytes (at least the two), allocated.
    fn allocate(command: &[u8], payload: &[u8], total: usize) -> Result<KVec<u8>> {
        let mut bytes = KVec::with_capacity(total, GFP_KERNEL)?;
        // Within the capacity: nothing is allocated again.
        bytes.extend_from_slice(command, GFP_KERNEL)?;
        bytes.extend_from_slice(payload, GFP_KERNEL)?;
        bytes.resize(total, 0u8, GFP_KERNEL)?;
        Ok(bytes)
    }

    /// No bytes: what a request keeps once its answer was handed on.
    fn empty() -> Self {
        // INVARIANT: no inline bytes, nothing allocated.
        Self {
            inline: [0; INLINE_BYTES],
            len: 0,
            allocated: KVec::new(),
        }
    }

    fn is_inline(&self) -> bool {
        self.len <= INLINE_BYTES
    }

    fn as_slice(&self) -> &[u8] {
        if self.is_inline() {
            self.inline.get(..self.len).unwrap_or(&[])
        } else {
            &self.allocated
        }
    }

    fn as_mut_slice(&mut self) -> &mut [u8] {
        if self.is_inline() {
            self.inline.get_mut(..self.len).unwrap_or(&mut [])
        } else {
            &mut self.allocated
        }
    }
}

/// A command on its way through a queue.
pub(crate) struct Request<H: Hold> {
    /// The command, the data following it (e.g. the memory entries of a resource) and the
    /// room for the response, together: the device reads the first `response_at` bytes and
    /// writes the rest.
    bytes: Bytes,
    /// The length of the command at the start of `bytes`.
    command_len: usize,
    response_at: usize,
    reply: Option<Arc<Reply>>,
    /// The fence the device signals once the command completed, if it asks for one: armed
    /// when the command enters the ring.
    fence: Option<FenceSlot<ControlFences>>,
    /// An object whose memory the device may use until it answered this command.
    hold: Option<H>,
    /// Notify the device once the command is queued (else a later command does).
    notify: bool,
}

impl<H: Hold> virtio::Buffer for Request<H> {
    fn segments<'a>(&'a mut self, segments: &mut Segments<'a>) -> Result {
        let readable = self.response_at;
        let bytes = &mut self.bytes;
        if bytes.is_inline() {
            segments.split_in_buffer(bytes.inline.get_mut(..bytes.len).ok_or(EINVAL)?, readable)
        } else {
            segments.split_slice(&mut bytes.allocated, readable)
        }
    }
}

impl<H: Hold> Request<H> {
    /// The most ring descriptors a request takes (what the device reads, what it writes),
    /// without indirect descriptors.
    const MAX_DESCRIPTORS: u32 = 2;

    /// An initializer of a request of `command` followed by `payload`, with room for a
    /// `response_len`-byte answer, fenced with `fence` if given, notifying the device.
    fn new<'a>(
        command: &'a [u8],
        payload: &'a [u8],
        response_len: usize,
        fence: Option<FenceMemory>,
    ) -> impl Init<Self, Error> + 'a {
        let response_at = command.len().checked_add(payload.len());
        try_init!(Self {
            bytes <- Bytes::new(command, payload, response_len),
            command_len: command.len(),
            // Never fails here: `Bytes::new` refused the same overflow.
            response_at: response_at.ok_or(EINVAL)?,
            reply: None,
            fence,
            hold: None,
            notify: true,
        })
    }

    /// [`Self::new`] in a box, written there in place rather than copied from the stack.
    fn boxed(
        command: &[u8],
        payload: &[u8],
        response_len: usize,
        fence: Option<FenceMemory>,
    ) -> Result<KBox<Self>> {
        KBox::init(Self::new(command, payload, response_len, fence), GFP_KERNEL)
    }

    fn command(&self) -> &[u8] {
        self.bytes.as_slice().get(..self.command_len).unwrap_or(&[])
    }

    fn command_mut(&mut self) -> &mut [u8] {
        self.bytes
            .as_mut_slice()
            .get_mut(..self.command_len)
            .unwrap_or(&mut [])
    }

    /// Called by the dequeue work: the device wrote `len` bytes of the response. The request
    /// stays in its box: only a waited answer's bytes are moved, to the waiter.
    fn complete(mut request: KBox<Self>, len: u32, dequeue: &Dequeue<H>) {
        // A device cannot have written more than the buffer holds.
        let room = request
            .bytes
            .as_slice()
            .len()
            .saturating_sub(request.response_at);
        let len = usize::try_from(len).map_or(room, |l| l.min(room));
        let response = request.response_at..request.response_at + len;
        let answer = request
            .bytes
            .as_slice()
            .get(response.clone())
            .unwrap_or(&[]);
        if let Ok((hdr, _)) = CtrlHdr::read_from_prefix(answer) {
            if let Some(id) = hdr.fence() {
                let result = match hdr.type_() {
                    t if t >= protocol::ctrl_type::RESP_ERR_UNSPEC => {
                        Err(protocol::response_error(t))
                    }
                    _ => Ok(()),
                };
                // The fence id is the sequence number; the timeline ignores ids it never armed
                // (a misbehaving host).
                dequeue.events.timeline.signal_through(id, result);
            }
        }
        match request.reply.take() {
            Some(reply) => {
                let bytes = core::mem::replace(&mut request.bytes, Bytes::empty());
                *reply.response.lock() = Some((bytes, response));
            }
            // Nobody waits for this answer: only errors are worth a word.
            None => {
                let answer = request.bytes.as_slice().get(response).unwrap_or(&[]);
                dequeue.check_unwaited(request.command(), answer)
            }
        }
    }
}

/// A command whose request (and the room for its answer) was allocated ahead: see
/// [`CommandQueue::prepare_call`].
pub(crate) struct PreparedCall<H: Hold> {
    request: KBox<Request<H>>,
    reply: Arc<Reply>,
}

/// The issuer of the control queue's DMA fences (`VIRTIO_GPU_FLAG_FENCE`).
pub(crate) struct ControlFences;

impl FenceIssuer for ControlFences {
    const DRIVER_NAME: &'static CStr = c"virtio_rs";
    const TIMELINE_NAME: &'static CStr = c"virtio_rs-control";
}

/// A fence of the control queue, allocated before its command is sent.
pub(crate) type FenceMemory = FenceSlot<ControlFences>;

/// What the submitters of one queue wait for: room in the ring, answers, fences. Notified
/// whenever the device gave buffers of this queue back, and when the queue was revoked.
#[pin_data]
struct QueueEvents {
    /// Whether the queue was revoked (the device is being unbound): waiters give up with
    /// `ENODEV`.
    #[pin]
    revoked: Mutex<bool>,
    #[pin]
    changed: CondVar,
}

impl QueueEvents {
    fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            revoked <- new_mutex!(false),
            changed <- new_condvar!(),
        })
    }

    /// Wakes the waiters; `revoke` tells them the queue is gone.
    fn notify(&self, revoke: bool) {
        let mut revoked = self.revoked.lock();
        *revoked |= revoke;
        self.changed.notify_all();
    }

    /// Waits until `until` holds, the queue is revoked (`ENODEV`) or `deadline` passes
    /// (`ETIMEDOUT`).
    fn wait(&self, deadline: Deadline, mut until: impl FnMut() -> bool) -> Result {
        let mut revoked = self.revoked.lock();
        loop {
            if until() {
                return Ok(());
            }
            if *revoked {
                return Err(ENODEV);
            }
            let left = deadline.left().ok_or(ETIMEDOUT)?;
            // Woken or timed out: either way the conditions are checked again.
            let _ = self.changed.wait_timeout(&mut revoked, left);
        }
    }
}

/// Released objects whose RESOURCE_UNREF could not be sent: the host may still use their
/// memory, so they are kept until the control queue is revoked (the device was reset and let go
/// of everything), then freed.
///
/// # Invariants
///
/// Unless `revoked`, `held` has room for `live` more objects, so parking never allocates.
struct Parking<H> {
    held: KVec<H>,
    /// Objects with a host resource that were not released through the device yet.
    live: usize,
    revoked: bool,
}

impl<H> Default for Parking<H> {
    fn default() -> Self {
        Self {
            held: KVec::new(),
            live: 0,
            revoked: false,
        }
    }
}

/// The state shared by the submitters and the dequeue work.
#[pin_data]
struct Events<H> {
    #[pin]
    control: QueueEvents,
    #[pin]
    cursor: QueueEvents,
    /// The fences of the control queue: a fence's id on the wire is its sequence number, and
    /// fenced commands enter the ring in the order of their sequence numbers (each is named
    /// and armed under one [`kernel::dma_fence::Arming`]), which is the order the device
    /// completes them in.
    #[pin]
    timeline: FenceTimeline<ControlFences>,
    #[pin]
    parking: Mutex<Parking<H>>,
}

impl<H> Events<H> {
    /// The control queue was revoked: frees the parked objects.
    fn unpark_all(&self) {
        let held = {
            let mut parking = self.parking.lock();
            parking.revoked = true;
            core::mem::take(&mut parking.held)
        };
        // Outside the lock: freeing the objects sleeps.
        drop(held);
    }

    fn queue(&self, index: usize) -> &QueueEvents {
        if index == CURSOR {
            &self.cursor
        } else {
            &self.control
        }
    }
}

/// The handler of the queue interrupts: completes the requests the device used.
pub(crate) struct Dequeue<H: Hold> {
    events: Arc<Events<H>>,
    dev: ARef<device::Device>,
    /// Error responses to commands nobody waited for, for rate limiting their log lines.
    errors: Atomic<u64>,
}

impl<H: Hold> Dequeue<H> {
    /// Logs an error response to a command sent with [`CommandQueue::send`]: the first ones, then
    /// every thousandth, so that a misbehaving host cannot flood the log.
    fn check_unwaited(&self, command: &[u8], response: &[u8]) {
        // Commands without response (the cursor queue's) leave it empty.
        let Ok((hdr, _)) = CtrlHdr::read_from_prefix(response) else {
            return;
        };
        if hdr.type_() < protocol::ctrl_type::RESP_ERR_UNSPEC {
            return;
        }
        let count = self.errors.fetch_add(1, Relaxed);
        if count < 10 || count % 1000 == 0 {
            let cmd = CtrlHdr::read_from_prefix(command).map_or(0, |(c, _)| c.type_());
            dev_err!(
                self.dev,
                "response {:#x} to command {:#x} ({} errors)\n",
                hdr.type_(),
                cmd,
                count + 1
            );
        }
    }
}

impl<H: Hold> virtio::QueueHandler<Request<H>> for Dequeue<H> {
    fn queue_done(&self, queue: &Virtqueue<Request<H>>) {
        let mut used = false;
        // `get_buf` releases the queue lock before it returns: completing (and dropping) a
        // request runs without it.
        while let Some((request, len)) = queue.get_buf() {
            Request::complete(request, len, self);
            used = true;
        }
        if used {
            self.events.queue(queue.index()).notify(false);
        }
    }

    /// Revocation is for good: virtio_rs does not implement freeze and restore, whose new
    /// queues would need the parking and the waiters' flags reset.
    fn queue_revoked(&self, queue: &Virtqueue<Request<H>>) {
        // Waiters first: freeing parked objects may wait for locks their holders keep.
        self.events.queue(queue.index()).notify(true);
        if queue.index() == CONTROL {
            // The device was reset: what it did not complete, it never will.
            self.events.timeline.cancel_all(ENODEV);
            self.events.unpark_all();
        }
    }
}

/// A request that was not queued, with the reason.
type NotQueued<H> = (Error, KBox<Request<H>>);

/// The driver's side of the control queue.
pub(crate) struct CommandQueue<H: Hold> {
    dev: ARef<device::Device>,
    queues: Arc<virtio::Queues<Request<H>, Dequeue<H>>>,
    events: Arc<Events<H>>,
}

impl<H: Hold> CommandQueue<H> {
    /// Creates the control and cursor queues of `dev` and makes the device ready.
    pub(crate) fn new(dev: &virtio::Device<device::Core<'_>>) -> Result<Self> {
        let events = Arc::pin_init(
            pin_init!(Events {
                control <- QueueEvents::new(),
                cursor <- QueueEvents::new(),
                timeline <- FenceTimeline::new(),
                parking <- new_mutex!(Parking::default()),
            }),
            GFP_KERNEL,
        )?;
        let base: &device::Device = dev.as_ref();
        let queues = dev.find_vqs(
            &[c"control", c"cursor"],
            Dequeue {
                events: events.clone(),
                dev: base.into(),
                errors: Atomic::new(0),
            },
        )?;
        dev.ready();
        let dev = base;
        Ok(Self {
            dev: dev.into(),
            queues,
            events,
        })
    }

    /// Adds `request` to queue `index`, waiting until `deadline` while the ring is full.
    /// Returns its fence if it asked for one.
    fn submit(
        &self,
        index: usize,
        request: KBox<Request<H>>,
        deadline: Deadline,
    ) -> Result<Option<ARef<Fence>>> {
        self.try_submit(index, request, deadline)
            .map_err(|(e, _)| e)
    }

    /// Like [`Self::submit`]; a request that was not queued comes back with the error.
    ///
    /// A fenced request's fence is armed with the ring's lock held and room in the ring, just
    /// before the request is added: should the add fail nonetheless (a broken ring), the fence
    /// stays pending, and is signalled with the next fence the device completes, or cancelled
    /// when the queue is revoked. Nobody but the caller could have waited for it.
    fn try_submit(
        &self,
        index: usize,
        mut request: KBox<Request<H>>,
        deadline: Deadline,
    ) -> core::result::Result<Option<ARef<Fence>>, NotQueued<H>> {
        let Some(queue) = self.queues.get(index) else {
            return Err((ENODEV, request));
        };
        let Some(slot) = request.fence.take() else {
            return self.add_waiting(queue, request, deadline).map(|()| None);
        };
        loop {
            // Fenced commands enter the ring in the order of their sequence numbers: the number
            // is named, and the fence armed, under one `Arming`, not held while waiting for room.
            let arming = self.events.timeline.arming();
            let seqno = arming.next_seqno();
            if let Err(e) = CtrlHdr::set_fence_in(request.command_mut(), seqno) {
                request.fence = Some(slot);
                return Err((e, request));
            }
            let notify = request.notify;
            let prepared = match Prepared::new(request) {
                Ok(prepared) => prepared,
                Err(e) => {
                    let mut request = e.buffer;
                    request.fence = Some(slot);
                    return Err((e.error, request));
                }
            };
            let mut ring = queue.lock();
            if ring.num_free() >= Request::<H>::MAX_DESCRIPTORS || ring.is_broken() {
                // The device may see the command from the add on: its fence is pending first.
                let fence = arming.arm(slot);
                return match ring.add(prepared) {
                    Ok(()) => {
                        if notify {
                            ring.kick();
                        }
                        Ok(Some(fence))
                    }
                    Err(e) => Err((e.error, e.buffer)),
                };
            }
            drop(ring);
            drop(arming);
            request = prepared.into_inner();
            if let Err(e) = self.wait_room(queue, deadline) {
                request.fence = Some(slot);
                return Err((e, request));
            }
        }
    }

    /// Waits until `deadline` for room in `queue` (or for it to break), first notifying the
    /// device: the ring may be full of commands queued without notifying it.
    fn wait_room(&self, queue: &Virtqueue<Request<H>>, deadline: Deadline) -> Result {
        queue.lock().kick();
        // A broken or revoked queue never frees room: the caller tries again to get its error.
        let room = || {
            let queue = queue.lock();
            queue.num_free() >= Request::<H>::MAX_DESCRIPTORS || queue.is_broken()
        };
        self.events.queue(queue.index()).wait(deadline, room)
    }

    /// Adds `request` to `queue`, waiting until `deadline` while the ring is full.
    fn add_waiting(
        &self,
        queue: &Virtqueue<Request<H>>,
        mut request: KBox<Request<H>>,
        deadline: Deadline,
    ) -> core::result::Result<(), NotQueued<H>> {
        loop {
            let added = match Self::add(queue, request) {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            request = added.buffer;
            if added.error != ENOSPC {
                return Err((added.error, request));
            }
            if let Err(e) = self.wait_room(queue, deadline) {
                return Err((e, request));
            }
        }
    }

    /// Adds `request` to `queue`, and notifies the device if the request asks for it.
    fn add(
        queue: &Virtqueue<Request<H>>,
        request: KBox<Request<H>>,
    ) -> core::result::Result<(), virtio::AddError<Request<H>>> {
        let notify = request.notify;
        // The segments are described before the queue is locked.
        let prepared = Prepared::new(request)?;
        let mut queue = queue.lock();
        queue.add(prepared)?;
        if notify {
            queue.kick();
        }
        Ok(())
    }

    /// Sends `command` and returns the device's response to it.
    pub(crate) fn call<C: Command>(&self, command: &C) -> Result<KBox<C::Response>> {
        self.call_with::<C, u8>(command, &[])
    }

    /// Sends `command` followed by `payload` and returns the device's response.
    pub(crate) fn call_with<C: Command, P: IntoBytes + Immutable>(
        &self,
        command: &C,
        payload: &[P],
    ) -> Result<KBox<C::Response>> {
        let reply = Arc::pin_init(
            pin_init!(Reply {
                response <- new_spinlock!(None),
            }),
            GFP_KERNEL,
        )?;
        let mut request = Self::request(command, payload, None)?;
        request.reply = Some(reply.clone());

        let deadline = Deadline::after(RESPONSE_TIMEOUT);
        self.submit(CONTROL, request, deadline)?;

        self.events
            .control
            .wait(deadline, || reply.response.lock().is_some())?;
        let (bytes, response) = reply.response.lock().take().ok_or(EPROTO)?;
        self.decode::<C>(bytes.as_slice().get(response).unwrap_or(&[]))
    }

    /// Builds the request of `command`, `fenced` or not, to be sent later with
    /// [`Self::call_prepared`] on a path that must not allocate.
    pub(crate) fn prepare_call<C: Command>(
        &self,
        command: &C,
        fenced: bool,
    ) -> Result<PreparedCall<H>> {
        let fence = if fenced {
            Some(self.alloc_fence()?)
        } else {
            None
        };
        let mut request = Self::request::<C, u8>(command, &[], fence)?;
        let reply = Arc::pin_init(
            pin_init!(Reply {
                response <- new_spinlock!(None),
            }),
            GFP_KERNEL,
        )?;
        request.reply = Some(reply.clone());
        Ok(PreparedCall { request, reply })
    }

    /// Sends a prepared command and waits for a successful answer, allocating nothing: the
    /// wait for ring room and the answer together last at most [`RESPONSE_TIMEOUT`] (then
    /// `ETIMEDOUT`). An error answer gives its errno.
    pub(crate) fn call_prepared<C: Command>(&self, call: PreparedCall<H>) -> Result {
        let deadline = Deadline::after(RESPONSE_TIMEOUT);
        let PreparedCall { request, reply } = call;
        self.submit(CONTROL, request, deadline)?;
        self.events
            .control
            .wait(deadline, || reply.response.lock().is_some())?;
        let (bytes, response) = reply.response.lock().take().ok_or(EPROTO)?;
        let (hdr, _) = CtrlHdr::read_from_prefix(bytes.as_slice().get(response).unwrap_or(&[]))
            .map_err(|_| EPROTO)?;
        if hdr.type_() != C::RESPONSE_TYPE {
            return Err(protocol::response_error(hdr.type_()));
        }
        Ok(())
    }

    /// Adds a prepared command to the control queue without notifying the device nor waiting
    /// for its answer, allocating nothing: it runs when a later command notifies the device
    /// (see [`Self::queue_with`]). Error answers are logged.
    pub(crate) fn queue_prepared(&self, call: PreparedCall<H>) -> Result {
        let PreparedCall { mut request, .. } = call;
        request.notify = false;
        // Nobody waits: the dequeue work logs an error answer.
        request.reply = None;
        self.submit(CONTROL, request, Deadline::after(RESPONSE_TIMEOUT))
            .map(|_| ())
    }

    /// Sends `command` without waiting for the device's answer; error answers are logged.
    ///
    /// Commands are executed in the order they were sent, so a later [`Self::call`] returns
    /// only after this one was executed.
    pub(crate) fn send<C: Command>(&self, command: &C) -> Result {
        self.send_request::<C, u8>(command, &[], None).map(|_| ())
    }

    /// Allocates the memory of a fence of the control queue, for [`Self::send_with_fence`].
    pub(crate) fn alloc_fence(&self) -> Result<FenceMemory> {
        self.events.timeline.alloc()
    }

    /// Like [`Self::send`], with a fence the device signals when it completed the command (with
    /// an error if it failed it); returns the fence.
    pub(crate) fn send_fenced<C: Command>(&self, command: &C) -> Result<ARef<Fence>> {
        self.send_with_fence(command, self.alloc_fence()?)
    }

    /// Like [`Self::send_fenced`], with the memory of the fence allocated beforehand.
    pub(crate) fn send_with_fence<C: Command>(
        &self,
        command: &C,
        fence: FenceMemory,
    ) -> Result<ARef<Fence>> {
        self.send_request::<C, u8>(command, &[], Some(fence))?
            .ok_or(EINVAL)
    }

    /// Adds `command` to the control queue without notifying the device, see
    /// [`Self::queue_with`].
    pub(crate) fn queue<C: Command>(&self, command: &C) -> Result {
        self.queue_with::<C, u8>(command, &[])
    }

    /// Adds `command` and `payload` to the control queue without notifying the device: they
    /// run, in order, when a later command notifies it (as the C driver batches a resource's
    /// creation with the command that first uses the resource). Error answers are logged.
    pub(crate) fn queue_with<C: Command, P: IntoBytes + Immutable>(
        &self,
        command: &C,
        payload: &[P],
    ) -> Result {
        let mut request = Self::request(command, payload, None)?;
        request.notify = false;
        self.submit(CONTROL, request, Deadline::after(RESPONSE_TIMEOUT))
            .map(|_| ())
    }

    /// Makes room for one more object that [`Self::send_releasing`] may have to park; call
    /// before the first command that creates the object's host resource.
    pub(crate) fn reserve_release(&self) -> Result {
        let mut parking = self.events.parking.lock();
        let live = parking.live.checked_add(1).ok_or(ENOMEM)?;
        // INVARIANT: Room for the parked objects and every live one.
        parking.held.reserve(live, GFP_KERNEL)?;
        parking.live = live;
        Ok(())
    }

    /// Like [`Self::send`], keeping `object` until the device answered (or is gone): for the
    /// command that makes the device let go of the object's memory. The object must have been
    /// counted with [`Self::reserve_release`].
    ///
    /// If the command cannot be sent, the device may still use the memory: the object is
    /// parked, never freed under the device's feet, and freed when the queue is revoked (the
    /// device was reset and let go of everything).
    pub(crate) fn send_releasing<C: Command>(&self, command: &C, object: H) -> Result {
        let mut request = match Self::request::<C, u8>(command, &[], None) {
            Ok(request) => request,
            Err(e) => {
                self.park(object, e);
                return Err(e);
            }
        };
        request.hold = Some(object);
        let result = self.try_submit(CONTROL, request, Deadline::after(RESPONSE_TIMEOUT));
        match result {
            // The request holds the object until the device answered.
            Ok(_) => {
                self.unreserve_release();
                Ok(())
            }
            // The queue is gone with the device, which let go of the memory: free it.
            Err((ENODEV, request)) => {
                self.unreserve_release();
                drop(request);
                Err(ENODEV)
            }
            // The device may still use the memory (its queue is broken or stuck).
            Err((e, mut request)) => {
                if let Some(object) = request.hold.take() {
                    self.park(object, e);
                }
                Err(e)
            }
        }
    }

    /// The object counted by [`Self::reserve_release`] no longer needs its place.
    fn unreserve_release(&self) {
        let mut parking = self.events.parking.lock();
        parking.live = parking.live.saturating_sub(1);
    }

    /// Keeps `object`, whose release could not be sent (`error`), until the queue is revoked.
    fn park(&self, object: H, error: Error) {
        let mut parking = self.events.parking.lock();
        parking.live = parking.live.saturating_sub(1);
        if parking.revoked {
            // The device was reset: nothing uses the memory any more.
            drop(parking);
            drop(object);
            return;
        }
        dev_err!(
            self.dev,
            "cannot release resource {} ({:?}): kept until the device is reset\n",
            object.resource_id(),
            error
        );
        // By the invariant of `Parking`, there is room for this object, which was live.
        if let Err(e) = parking.held.push_within_capacity(object) {
            // Not reached; should it be, losing the memory is safe, freeing it is not.
            dev_err!(
                self.dev,
                "no room to keep a released resource: its memory is lost\n"
            );
            core::mem::forget(e);
        }
    }

    fn send_request<C: Command, P: IntoBytes + Immutable>(
        &self,
        command: &C,
        payload: &[P],
        fence: Option<FenceMemory>,
    ) -> Result<Option<ARef<Fence>>> {
        self.submit(
            CONTROL,
            Self::request(command, payload, fence)?,
            Deadline::after(RESPONSE_TIMEOUT),
        )
    }

    fn request<C: Command, P: IntoBytes + Immutable>(
        command: &C,
        payload: &[P],
        fence: Option<FenceMemory>,
    ) -> Result<KBox<Request<H>>> {
        Request::boxed(
            command.as_bytes(),
            payload.as_bytes(),
            core::mem::size_of::<C::Response>(),
            fence,
        )
    }

    /// Waits up to `timeout` for `fence`: `ETIMEDOUT` if the device did not signal it, the
    /// error of a failed command, `ENODEV` if the device is gone.
    pub(crate) fn wait_fence(fence: &Fence, timeout: Delta) -> Result {
        fence.wait_timeout(false, timeout)?;
        fence.status().map(|_| ())
    }

    /// The virtio device of the queues, for log lines.
    pub(crate) fn device(&self) -> &device::Device {
        &self.dev
    }

    /// Logs that the device failed `what` for resource `id`.
    pub(crate) fn log_error(&self, what: &str, id: u32, err: Error) {
        dev_err!(self.dev, "{} of resource {} failed: {:?}\n", what, id, err);
    }

    /// The last fence emitted and the last the device signalled.
    pub(crate) fn fence_ids(&self) -> (u64, u64) {
        self.events.timeline.seqnos()
    }

    /// Sends a cursor command; the cursor queue has no responses to wait for.
    pub(crate) fn cursor(&self, command: &UpdateCursor) -> Result {
        self.submit(
            CURSOR,
            Request::boxed(command.as_bytes(), &[], 0, None)?,
            Deadline::after(RESPONSE_TIMEOUT),
        )
        .map(|_| ())
    }

    fn decode<C: Command>(&self, bytes: &[u8]) -> Result<KBox<C::Response>> {
        let (hdr, _) = CtrlHdr::read_from_prefix(bytes).map_err(|_| {
            dev_err!(self.dev, "short response ({} bytes)\n", bytes.len());
            EPROTO
        })?;
        if hdr.type_() != C::RESPONSE_TYPE {
            let err = protocol::response_error(hdr.type_());
            dev_dbg!(
                self.dev,
                "response {:#x} to a command expecting {:#x}: {:?}\n",
                hdr.type_(),
                C::RESPONSE_TYPE,
                err
            );
            return Err(err);
        }
        let mut out = KBox::new(C::Response::new_zeroed(), GFP_KERNEL)?;
        let size = core::mem::size_of::<C::Response>();
        let body = bytes.get(..size).ok_or_else(|| {
            dev_err!(
                self.dev,
                "truncated response {:#x}: {} of {} bytes\n",
                hdr.type_(),
                bytes.len(),
                size
            );
            EPROTO
        })?;
        out.as_mut_bytes().copy_from_slice(body);
        Ok(out)
    }
}

#[kunit_tests(virtio_rs_queue)]
mod tests {
    use super::*;
    use kernel::{
        impl_has_work, new_work,
        sync::{
            atomic::{
                Acquire,
                Release, //
            },
            Completion,
        },
        time::delay::fsleep,
        workqueue::{
            self,
            Work,
            WorkItem, //
        },
    };

    /// Wakes the waiters of `events` from a work item, as completions of another queue would:
    /// every millisecond, `wakeups` times or until told to stop, then revokes the queue if asked
    /// to.
    #[pin_data]
    struct Waker {
        #[pin]
        events: QueueEvents,
        wakeups: u32,
        revoke: bool,
        stop: Atomic<bool>,
        woken: Atomic<u32>,
        finished: Atomic<bool>,
        #[pin]
        done: Completion,
        #[pin]
        work: Work<Waker>,
    }

    impl_has_work! {
        impl HasWork<Self> for Waker { self.work }
    }

    impl WorkItem for Waker {
        type Pointer = Arc<Waker>;

        fn run(this: Arc<Waker>) {
            for _ in 0..this.wakeups {
                if this.stop.load(Acquire) {
                    break;
                }
                this.events.notify(false);
                this.woken.add(1, Relaxed);
                fsleep(Delta::from_millis(1));
            }
            if this.revoke {
                this.events.notify(true);
            }
            this.finished.store(true, Release);
            this.done.complete_all();
        }
    }

    fn start_waker(wakeups: u32, revoke: bool) -> Result<Arc<Waker>> {
        let waker = Arc::pin_init(
            pin_init!(Waker {
                events <- QueueEvents::new(),
                wakeups,
                revoke,
                stop: Atomic::new(false),
                woken: Atomic::new(0),
                finished: Atomic::new(false),
                done <- Completion::new(),
                work <- new_work!("Waker::work"),
            }),
            GFP_KERNEL,
        )?;
        workqueue::system()
            .enqueue(waker.clone())
            .map_err(|_| EBUSY)?;
        Ok(waker)
    }

    fn stop_waker(waker: &Waker) {
        waker.stop.store(true, Release);
        waker.done.wait_for_completion();
    }

    /// A request's deadline holds however often the queue's waiters are woken for others (the
    /// cursor queue's completions once restarted the control queue's wait).
    #[test]
    fn wakeups_do_not_extend_the_deadline() -> Result {
        // Ten seconds of wakeups, unless stopped, for a wait of 50 ms.
        let waker = start_waker(10_000, false)?;
        let result = waker
            .events
            .wait(Deadline::after(Delta::from_millis(50)), || false);
        let still_waking = !waker.finished.load(Acquire);
        stop_waker(&waker);
        assert_eq!(result, Err(ETIMEDOUT));
        assert!(still_waking);
        assert!(waker.woken.load(Relaxed) > 0);
        Ok(())
    }

    /// Revoking the queue ends every wait with `ENODEV`, long before its deadline.
    #[test]
    fn revocation_ends_waits() -> Result {
        // Some wakeups for others, then the revocation.
        let waker = start_waker(20, true)?;
        let result = waker
            .events
            .wait(Deadline::after(Delta::from_secs(60)), || false);
        waker.done.wait_for_completion();
        assert_eq!(result, Err(ENODEV));
        // Later waits do not block either.
        assert_eq!(
            waker
                .events
                .wait(Deadline::after(Delta::from_secs(60)), || false),
            Err(ENODEV)
        );
        Ok(())
    }

    struct NoHold;

    impl Hold for NoHold {
        fn resource_id(&self) -> u32 {
            0
        }
    }

    /// Small requests keep their bytes in themselves, larger ones allocate them: either way the
    /// command, the data and the zeroed room for the answer follow each other, and the request
    /// can be handed to the device. Sizes that overflow are refused.
    #[test]
    fn request_bytes_are_inline_or_allocated() -> Result {
        let response = 24;
        let fits = INLINE_BYTES - 3 - response;
        for (payload_len, inline) in [(0, true), (fits, true), (fits + 1, false)] {
            let payload = KVec::from_elem(7u8, payload_len, GFP_KERNEL)?;
            let request = Request::<NoHold>::boxed(&[1, 2, 3], &payload, response, None)?;
            assert_eq!(request.bytes.is_inline(), inline);
            let bytes = request.bytes.as_slice();
            assert_eq!(bytes.len(), 3 + payload_len + response);
            assert_eq!(bytes.get(..3), Some(&[1u8, 2, 3][..]));
            let (data, room) = bytes
                .get(3..)
                .and_then(|rest| rest.split_at_checked(payload_len))
                .ok_or(EINVAL)?;
            assert!(data.iter().all(|b| *b == 7));
            assert!(room.iter().all(|b| *b == 0));
            assert!(Prepared::new(request).is_ok());
        }
        // Sizes that overflow are refused, nothing allocated.
        let too_large = Request::<NoHold>::boxed(&[1], &[], usize::MAX, None);
        assert!(matches!(too_large, Err(e) if e == EINVAL));
        Ok(())
    }

    /// A wait whose condition holds returns at once, even after its deadline.
    #[test]
    fn met_conditions_end_waits() -> Result {
        let waker = start_waker(0, false)?;
        stop_waker(&waker);
        let past = Deadline::after(Delta::from_millis(0));
        assert_eq!(waker.events.wait(past, || true), Ok(()));
        assert_eq!(waker.events.wait(past, || false), Err(ETIMEDOUT));
        Ok(())
    }
}
