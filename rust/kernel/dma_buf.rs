// SPDX-License-Identifier: GPL-2.0

//! DMA-bufs (`struct dma_buf`): buffers shared between drivers, and their dynamic importers.
//!
//! An importer attaches to a [`DmaBuf`] with [`Attachment::new`]. The attachment is *dynamic*:
//! the exporter may move the buffer whenever it is not pinned, after telling the importer through
//! [`Importer::invalidate_mappings`]. Pinning, mapping and unmapping need the buffer's
//! reservation lock, shown by a [`Locked`] proof of the buffer's own reservation object; the
//! exporter holds that lock when it invalidates mappings, and the callback gets the proof.
//!
//! The attachment keeps its mapping and counts its pins: dropping it unmaps, unpins what is still
//! pinned (with a warning: that is the importer's bug) and detaches, in that order.
//!
//! The DMA-buf functions are in the `DMA_BUF` symbol namespace: a module that instantiates
//! [`Attachment`] imports it (`imports_ns: ["DMA_BUF"]` in its `module!`).
//!
//! C header: [`include/linux/dma-buf.h`](srctree/include/linux/dma-buf.h)

use crate::{
    bindings, device,
    dma::{
        DataDirection,
        DmaAddress, //
    },
    dma_resv::{
        DmaResv,
        Locked, //
    },
    error::{
        from_err_ptr,
        to_result, //
    },
    io::ResourceSize,
    prelude::*,
    scatterlist::SGTable,
    sync::aref::{
        ARef,
        AlwaysRefCounted, //
    },
    types::Opaque,
};
use core::{
    cell::UnsafeCell,
    marker::PhantomPinned,
    ptr::{
        self,
        NonNull, //
    },
};

/// A DMA-buf, referenced through its file.
///
/// # Invariants
///
/// `self.0` is a valid `struct dma_buf` whose file is referenced for as long as `self` exists.
#[repr(transparent)]
pub struct DmaBuf(Opaque<bindings::dma_buf>);

// SAFETY: A DMA-buf is shared between drivers and threads; its file reference count is atomic.
unsafe impl Send for DmaBuf {}

// SAFETY: The methods taking `&self` only read fields that do not change, or lock.
unsafe impl Sync for DmaBuf {}

