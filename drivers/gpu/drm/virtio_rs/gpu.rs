// SPDX-License-Identifier: GPL-2.0

//! The driver's DRM driver type and what its DRM device keeps of the virtio device: the
//! scanouts the device reported and the features that shape the other layers.

use kernel::{
    drm::{
        self,
        kms::Edid, //
    },
    prelude::*,
    sync::Mutex,
};

/// The DRM driver of virtio_rs (its `drm::Driver` implementation is in `drm.rs`).
pub(crate) struct VirtioGpuDrm;

/// The DRM device of a virtio-gpu device.
pub(crate) type VirtioDrmDevice<Ctx = drm::Normal> = drm::Device<VirtioGpuDrm, Ctx>;

/// What the device reported of one scanout (GET_DISPLAY_INFO, GET_EDID).
#[derive(Default)]
pub(crate) struct ScanoutInfo {
    pub(crate) enabled: bool,
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) edid: Option<Edid>,
}

/// Data of the DRM device, which may outlive the binding.
#[pin_data]
pub(crate) struct DrmData {
    pub(crate) num_scanouts: u32,
    /// Whether dumb buffers are guest blobs (the device offers blob resources).
    pub(crate) blob: bool,
    /// Whether the device offers EDIDs (and the connectors have an EDID property).
    pub(crate) has_edid: bool,
    /// Whether the device announced blob alignment (`VIRTIO_GPU_F_BLOB_ALIGNMENT`).
    pub(crate) blob_alignment: bool,
    /// Whether the device takes DMA addresses (else guest physical ones) and needs DMA syncs.
    pub(crate) dma_api: bool,
    /// Lock order: taken by the connector probes with `mode_config.mutex` held, so it must
    /// never be held across a hotplug event (which probes); the config-change work replaces
    /// the list and releases it before sending one.
    #[pin]
    pub(crate) scanouts: Mutex<KVec<ScanoutInfo>>,
}
