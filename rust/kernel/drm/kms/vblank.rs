// SPDX-License-Identifier: GPL-2.0 OR MIT

//! Vblank events.
//!
//! C header: [`include/drm/drm_vblank.h`](srctree/include/drm/drm_vblank.h)

use crate::bindings;
use core::{
    marker::PhantomData,
    mem::ManuallyDrop,
    ptr::NonNull, //
};

/// The page flip event of a commit, taken out of its new CRTC state with
/// [`AtomicCommit::take_event`](super::AtomicCommit::take_event).
///
/// The event must reach userspace, or the next commit on the CRTC stalls: it is consumed by
/// [`PendingVblankEvent::arm`] (delivered at the next vblank) or [`PendingVblankEvent::send`]
/// (delivered now). Dropping it sends it.
///
/// # Invariants
///
/// - `event` is a pending vblank event owned by this object: it was removed from its CRTC
///   state, under the device's event lock, and has not been armed or sent.
/// - `crtc` is the valid CRTC the event belongs to, valid for `'a`.
#[must_use = "a vblank event must be armed or sent"]
pub struct PendingVblankEvent<'a> {
    crtc: NonNull<bindings::drm_crtc>,
    event: NonNull<bindings::drm_pending_vblank_event>,
    _commit: PhantomData<&'a bindings::drm_atomic_commit>,
}

impl<'a> PendingVblankEvent<'a> {
    /// Takes the event out of `state`, if it has one.
    ///
    /// # Safety
    ///
    /// - `crtc` must be a valid CRTC and `state` a new state of it in a commit being committed,
    ///   both valid for `'a`.
    pub(super) unsafe fn take(
        crtc: *mut bindings::drm_crtc,
        state: *mut bindings::drm_crtc_state,
    ) -> Option<Self> {
        let crtc = NonNull::new(crtc)?;

        // SAFETY: `crtc` is valid, hence so is its device.
        let lock = unsafe { &raw mut (*(*crtc.as_ptr()).dev).event_lock };

        // SAFETY: `lock` is the device's initialised event lock. `event` is only accessed under
        // it once the commit was set up (`drm_atomic_helper_setup_commit()`).
        let event = unsafe {
            bindings::spin_lock_irq_disable(lock);
            let event = (*state).event;
            (*state).event = core::ptr::null_mut();
            bindings::spin_unlock_irq_enable(lock);
            event
        };

        // INVARIANT: The event was removed from the state under the event lock; `crtc` is valid
        // for `'a` by the safety requirements.
        Some(Self {
            crtc,
            event: NonNull::new(event)?,
            _commit: PhantomData,
        })
    }

    /// Delivers the event at the next vblank of the CRTC, or now if vblanks are off
    /// (`drm_crtc_arm_vblank_event()` with a vblank reference, else
    /// `drm_crtc_send_vblank_event()`), like `drm_crtc_vblank_atomic_flush()`.
    pub fn arm(self) {
        let this = ManuallyDrop::new(self);
        let crtc = this.crtc.as_ptr();

        // SAFETY: `crtc` is valid (type invariant), hence so is its device.
        let lock = unsafe { &raw mut (*(*crtc).dev).event_lock };

        // SAFETY:
        // - Both functions require the event lock to be held; it is.
        // - `drm_crtc_arm_vblank_event()` requires a vblank reference, which it hands over to the
        //   event: the vblank core drops it when it delivers the event.
        // - The event is owned by `this` (type invariant) and handed over to the vblank core; it
        //   is not used afterwards (`this` is not dropped).
        unsafe {
            bindings::spin_lock_irq_disable(lock);
            if bindings::drm_crtc_vblank_get(crtc) == 0 {
                bindings::drm_crtc_arm_vblank_event(crtc, this.event.as_ptr());
            } else {
                bindings::drm_crtc_send_vblank_event(crtc, this.event.as_ptr());
            }
            bindings::spin_unlock_irq_enable(lock);
        }
    }

    /// Delivers the event now, with the current vblank count and time
    /// (`drm_crtc_send_vblank_event()`).
    pub fn send(self) {
        let this = ManuallyDrop::new(self);
        // SAFETY: `this.event` is owned by `this` and not used afterwards.
        unsafe { Self::send_raw(this.crtc, this.event) };
    }

    /// # Safety
    ///
    /// `crtc` must be valid and `event` a pending event of it that the caller owns.
    unsafe fn send_raw(
        crtc: NonNull<bindings::drm_crtc>,
        event: NonNull<bindings::drm_pending_vblank_event>,
    ) {
        let crtc = crtc.as_ptr();

        // SAFETY: `crtc` is valid, hence so is its device.
        let lock = unsafe { &raw mut (*(*crtc).dev).event_lock };

        // SAFETY: The event lock is held, as `drm_crtc_send_vblank_event()` requires; the event
        // is owned by the caller and handed over.
        unsafe {
            bindings::spin_lock_irq_disable(lock);
            bindings::drm_crtc_send_vblank_event(crtc, event.as_ptr());
            bindings::spin_unlock_irq_enable(lock);
        }
    }
}

impl Drop for PendingVblankEvent<'_> {
    fn drop(&mut self) {
        // SAFETY: The event is owned by `self` (type invariant), which is being dropped.
        unsafe { Self::send_raw(self.crtc, self.event) };
    }
}