// SAFETY: `get_dma_buf()` takes a reference to the buffer's file, `dma_buf_put()` drops it; the
// buffer lives as long as its file does.
unsafe impl AlwaysRefCounted for DmaBuf {
    fn inc_ref(&self) {
        // SAFETY: The buffer is valid by the type invariant.
        unsafe { bindings::get_dma_buf(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives up a reference it owns.
        unsafe { bindings::dma_buf_put(obj.cast().as_ptr()) };
    }
}

impl DmaBuf {
    /// Takes a reference to the DMA-buf of file descriptor `fd` (`dma_buf_get()`): `EBADF` if
    /// there is no such file, `EINVAL` if it is not a DMA-buf.
    pub fn from_fd(fd: i32) -> Result<ARef<Self>> {
        // SAFETY: `dma_buf_get()` may be called with any value.
        let ptr = from_err_ptr(unsafe { bindings::dma_buf_get(fd) })?;
        // SAFETY: `dma_buf_get()` returned a valid buffer with a reference that is ours.
        Ok(unsafe { ARef::from_raw(NonNull::new_unchecked(ptr.cast())) })
    }

    /// Borrows the DMA-buf at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid `struct dma_buf` that is referenced for `'a`.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::dma_buf) -> &'a Self {
        // SAFETY: `DmaBuf` is a transparent wrapper; valid for `'a` by the safety requirements.
        unsafe { &*ptr.cast() }
    }

    /// Returns the raw `struct dma_buf`.
    pub fn as_raw(&self) -> *mut bindings::dma_buf {
        self.0.get()
    }

    /// The size of the buffer in bytes.
    pub fn size(&self) -> usize {
        // SAFETY: The buffer is valid; `size` is set by the exporter and never changes.
        unsafe { (*self.as_raw()).size }
    }

    /// The reservation object of the buffer: its lock and fences.
    pub fn resv(&self) -> &DmaResv {
        // SAFETY: `resv` is set at export, lives as long as the buffer and is never moved.
        unsafe { DmaResv::from_raw((*self.as_raw()).resv) }
    }

    /// Whether the exporter supports dynamic attachments (it can pin the buffer).
    pub fn is_dynamic(&self) -> bool {
        // SAFETY: The buffer is valid; its `ops` never change.
        unsafe { (*(*self.as_raw()).ops).pin.is_some() }
    }
}

/// A dynamic importer of DMA-bufs: the data an [`Attachment`] owns, and its callbacks.
///
/// # Examples
///
/// ```
/// use kernel::{
///     device::{Bound, Device},
///     dma::DataDirection,
///     dma_buf::{Attached, Attachment, DmaBuf, Importer},
///     dma_resv::Locked,
///     prelude::*,
/// };
///
/// /// A device that scans buffers out from where they are.
/// struct Scanout;
///
/// impl Importer for Scanout {
///     const ALLOW_PEER2PEER: bool = true;
///
///     fn invalidate_mappings(attached: &Attached<Self>, locked: &Locked<'_>) {
///         // Here the device would be told to stop reading the buffer first.
///         let _ = attached.unmap(locked);
///     }
/// }
///
/// /// Attaches, pins and maps `buf`, and returns its attachment and the number of segments.
/// fn import(buf: &DmaBuf, dev: &Device<Bound>) -> Result<(Attachment<Scanout>, usize)> {
///     let attachment = Attachment::new(buf, dev, Ok::<_, Error>(Scanout))?;
///     let guard = buf.resv().lock();
///     attachment.pin(&guard)?;
///     attachment.map(dev, &guard, DataDirection::ToDevice)?;
///     let count = attachment.with_segments(&guard, |segments| segments.len())?;
///     drop(guard);
///     // Dropping the attachment would unmap, unpin and detach.
///     Ok((attachment, count))
/// }
/// ```
pub trait Importer: Send + Sync + Sized + 'static {
    /// Whether the importing device can reach memory of other PCI devices (peer to peer), so
    /// that the exporter may leave the buffer in such memory.
    const ALLOW_PEER2PEER: bool;

