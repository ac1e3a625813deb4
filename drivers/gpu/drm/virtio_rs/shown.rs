// SPDX-License-Identifier: GPL-2.0

//! What each scanout of the host shows.
//!
//! Before the host lets go of an imported buffer's pages (its exporter moves or revokes it), the
//! buffer is taken off every scanout that shows it: a host whose scanout shows a detached blob
//! reads memory it no longer maps (QEMU crashes at its next refresh). The commands that take it
//! off are prepared beforehand, since the exporter's invalidation must not allocate.

use crate::{
    protocol::{
        Rect,
        SetScanout, //
    },
    queue::{
        CommandQueue,
        Hold,
        PreparedCall, //
    },
};
use kernel::{
    new_mutex,
    prelude::*,
    sync::{
        Mutex,
        MutexGuard, //
    },
};

/// What one scanout shows.
///
/// Changed only with the command that makes the host show it queued (see [`ShownGuard::set`]),
/// under the lock of [`ShownResources`], so that it is what the host shows once the queued
/// commands ran.
struct Shown<H: Hold> {
    /// The resource on the scanout, 0 for none.
    resource: u32,
    /// SET_SCANOUT of this scanout to no resource, ready for the invalidation of an imported
    /// buffer on it.
    off: Option<PreparedCall<H>>,
}

/// The resources the scanouts of a device show, and the commands of queue
/// `CommandQueue<H>` that take them off.
#[pin_data]
pub(crate) struct ShownResources<H: Hold> {
    #[pin]
    scanouts: Mutex<KVec<Shown<H>>>,
}

impl<H: Hold> ShownResources<H> {
    /// The state of `count` scanouts that show nothing.
    pub(crate) fn new(count: usize) -> Result<impl PinInit<Self>> {
        let mut scanouts = KVec::with_capacity(count, GFP_KERNEL)?;
        for _ in 0..count {
            scanouts.push(
                Shown {
                    resource: 0,
                    off: None,
                },
                GFP_KERNEL,
            )?;
        }
        Ok(pin_init!(Self {
            scanouts <- new_mutex!(scanouts),
        }))
    }

    /// Locks the state: commands that change what a scanout shows are queued under it, so
    /// that they reach the device in the order the state changes.
    pub(crate) fn lock(&self) -> ShownGuard<'_, H> {
        ShownGuard(self.scanouts.lock())
    }

    /// Makes sure that an imported buffer put on `scanout` can be taken off it again without
    /// allocating.
    pub(crate) fn prepare_off(&self, queue: &CommandQueue<H>, scanout: u32) -> Result {
        if self.lock().has_off(scanout) {
            return Ok(());
        }
        let call = off_call(queue, scanout)?;
        self.lock().put_off(scanout, call);
        Ok(())
    }
}

/// The command that makes `scanout` show nothing.
fn off_call<H: Hold>(queue: &CommandQueue<H>, scanout: u32) -> Result<PreparedCall<H>> {
    queue.prepare_call(&SetScanout::new(scanout, 0, Rect::new(0, 0, 0, 0)), false)
}

/// The locked state of the scanouts, see [`ShownResources::lock`].
pub(crate) struct ShownGuard<'a, H: Hold>(MutexGuard<'a, KVec<Shown<H>>>);

impl<H: Hold> ShownGuard<'_, H> {
    /// Records that `scanout` shows `resource` (0: nothing) if `queued`, the result of
    /// queueing the command that shows it; else the host shows what it showed before.
    pub(crate) fn set(&mut self, scanout: u32, resource: u32, queued: Result) {
        if let (Some(shown), Ok(())) = (self.0.get_mut(scanout as usize), queued) {
            shown.resource = resource;
        }
    }

    /// The resource `scanout` shows (0: nothing, or an unknown scanout).
    pub(crate) fn resource(&self, scanout: u32) -> u32 {
        self.0
            .get(scanout as usize)
            .map_or(0, |shown| shown.resource)
    }

    /// Whether `scanout` can be taken off an imported buffer without allocating.
    pub(crate) fn has_off(&self, scanout: u32) -> bool {
        self.0
            .get(scanout as usize)
            .is_some_and(|shown| shown.off.is_some())
    }

    fn put_off(&mut self, scanout: u32, call: PreparedCall<H>) {
        if let Some(shown) = self.0.get_mut(scanout as usize) {
            shown.off.get_or_insert(call);
        }
    }

    /// Takes resource `id` off every scanout that shows it: queues their prepared commands,
    /// without notifying the device (the caller's next command does, and runs after them).
    /// Allocates nothing; waits for room in a full ring (at most the queue's response timeout
    /// per command). Returns the number of scanouts that could not be taken off it.
    pub(crate) fn take_off(&mut self, queue: &CommandQueue<H>, id: u32) -> usize {
        let mut missed = 0;
        for shown in self.0.iter_mut().filter(|s| s.resource == id && id != 0) {
            match shown.off.take().map(|call| queue.queue_prepared(call)) {
                Some(Ok(())) => shown.resource = 0,
                _ => missed += 1,
            }
        }
        missed
    }
}
