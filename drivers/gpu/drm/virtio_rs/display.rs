// SPDX-License-Identifier: GPL-2.0

//! The display pipeline: per scanout a CRTC, a primary and a cursor plane, a virtual encoder and
//! a virtual connector.

use crate::{
    drm::BoundData,
    gem::{
        self,
        Object,
        Queue, //
    },
    gpu::{
        VirtioDrmDevice,
        VirtioGpuDrm, //
    },
    protocol::{
        format as virtio_format,
        BlobLayout,
        Rect,
        ResourceFlush,
        SetScanout,
        SetScanoutBlob,
        TransferToHost2d,
        UpdateCursor, //
    },
    queue::FenceMemory,
    timings::{
        self,
        Timings, //
    },
};
use kernel::{
    dma_fence::Fence,
    drm::{
        self,
        kms::{
            self,
            format,
            AtomicCommit,
            BlendModes,
            ConnectorProbe,
            ConnectorStatus,
            ConnectorType,
            Crtc,
            CrtcState,
            DisplayMode,
            EncoderType,
            Framebuffer,
            KmsBuilder,
            ModeConfigInfo,
            ModeStatus,
            Plane,
            PlaneConfig,
            PlaneState,
            PlaneType, //
        },
    },
    new_mutex, new_spinlock,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{
            Atomic,
            Relaxed, //
        },
        Mutex, SpinLock,
    },
    time::Delta,
};

/// Framebuffer and mode limits, as the C driver's.
const XRES_MIN: u32 = 32;
const YRES_MIN: u32 = 32;
const XRES_DEF: u32 = 1024;
const YRES_DEF: u32 = 768;
const XRES_MAX: u32 = 8192;
const YRES_MAX: u32 = 8192;

impl kms::KmsDriver for VirtioGpuDrm {
    type Crtc = Output;
    type Plane = OutputPlane;
    type Encoder = VirtualEncoder;
    type Connector = OutputConnector;

    const VBLANK: kms::VblankSupport = kms::VblankSupport::Timer;

    fn fb_check(
        dev: &VirtioDrmDevice<drm::Ioctl>,
        _info: &kms::FormatInfo,
        request: &kms::FbCreateRequest,
    ) -> Result {
        match request.pixel_format() {
            format::HOST_XRGB8888 | format::HOST_ARGB8888 => Ok(()),
            other => {
                drm_dbg_fb(dev, other);
                Err(ENOENT)
            }
        }
    }
}

fn drm_dbg_fb(dev: &VirtioDrmDevice<drm::Ioctl>, fourcc: u32) {
    let parent: &kernel::device::Device = dev.as_ref().as_ref();
    dev_dbg!(parent, "framebuffer format {:#x} not supported\n", fourcc);
}

/// The CRTC of a scanout.
#[pin_data]
pub(crate) struct Output {
    scanout: u32,
    /// Set by a modeset commit; the next primary update sets the scanout again.
    needs_modeset: Atomic<bool>,
    /// The last cursor command: moves repeat its resource and hotspot.
    #[pin]
    cursor: SpinLock<UpdateCursor>,
}

#[vtable]
impl kms::DriverCrtc for Output {
    type Driver = VirtioGpuDrm;
    type State = ();

    /// Refuses modes whose timings the vblank timer cannot pace (the C driver accepts them, and
    /// one that overflows the DRM core's frame duration wedges its pipe).
    fn atomic_check(
        crtc: &Crtc<Self>,
        new: &mut CrtcState<Self>,
        _old: &CrtcState<Self>,
        commit: &kms::AtomicCheck<'_, VirtioGpuDrm>,
    ) -> Result {
        if !new.enable() {
            return Ok(());
        }
        timings::check(&Timings::of(new.mode()))
            .map(|_| ())
            .map_err(|e| {
                let parent: &kernel::device::Device = commit.device().as_ref().as_ref();
                dev_dbg!(
                    parent,
                    "scanout {}: mode timings refused: {:?}\n",
                    crtc.scanout,
                    e
                );
                EINVAL
            })
    }

