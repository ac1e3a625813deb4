// SPDX-License-Identifier: GPL-2.0

//! The DRM driver: its identity, memory manager and dumb buffers, and the data of a bound
//! device.

use crate::{
    gem::{
        self,
        Queue,
        ResourceIds,
        Resources,
        Shown,
        VirtioObject, //
    },
    gpu::{
        DrmData,
        VirtioDrmDevice,
        VirtioGpuDrm, //
    },
};
use kernel::{
    device::DeviceContext,
    dma_buf::DmaBuf,
    drm::{
        self,
        gem::{
            shmem,
            BaseObject,
            DumbCreateArgs, //
        },
    },
    page::PAGE_SIZE,
    pci,
    prelude::*,
    sync::{
        aref::ARef,
        Arc, //
    },
};

/// Data only valid while the virtio device is bound.
#[pin_data]
pub(crate) struct BoundData {
    pub(crate) queue: Arc<Queue>,
    pub(crate) resources: Arc<Resources>,
    #[pin]
    pub(crate) ids: ResourceIds,
    pub(crate) shown: Arc<Shown>,
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
            gem::create_dumb(
                &guard,
                gem::DumbTarget {
                    queue: &bound.queue,
                    resources: &bound.resources,
                    ids: &bound.ids,
                    shown: &bound.shown,
                },
                args.width(),
                args.height(),
                args.size(),
            )
        })?;
        args.set_handle(obj.create_handle(file)?);
        Ok(())
    }

    /// PRIME import: a guest blob resource of the buffer's pages, scanned out in place.
    fn gem_prime_import(
        dev: &VirtioDrmDevice<drm::Ioctl>,
        dmabuf: &DmaBuf,
    ) -> Result<ARef<Self::Object>> {
        let guard = dev.registration_guard().ok_or(ENODEV)?;
        guard.registration_data_with(|bound| {
            gem::import(
                &guard,
                gem::DumbTarget {
                    queue: &bound.queue,
                    resources: &bound.resources,
                    ids: &bound.ids,
                    shown: &bound.shown,
                },
                dmabuf,
            )
        })
    }
}