    /// The exporter is going to move the buffer: stop every use of the mapping (and wait for the
    /// device to let go of it), then unmap it with [`Attached::unmap`]. The next map returns the
    /// new location.
    ///
    /// Called with the buffer's reservation lock held, by the exporter, from whatever it was
    /// doing: do not take that lock again, and do not allocate memory or wait without bound.
    fn invalidate_mappings(attached: &Attached<Self>, locked: &Locked<'_>);
}

/// What an attachment keeps under the buffer's reservation lock.
struct LockedState {
    /// The C attachment, null until `dma_buf_dynamic_attach()` returned.
    raw: *mut bindings::dma_buf_attachment,
    /// The mapping and the direction it was made for.
    mapping: Option<(NonNull<bindings::sg_table>, DataDirection)>,
    /// Pins taken with [`Attached::pin`] and not given back.
    pins: u32,
    /// [`Attached::with_segments`] is reading the mapping: it must not be unmapped.
    reading: bool,
}

/// An attachment as its importer and the callbacks see it.
///
/// # Invariants
///
/// `state` is only accessed with the lock of `dmabuf`'s reservation object held. While
/// `state.raw` is not null it is the attachment of this importer to `dmabuf`; `state.mapping`
/// is then a mapping of it, made with the given direction and not unmapped yet.
#[pin_data]
pub struct Attached<I: Importer> {
    dmabuf: ARef<DmaBuf>,
    /// The importing device, which the DMA-buf core points to without a reference of its own.
    dev: ARef<device::Device>,
    state: UnsafeCell<LockedState>,
    #[pin]
    data: I,
    /// The DMA-buf core keeps a pointer to this as `importer_priv`.
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: `state` is only accessed under the reservation lock, from whichever thread holds it;
// the rest is `Send` and `Sync` by the bounds.
unsafe impl<I: Importer> Send for Attached<I> {}

// SAFETY: As for `Send`.
unsafe impl<I: Importer> Sync for Attached<I> {}

/// The DMA addresses of a mapping, one contiguous segment each.
pub struct DmaSegments<'a> {
    table: &'a SGTable,
}

impl DmaSegments<'_> {
    /// Iterates over the segments: `(DMA address, length in bytes)`.
    pub fn iter(&self) -> impl Iterator<Item = (DmaAddress, ResourceSize)> + '_ {
        // The exporter's table: only its DMA side is meaningful (`dma_buf_map_attachment()`
        // hides the pages).
        self.table
            .iter()
            .map(|entry| (entry.dma_address(), entry.dma_len()))
    }

    /// The number of segments.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether there is no segment.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<I: Importer> Attached<I> {
    /// The importer's data.
    pub fn data(&self) -> &I {
        &self.data
    }

    /// The buffer this attaches to.
    pub fn dmabuf(&self) -> &DmaBuf {
        &self.dmabuf
    }

    /// Checks that `locked` is the lock of this attachment's buffer.
    fn check(&self, locked: &Locked<'_>) -> Result {
        if !ptr::eq(locked.resv(), self.dmabuf.resv()) {
            return Err(EINVAL);
        }
        Ok(())
    }

    /// The state, for the holder of the buffer's lock.
    ///
    /// # Safety
    ///
    /// The caller must hold the buffer's reservation lock (checked with [`Self::check`]) and
    /// not keep the reference beyond a call into the exporter, which may call back.
    #[allow(clippy::mut_from_ref)]
    unsafe fn state(&self) -> &mut LockedState {
        // SAFETY: By the safety requirements and the type invariant, the lock serialises all
        // accesses, and no other reference is alive.
        unsafe { &mut *self.state.get() }
    }

    fn raw(&self, locked: &Locked<'_>) -> Result<*mut bindings::dma_buf_attachment> {
        self.check(locked)?;
        // SAFETY: The lock is held (`check`); the reference ends here.
        let raw = unsafe { self.state() }.raw;
        if raw.is_null() {
            return Err(ENODEV);
        }
        Ok(raw)
    }

    /// Pins the buffer where it is (`dma_buf_pin()`): the exporter no longer moves it until
    /// [`Self::unpin`]. Pins count; for limited uses such as scanout only.
    pub fn pin(&self, locked: &Locked<'_>) -> Result {
        let raw = self.raw(locked)?;
        // SAFETY: The lock is held; the reference ends here.
        let pins = unsafe { self.state() }
            .pins
            .checked_add(1)
            .ok_or(EOVERFLOW)?;
        // SAFETY: `raw` is our dynamic attachment and its buffer is locked. The exporter may
        // call back (invalidating), which no state reference outlives.
        to_result(unsafe { bindings::dma_buf_pin(raw) })?;
        // SAFETY: The lock is held; no other reference to the state is alive. The count was
        // taken under the same lock; re-entrant callbacks do not pin.
        unsafe { self.state() }.pins = pins;
        Ok(())
    }

    /// Gives back a pin taken with [`Self::pin`] (`dma_buf_unpin()`). `EINVAL` if there is none.
    pub fn unpin(&self, locked: &Locked<'_>) -> Result {
        let raw = self.raw(locked)?;
        // SAFETY: The lock is held; no other reference to the state is alive.
        let state = unsafe { self.state() };
        state.pins = state.pins.checked_sub(1).ok_or(EINVAL)?;
        // SAFETY: `raw` is our attachment, pinned by us, and its buffer is locked.
        unsafe { bindings::dma_buf_unpin(raw) };
        Ok(())
    }

    /// The number of pins taken and not given back.
    pub fn pins(&self, locked: &Locked<'_>) -> Result<u32> {
        self.check(locked)?;
        // SAFETY: The lock is held; the reference ends here.
        Ok(unsafe { self.state() }.pins)
    }

    /// Maps the buffer for the attached device (`dma_buf_map_attachment()`), unless it is
    /// mapped already (`EBUSY`). The exporter's errors come back as they are (e.g. it refuses
    /// mapping, or the device cannot reach the memory).
    ///
    /// `dev` is the attached device (`EINVAL` otherwise), bound to its driver for the call: the
    /// exporter maps for it with the DMA API, whose per-device state the driver core releases
    /// when the driver unbinds, while an attachment may live on.
    pub fn map(
        &self,
        dev: &device::Device<device::Bound>,
        locked: &Locked<'_>,
        direction: DataDirection,
    ) -> Result {
        if !ptr::eq(dev.as_raw(), self.dev.as_raw()) {
            return Err(EINVAL);
        }
        let raw = self.raw(locked)?;
        // SAFETY: The lock is held; the reference ends here.
        if unsafe { self.state() }.mapping.is_some() {
            return Err(EBUSY);
        }
        // SAFETY: `raw` is our attachment and its buffer is locked. The exporter may call back
        // (invalidating), which no state reference outlives.
        let table = unsafe { bindings::dma_buf_map_attachment(raw, direction.into()) };
        let table = from_err_ptr(table)?;
        let table = NonNull::new(table).ok_or(ENOMEM)?;
        // SAFETY: The lock is held; no other reference to the state is alive.
        let state = unsafe { self.state() };
        if state.mapping.is_some() {
            // A callback of the exporter mapped meanwhile: keep that mapping, not two.
            // SAFETY: `table` is the mapping just made of our attachment `raw`, with
            // `direction`; the buffer is locked.
            unsafe { bindings::dma_buf_unmap_attachment(raw, table.as_ptr(), direction.into()) };
            return Err(EBUSY);
        }
        // INVARIANT: A mapping of our attachment, with `direction`.
        state.mapping = Some((table, direction));
        Ok(())
    }

    /// Unmaps the buffer if it is mapped (`dma_buf_unmap_attachment()`). The device must no
    /// longer use the addresses. `EBUSY` from within [`Self::with_segments`].
    pub fn unmap(&self, locked: &Locked<'_>) -> Result {
        let raw = self.raw(locked)?;
        // SAFETY: The lock is held; the reference ends before the call into the exporter.
        let state = unsafe { self.state() };
        if state.reading {
            // Called from the closure of `with_segments`, which still reads the table.
            return Err(EBUSY);
        }
        let mapping = state.mapping.take();
        if let Some((table, direction)) = mapping {
            // SAFETY: `table` is the mapping of our attachment `raw` with `direction` (the
            // type invariant), not unmapped before; the buffer is locked.
            unsafe { bindings::dma_buf_unmap_attachment(raw, table.as_ptr(), direction.into()) };
        }
        Ok(())
    }

    /// Whether the buffer is mapped.
    pub fn is_mapped(&self, locked: &Locked<'_>) -> Result<bool> {
        self.check(locked)?;
        // SAFETY: The lock is held; the reference ends here.
        Ok(unsafe { self.state() }.mapping.is_some())
    }

    /// Calls `f` with the DMA segments of the mapping (`ENOENT` if not mapped). The addresses
    /// stay valid while the lock is held, and after it until the next invalidation.
    pub fn with_segments<R>(
        &self,
        locked: &Locked<'_>,
        f: impl FnOnce(&DmaSegments<'_>) -> R,
    ) -> Result<R> {
        self.check(locked)?;
        // SAFETY: The lock is held; the reference ends here.
        let state = unsafe { self.state() };
        let (table, _) = state.mapping.ok_or(ENOENT)?;
        if state.reading {
            return Err(EBUSY);
        }
        state.reading = true;
        // SAFETY: `table` is a live mapping (the type invariant); it is not unmapped while `f`
        // runs: the lock is held (`locked` is borrowed for the call), so only this thread
        // could unmap, and `unmap` refuses while `reading` is set.
        let table = unsafe { SGTable::from_raw(table.as_ptr()) };
        let result = f(&DmaSegments { table });
        // SAFETY: The lock is still held; no other reference to the state is alive.
        unsafe { self.state() }.reading = false;
        Ok(result)
    }

    /// The callbacks of importer `I`.
    const OPS: bindings::dma_buf_attach_ops = bindings::dma_buf_attach_ops {
        allow_peer2peer: I::ALLOW_PEER2PEER,
        invalidate_mappings: Some(Self::invalidate_callback),
    };

    /// # Safety
    ///
    /// Only called by the DMA-buf core, for an attachment made by [`Attachment::new`], with the
    /// buffer's reservation lock held.
    unsafe extern "C" fn invalidate_callback(attach: *mut bindings::dma_buf_attachment) {
        // SAFETY: `importer_priv` is the `Attached<I>` that `Attachment::new` passed, which
        // lives until after `dma_buf_detach()`, after which the core calls no more.
        let this = unsafe { &*(*attach).importer_priv.cast::<Self>() };
        // SAFETY: The exporter holds the reservation lock of the buffer while invalidating, in
        // this thread, for the duration of the call.
        let locked = unsafe { Locked::assume_held(this.dmabuf.resv()) };
        I::invalidate_mappings(this, &locked);
    }
}