    fn atomic_disable(
        crtc: &Crtc<Self>,
        _new: &CrtcState<Self>,
        _old: &CrtcState<Self>,
        commit: &AtomicCommit<'_, VirtioGpuDrm>,
    ) {
        with_bound(commit.device(), |bound, _| {
            let mut shown = bound.shown.lock();
            let off = Rect::new(0, 0, 0, 0);
            shown.set(
                crtc.scanout,
                0,
                bound.queue.send(&SetScanout::new(crtc.scanout, 0, off)),
            );
        });
    }

    /// As the C driver: until the primary plane's update shows its buffer, the scanout shows
    /// nothing, at the new mode's size.
    fn mode_set_nofb(
        crtc: &Crtc<Self>,
        state: &CrtcState<Self>,
        dev: &VirtioDrmDevice<drm::Ioctl>,
    ) {
        let mode = state.mode();
        let size = Rect::new(0, 0, mode.hdisplay().into(), mode.vdisplay().into());
        with_bound(dev, |bound, _| {
            let mut shown = bound.shown.lock();
            shown.set(
                crtc.scanout,
                0,
                bound.queue.send(&SetScanout::new(crtc.scanout, 0, size)),
            );
        });
    }

    fn atomic_flush(
        crtc: &Crtc<Self>,
        new: &CrtcState<Self>,
        _old: &CrtcState<Self>,
        _commit: &AtomicCommit<'_, VirtioGpuDrm>,
    ) {
        if new.needs_modeset() {
            crtc.needs_modeset.store(true, Relaxed);
        }
    }
}

/// Runs `f` with the data of the bound device (its control queue) while the device is bound;
/// afterwards there is no host to tell anything.
fn with_bound(
    dev: &VirtioDrmDevice<drm::Ioctl>,
    f: impl FnOnce(&BoundData, &VirtioDrmDevice<drm::Registered>),
) {
    if let Some(guard) = dev.registration_guard() {
        guard.registration_data_with(|bound| f(bound, &guard));
    }
}

/// A plane (primary or cursor) of a scanout.
#[pin_data]
pub(crate) struct OutputPlane {}

/// What [`OutputPlane::prepare_fb`] prepares for a plane state that shows a blob.
#[pin_data(PinnedDrop)]
pub(crate) struct PreparedFb {
    /// An imported buffer is pinned while a plane state shows it, and until the host flushed
    /// it (see [`Flush`]).
    pin: Option<gem::ScanoutPin>,
    #[pin]
    flush: Mutex<Flush>,
}

/// The fence of a plane state's RESOURCE_FLUSH.
///
/// The update does not wait for the flush: the commit completes, and its page flip event comes
/// at the next vblank, while the host reads the buffer. The state's cleanup, when a later
/// commit has replaced it, waits for the fence instead (it signalled long before, a frame
/// ago, unless the host is slow) before it unpins the buffer and lets the framebuffer go.
/// The C driver waits in the update, delaying the commit by the host's round trip.
enum Flush {
    /// Not sent yet: the fence's memory, allocated before the commit can no longer fail.
    Unsent(FenceMemory),
    /// Sent: the fence of the state's last flush.
    Sent(ARef<Fence>),
    /// Nothing to wait for.
    None,
}

impl PreparedFb {
    /// Sends this state's flush with `send`, given the fence memory allocated for it unless an
    /// update already used it, and keeps the fence for the state's cleanup.
    fn flush_with(&self, send: impl FnOnce(Option<FenceMemory>) -> Result<ARef<Fence>>) {
        let mut flush = self.flush.lock();
        let memory = match core::mem::replace(&mut *flush, Flush::None) {
            Flush::Unsent(memory) => Some(memory),
            // A second update of the state: its fence comes after the first's.
            Flush::Sent(_) | Flush::None => None,
        };
        if let Ok(fence) = send(memory) {
            *flush = Flush::Sent(fence);
        }
    }
}

