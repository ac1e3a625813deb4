// SPDX-License-Identifier: GPL-2.0

//! Buffer objects: shmem GEM objects backing host resources.

use crate::{
    gpu::{
        VirtioDrmDevice,
        VirtioGpuDrm, //
    },
    protocol::{
        format,
        MemEntry,
        ResourceAttachBacking,
        ResourceCreate2d,
        ResourceCreateBlob,
        ResourceDetachBacking,
        ResourceUnref, //
    },
    queue::{
        CommandQueue,
        Hold,
        PreparedCall, //
    },
    shown::ShownResources,
};
use kernel::{
    device::Bound,
    dma::{
        DataDirection,
        DmaAddress, //
    },
    dma_buf::DmaBuf,
    dma_resv::{
        Locked,
        Usage, //
    },
    drm::{
        self,
        gem::{
            self,
            shmem,
            ImportedBuffer,
            Released, //
        },
    },
    io::ResourceSize,
    new_mutex, new_spinlock, pci,
    prelude::*,
    rbtree::{
        RBTree,
        RBTreeNode, //
    },
    seq_file::{
        seq_print,
        SeqFile, //
    },
    sync::{
        aref::ARef,
        atomic::{
            Acquire,
            Atomic,
            Relaxed,
            Release, //
        },
        Arc,
        Mutex,
        SpinLock, //
    },
    time::Delta,
};

/// A buffer object of this driver.
pub(crate) type Object = shmem::Object<VirtioObject>;

/// The command queue of a device: its requests keep released objects until the host let go.
pub(crate) type Queue = CommandQueue<Released<VirtioObject>>;

/// A command of [`Queue`] prepared ahead, see [`CommandQueue::prepare_call`].
pub(crate) type Call = PreparedCall<Released<VirtioObject>>;

/// What the scanouts of a device show.
pub(crate) type Shown = ShownResources<Released<VirtioObject>>;

impl Hold for Released<VirtioObject> {
    fn resource_id(&self) -> u32 {
        self.resource_id
    }
}

/// Where a buffer's host resource is made and accounted for.
pub(crate) struct DumbTarget<'a> {
    pub(crate) queue: &'a Arc<Queue>,
    pub(crate) resources: &'a Arc<Resources>,
    pub(crate) ids: &'a ResourceIds,
    pub(crate) shown: &'a Arc<Shown>,
}

/// Hands out host resource ids; 0 means "no resource" on the wire.
///
/// Ids are never reused within a binding (as the C driver does by default), so a command
/// still in flight can never name a newer resource.
#[pin_data]
pub(crate) struct ResourceIds {
    #[pin]
    next: SpinLock<u32>,
}

impl ResourceIds {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            next <- new_spinlock!(1),
        })
    }

    /// A fresh resource id, or `ENOSPC` once all were handed out.
    pub(crate) fn alloc(&self) -> Result<u32> {
        let mut next = self.next.lock();
        let id = *next;
        *next = id.checked_add(1).ok_or(ENOSPC)?;
        Ok(id)
    }
}

/// What the host has of a buffer's memory, kept by the buffer and shown in debugfs.
pub(crate) struct HostState {
    /// The host has the buffer's pages: always for the driver's own buffers; for an imported
    /// one from its RESOURCE_CREATE_BLOB (or a later ATTACH_BACKING) until the exporter's
    /// invalidation, which clears it under the lock of [`ShownResources`] before it takes the
    /// buffer off the scanouts, so that no update shows it meanwhile.
    attached: Atomic<bool>,
    /// An imported buffer is mapped for the device (by the exporter's leave).
    mapped: Atomic<bool>,
    /// The memory entries of an imported buffer's last mapping.
    entries: Atomic<u32>,
    /// The plane states that pin an imported buffer.
    scanout_pins: Atomic<u32>,
}

impl HostState {
    fn new(imported: bool) -> Result<Arc<Self>> {
        Ok(Arc::new(
            Self {
                attached: Atomic::new(!imported),
                mapped: Atomic::new(false),
                entries: Atomic::new(0),
                scanout_pins: Atomic::new(0),
            },
            GFP_KERNEL,
        )?)
    }

