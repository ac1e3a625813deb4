// SPDX-License-Identifier: GPL-2.0

//! debugfs: `virtio_rs-features`, `virtio_rs-resources` and `virtio_rs-fences` in the DRM
//! device's directory, `/sys/kernel/debug/dri/<minor>/`.

use crate::gpu::{
    VirtioDrmDevice,
    VirtioGpuDrm, //
};
use kernel::{
    drm::{
        self,
        debugfs::DeviceFile, //
    },
    prelude::*,
    seq_file::{
        seq_print,
        SeqFile, //
    },
};

/// Adds the files; they can be read once the device is registered.
pub(crate) fn add_files(drm: &drm::UnregisteredDevice<VirtioGpuDrm>) {
    drm.debugfs_add_file::<Features>();
    drm.debugfs_add_file::<Resources>();
    drm.debugfs_add_file::<Fences>();
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// What the device and the driver agreed on.
struct Features;

impl DeviceFile for Features {
    type Driver = VirtioGpuDrm;
    const NAME: &'static CStr = c"virtio_rs-features";

    fn show(dev: &VirtioDrmDevice<drm::Ioctl>, m: &SeqFile) -> Result {
        let rows = [
            ("virgl", yes_no(false)),
            ("edid", yes_no(dev.has_edid)),
            ("blob resources", yes_no(dev.blob)),
            ("blob alignment", yes_no(dev.blob_alignment)),
        ];
        for (name, value) in rows {
            seq_print!(m, "{:<16} : {}\n", name, value);
        }
        seq_print!(m, "{:<16} : {}\n", "scanouts", dev.num_scanouts);
        Ok(())
    }
}

/// The host resources of the device's buffers. `ENODEV` once the device is unbound.
struct Resources;

impl DeviceFile for Resources {
    type Driver = VirtioGpuDrm;
    const NAME: &'static CStr = c"virtio_rs-resources";

    fn show(dev: &VirtioDrmDevice<drm::Ioctl>, m: &SeqFile) -> Result {
        let guard = dev.registration_guard().ok_or(ENODEV)?;
        guard.registration_data_with(|bound| bound.resources.show(m));
        Ok(())
    }
}

/// The last fence the driver emitted and the last the device signalled.
struct Fences;

impl DeviceFile for Fences {
    type Driver = VirtioGpuDrm;
    const NAME: &'static CStr = c"virtio_rs-fences";

    fn show(dev: &VirtioDrmDevice<drm::Ioctl>, m: &SeqFile) -> Result {
        let guard = dev.registration_guard().ok_or(ENODEV)?;
        let (emitted, signalled) = guard.registration_data_with(|bound| bound.queue.fence_ids());
        seq_print!(m, "fence {} {}\n", signalled, emitted);
        Ok(())
    }
}