#[pinned_drop]
impl PinnedDrop for PreparedFb {
    fn drop(self: Pin<&mut Self>) {
        // Taken out first: the lock is not held while waiting.
        let flush = core::mem::replace(&mut *self.flush.lock(), Flush::None);
        if let Flush::Sent(fence) = flush {
            // A host that does not answer in time gets the buffer unpinned all the same, as
            // with the C driver: it keeps the memory of an import until the exporter's
            // invalidation detaches it, which waits for the answer.
            let _ = Queue::wait_fence(&fence, FLUSH_WAIT);
        }
        // Then `pin` is dropped: the buffer may move.
    }
}

#[vtable]
impl kms::DriverPlane for OutputPlane {
    type Driver = VirtioGpuDrm;
    type State = ();
    type FbPrepared = Option<Pin<KBox<PreparedFb>>>;

    fn atomic_check(
        plane: &Plane<Self>,
        new: &mut PlaneState<Self>,
        old: &PlaneState<Self>,
        commit: &kms::AtomicCheck<'_, VirtioGpuDrm>,
    ) -> Result {
        // A new buffer is uploaded whole.
        if new.fb().map(|f| f.as_raw()) != old.fb().map(|f| f.as_raw()) {
            new.set_ignore_damage_clips(true);
        }
        let Some(crtc) = new.crtc() else {
            return Ok(());
        };
        let crtc_state = commit.crtc_state(crtc)?;
        let is_cursor = plane.plane_type() == PlaneType::Cursor;
        if is_cursor {
            check_cursor_image(commit.device(), new)?;
        }
        new.check_plane_state(crtc_state, kms::Scaling::None, is_cursor, true)
    }

    /// For a blob, allocates the fence of its flush. Pins an imported buffer (attaching it
    /// again if the exporter moved it), and prepares what takes it off its scanout should the
    /// exporter revoke it.
    fn prepare_fb(
        plane: &Plane<Self>,
        new: &PlaneState<Self>,
        fb: &Framebuffer<VirtioGpuDrm>,
        dev: &VirtioDrmDevice<drm::Ioctl>,
    ) -> Result<Self::FbPrepared> {
        let Ok(obj) = fb.gem_object(0) else {
            return Ok(None);
        };
        // Cursor images are not flushed.
        let flushed = plane.plane_type() != PlaneType::Cursor;
        if !obj.blob() || (!flushed && obj.import().is_none()) {
            return Ok(None);
        }
        // Once unbound, updates send nothing: only an import needs the device to be shown.
        let Some(guard) = dev.registration_guard() else {
            return if obj.import().is_some() {
                Err(ENODEV)
            } else {
                Ok(None)
            };
        };
        let flush = guard.registration_data_with(|bound| -> Result<_> {
            if let (Some(crtc), Some(_)) = (new.crtc(), obj.import()) {
                bound.shown.prepare_off(&bound.queue, crtc.scanout)?;
            }
            Ok(match flushed {
                true => Flush::Unsent(bound.queue.alloc_fence()?),
                false => Flush::None,
            })
        })?;
        let pin = gem::pin_for_scanout(obj, &guard)?;
        let prepared = KBox::pin_init(
            pin_init!(PreparedFb {
                pin,
                flush <- new_mutex!(flush),
            }),
            GFP_KERNEL,
        )?;
        Ok(Some(prepared))
    }

    fn atomic_update(
        plane: &Plane<Self>,
        new: &PlaneState<Self>,
        old: &PlaneState<Self>,
        commit: &AtomicCommit<'_, VirtioGpuDrm>,
    ) {
        let Some(output) = old.crtc().or(new.crtc()) else {
            return;
        };
        with_bound(commit.device(), |bound, dev| match plane.plane_type() {
            PlaneType::Cursor => update_cursor(&bound.queue, dev, output, new, old),
            _ => update_primary(bound, dev, output, new, old, commit),
        });
    }
}

/// The largest cursor the device takes (`struct virtio_gpu_update_cursor` has no size: the
/// host reads a 64x64 image).
const CURSOR_SIZE: u32 = 64;

