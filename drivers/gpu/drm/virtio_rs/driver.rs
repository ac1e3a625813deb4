// SPDX-License-Identifier: GPL-2.0

//! Binding to virtio-gpu devices: feature negotiation, queues, the display query and the DRM
//! device.

use crate::{
    debugfs, display,
    drm::BoundData,
    gem::{
        Queue,
        ResourceIds,
        Resources,
        Shown, //
    },
    gpu::{
        DrmData,
        ScanoutInfo,
        VirtioDrmDevice,
        VirtioGpuDrm, //
    },
    protocol::{
        self,
        config,
        features,
        DisplayOne, //
    },
};
use kernel::{
    device::{
        self,
        Bound,
        Core, //
    },
    devres::Devres,
    drm::{
        self as kdrm,
        kms::Edid, //
    },
    new_mutex, pci,
    prelude::*,
    sync::{
        aref::ARef,
        Arc, //
    },
    virtio::{
        self,
        features::VERSION_1, //
    },
};

pub(crate) struct VirtioGpuDriver;

/// A bound virtio-gpu device.
pub(crate) struct VirtioGpu {
    /// The DRM device's registration: unregistered (and its display shut down) when this is
    /// dropped, at the latest when the virtio device is unbound.
    reg: Devres<kdrm::Registration<'static, VirtioGpuDrm>>,
    drm: ARef<VirtioDrmDevice>,
    /// Owns the virtqueues for as long as the device is bound.
    queue: Arc<Queue>,
}

kernel::virtio_device_table!(VIRTIO_TABLE, [virtio::DeviceId::new(virtio::ids::GPU)]);

/// The features the driver negotiates: the display ones, nothing 3D.
const FEATURES: [u32; 4] = [
    VERSION_1,
    features::EDID,
    features::RESOURCE_BLOB,
    features::BLOB_ALIGNMENT,
];

#[vtable]
impl virtio::Driver for VirtioGpuDriver {
    type Data<'bound> = VirtioGpu;
    const ID_TABLE: virtio::IdTable = &VIRTIO_TABLE;
    const FEATURES: &'static [u32] = &FEATURES;

    fn probe<'bound>(
        vdev: &'bound virtio::Device<Core<'_>>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        VirtioGpu::new(vdev)
    }

    fn config_changed<'bound>(vdev: &'bound virtio::Device<Bound>, this: Pin<&Self::Data<'bound>>) {
        this.config_changed(vdev);
    }
}

/// Reads how many scanouts the device has, within what the protocol allows.
fn num_scanouts(vdev: &virtio::Device<Bound>) -> Result<usize> {
    let count: u32 = vdev.config_read(config::num_scanouts())?;
    let count = usize::try_from(count).map_err(|_| EINVAL)?;
    if count == 0 {
        dev_err!(vdev.as_ref(), "the device has no scanout\n");
        return Err(EINVAL);
    }
    if count > protocol::MAX_SCANOUTS {
        dev_warn!(
            vdev.as_ref(),
            "the device claims {} scanouts, using {}\n",
            count,
            protocol::MAX_SCANOUTS
        );
    }
    Ok(count.min(protocol::MAX_SCANOUTS))
}

fn feature_sign(vdev: &virtio::Device<Bound>, bit: u32) -> char {
    if vdev.has_feature(bit) {
        '+'
    } else {
        '-'
    }
}

impl VirtioGpu {
    fn new(vdev: &virtio::Device<Core<'_>>) -> Result<Self> {
        let dev: &device::Device = vdev.as_ref();
        if !vdev.has_feature(VERSION_1) {
            dev_err!(dev, "the device does not offer virtio 1.0\n");
            return Err(ENODEV);
        }
        dev_info!(
            dev,
            "features: {}edid {}resource_blob {}blob_alignment, {} addresses\n",
            feature_sign(vdev, features::EDID),
            feature_sign(vdev, features::RESOURCE_BLOB),
            feature_sign(vdev, features::BLOB_ALIGNMENT),
            if vdev.uses_dma_api() {
                "DMA"
            } else {
                "physical"
            }
        );

        // The DRM device hangs off the transport (the PCI function), like the C driver's, so
        // user space finds it by its PCI bus id.
        let pdev: &pci::Device<Bound> = vdev.dma_device().try_into().inspect_err(|_| {
            dev_err!(dev, "virtio_rs drives virtio-gpu devices on PCI only\n");
        })?;

        let count = num_scanouts(vdev)?;
        let has_edid = vdev.has_feature(features::EDID);
        let queue = Arc::new(Queue::new(vdev)?, GFP_KERNEL)?;
        let scanouts = query_scanouts(vdev, &queue, count, has_edid)?;

        let drm = kdrm::UnregisteredDevice::<VirtioGpuDrm>::new(
            pdev,
            try_pin_init!(DrmData {
                num_scanouts: u32::try_from(count).map_err(|_| EINVAL)?,
                blob: vdev.has_feature(features::RESOURCE_BLOB),
                has_edid,
                blob_alignment: vdev.has_feature(features::BLOB_ALIGNMENT),
                dma_api: vdev.uses_dma_api(),
                scanouts <- new_mutex!(scanouts),
            }),
        )?;
        display::init(&drm, has_edid)?;
        let resources = Arc::pin_init(Resources::new(), GFP_KERNEL)?;
        let shown = Arc::pin_init(Shown::new(count)?, GFP_KERNEL)?;
        debugfs::add_files(&drm);
        let bound_queue = queue.clone();
        let drm_ref: ARef<VirtioDrmDevice> = (&*drm).into();
        // The registration and every other device resource of this driver belong to the virtio
        // device it is bound to, so they go when it unbinds, before the module can; the PCI
        // function is only the DRM parent.
        let bound: &virtio::Device<Bound> = vdev;
        let reg = kdrm::Registration::new_devres_below(
            bound,
            drm,
            try_pin_init!(BoundData {
                queue: bound_queue,
                resources,
                ids <- ResourceIds::new(),
                shown,
            }),
            0,
        )?;
        reg.access(vdev.as_ref())?.setup_fbdev();

        Ok(Self {
            reg,
            drm: drm_ref,
            queue,
        })
    }
}

