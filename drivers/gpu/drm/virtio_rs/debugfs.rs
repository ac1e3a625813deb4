// SPDX-License-Identifier: GPL-2.0

//! debugfs: `/sys/kernel/debug/virtio_rs-<pci device>/{features,resources,fences}`.

use crate::gem::{
    Queue,
    Resources, //
};
use core::fmt;
use kernel::{
    debugfs::{
        Dir,
        File, //
    },
    prelude::*,
    str::CString,
    sync::Arc,
};

/// What the device and the driver agreed on.
pub(crate) struct Features {
    pub(crate) edid: bool,
    pub(crate) resource_blob: bool,
    pub(crate) blob_alignment: bool,
    pub(crate) scanouts: u32,
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn write_features(features: &Features, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{:<16} : no", "virgl")?;
    writeln!(f, "{:<16} : {}", "edid", yes_no(features.edid))?;
    writeln!(
        f,
        "{:<16} : {}",
        "blob resources",
        yes_no(features.resource_blob)
    )?;
    writeln!(
        f,
        "{:<16} : {}",
        "blob alignment",
        yes_no(features.blob_alignment)
    )?;
    writeln!(f, "{:<16} : {}", "scanouts", features.scanouts)
}

fn write_resources(resources: &Arc<Resources>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    resources.write(f)
}

fn write_fences(queue: &Arc<Queue>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let (emitted, signalled) = queue.fence_ids();
    writeln!(f, "fence {signalled} {emitted}")
}

#[pin_data]
struct Files {
    #[pin]
    features: File<Features>,
    #[pin]
    resources: File<Arc<Resources>>,
    #[pin]
    fences: File<Arc<Queue>>,
}

/// The debugfs directory of one device and its files; removed when dropped.
pub(crate) struct DebugFs {
    _files: Pin<KBox<Files>>,
    _dir: Dir,
}

impl DebugFs {
    pub(crate) fn new(
        device_name: &CStr,
        features: Features,
        resources: Arc<Resources>,
        queue: Arc<Queue>,
    ) -> Result<Self> {
        let name = CString::try_from_fmt(fmt!("virtio_rs-{}", device_name))?;
        let dir = Dir::new(&name);
        let parent = &dir;
        let files = KBox::pin_init(
            try_pin_init!(Files {
                features <- parent.read_callback_file(c"features", features, &write_features),
                resources <- parent.read_callback_file(c"resources", resources, &write_resources),
                fences <- parent.read_callback_file(c"fences", queue, &write_fences),
            }),
            GFP_KERNEL,
        )?;
        Ok(Self {
            _files: files,
            _dir: dir,
        })
    }
}
