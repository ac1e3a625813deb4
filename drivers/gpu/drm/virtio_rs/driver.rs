// SPDX-License-Identifier: GPL-2.0

//! Binding to virtio-gpu devices: feature negotiation, queues, and the display query.

use crate::{
    protocol::{
        self,
        config,
        features,
        DisplayOne, //
    },
    queue::CommandQueue,
};
use kernel::{
    device::{
        self,
        Core, //
    },
    prelude::*,
    virtio::{
        self,
        features::VERSION_1, //
    },
};

pub(crate) struct VirtioGpuDriver;

/// A bound virtio-gpu device.
pub(crate) struct VirtioGpu {
    /// Owns the virtqueues for as long as the device is bound.
    _queue: CommandQueue,
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
}

/// Reads how many scanouts the device has, within what the protocol allows.
fn num_scanouts(vdev: &virtio::Device<device::Bound>) -> Result<usize> {
    let count: u32 = vdev.config_read(config::NUM_SCANOUTS)?;
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

fn feature_sign(vdev: &virtio::Device<device::Bound>, bit: u32) -> char {
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
            "features: {}edid {}resource_blob {}blob_alignment\n",
            feature_sign(vdev, features::EDID),
            feature_sign(vdev, features::RESOURCE_BLOB),
            feature_sign(vdev, features::BLOB_ALIGNMENT)
        );

        let count = num_scanouts(vdev)?;
        let queue = CommandQueue::new(vdev)?;

        let info = queue.call(&protocol::GetDisplayInfo::new())?;
        for (index, display) in info.scanouts().iter().take(count).enumerate() {
            report_scanout(vdev, &queue, index, display)?;
        }

        Ok(Self { _queue: queue })
    }
}

/// Reads the EDID of scanout `index` if the device offers EDIDs, and logs what is known of it.
fn report_scanout(
    vdev: &virtio::Device<device::Bound>,
    queue: &CommandQueue,
    index: usize,
    display: &DisplayOne,
) -> Result {
    let dev: &device::Device = vdev.as_ref();
    let edid = if vdev.has_feature(features::EDID) {
        Some(read_edid(queue, index)?)
    } else {
        None
    };
    let (x, y, width, height) = display.rect().get();
    dev_info!(
        dev,
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
        edid.as_ref().map_or(0, |e| e.len())
    );
    Ok(())
}

fn read_edid(queue: &CommandQueue, index: usize) -> Result<KVec<u8>> {
    let scanout = u32::try_from(index).map_err(|_| EINVAL)?;
    let resp = queue.call(&protocol::GetEdid::new(scanout))?;
    let mut edid = KVec::new();
    edid.extend_from_slice(resp.edid()?, GFP_KERNEL)?;
    Ok(edid)
}