/// A dynamic attachment of an importer to a DMA-buf, owning the importer's data.
///
/// # Invariants
///
/// `inner.state.raw` is our attachment of `inner.dmabuf` (not null) until `drop` detaches it.
pub struct Attachment<I: Importer> {
    inner: Pin<KBox<Attached<I>>>,
    /// The owner's copy of `inner.state.raw`, which only `new` and `drop` change.
    raw: NonNull<bindings::dma_buf_attachment>,
}

// SAFETY: `raw` is only a copy of the attachment's pointer for its owner; the rest is `Send`.
unsafe impl<I: Importer> Send for Attachment<I> {}

// SAFETY: Through `&Attachment` only `as_raw` reads `raw`, which never changes while shared.
unsafe impl<I: Importer> Sync for Attachment<I> {}

impl<I: Importer> Attachment<I> {
    /// Attaches `dev` to `dmabuf` dynamically (`dma_buf_dynamic_attach()`), with `data` as the
    /// importer's data. The exporter may refuse (e.g. `EBUSY` if `dev` cannot reach the memory).
    pub fn new(
        dmabuf: &DmaBuf,
        dev: &device::Device<device::Bound>,
        data: impl PinInit<I, Error>,
    ) -> Result<Self> {
        let inner = KBox::pin_init(
            try_pin_init!(Attached {
                dmabuf: dmabuf.into(),
                dev: dev.into(),
                state: UnsafeCell::new(LockedState {
                    raw: ptr::null_mut(),
                    mapping: None,
                    pins: 0,
                    reading: false,
                }),
                data <- data,
                _pin: PhantomPinned,
            }),
            GFP_KERNEL,
        )?;
        let this: *const Attached<I> = &*inner;

        // SAFETY: `dmabuf` and `dev` are valid (`inner` holds a reference to both). `OPS` is
        // static; `this` stays valid and pinned
        // until `drop` detaches (it is owned by the returned attachment). Callbacks may run as
        // soon as this returns; they find `raw` null until it is stored below.
        let raw = from_err_ptr(unsafe {
            bindings::dma_buf_dynamic_attach(
                dmabuf.as_raw(),
                inner.dev.as_raw(),
                &Attached::<I>::OPS,
                this.cast_mut().cast(),
            )
        })?;
        {
            let _guard = dmabuf.resv().lock();
            // SAFETY: The lock is held; no other reference to the state is alive.
            // INVARIANT: `raw` is our attachment.
            unsafe { inner.state() }.raw = raw;
        }
        Ok(Self {
            inner,
            // SAFETY: `dma_buf_dynamic_attach()` returns a valid attachment or an error.
            raw: unsafe { NonNull::new_unchecked(raw) },
        })
    }

