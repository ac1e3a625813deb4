// SPDX-License-Identifier: GPL-2.0

//! virtio_rs: a Rust driver for the display side of virtio-gpu devices.

mod debugfs;
mod display;
mod driver;
mod drm;
mod gem;
mod gpu;
mod protocol;
mod queue;
mod shown;
mod timings;

kernel::module_virtio_driver! {
    type: driver::VirtioGpuDriver,
    name: "virtio_rs",
    authors: ["The virtio_rs developers"],
    description: "Virtio GPU display driver (Rust)",
    license: "GPL v2",
    imports_ns: ["DMA_BUF"],
}