/// Refuses cursor images the device cannot show whole, unlike the C driver, which accepts them
/// and lets the host crop. Refuses imported ones too: the host reads a cursor image when the
/// cursor queue names it, and that queue is not ordered with the control queue, so the image
/// could not be taken away from the host before its exporter moves it.
fn check_cursor_image(
    dev: &VirtioDrmDevice<drm::Ioctl>,
    state: &PlaneState<OutputPlane>,
) -> Result {
    let Some(fb) = state.fb() else {
        return Ok(());
    };
    if fb.gem_object(0).is_ok_and(|obj| obj.import().is_some()) {
        let parent: &kernel::device::Device = dev.as_ref().as_ref();
        dev_dbg!(parent, "imported cursor images are not supported\n");
        return Err(EINVAL);
    }
    if fb.width() > CURSOR_SIZE || fb.height() > CURSOR_SIZE {
        let parent: &kernel::device::Device = dev.as_ref().as_ref();
        dev_dbg!(
            parent,
            "cursor {}x{} is larger than {}x{}\n",
            fb.width(),
            fb.height(),
            CURSOR_SIZE,
            CURSOR_SIZE
        );
        return Err(EINVAL);
    }
    Ok(())
}

fn fb_object<'a>(state: &'a PlaneState<OutputPlane>) -> Option<&'a Object> {
    state.fb().and_then(|fb| fb.gem_object(0).ok())
}

/// The source rectangle of `state` in whole pixels.
fn src_pixels(state: &PlaneState<OutputPlane>) -> Rect {
    let (x, y, w, h) = state.src_rect();
    Rect::new(x >> 16, y >> 16, w >> 16, h >> 16)
}

fn update_primary(
    bound: &BoundData,
    dev: &VirtioDrmDevice<drm::Registered>,
    output: &Crtc<Output>,
    new: &PlaneState<OutputPlane>,
    old: &PlaneState<OutputPlane>,
    commit: &AtomicCommit<'_, VirtioGpuDrm>,
) {
    let queue = &bound.queue;
    // Consume the modeset flag first, whatever this update does: a later update must not see
    // a stale one.
    let modeset = output.needs_modeset.xchg(false, Relaxed);
    // A plane with a CRTC always brings that CRTC into the commit.
    let active = commit.new_crtc_state(output).is_some_and(|s| s.active());
    let (Some(fb), true) = (new.fb(), active) else {
        let mut shown = bound.shown.lock();
        let queued = queue.send(&SetScanout::new(output.scanout, 0, src_pixels(new)));
        shown.set(output.scanout, 0, queued);
        return;
    };
    let Some(damage) = new.damage_merged(old) else {
        return;
    };
    let Ok(obj) = fb.gem_object(0) else {
        return;
    };
    let damage = (damage.x1, damage.y1, damage.width(), damage.height());
    let Some((r, offset)) = transfer_region(damage, fb.pitch(0), fb.offset(0)) else {
        return;
    };
    let id = obj.resource_id();

    if obj.dumb() {
        gem::sync_for_transfer(obj, dev);
        // The commands of an update go to the device together, with the flush below.
        let _ = queue.queue(&TransferToHost2d::new(id, r, offset));
    }

    // Scanout changes and flushes are queued under the lock of what the scanouts show, so
    // that an exporter's invalidation either comes first (then the buffer is not shown) or
    // takes it off the scanout after them.
    // An imported buffer is shown only if it can be taken off again without allocating;
    // prepare_fb prepared that, unless this update is the second of its state. Allocated here,
    // outside the lock, which the exporter's invalidation takes.
    let import = obj.import().is_some();
    let mut shown = bound.shown.lock();
    if import && !shown.has_off(output.scanout) {
        drop(shown);
        if let Err(e) = bound.shown.prepare_off(queue, output.scanout) {
            dev_dbg!(
                queue.device(),
                "scanout {}: no command to take resource {} off again: {:?}\n",
                output.scanout,
                id,
                e
            );
        }
        shown = bound.shown.lock();
    }
    if !obj.attached() || (import && !shown.has_off(output.scanout)) {
        // Moved by its exporter since prepare_fb attached it (or no command could be prepared
        // to take it off again): nothing to show until a commit attaches it again.
        dev_dbg!(
            queue.device(),
            "scanout {}: imported resource {} is not attached, showing nothing\n",
            output.scanout,
            id
        );
        let queued = queue.send(&SetScanout::new(output.scanout, 0, Rect::new(0, 0, 0, 0)));
        shown.set(output.scanout, 0, queued);
        return;
    }
    // The scanout may show something else than the state says: a buffer the exporter moved
    // was taken off it, and once attached again it must be named again (the host does not
    // update its scanouts on attach).
    let changed = modeset
        || shown.resource(output.scanout) != id
        || old.fb().map(|f| f.as_raw()) != Some(fb.as_raw())
        || new.src_rect() != old.src_rect();
    if changed {
        let src = src_pixels(new);
        if obj.blob() {
            let layout = BlobLayout {
                width: fb.width(),
                height: fb.height(),
                format: virtio_format::from_drm(fb.format().format()).unwrap_or(0),
                strides: [fb.pitch(0), fb.pitch(1), fb.pitch(2), fb.pitch(3)],
                offsets: [fb.offset(0), fb.offset(1), fb.offset(2), fb.offset(3)],
            };
            let queued = queue.queue(&SetScanoutBlob::new(output.scanout, id, src, &layout));
            shown.set(output.scanout, id, queued);
        } else {
            let queued = queue.queue(&SetScanout::new(output.scanout, id, src));
            shown.set(output.scanout, id, queued);
        }
    }
    // A blob's flush is fenced; the state's cleanup waits for the fence before it lets the
    // buffer go (see `Flush`).
    if obj.blob() {
        let flush = ResourceFlush::new(id, r);
        let send = |memory: Option<FenceMemory>| match memory {
            Some(memory) => queue.send_with_fence(&flush, memory),
            // A second update of the same state (not done by the atomic helpers).
            None => queue.send_fenced(&flush),
        };
        match new.prepared().and_then(|p| p.as_ref()) {
            Some(prepared) => prepared.flush_with(send),
            // No state to keep the buffer for: wait here, outside the lock.
            None => {
                let fence = send(None);
                drop(shown);
                if let Ok(fence) = fence {
                    let _ = Queue::wait_fence(&fence, FLUSH_WAIT);
                }
            }
        }
    } else {
        let _ = queue.send(&ResourceFlush::new(id, r));
    }
}