impl VirtioGpu {
    /// Handles a change of the device's configuration: on a display event, reads the display
    /// configuration and EDIDs again and tells user space and the fbdev client to probe.
    fn config_changed(&self, vdev: &virtio::Device<Bound>) {
        let events: u32 = match vdev.config_read(config::events_read()) {
            Ok(events) => events,
            Err(e) => {
                dev_err!(vdev.as_ref(), "cannot read the pending events: {:?}\n", e);
                return;
            }
        };
        if events & config::EVENT_DISPLAY == 0 {
            return;
        }
        // Acknowledge before asking: a change during the query raises a new event, which runs
        // this again, instead of being acknowledged unseen.
        if let Err(e) = vdev.config_write(config::events_clear(), config::EVENT_DISPLAY) {
            dev_err!(
                vdev.as_ref(),
                "cannot acknowledge the display event: {:?}\n",
                e
            );
        }

        let drm = &*self.drm;
        let count = drm.num_scanouts as usize;
        match query_scanouts(vdev, &self.queue, count, drm.has_edid) {
            Ok(scanouts) => *drm.scanouts.lock() = scanouts,
            Err(e) => {
                dev_err!(
                    vdev.as_ref(),
                    "cannot read the new display configuration: {:?}\n",
                    e
                );
                return;
            }
        }
        match self.reg.access(vdev.as_ref()) {
            Ok(reg) => reg.hotplug_event(),
            Err(e) => dev_err!(vdev.as_ref(), "no DRM registration: {:?}\n", e),
        }
    }
}

/// Asks the device for its display configuration and EDIDs; logs one line per scanout.
fn query_scanouts(
    vdev: &virtio::Device<Bound>,
    queue: &Queue,
    count: usize,
    has_edid: bool,
) -> Result<KVec<ScanoutInfo>> {
    // EDIDs first, then the display info, in the C driver's order.
    let mut edids = KVec::with_capacity(count, GFP_KERNEL)?;
    for index in 0..count {
        let edid = if has_edid {
            read_edid(queue, index)?
        } else {
            None
        };
        edids.push(edid, GFP_KERNEL)?;
    }
    let info = queue.call(&protocol::GetDisplayInfo::new())?;
    let mut scanouts = KVec::with_capacity(count, GFP_KERNEL)?;
    for ((index, display), edid) in info.scanouts().iter().enumerate().zip(edids) {
        report_scanout(vdev, index, display, edid.as_ref());
        let (_, _, width, height) = display.rect().get();
        scanouts.push(
            ScanoutInfo {
                enabled: display.enabled(),
                width,
                height,
                edid: edid.and_then(|bytes| Edid::from_bytes(&bytes).ok()),
            },
            GFP_KERNEL,
        )?;
    }
    Ok(scanouts)
}

/// Logs what is known of scanout `index`.
fn report_scanout(
    vdev: &virtio::Device<Bound>,
    index: usize,
    display: &DisplayOne,
    edid: Option<&KVec<u8>>,
) {
    let (x, y, width, height) = display.rect().get();
    dev_info!(
        vdev.as_ref(),
        "scanout {}: {}, {}x{}+{}+{}, EDID {}\n",
        index,
        if display.enabled() {
            "connected"
        } else {
            "disconnected"
        },
        width,
        height,
        x,
        y,
        edid.map_or(0, |e| e.len())
    );
}

/// Reads the EDID of scanout `index`: the blocks its base block announces, or `None` if the
/// device has none for it.
fn read_edid(queue: &Queue, index: usize) -> Result<Option<KVec<u8>>> {
    let scanout = u32::try_from(index).map_err(|_| EINVAL)?;
    let resp = queue.call(&protocol::GetEdid::new(scanout))?;
    let blob = resp.edid()?;
    let Some(&extensions) = blob.get(126) else {
        return Ok(None);
    };
    let len = (usize::from(extensions) + 1) * 128;
    let mut edid = KVec::new();
    edid.extend_from_slice(blob.get(..len).unwrap_or(blob), GFP_KERNEL)?;
    Ok(Some(edid))
}
