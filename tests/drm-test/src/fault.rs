// SPDX-License-Identifier: GPL-2.0

//! `release-fault`: the release of a dumb buffer fails on an injected allocation failure
//! (`/proc/thread-self/fail-nth`, with failslab made to fail sleeping allocations too): the
//! driver must keep the buffer's memory, which the host may still use, until the device is
//! reset, and then free it. The scenario checks the kernel log and unloads the driver; the
//! sanitizer kernel's kmemleak scan finds anything left behind.

use crate::kms::Card;
use crate::Res;
use drm::buffer::DrmFourcc;
use drm::control::Device as _;
use std::fs;

/// The calling thread's fault injection: the Nth faultable call from now fails.
const FAIL_NTH: &str = "/proc/thread-self/fail-nth";

pub fn run(device: &str) -> Res<()> {
    let card = Card::open(device)?;
    let buffer = card
        .create_dumb_buffer((64, 64), DrmFourcc::Xrgb8888, 32)
        .map_err(|e| format!("DRM_IOCTL_MODE_CREATE_DUMB 64x64: {}", crate::describe(&e)))?;
    // The first allocation of DRM_IOCTL_MODE_DESTROY_DUMB is the driver's RESOURCE_UNREF
    // request: the ioctl's arguments live on the stack, and removing a handle allocates
    // nothing.
    fs::write(FAIL_NTH, "1").map_err(|e| format!("writing {FAIL_NTH}: {e}"))?;
    let destroyed = card.destroy_dumb_buffer(buffer);
    let left = fs::read_to_string(FAIL_NTH).map_err(|e| format!("reading {FAIL_NTH}: {e}"))?;
    // Disarm, whatever happened.
    fs::write(FAIL_NTH, "0").map_err(|e| format!("writing {FAIL_NTH}: {e}"))?;
    destroyed.map_err(|e| format!("DRM_IOCTL_MODE_DESTROY_DUMB: {}", crate::describe(&e)))?;
    if left.trim() != "0" {
        return Err(format!("no fault was injected ({FAIL_NTH} reads {})", left.trim()).into());
    }
    println!("fault injected into the release of a dumb buffer");
    Ok(())
}