    /// The C attachment, e.g. for `drm_gem_object::import_attach`. Valid until `self` is
    /// dropped.
    pub fn as_raw(&self) -> *mut bindings::dma_buf_attachment {
        self.raw.as_ptr()
    }
}

impl<I: Importer> core::ops::Deref for Attachment<I> {
    type Target = Attached<I>;

    fn deref(&self) -> &Attached<I> {
        &self.inner
    }
}

impl<I: Importer> Drop for Attachment<I> {
    fn drop(&mut self) {
        let dmabuf = self.inner.dmabuf.clone();
        let raw = {
            let guard = dmabuf.resv().lock();
            let _ = self.inner.unmap(&guard);
            // SAFETY: The lock is held; the reference ends before the calls into the exporter.
            let pins = core::mem::take(&mut unsafe { self.inner.state() }.pins);
            // SAFETY: As above.
            let raw = unsafe { self.inner.state() }.raw;
            if pins > 0 {
                pr_warn!("dma-buf attachment dropped with {} pins\n", pins);
                for _ in 0..pins {
                    // SAFETY: `raw` is our attachment (type invariant), pinned `pins` times by
                    // us; the buffer is locked.
                    unsafe { bindings::dma_buf_unpin(raw) };
                }
            }
            // INVARIANT: Detached below; callbacks from now on find no attachment.
            // SAFETY: As above.
            unsafe { self.inner.state() }.raw = ptr::null_mut();
            raw
        };
        // SAFETY: `raw` is our attachment of `dmabuf`, unmapped and unpinned; after this the
        // DMA-buf core calls no more callbacks with it, so `inner` may go.
        unsafe { bindings::dma_buf_detach(dmabuf.as_raw(), raw) };
    }
}