    fn set_mapped(&self, entries: Option<u32>) {
        self.mapped.store(entries.is_some(), Relaxed);
        if let Some(entries) = entries {
            self.entries.store(entries, Relaxed);
        }
    }
}

/// What the debugfs `resources` file shows of a host resource.
pub(crate) struct ResourceInfo {
    width: u32,
    height: u32,
    size: u64,
    blob: bool,
    imported: bool,
    host: Arc<HostState>,
}

/// The host resources of a device, for debugfs.
///
/// Keyed by resource id: every buffer's creation and release goes through here, so neither may
/// cost in proportion to the buffers alive.
#[pin_data]
pub(crate) struct Resources {
    #[pin]
    by_id: Mutex<RBTree<u32, ResourceInfo>>,
}

impl Resources {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            by_id <- new_mutex!(RBTree::new()),
        })
    }

    fn insert(&self, id: u32, info: ResourceInfo) -> Result {
        // Allocated before the lock, which debugfs readers share.
        let node = RBTreeNode::new(id, info, GFP_KERNEL)?;
        // Ids are unique while their resource lives, so nothing is replaced.
        let _replaced = self.by_id.lock().insert(node);
        Ok(())
    }

    fn remove(&self, id: u32) {
        // Absent when the resource's creation failed before it was accounted.
        let _removed = self.by_id.lock().remove(&id);
    }

    /// One line per resource: id, size in pixels and bytes, kind; for an imported buffer its
    /// memory entries, pins for scanout, and whether it is mapped and attached to the host.
    pub(crate) fn show(&self, m: &SeqFile) {
        seq_print!(m, "{:>8} {:>11} {:>10} kind\n", "id", "pixels", "bytes");
        for (id, r) in self.by_id.lock().iter() {
            let kind = match (r.imported, r.blob) {
                (true, _) => "import",
                (false, true) => "guest blob",
                (false, false) => "2d",
            };
            seq_print!(
                m,
                "{:>8} {:>5}x{:<5} {:>10} {}",
                id,
                r.width,
                r.height,
                r.size,
                kind
            );
            if r.imported {
                let yes_no = |b: bool| if b { "yes" } else { "no" };
                seq_print!(
                    m,
                    " entries {} pinned {} mapped {} attached {}",
                    r.host.entries.load(Relaxed),
                    r.host.scanout_pins.load(Relaxed),
                    yes_no(r.host.mapped.load(Relaxed)),
                    yes_no(r.host.attached.load(Relaxed))
                );
            }
            seq_print!(m, "\n");
        }
    }
}

/// What a buffer object knows of its host resource.
#[pin_data]
pub(crate) struct VirtioObject {
    resource_id: u32,
    /// The host resource exists (it was created and must be unreferenced).
    created: Atomic<bool>,
    /// Dumb buffers are uploaded with TRANSFER_TO_HOST_2D before they are shown.
    dumb: bool,
    /// The resource is a blob: shown with SET_SCANOUT_BLOB.
    blob: bool,
    /// The buffer was imported from a DMA-buf: its pages are the exporter's.
    imported: bool,
    host: Arc<HostState>,
    queue: Arc<Queue>,
    resources: Arc<Resources>,
    shown: Arc<Shown>,
    /// For an imported buffer, while it is mapped: the fenced DETACH_BACKING for the exporter's
    /// next invalidation, prepared so that the invalidation allocates nothing. Taken under the
    /// buffer's reservation lock.
    #[pin]
    detach: Mutex<Option<Call>>,
}

/// How to create a [`VirtioObject`].
pub(crate) struct ObjectArgs {
    resource_id: u32,
    dumb: bool,
    blob: bool,
    imported: bool,
    host: Arc<HostState>,
    queue: Arc<Queue>,
    resources: Arc<Resources>,
    shown: Arc<Shown>,
}

impl ObjectArgs {
    fn new(
        resource_id: u32,
        dumb: bool,
        blob: bool,
        host: &Arc<HostState>,
        target: &DumbTarget<'_>,
    ) -> Self {
        Self {
            resource_id,
            dumb,
            blob,
            imported: !dumb,
            host: host.clone(),
            queue: target.queue.clone(),
            resources: target.resources.clone(),
            shown: target.shown.clone(),
        }
    }
}

