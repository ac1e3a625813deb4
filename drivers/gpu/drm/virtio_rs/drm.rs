// SPDX-License-Identifier: GPL-2.0

//! The DRM device: driver identity, what it keeps of the scanouts, dumb buffers.

use crate::{
    gem::{
        self,
        ResourceIds,
        Resources,
        VirtioObject, //
    },
    queue::CommandQueue,
};
use kernel::{
    device::DeviceContext,
    drm::{
        self,
        gem::{
            shmem,
            BaseObject,
            DumbCreateArgs, //
        },
        kms::Edid,
    },
    page::PAGE_SIZE,
    pci,
    prelude::*,
    sync::{
        Arc,
        Mutex, //
    },
};

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
    /// Whether the device takes DMA addresses (else guest physical ones) and needs DMA syncs.
    pub(crate) dma_api: bool,
    /// Lock order: taken by the connector probes with `mode_config.mutex` held, so it must
    /// never be held across a hotplug event (which probes); the config-change work replaces
    /// the list and releases it before sending one.
    #[pin]
    pub(crate) scanouts: Mutex<KVec<ScanoutInfo>>,
}

/// Data only valid while the virtio device is bound.
#[pin_data]
pub(crate) struct BoundData {
    pub(crate) queue: Arc<CommandQueue>,
    pub(crate) resources: Arc<Resources>,
    #[pin]
    pub(crate) ids: ResourceIds,
}

pub(crate) struct File;

impl drm::file::DriverFile for File {
    type Driver = VirtioGpuDrm;

    fn open(_dev: &VirtioDrmDevice) -> Result<Pin<KBox<Self>>> {
        Ok(KBox::new(Self, GFP_KERNEL)?.into())
    }
}

const INFO: drm::DriverInfo = drm::DriverInfo {
    major: 0,
    minor: 1,
    patchlevel: 0,
    name: c"virtio_rs",
    desc: c"Virtio GPU display (Rust)",
};

#[vtable]
impl drm::Driver for VirtioGpuDrm {
    type Data = DrmData;
    type RegistrationData<'a> = BoundData;
    type Object = shmem::Object<VirtioObject>;
    type File = File;
    type ParentDevice<Ctx: DeviceContext> = pci::Device<Ctx>;

    const INFO: drm::DriverInfo = INFO;
    const IOCTLS: &'static [drm::ioctl::DrmIoctlDescriptor] = &[];

    const FEAT_KMS: bool = true;
    const FEAT_FBDEV: bool = true;
    const FEAT_CURSOR_HOTSPOT: bool = true;

    /// Dumb buffers are host resources, created with their geometry.
    fn dumb_create(
        file: &drm::File<File>,
        dev: &VirtioDrmDevice<drm::Ioctl>,
        args: &mut DumbCreateArgs,
    ) -> Result {
        if args.bpp() != 32 {
            return Err(EINVAL);
        }
        args.compute_size(dev, 0, PAGE_SIZE)?;
        let guard = dev.registration_guard().ok_or(ENODEV)?;
        let obj = guard.registration_data_with(|bound| {
            gem::create_dumb(&guard, bound, args.width(), args.height(), args.size())
        })?;
        args.set_handle(obj.create_handle(file)?);
        Ok(())
    }
}