/// Where the damage `(x, y, width, height)` of a dumb buffer is: its rectangle, and the byte
/// offset of its first pixel for TRANSFER_TO_HOST_2D (4 bytes per pixel, lines `pitch` bytes
/// apart, the image `fb_offset` bytes in). Negative values, from a clipped damage, count as zero.
/// `None` if the offset does not fit in 64 bits.
fn transfer_region(
    (x, y, width, height): (i32, i32, i32, i32),
    pitch: u32,
    fb_offset: u32,
) -> Option<(Rect, u64)> {
    let [x, y, width, height] = [x, y, width, height].map(|v| u32::try_from(v).unwrap_or(0));
    let offset = u64::from(y)
        .checked_mul(u64::from(pitch))?
        .checked_add(u64::from(x).checked_mul(4)?)?
        .checked_add(u64::from(fb_offset))?;
    Some((Rect::new(x, y, width, height), offset))
}

/// How long a cursor update waits for its image to reach the host (the C driver waits without
/// limit; a host that never answers must not wedge the cursor).
const CURSOR_WAIT: Delta = Delta::from_secs(1);

/// How long the cleanup of a plane state waits for the host to have flushed its blob.
const FLUSH_WAIT: Delta = Delta::from_millis(50);

fn update_cursor(
    queue: &Queue,
    dev: &VirtioDrmDevice<drm::Registered>,
    output: &Crtc<Output>,
    new: &PlaneState<OutputPlane>,
    old: &PlaneState<OutputPlane>,
) {
    let pos = new.crtc_rect();
    let pos = (pos.x1, pos.y1);
    if new.fb().map(|f| f.as_raw()) == old.fb().map(|f| f.as_raw()) {
        let moved = {
            let mut last = output.cursor.lock();
            *last = last.moved_to(pos);
            *last
        };
        let _ = queue.cursor(&moved);
        return;
    }
    let (id, hotspot) = match fb_object(new) {
        Some(obj) => {
            if obj.dumb() {
                gem::sync_for_transfer(obj, dev);
                let dst = new.crtc_rect();
                // The whole image, from the start of the buffer.
                let image = transfer_region((0, 0, dst.width(), dst.height()), 0, 0);
                // The cursor queue does not wait for the control queue: the image must be
                // on the host before the cursor command names it.
                if let Some(Ok(fence)) = image.map(|(r, offset)| {
                    queue.send_fenced(&TransferToHost2d::new(obj.resource_id(), r, offset))
                }) {
                    let _ = Queue::wait_fence(&fence, CURSOR_WAIT);
                }
            }
            (obj.resource_id(), new.hotspot())
        }
        None => (0, (0, 0)),
    };
    let update = UpdateCursor::update(output.scanout, pos, id, hotspot);
    *output.cursor.lock() = update;
    let _ = queue.cursor(&update);
}