impl gem::DriverObject for VirtioObject {
    type Driver = VirtioGpuDrm;
    type Args = ObjectArgs;

    /// The host reaches other devices' memory too (e.g. a VF's VRAM, through the VFIO device
    /// that owns it), where the PCI topology lets the exporter map it for this function.
    const IMPORT_PEER2PEER: bool = true;

    /// The host must be done with the pages before they are freed: as the C driver, the memory
    /// goes with the answer to RESOURCE_UNREF (or when the device is gone), and the last
    /// reference's holder does not wait for it.
    ///
    /// An imported buffer's pages are the exporter's: the host lets go of them when the object
    /// is freed, here ([`Self::release_import`]), before RESOURCE_UNREF. It is never kept by
    /// a command: freeing it takes the buffer's reservation lock, under which the exporter may
    /// wait for the dequeue work that would free it.
    fn release(object: Released<Self>) {
        if !object.created.load(Acquire) {
            return;
        }
        object.resources.remove(object.resource_id);
        let (queue, id) = (object.queue.clone(), object.resource_id);
        if object.imported {
            drop(object);
            if let Err(e) = queue.send(&ResourceUnref::new(id)) {
                if e != ENODEV {
                    queue.log_error("RESOURCE_UNREF", id, e);
                }
            }
            return;
        }
        if let Err(e) = queue.send_releasing(&ResourceUnref::new(id), object) {
            if e != ENODEV {
                queue.log_error("RESOURCE_UNREF", id, e);
            }
        }
    }

    fn new(_dev: &VirtioDrmDevice, _size: usize, args: ObjectArgs) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            resource_id: args.resource_id,
            created: Atomic::new(false),
            dumb: args.dumb,
            blob: args.blob,
            imported: args.imported,
            host: args.host,
            queue: args.queue,
            resources: args.resources,
            shown: args.shown,
            detach <- new_mutex!(None),
        })
    }

    /// The exporter moves (or revokes) the buffer: the host lets go of the pages first (see
    /// [`VirtioObject::detach_from_host`], with the commands prepared beforehand), then the
    /// mapping goes. The next commit that shows the buffer maps and attaches it again.
    fn invalidate_mappings(obj: &Self, import: &ImportedBuffer<Self>, locked: &Locked<'_>) {
        obj.detach_from_host(import, locked, false);
        let _ = import.unmap(locked);
        obj.host.set_mapped(None);
    }

    /// The buffer is freed: the host lets go of the pages before they are unmapped.
    fn release_import(obj: &Self, import: &ImportedBuffer<Self>, locked: &Locked<'_>) {
        obj.detach_from_host(import, locked, true);
    }
}

impl VirtioObject {
    pub(crate) fn resource_id(&self) -> u32 {
        self.resource_id
    }

    /// Whether the host has the buffer's pages, so that a scanout may show it.
    pub(crate) fn attached(&self) -> bool {
        self.host.attached.load(Acquire)
    }

    /// Makes the host let go of the pages of the imported buffer `import` (mapped, with the
    /// buffer's reservation lock held): takes it off every scanout that shows it, then sends
    /// the fenced DETACH_BACKING and waits for it (at most the queue's response timeout).
    /// Allocates nothing unless `may_allocate`: the commands were prepared when the buffer was
    /// attached and shown.
    fn detach_from_host(
        &self,
        import: &ImportedBuffer<Self>,
        locked: &Locked<'_>,
        may_allocate: bool,
    ) {
        if import.is_mapped(locked) != Ok(true) || !self.attached() {
            return;
        }
        let id = self.resource_id;
        {
            let mut shown = self.shown.lock();
            // No update shows the buffer from now on (it checks under the same lock).
            self.host.attached.store(false, Release);
            let missed = shown.take_off(&self.queue, id);
            if missed > 0 {
                dev_err!(
                    self.queue.device(),
                    "resource {}: {} scanouts still show it while the host lets go of it\n",
                    id,
                    missed
                );
            }
        }
        let call = match self.detach.lock().take() {
            Some(call) => Ok(call),
            None if may_allocate => self
                .queue
                .prepare_call(&ResourceDetachBacking::new(id), true),
            None => Err(ENOMEM),
        };
        match call.and_then(|call| self.queue.call_prepared::<ResourceDetachBacking>(call)) {
            Ok(()) | Err(ENODEV) => (),
            Err(e) => self.queue.log_error("RESOURCE_DETACH_BACKING", id, e),
        }
    }