#[kunit_tests(rust_dma_buf)]
mod tests {
    use super::*;
    use crate::{
        faux,
        sync::atomic::{
            Atomic,
            Relaxed, //
        },
    };

    /// A dynamic exporter of page-sized fake segments: its DMA addresses change with every move,
    /// and it counts what importers did.
    struct Exporter {
        segments: u32,
        generation: Atomic<u64>,
        maps: Atomic<i32>,
        pins: Atomic<i32>,
        refuse: Atomic<bool>,
    }

    const SEGMENT: u32 = 4096;

    impl Exporter {
        /// # Safety
        ///
        /// `dmabuf` must be a buffer of `export`, which makes `priv` an `Exporter`.
        unsafe fn of<'a>(dmabuf: *mut bindings::dma_buf) -> &'a Exporter {
            // SAFETY: By the safety requirements.
            unsafe { &*(*dmabuf).priv_.cast::<Exporter>() }
        }

        /// The address of segment `i` in the current generation.
        fn address(&self, i: u32) -> DmaAddress {
            let base = self.generation.load(Relaxed) * 0x100_0000;
            (base + u64::from(i) * 2 * u64::from(SEGMENT)) as DmaAddress
        }

        extern "C" fn pin(attach: *mut bindings::dma_buf_attachment) -> c_int {
            // SAFETY: The core calls this with an attachment of one of our buffers.
            unsafe { Self::of((*attach).dmabuf) }.pins.add(1, Relaxed);
            0
        }

        extern "C" fn unpin(attach: *mut bindings::dma_buf_attachment) {
            // SAFETY: As in `pin`.
            unsafe { Self::of((*attach).dmabuf) }.pins.add(-1, Relaxed);
        }

        extern "C" fn map(
            attach: *mut bindings::dma_buf_attachment,
            _dir: bindings::dma_data_direction,
        ) -> *mut bindings::sg_table {
            // SAFETY: As in `pin`.
            let this = unsafe { Self::of((*attach).dmabuf) };
            if this.refuse.load(Relaxed) {
                return EACCES.to_ptr();
            }
            let Ok(table) = KBox::<bindings::sg_table>::new(pin_init::zeroed(), GFP_KERNEL) else {
                return ENOMEM.to_ptr();
            };
            let table = KBox::into_raw(table);
            // SAFETY: `table` is a zeroed `sg_table`.
            if unsafe { bindings::sg_alloc_table(table, this.segments, GFP_KERNEL.as_raw()) } != 0 {
                // SAFETY: `table` came from `KBox::into_raw` above.
                drop(unsafe { KBox::from_raw(table) });
                return ENOMEM.to_ptr();
            }
            // SAFETY: The table has `segments` entries.
            let mut sg = unsafe { (*table).sgl };
            for i in 0..this.segments {
                // SAFETY: `sg` is one of the table's entries.
                unsafe {
                    (*sg).dma_address = this.address(i);
                    (*sg).dma_length = SEGMENT;
                    sg = bindings::sg_next(sg);
                }
            }
            this.maps.add(1, Relaxed);
            table
        }

        extern "C" fn unmap(
            attach: *mut bindings::dma_buf_attachment,
            table: *mut bindings::sg_table,
            _dir: bindings::dma_data_direction,
        ) {
            // SAFETY: As in `pin`.
            unsafe { Self::of((*attach).dmabuf) }.maps.add(-1, Relaxed);
            // SAFETY: `table` was made by `map`.
            unsafe { bindings::sg_free_table(table) };
            // SAFETY: As above.
            drop(unsafe { KBox::from_raw(table) });
        }