/// The virtual encoder of a scanout.
#[pin_data]
pub(crate) struct VirtualEncoder {}

impl kms::DriverEncoder for VirtualEncoder {
    type Driver = VirtioGpuDrm;
}

/// The virtual connector of a scanout.
#[pin_data]
pub(crate) struct OutputConnector {
    scanout: u32,
}

#[vtable]
impl kms::DriverConnector for OutputConnector {
    type Driver = VirtioGpuDrm;
    type State = ();

    fn detect(connector: &kms::Connector<Self>, _force: bool) -> ConnectorStatus {
        let scanouts = connector.drm_dev().scanouts.lock();
        match scanouts.get(connector.scanout as usize) {
            Some(info) if info.enabled => ConnectorStatus::Connected,
            _ => ConnectorStatus::Disconnected,
        }
    }

    fn get_modes(connector: &kms::Connector<Self>, probe: &mut ConnectorProbe<'_, Self>) -> Result {
        let scanouts = connector.drm_dev().scanouts.lock();
        let info = scanouts.get(connector.scanout as usize).ok_or(EINVAL)?;

        // Without the EDID feature the connector has no EDID property to update.
        if connector.drm_dev().has_edid {
            probe.update_edid(info.edid.as_ref())?;
        }
        if probe.add_edid_modes() > 0 {
            return Ok(());
        }
        probe.add_modes_noedid(XRES_MAX, YRES_MAX);
        if info.width == 0 || info.height == 0 {
            probe.set_preferred_mode(XRES_DEF, YRES_DEF);
        } else {
            probe.add_cvt_mode(info.width, info.height, 60, true)?;
        }
        Ok(())
    }

    fn mode_valid(connector: &kms::Connector<Self>, mode: &DisplayMode) -> ModeStatus {
        let scanouts = connector.drm_dev().scanouts.lock();
        let Some(info) = scanouts.get(connector.scanout as usize) else {
            return ModeStatus::BAD;
        };
        preferred_mode_valid(
            mode.is_preferred(),
            (u32::from(mode.hdisplay()), u32::from(mode.vdisplay())),
            (info.width, info.height),
        )
    }
}

/// The C driver's rule: a preferred mode must be 1024x768 or at most 16 pixels smaller than the
/// display in each direction; other modes are fine.
fn preferred_mode_valid(preferred: bool, (w, h): (u32, u32), (dw, dh): (u32, u32)) -> ModeStatus {
    if !preferred || (w, h) == (XRES_DEF, YRES_DEF) {
        return ModeStatus::OK;
    }
    if (dw.saturating_sub(16)..=dw).contains(&w) && (dh.saturating_sub(16)..=dh).contains(&h) {
        return ModeStatus::OK;
    }
    ModeStatus::BAD
}