    pub(crate) fn dumb(&self) -> bool {
        self.dumb
    }

    pub(crate) fn blob(&self) -> bool {
        self.blob
    }
}

/// The guest memory of `obj` as the device sees it.
///
/// As the virtio ring: DMA addresses of the mapped table with the DMA API, else the physical
/// addresses of its pages.
fn mem_entries(obj: &Object, drm: &VirtioDrmDevice<drm::Registered>) -> Result<KVec<MemEntry>> {
    let sgt = obj.sg_table_for(drm)?;
    let mut entries;
    if obj.dev().dma_api {
        entries = KVec::with_capacity(sgt.iter().count(), GFP_KERNEL)?;
        for sg in sgt.iter() {
            let len = u32::try_from(sg.dma_len()).map_err(|_| EINVAL)?;
            entries.push(MemEntry::new(sg.dma_address(), len), GFP_KERNEL)?;
        }
    } else {
        entries = KVec::with_capacity(sgt.iter_cpu().count(), GFP_KERNEL)?;
        for sg in sgt.iter_cpu() {
            entries.push(MemEntry::new(sg.phys_address(), sg.length()), GFP_KERNEL)?;
        }
    }
    Ok(entries)
}

/// Makes what the CPU wrote to `obj` visible to the device before a transfer reads it (with
/// the DMA API: through an IOMMU, bounce buffers or encrypted memory the device would otherwise
/// read stale data).
pub(crate) fn sync_for_transfer(obj: &Object, drm: &VirtioDrmDevice<drm::Registered>) {
    if !obj.dev().dma_api {
        return;
    }
    if let Err(e) = obj.sync_for_device(drm) {
        dev_err!(
            drm.bound_device(),
            "cannot sync resource {} for the device: {:?}\n",
            obj.resource_id(),
            e
        );
    }
}

/// Creates a dumb buffer of `width` x `height` XRGB8888 pixels in `size` bytes and its host
/// resource: a guest blob when the device offers blobs, else a 2D resource with its backing.
pub(crate) fn create_dumb(
    drm: &VirtioDrmDevice<drm::Registered>,
    bound: DumbTarget<'_>,
    width: u32,
    height: u32,
    size: u64,
) -> Result<ARef<Object>> {
    let len = usize::try_from(size).map_err(|_| EINVAL)?;
    let resource_id = bound.ids.alloc()?;
    let blob = drm.blob;
    let host = HostState::new(false)?;
    let obj = Object::new(
        drm,
        len,
        shmem::ObjectConfig::default(),
        ObjectArgs::new(resource_id, true, blob, &host, &bound),
    )?;

    // Mapped for the PCI function (the DRM parent), kept as a resource of the virtio device.
    let entries = mem_entries(&obj, drm)?;
    let count = u32::try_from(entries.len()).map_err(|_| EINVAL)?;
    let queue = &bound.queue;
    // From the first command on the host may hold the resource: release it in any case (an
    // UNREF of a resource the host refused to create is answered with an error, harmlessly).
    // The queue keeps room to park the object should that UNREF fail.
    queue.reserve_release()?;
    obj.created.store(true, Release);
    // As the C driver, without waiting, nor even notifying the device: commands run in order,
    // so the command that first uses the resource (and notifies the device) finds it created;
    // the answers of a host that refused are logged.
    if blob {
        queue.queue_with(
            &ResourceCreateBlob::guest(resource_id, count, size),
            &entries,
        )?;
    } else {
        queue.queue_with::<_, u8>(
            &ResourceCreate2d::new(resource_id, format::B8G8R8X8_UNORM, width, height),
            &[],
        )?;
        queue.queue_with(&ResourceAttachBacking::new(resource_id, count), &entries)?;
    }
    bound.resources.insert(
        resource_id,
        ResourceInfo {
            width,
            height,
            size,
            blob,
            imported: false,
            host,
        },
    )?;
    Ok(obj)
}