        extern "C" fn release(dmabuf: *mut bindings::dma_buf) {
            // SAFETY: `priv` came from `KBox::into_raw` in `export`; nobody uses it any more.
            drop(unsafe { KBox::from_raw((*dmabuf).priv_.cast::<Exporter>()) });
        }

        const OPS: bindings::dma_buf_ops = bindings::dma_buf_ops {
            pin: Some(Self::pin),
            unpin: Some(Self::unpin),
            map_dma_buf: Some(Self::map),
            unmap_dma_buf: Some(Self::unmap),
            release: Some(Self::release),
            ..pin_init::zeroed()
        };

        fn export(segments: u32) -> Result<ARef<DmaBuf>> {
            let this = KBox::new(
                Exporter {
                    segments,
                    generation: Atomic::new(1),
                    maps: Atomic::new(0),
                    pins: Atomic::new(0),
                    refuse: Atomic::new(false),
                },
                GFP_KERNEL,
            )?;
            let this = KBox::into_raw(this);
            let info = bindings::dma_buf_export_info {
                exp_name: c"rust_dma_buf_test".as_char_ptr(),
                owner: ptr::null_mut(),
                ops: &Self::OPS,
                size: (segments * SEGMENT) as usize,
                flags: bindings::O_RDWR as c_int,
                resv: ptr::null_mut(),
                priv_: this.cast(),
            };
            // SAFETY: `info` is complete; on success the buffer owns `this` (freed in `release`).
            match from_err_ptr(unsafe { bindings::dma_buf_export(&info) }) {
                // SAFETY: A new buffer whose file reference is ours.
                Ok(buf) => Ok(unsafe { ARef::from_raw(NonNull::new_unchecked(buf.cast())) }),
                Err(e) => {
                    // SAFETY: Not taken by a buffer.
                    drop(unsafe { KBox::from_raw(this) });
                    Err(e)
                }
            }
        }

        /// Moves the buffer: invalidates the importers' mappings, then changes the addresses.
        fn move_buffer(buf: &DmaBuf) {
            let _guard = buf.resv().lock();
            // SAFETY: `buf` is valid and its reservation lock is held.
            unsafe { bindings::dma_buf_invalidate_mappings(buf.as_raw()) };
            // SAFETY: `buf` is one of ours.
            unsafe { Self::of(buf.as_raw()) }.generation.add(1, Relaxed);
        }
    }

    /// An importer that unmaps when told to, counting how often.
    struct Counting {
        invalidations: Atomic<u32>,
    }

    impl Importer for Counting {
        const ALLOW_PEER2PEER: bool = false;

        fn invalidate_mappings(attached: &Attached<Self>, locked: &Locked<'_>) {
            attached.data().invalidations.add(1, Relaxed);
            let _ = attached.unmap(locked);
        }
    }

    fn counting() -> Result<Counting> {
        Ok(Counting {
            invalidations: Atomic::new(0),
        })
    }

    fn segments(
        attached: &Attached<Counting>,
        locked: &Locked<'_>,
    ) -> Result<KVec<(DmaAddress, ResourceSize)>> {
        let mut out = KVec::new();
        attached.with_segments(locked, |segments| -> Result {
            for (addr, len) in segments.iter() {
                out.push((addr, len), GFP_KERNEL)?;
            }
            Ok(())
        })??;
        Ok(out)
    }