/// Builds the display pipeline of `drm` before registration.
pub(crate) fn init(drm: &drm::UnregisteredDevice<VirtioGpuDrm>, edid: bool) -> Result {
    let kms = KmsBuilder::new(
        drm,
        &ModeConfigInfo {
            min_size: (XRES_MIN, YRES_MIN),
            max_size: (XRES_MAX, YRES_MAX),
            cursor_size: Some((CURSOR_SIZE, CURSOR_SIZE)),
            preferred_depth: 0,
            prefer_shadow: false,
            prefer_host_byte_order: true,
            fb_modifiers_not_supported: true,
        },
    )?;

    for scanout in 0..drm.num_scanouts {
        let mask = 1 << scanout;
        let primary = kms.add_plane(
            &PlaneConfig {
                plane_type: PlaneType::Primary,
                possible_crtcs: mask,
                formats: &[format::HOST_XRGB8888],
                modifiers: None,
                damage_clips: true,
                blend_modes: None,
                name: None,
            },
            try_pin_init!(OutputPlane {}),
        )?;
        let cursor = kms.add_plane(
            &PlaneConfig {
                plane_type: PlaneType::Cursor,
                possible_crtcs: mask,
                formats: &[format::HOST_ARGB8888],
                modifiers: None,
                damage_clips: false,
                blend_modes: Some(BlendModes::PREMULTI),
                name: None,
            },
            try_pin_init!(OutputPlane {}),
        )?;
        let hidden_cursor = UpdateCursor::update(scanout, (0, 0), 0, (0, 0));
        kms.add_crtc(
            primary,
            Some(cursor),
            None,
            try_pin_init!(Output {
                scanout,
                needs_modeset: Atomic::new(false),
                cursor <- new_spinlock!(hidden_cursor),
            }),
        )?;
        // The connector first, as the C driver: the object ids come out the same.
        let connector = kms.add_connector(
            ConnectorType::Virtual,
            edid,
            try_pin_init!(OutputConnector { scanout }),
        )?;
        let encoder =
            kms.add_encoder(EncoderType::Virtual, mask, try_pin_init!(VirtualEncoder {}))?;
        kms.attach_encoder(connector, encoder)?;
    }
    kms.finish()
}

#[kunit_tests(virtio_rs_display)]
mod tests {
    use super::*;

    #[test]
    fn mode_valid_rules() {
        // Not preferred: always fine.
        assert!(preferred_mode_valid(false, (640, 480), (1920, 1080)) == ModeStatus::OK);
        // Preferred 1024x768: always fine.
        assert!(preferred_mode_valid(true, (1024, 768), (1920, 1080)) == ModeStatus::OK);
        // Preferred within 16 pixels below the display size.
        assert!(preferred_mode_valid(true, (1912, 1080), (1920, 1080)) == ModeStatus::OK);
        assert!(preferred_mode_valid(true, (1904, 1064), (1920, 1080)) == ModeStatus::OK);
        assert!(preferred_mode_valid(true, (1903, 1080), (1920, 1080)) == ModeStatus::BAD);
        assert!(preferred_mode_valid(true, (1921, 1080), (1920, 1080)) == ModeStatus::BAD);
        // No display size: only 1024x768 may be preferred.
        assert!(preferred_mode_valid(true, (16, 16), (0, 0)) == ModeStatus::BAD);
        assert!(preferred_mode_valid(true, (0, 0), (10, 10)) == ModeStatus::OK);
        assert!(preferred_mode_valid(true, (800, 600), (0, 0)) == ModeStatus::BAD);
    }

    #[test]
    fn transfer_regions() {
        let region = |damage, pitch, offset| {
            transfer_region(damage, pitch, offset).map(|(r, offset)| (r.get(), offset))
        };
        assert_eq!(
            region((0, 0, 1024, 768), 4096, 0),
            Some(((0, 0, 1024, 768), 0))
        );
        assert_eq!(
            region((10, 20, 5, 6), 4096, 64),
            Some(((10, 20, 5, 6), 20 * 4096 + 10 * 4 + 64))
        );
        // A clipped damage: negative values count as zero.
        assert_eq!(region((-5, -1, -3, 2), 4096, 8), Some(((0, 0, 0, 2), 8)));
        // The largest values user space can pass do not wrap.
        let max = i32::MAX as u64;
        assert_eq!(
            region((i32::MAX, i32::MAX, 1, 1), u32::MAX, u32::MAX),
            Some((
                (i32::MAX as u32, i32::MAX as u32, 1, 1),
                max * u64::from(u32::MAX) + max * 4 + u64::from(u32::MAX)
            ))
        );
    }
}