/// The most memory entries of an imported buffer: the host maps a guest blob through a udmabuf
/// of one item per entry, and the udmabuf driver takes at most 1024 by default (`list_limit`).
/// QEMU falls back to copying a blob it cannot map, which is what an import must not do.
const MAX_IMPORT_ENTRIES: usize = 1024;

/// The memory entries of the mapped imported buffer `import`: `E2BIG` if the host could not
/// map them without a copy.
fn import_entries(
    import: &ImportedBuffer<VirtioObject>,
    locked: &Locked<'_>,
) -> Result<KVec<MemEntry>> {
    let entries = import.with_segments(locked, |segments| merged_entries(segments.iter()))??;
    if entries.len() > MAX_IMPORT_ENTRIES {
        return Err(E2BIG);
    }
    Ok(entries)
}

/// How long an import waits for the buffer's kernel fences (moves, clears by the exporter)
/// before giving up; the C driver waits without limit.
const IMPORT_FENCE_WAIT: Delta = Delta::from_secs(2);

/// Merges the DMA segments `(address, length)` of an imported buffer into memory entries:
/// segments that continue the previous one extend it, as long as the length fits in 32 bits.
/// `EINVAL` for an empty or overflowing segment.
#[allow(clippy::useless_conversion)] // DMA addresses and sizes are 32 bits on some machines.
fn merged_entries(
    segments: impl Iterator<Item = (DmaAddress, ResourceSize)>,
) -> Result<KVec<MemEntry>> {
    let mut entries: KVec<MemEntry> = KVec::new();
    for (addr, len) in segments {
        let addr = u64::from(addr);
        let len = u32::try_from(len).map_err(|_| EINVAL)?;
        let end = addr.checked_add(u64::from(len)).ok_or(EINVAL)?;
        if len == 0 || end == 0 {
            return Err(EINVAL);
        }
        if let Some(last) = entries.last_mut() {
            let (last_addr, last_len) = last.parts();
            if last_addr.checked_add(u64::from(last_len)) == Some(addr) {
                if let Some(merged) = last_len.checked_add(len) {
                    *last = MemEntry::new(last_addr, merged);
                    continue;
                }
            }
        }
        entries.push(MemEntry::new(addr, len), GFP_KERNEL)?;
    }
    Ok(entries)
}

/// Makes the host blob of the imported buffer `obj`: under the buffer's reservation lock, pins
/// it, waits (bounded) for its kernel fences (a pin may itself move the buffer), maps it, sends
/// RESOURCE_CREATE_BLOB with the merged DMA segments and waits for the answer, and prepares the
/// DETACH_BACKING of the next invalidation; only then unpins (the mapping stays), so that a move
/// cannot come before the host resource and its detach exist.
fn create_import_blob(
    obj: &Object,
    drm: &VirtioDrmDevice<drm::Registered>,
    queue: &Queue,
    size: u64,
) -> Result {
    let import = obj.import().ok_or(EINVAL)?;
    let detach = queue.prepare_call(&ResourceDetachBacking::new(obj.resource_id), true)?;
    let resv = import.dmabuf().resv();
    let guard = resv.lock_interruptible()?;
    import.pin(&guard)?;
    let created = (|| -> Result {
        resv.wait_timeout(Usage::Kernel, true, IMPORT_FENCE_WAIT)
            .inspect_err(|e| {
                dev_dbg!(
                    drm.bound_device(),
                    "import: the buffer's kernel fences did not signal: {:?}\n",
                    e
                )
            })?;
        let parent: &pci::Device<Bound> = drm.as_ref();
        import.map(parent.as_ref(), &guard, DataDirection::Bidirectional)?;
        let entries = import_entries(import, &guard).inspect_err(|e| {
            dev_dbg!(
                drm.bound_device(),
                "import: more than {} memory entries: {:?}\n",
                MAX_IMPORT_ENTRIES,
                e
            )
        })?;
        let count = u32::try_from(entries.len()).map_err(|_| EINVAL)?;
        obj.host.set_mapped(Some(count));
        // From the command on the host may hold the resource and the pages: both are released
        // in any case, with the detach prepared here.
        obj.created.store(true, Release);
        *obj.detach.lock() = Some(detach);
        // Answered before the handle exists: a host that refuses fails the import with its
        // error.
        let answered = queue.call_with(
            &ResourceCreateBlob::guest(obj.resource_id, count, size),
            &entries,
        );
        match answered {
            Ok(_) => obj.host.attached.store(true, Release),
            // No answer, or one that could not be read: the host may have made the resource
            // and mapped the pages, so the release detaches them first.
            Err(ETIMEDOUT | EPROTO) => obj.host.attached.store(true, Release),
            // The device is gone, and everything it held with it.
            Err(ENODEV) => (),
            // An error answer (or the command was not sent): no resource to release.
            Err(_) => obj.created.store(false, Release),
        }
        answered.map(|_| ()).inspect_err(|e| {
            dev_dbg!(
                drm.bound_device(),
                "import: RESOURCE_CREATE_BLOB of {} entries: {:?}\n",
                count,
                e
            )
        })
    })();
    let _ = import.unpin(&guard);
    created
}