    #[test]
    fn maps_follow_moves() -> Result {
        let parent = faux::Registration::new(c"rust_dma_buf_test_moves", None)?;
        let buf = Exporter::export(2)?;
        assert!(buf.is_dynamic());
        assert_eq!(buf.size(), 2 * SEGMENT as usize);
        // SAFETY: `buf` is one of ours.
        let exporter = unsafe { Exporter::of(buf.as_raw()) };

        let dev = parent.as_ref().as_ref();
        let attachment = Attachment::new(&buf, dev, counting())?;
        {
            let guard = buf.resv().lock();
            assert_eq!(attachment.with_segments(&guard, |_| ()), Err(ENOENT));
            attachment.map(dev, &guard, DataDirection::ToDevice)?;
            assert_eq!(
                attachment.map(dev, &guard, DataDirection::ToDevice),
                Err(EBUSY)
            );
            // The mapping cannot go while its segments are read.
            assert_eq!(
                attachment.with_segments(&guard, |_| attachment.unmap(&guard)),
                Ok(Err(EBUSY))
            );
            let before = segments(&attachment, &guard)?;
            assert_eq!(before.len(), 2);
            assert_eq!(
                before[0],
                (exporter.address(0), ResourceSize::from(SEGMENT))
            );
            drop(guard);

            // The exporter moves the buffer: the importer unmaps, the next map is elsewhere.
            Exporter::move_buffer(&buf);
            assert_eq!(attachment.data().invalidations.load(Relaxed), 1);
            assert_eq!(exporter.maps.load(Relaxed), 0);
            let guard = buf.resv().lock();
            assert_eq!(attachment.is_mapped(&guard), Ok(false));
            attachment.map(dev, &guard, DataDirection::ToDevice)?;
            let after = segments(&attachment, &guard)?;
            assert!(after[0] != before[0]);
            assert_eq!(after[0].0, exporter.address(0));
        }
        // Dropping unmaps and detaches.
        drop(attachment);
        assert_eq!(exporter.maps.load(Relaxed), 0);
        Ok(())
    }

    #[test]
    fn pins_balance() -> Result {
        let parent = faux::Registration::new(c"rust_dma_buf_test_pins", None)?;
        let buf = Exporter::export(1)?;
        // SAFETY: `buf` is one of ours.
        let exporter = unsafe { Exporter::of(buf.as_raw()) };
        let attachment = Attachment::new(&buf, parent.as_ref().as_ref(), counting())?;
        {
            let guard = buf.resv().lock();
            attachment.pin(&guard)?;
            attachment.pin(&guard)?;
            attachment.unpin(&guard)?;
            assert_eq!(attachment.pins(&guard), Ok(1));
            assert_eq!(exporter.pins.load(Relaxed), 1);
        }
        // A pin left behind is given back when the attachment goes.
        drop(attachment);
        assert_eq!(exporter.pins.load(Relaxed), 0);

        let attachment = Attachment::new(&buf, parent.as_ref().as_ref(), counting())?;
        let guard = buf.resv().lock();
        assert_eq!(attachment.unpin(&guard), Err(EINVAL));
        assert_eq!(exporter.pins.load(Relaxed), 0);
        Ok(())
    }

    #[test]
    fn other_locks_and_refusals_are_errors() -> Result {
        let parent = faux::Registration::new(c"rust_dma_buf_test_errors", None)?;
        let buf = Exporter::export(1)?;
        // SAFETY: `buf` is one of ours.
        let exporter = unsafe { Exporter::of(buf.as_raw()) };
        let dev = parent.as_ref().as_ref();
        let attachment = Attachment::new(&buf, dev, counting())?;

        // The lock of another reservation object proves nothing.
        let other = KBox::pin_init(DmaResv::new(), GFP_KERNEL)?;
        let wrong = other.lock();
        assert_eq!(
            attachment.map(dev, &wrong, DataDirection::ToDevice),
            Err(EINVAL)
        );
        assert_eq!(attachment.pin(&wrong), Err(EINVAL));
        drop(wrong);

        // Another bound device is not the attached one.
        let stranger = faux::Registration::new(c"rust_dma_buf_test_stranger", None)?;
        let guard = buf.resv().lock();
        assert_eq!(
            attachment.map(stranger.as_ref().as_ref(), &guard, DataDirection::ToDevice),
            Err(EINVAL)
        );
        assert_eq!(attachment.is_mapped(&guard), Ok(false));
        drop(guard);

        // The exporter's refusal comes back as it is.
        exporter.refuse.store(true, Relaxed);
        let guard = buf.resv().lock();
        assert_eq!(
            attachment.map(dev, &guard, DataDirection::ToDevice),
            Err(EACCES)
        );
        assert_eq!(attachment.is_mapped(&guard), Ok(false));
        drop(guard);

        // Not a DMA-buf, not a file.
        assert_eq!(DmaBuf::from_fd(-1).err(), Some(EBADF));
        Ok(())
    }
}