/// Imports the DMA-buf `dmabuf` as a guest blob resource of its pages, as the device sees them
/// through the DMA addresses mapped for the PCI function. A buffer this device exported comes
/// back as its object.
pub(crate) fn import(
    drm: &VirtioDrmDevice<drm::Registered>,
    bound: DumbTarget<'_>,
    dmabuf: &DmaBuf,
) -> Result<ARef<Object>> {
    if let Some(obj) = gem::prime_exported_object(drm, dmabuf) {
        return Ok(obj);
    }
    if !drm.blob {
        // As the C driver, whose fallback has no sg-table import.
        dev_dbg!(
            drm.bound_device(),
            "import: the device offers no blob resources\n"
        );
        return Err(ENODEV);
    }
    let parent: &pci::Device<Bound> = drm.as_ref();
    let resource_id = bound.ids.alloc()?;
    let host = HostState::new(true)?;
    let obj = Object::new_imported(
        drm,
        dmabuf,
        parent.as_ref(),
        ObjectArgs::new(resource_id, false, true, &host, &bound),
    )
    .inspect_err(|e| dev_dbg!(drm.bound_device(), "import: cannot attach: {:?}\n", e))?;
    let size = u64::try_from(dmabuf.size()).map_err(|_| EINVAL)?;
    create_import_blob(&obj, drm, bound.queue, size)?;
    bound.resources.insert(
        resource_id,
        ResourceInfo {
            width: 0,
            height: 0,
            size,
            blob: true,
            imported: true,
            host,
        },
    )?;
    Ok(obj)
}

/// A pin of an imported buffer for scanout: the exporter keeps it in place until the plane
/// state that shows it is replaced. Unpinned when dropped.
pub(crate) struct ScanoutPin(ARef<Object>);

impl Drop for ScanoutPin {
    fn drop(&mut self) {
        if let Some(import) = self.0.import() {
            let guard = import.dmabuf().resv().lock();
            match import.unpin(&guard) {
                Ok(()) => {
                    self.0.host.scanout_pins.fetch_sub(1, Relaxed);
                }
                Err(e) => {
                    self.0
                        .queue
                        .log_error("unpinning the imported buffer", self.0.resource_id, e)
                }
            }
        }
    }
}

/// Maps the imported buffer `obj` again for `parent` after a move and attaches the new pages to
/// its host resource; the next update names it on its scanout again.
fn attach_again(
    obj: &Object,
    parent: &pci::Device<Bound>,
    import: &ImportedBuffer<VirtioObject>,
    locked: &Locked<'_>,
) -> Result {
    let detach = obj
        .queue
        .prepare_call(&ResourceDetachBacking::new(obj.resource_id), true)?;
    import.map(parent.as_ref(), locked, DataDirection::Bidirectional)?;
    let entries = import_entries(import, locked)?;
    let count = u32::try_from(entries.len()).map_err(|_| EINVAL)?;
    obj.host.set_mapped(Some(count));
    // From the command on the host may use the pages: the detach is ready first.
    *obj.detach.lock() = Some(detach);
    obj.queue.call_with(
        &ResourceAttachBacking::new(obj.resource_id, count),
        &entries,
    )?;
    obj.host.attached.store(true, Release);
    Ok(())
}

/// Pins the imported buffer `obj` for scanout (`None` for the driver's own buffers). If the
/// exporter moved it since it was last shown, it is mapped and attached again
/// (RESOURCE_ATTACH_BACKING, waited for: a refusal fails the commit with its errno), and the
/// next plane update names it on its scanout again.
pub(crate) fn pin_for_scanout(
    obj: &Object,
    drm: &VirtioDrmDevice<drm::Registered>,
) -> Result<Option<ScanoutPin>> {
    let Some(import) = obj.import() else {
        return Ok(None);
    };
    let guard = import.dmabuf().resv().lock_interruptible()?;
    import.pin(&guard)?;
    let attached = match import.is_mapped(&guard) {
        Ok(true) => Ok(()),
        _ => attach_again(obj, drm.as_ref(), import, &guard),
    };
    if let Err(e) = attached {
        dev_dbg!(
            drm.bound_device(),
            "imported resource {}: cannot attach it again: {:?}\n",
            obj.resource_id,
            e
        );
        // The host may have attached the pages all the same (an answer that came too late):
        // it lets go of them before they are unmapped.
        if let Some(call) = obj.detach.lock().take() {
            if import.is_mapped(&guard) == Ok(true) {
                let _ = obj.queue.call_prepared::<ResourceDetachBacking>(call);
            }
        }
        let _ = import.unmap(&guard);
        obj.host.set_mapped(None);
        let _ = import.unpin(&guard);
        return Err(e);
    }
    drop(guard);
    obj.host.scanout_pins.fetch_add(1, Relaxed);
    Ok(Some(ScanoutPin(obj.into())))
}

#[kunit_tests(virtio_rs_gem)]
mod tests {
    use super::*;

    #[test]
    fn resource_ids_start_at_one_and_never_repeat() -> Result {
        let ids = KBox::pin_init(ResourceIds::new(), GFP_KERNEL)?;
        assert_eq!(ids.alloc()?, 1);
        assert_eq!(ids.alloc()?, 2);
        assert_eq!(ids.alloc()?, 3);
        Ok(())
    }

    fn entry_bytes(entries: &[MemEntry]) -> KVec<(u64, u32)> {
        let mut out = KVec::new();
        for e in entries {
            let _ = out.push(e.parts(), GFP_KERNEL);
        }
        out
    }

    #[test]
    fn contiguous_segments_merge() -> Result {
        let segments = [
            (0x1000, 0x1000),
            (0x2000, 0x2000),
            (0x8000, 0x1000),
            (0x9000, 0x1000),
        ];
        let entries = merged_entries(segments.into_iter())?;
        assert_eq!(
            &entry_bytes(&entries)[..],
            &[(0x1000, 0x3000), (0x8000, 0x2000)]
        );
        Ok(())
    }

    #[test]
    fn merged_entries_stay_within_32_bits() -> Result {
        // Two contiguous segments whose sum does not fit an entry's length stay apart.
        let segments = [(0, 0xffff_f000), (0xffff_f000, 0x2000)];
        let entries = merged_entries(segments.into_iter())?;
        assert_eq!(entry_bytes(&entries).len(), 2);
        // Empty, too long and wrapping segments are refused.
        assert_eq!(
            merged_entries([(0x1000, 0)].into_iter()).err(),
            Some(EINVAL)
        );
        assert_eq!(
            merged_entries([(0x1000, 1 << 32)].into_iter()).err(),
            Some(EINVAL)
        );
        assert_eq!(
            merged_entries([(u64::MAX, 0x1000)].into_iter()).err(),
            Some(EINVAL)
        );
        Ok(())
    }

    #[test]
    fn resource_ids_run_out_instead_of_wrapping() -> Result {
        let ids = KBox::pin_init(ResourceIds::new(), GFP_KERNEL)?;
        *ids.next.lock() = u32::MAX - 1;
        assert_eq!(ids.alloc()?, u32::MAX - 1);
        assert_eq!(ids.alloc(), Err(ENOSPC));
        assert_eq!(ids.alloc(), Err(ENOSPC));
        Ok(())
    }
}
