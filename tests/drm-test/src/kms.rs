// SPDX-License-Identifier: GPL-2.0

//! The device, its display pipeline, framebuffers, atomic requests and events.

use crate::{describe, Context, Error, Res};
use drm::buffer::{self, DrmFourcc, DrmModifier, PlanarBuffer};
use drm::control::{
    atomic::AtomicModeReq, connector, crtc, framebuffer, plane, property, AtomicCommitFlags,
    Device as ControlDevice, Event, FbCmd2Flags, Mode, ModeTypeFlags, RawResourceHandle,
    ResourceHandle, ResourceHandles,
};
use drm::{ClientCapability, Device};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

/// An open DRM device node.
pub struct Card(File);

impl AsFd for Card {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl Device for Card {}
impl ControlDevice for Card {}

impl Card {
    /// Opens `path` and enables universal planes, atomic modesetting and the cursor plane of
    /// virtualized drivers (which the DRM core hides from atomic clients that do not promise to
    /// set its hotspot).
    pub fn open(path: &str) -> Res<Card> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .ctx(format!("opening {path}"))?;
        let card = Card(file);
        for (cap, name) in [
            (ClientCapability::UniversalPlanes, "UNIVERSAL_PLANES"),
            (ClientCapability::Atomic, "ATOMIC"),
            (ClientCapability::CursorPlaneHotspot, "CURSOR_PLANE_HOTSPOT"),
        ] {
            card.set_client_capability(cap, true)
                .ctx(format!("DRM_CLIENT_CAP_{name}"))?;
        }
        Ok(card)
    }

    /// The driver's name (DRM_IOCTL_VERSION).
    pub fn driver_name(&self) -> Res<String> {
        let v = self.get_driver().ctx("DRM_IOCTL_VERSION")?;
        Ok(v.name().to_string_lossy().into_owned())
    }
}

/// The property ids of one KMS object, by name.
pub struct Props {
    what: String,
    ids: HashMap<String, property::Handle>,
}

impl Props {
    pub fn load<H: ResourceHandle>(card: &Card, handle: H, what: String) -> Res<Props> {
        let set = card
            .get_properties(handle)
            .ctx(format!("properties of {what}"))?;
        let mut ids = HashMap::new();
        for (&id, _) in set.iter() {
            let info = card
                .get_property(id)
                .ctx(format!("property {} of {what}", u32::from(id)))?;
            ids.insert(info.name().to_string_lossy().into_owned(), id);
        }
        Ok(Props { what, ids })
    }

    pub fn has(&self, name: &str) -> bool {
        self.ids.contains_key(name)
    }

    pub fn id(&self, name: &str) -> Res<property::Handle> {
        self.ids
            .get(name)
            .copied()
            .ok_or_else(|| Error(format!("{} has no property {name}", self.what)))
    }

    /// Adds `name = value` for `obj` to `req`.
    pub fn set(
        &self,
        req: &mut AtomicModeReq,
        obj: impl Into<RawResourceHandle>,
        name: &str,
        value: u64,
    ) -> Res<()> {
        req.add_raw_property(obj.into(), self.id(name)?, value);
        Ok(())
    }
}

/// A plane with its properties.
pub struct Plane {
    pub handle: plane::Handle,
    pub props: Props,
}

/// Where a plane shows what: source rectangle in the framebuffer and destination on the CRTC,
/// both in whole pixels.
#[derive(Clone, Copy)]
pub struct Placement {
    pub src: (u32, u32, u32, u32),
    pub dst: (i32, i32, u32, u32),
}

impl Placement {
    /// The whole of a w x h framebuffer at (x, y).
    pub fn at(x: i32, y: i32, w: u32, h: u32) -> Placement {
        Placement {
            src: (0, 0, w, h),
            dst: (x, y, w, h),
        }
    }
}

impl Plane {
    /// Adds the plane's full state to `req`: on `crtc` showing `fb` as `p` says.
    pub fn show(
        &self,
        req: &mut AtomicModeReq,
        crtc: crtc::Handle,
        fb: framebuffer::Handle,
        p: Placement,
    ) -> Res<()> {
        let h = self.handle;
        let pr = &self.props;
        pr.set(req, h, "CRTC_ID", u32::from(crtc).into())?;
        pr.set(req, h, "FB_ID", u32::from(fb).into())?;
        pr.set(req, h, "SRC_X", u64::from(p.src.0) << 16)?;
        pr.set(req, h, "SRC_Y", u64::from(p.src.1) << 16)?;
        pr.set(req, h, "SRC_W", u64::from(p.src.2) << 16)?;
        pr.set(req, h, "SRC_H", u64::from(p.src.3) << 16)?;
        // Signed properties travel as the 64-bit two's complement.
        pr.set(req, h, "CRTC_X", i64::from(p.dst.0) as u64)?;
        pr.set(req, h, "CRTC_Y", i64::from(p.dst.1) as u64)?;
        pr.set(req, h, "CRTC_W", p.dst.2.into())?;
        pr.set(req, h, "CRTC_H", p.dst.3.into())?;
        Ok(())
    }

    /// Adds "off" (no CRTC, no framebuffer) to `req`.
    pub fn hide(&self, req: &mut AtomicModeReq) -> Res<()> {
        self.props.set(req, self.handle, "CRTC_ID", 0)?;
        self.props.set(req, self.handle, "FB_ID", 0)
    }
}

/// A display pipeline: a connector, the CRTC that drives it in a mode, and the CRTC's planes.
pub struct Pipe {
    pub conn: connector::Handle,
    pub conn_props: Props,
    pub crtc: crtc::Handle,
    pub crtc_props: Props,
    pub mode: Mode,
    pub primary: Plane,
    pub cursor: Option<Plane>,
    /// Every CRTC of the device.
    pub crtcs: Vec<crtc::Handle>,
    /// Every plane of the device, with its DRM plane type (0 overlay, 1 primary, 2 cursor) and
    /// possible CRTCs.
    pub planes: Vec<(plane::Handle, u64, Vec<crtc::Handle>)>,
}

pub const PLANE_TYPE_PRIMARY: u64 = 1;
pub const PLANE_TYPE_CURSOR: u64 = 2;

fn plane_type(card: &Card, p: plane::Handle) -> Res<u64> {
    let what = format!("plane {}", u32::from(p));
    let set = card
        .get_properties(p)
        .ctx(format!("properties of {what}"))?;
    for (&id, &value) in set.iter() {
        let info = card.get_property(id).ctx(format!("property of {what}"))?;
        if info.name().to_bytes() == b"type" {
            return Ok(value);
        }
    }
    Err(format!("{what} has no type property").into())
}

/// The first connected connector with modes.
fn connected(card: &Card, res: &ResourceHandles) -> Res<connector::Info> {
    for &c in res.connectors() {
        let info = card
            .get_connector(c, true)
            .ctx(format!("connector {}", u32::from(c)))?;
        if info.state() == connector::State::Connected && !info.modes().is_empty() {
            return Ok(info);
        }
    }
    Err("no connected connector with modes".into())
}

/// The connector's preferred mode, else its first.
fn preferred_mode(conn: &connector::Info) -> Res<Mode> {
    conn.modes()
        .iter()
        .find(|m| m.mode_type().contains(ModeTypeFlags::PREFERRED))
        .or(conn.modes().first())
        .copied()
        .ok_or("connector without modes".into())
}

impl Pipe {
    /// The pipeline of the first connected connector, in its preferred mode.
    pub fn find(card: &Card) -> Res<Pipe> {
        let res = card.resource_handles().ctx("DRM_IOCTL_MODE_GETRESOURCES")?;
        let conn = connected(card, &res)?;
        let mode = preferred_mode(&conn)?;
        Pipe::build(card, &res, &conn, mode, &[])
    }

    /// One pipeline per connector, each on its own CRTC, the first connected connector's first
    /// (as [`Pipe::find`]): the others, connected or not, in that connector's preferred mode. The
    /// host shows a scanout it was given whether or not it reports the head enabled, which is
    /// how QEMU without a display reports every head but the first.
    pub fn every(card: &Card) -> Res<Vec<Pipe>> {
        let res = card.resource_handles().ctx("DRM_IOCTL_MODE_GETRESOURCES")?;
        let first = connected(card, &res)?;
        let mode = preferred_mode(&first)?;
        let mut pipes = vec![Pipe::build(card, &res, &first, mode, &[])?];
        for &c in res.connectors() {
            if c == first.handle() {
                continue;
            }
            let info = card
                .get_connector(c, false)
                .ctx(format!("connector {}", u32::from(c)))?;
            let taken: Vec<crtc::Handle> = pipes.iter().map(|p| p.crtc).collect();
            pipes.push(Pipe::build(card, &res, &info, mode, &taken)?);
        }
        Ok(pipes)
    }

    /// The pipeline of `conn` in `mode` on the first CRTC its encoders reach that is not in
    /// `taken`, with that CRTC's first primary and cursor planes.
    fn build(
        card: &Card,
        res: &ResourceHandles,
        conn: &connector::Info,
        mode: Mode,
        taken: &[crtc::Handle],
    ) -> Res<Pipe> {
        let mut crtc = None;
        for &e in conn.encoders() {
            let enc = card
                .get_encoder(e)
                .ctx(format!("encoder {}", u32::from(e)))?;
            if let Some(&c) = res
                .filter_crtcs(enc.possible_crtcs())
                .iter()
                .find(|c| !taken.contains(c))
            {
                crtc = Some(c);
                break;
            }
        }
        let crtc = crtc.ok_or(format!(
            "no free CRTC for the encoders of connector {}",
            u32::from(conn.handle())
        ))?;

        let mut planes = Vec::new();
        let mut primary = None;
        let mut cursor = None;
        for p in card
            .plane_handles()
            .ctx("DRM_IOCTL_MODE_GETPLANERESOURCES")?
        {
            let info = card.get_plane(p).ctx(format!("plane {}", u32::from(p)))?;
            let possible = res.filter_crtcs(info.possible_crtcs());
            let kind = plane_type(card, p)?;
            if possible.contains(&crtc) {
                if kind == PLANE_TYPE_PRIMARY && primary.is_none() {
                    primary = Some(p);
                } else if kind == PLANE_TYPE_CURSOR && cursor.is_none() {
                    cursor = Some(p);
                }
            }
            planes.push((p, kind, possible));
        }
        let primary = primary.ok_or("no primary plane for the CRTC")?;
        let plane = |p: plane::Handle, what: &str| -> Res<Plane> {
            Ok(Plane {
                handle: p,
                props: Props::load(card, p, format!("{what} plane {}", u32::from(p)))?,
            })
        };
        Ok(Pipe {
            conn: conn.handle(),
            conn_props: Props::load(
                card,
                conn.handle(),
                format!("connector {}", u32::from(conn.handle())),
            )?,
            crtc,
            crtc_props: Props::load(card, crtc, format!("CRTC {}", u32::from(crtc)))?,
            mode,
            primary: plane(primary, "primary")?,
            cursor: cursor.map(|c| plane(c, "cursor")).transpose()?,
            crtcs: res.crtcs().to_vec(),
            planes,
        })
    }

    /// The mode's size.
    pub fn size(&self) -> (u32, u32) {
        let (w, h) = self.mode.size();
        (w.into(), h.into())
    }

    pub fn describe(&self) -> String {
        let (w, h) = self.size();
        format!(
            "connector {}, CRTC {} (of {}), primary plane {}, cursor plane {}, mode {}x{}@{}",
            u32::from(self.conn),
            u32::from(self.crtc),
            self.crtcs.len(),
            u32::from(self.primary.handle),
            self.cursor
                .as_ref()
                .map_or("none".to_string(), |c| u32::from(c.handle).to_string()),
            w,
            h,
            self.mode.vrefresh()
        )
    }

    /// A full modeset request: the connector on the CRTC, the CRTC active with the mode (blob
    /// `mode_blob`), the primary plane showing `fb` as `p` says.
    pub fn modeset(
        &self,
        mode_blob: u64,
        fb: framebuffer::Handle,
        p: Placement,
    ) -> Res<AtomicModeReq> {
        let mut req = AtomicModeReq::new();
        self.add_modeset(&mut req, mode_blob, fb, p)?;
        Ok(req)
    }

    /// Adds [`Pipe::modeset`]'s properties to `req`, which may light other pipelines too.
    pub fn add_modeset(
        &self,
        req: &mut AtomicModeReq,
        mode_blob: u64,
        fb: framebuffer::Handle,
        p: Placement,
    ) -> Res<()> {
        self.conn_props
            .set(req, self.conn, "CRTC_ID", u32::from(self.crtc).into())?;
        self.crtc_props.set(req, self.crtc, "MODE_ID", mode_blob)?;
        self.crtc_props.set(req, self.crtc, "ACTIVE", 1)?;
        self.primary.show(req, self.crtc, fb, p)
    }

    /// The primary plane covering the whole mode.
    pub fn full_screen(&self) -> Placement {
        let (w, h) = self.size();
        Placement::at(0, 0, w, h)
    }
}

/// A framebuffer layout for DRM_IOCTL_MODE_ADDFB2: one plane.
pub struct Layout {
    pub size: (u32, u32),
    pub format: DrmFourcc,
    pub handle: buffer::Handle,
    pub pitch: u32,
    pub offset: u32,
}

impl PlanarBuffer for Layout {
    fn size(&self) -> (u32, u32) {
        self.size
    }
    fn format(&self) -> DrmFourcc {
        self.format
    }
    fn modifier(&self) -> Option<DrmModifier> {
        None
    }
    fn pitches(&self) -> [u32; 4] {
        [self.pitch, 0, 0, 0]
    }
    fn handles(&self) -> [Option<buffer::Handle>; 4] {
        [Some(self.handle), None, None, None]
    }
    fn offsets(&self) -> [u32; 4] {
        [self.offset, 0, 0, 0]
    }
}

/// A framebuffer on a dumb buffer. Both live as long as the file (closing it frees them).
pub struct Fb {
    pub fb: framebuffer::Handle,
}

/// Creates a w x h dumb buffer of 32-bit `format` pixels, fills it with `pixel(x, y)` and adds a
/// framebuffer on it.
pub fn make_fb(
    card: &Card,
    (w, h): (u32, u32),
    format: DrmFourcc,
    pixel: impl Fn(u32, u32) -> u32,
) -> Res<Fb> {
    let mut dumb = card
        .create_dumb_buffer((w, h), format, 32)
        .ctx(format!("DRM_IOCTL_MODE_CREATE_DUMB {w}x{h}"))?;
    let pitch = buffer::Buffer::pitch(&dumb) as usize;
    {
        let mut map = card
            .map_dumb_buffer(&mut dumb)
            .ctx(format!("mapping the {w}x{h} dumb buffer"))?;
        if map.len() < pitch * h as usize {
            return Err(
                format!("dumb buffer {w}x{h}: {} bytes for pitch {pitch}", map.len()).into(),
            );
        }
        for (y, row) in map.chunks_exact_mut(pitch).take(h as usize).enumerate() {
            for (x, px) in row.chunks_exact_mut(4).take(w as usize).enumerate() {
                px.copy_from_slice(&pixel(x as u32, y as u32).to_le_bytes());
            }
        }
    }
    let layout = Layout {
        size: (w, h),
        format,
        handle: buffer::Buffer::handle(&dumb),
        pitch: pitch as u32,
        offset: 0,
    };
    let fb = card
        .add_planar_framebuffer(&layout, FbCmd2Flags::empty())
        .ctx(format!("DRM_IOCTL_MODE_ADDFB2 {w}x{h} {format:?}"))?;
    Ok(Fb { fb })
}

/// Commits `req` with `flags`, saying what it was for if it fails.
pub fn commit(card: &Card, flags: AtomicCommitFlags, req: AtomicModeReq, what: &str) -> Res<()> {
    card.atomic_commit(flags, req)
        .ctx(format!("atomic commit ({what})"))
}

/// A page flip event: the CRTC's vblank sequence number and its time stamp.
pub struct Flip {
    pub sequence: u32,
    pub time: Duration,
}

/// Waits up to `timeout` for the page flip event of `crtc`.
pub fn wait_flip(card: &Card, crtc: crtc::Handle, timeout: Duration) -> Res<Flip> {
    let end = Instant::now() + timeout;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        let mut pfd = libc::pollfd {
            fd: card.as_fd().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("poll on the DRM fd: {}", describe(&e)).into());
        }
        if n == 0 {
            return Err(format!(
                "no page flip event for CRTC {} within {} ms",
                u32::from(crtc),
                timeout.as_millis()
            )
            .into());
        }
        for event in card.receive_events().ctx("reading DRM events")? {
            match event {
                Event::PageFlip(e) if e.crtc == crtc => {
                    return Ok(Flip {
                        sequence: e.frame,
                        time: e.duration,
                    })
                }
                Event::PageFlip(e) => {
                    return Err(format!(
                        "page flip event for CRTC {}, expected CRTC {}",
                        u32::from(e.crtc),
                        u32::from(crtc)
                    )
                    .into())
                }
                Event::Vblank(_) => {}
                Event::Unknown(raw) => {
                    return Err(format!("unexpected DRM event of {} bytes", raw.len()).into())
                }
            }
        }
    }
}

/// Flips the primary plane of `pipe` to `fb` with a nonblocking commit that asks for a page flip
/// event, and waits up to `timeout` for the event.
pub fn flip(card: &Card, pipe: &Pipe, fb: framebuffer::Handle, timeout: Duration) -> Res<Flip> {
    let mut req = AtomicModeReq::new();
    pipe.primary
        .props
        .set(&mut req, pipe.primary.handle, "FB_ID", u32::from(fb).into())?;
    commit(
        card,
        AtomicCommitFlags::NONBLOCK | AtomicCommitFlags::PAGE_FLIP_EVENT,
        req,
        "page flip",
    )?;
    wait_flip(card, pipe.crtc, timeout)
}

/// A framebuffer on an imported buffer, and the buffer's GEM handle. Both live as long as the
/// file unless removed with [`ImportedFb::remove`].
pub struct ImportedFb {
    pub fb: framebuffer::Handle,
    pub handle: buffer::Handle,
}

impl ImportedFb {
    /// Removes the framebuffer (DRM_IOCTL_MODE_RMFB) and closes the GEM handle: the card then
    /// holds the import only while a commit still uses it.
    pub fn remove(self, card: &Card) -> Res<()> {
        card.destroy_framebuffer(self.fb)
            .ctx("DRM_IOCTL_MODE_RMFB on the imported buffer")?;
        card.close_buffer(self.handle)
            .ctx("DRM_IOCTL_GEM_CLOSE on the imported buffer")
    }
}

/// Imports the DMA-buf `fd` (DRM_IOCTL_PRIME_FD_TO_HANDLE) and adds a `size` XRGB8888
/// framebuffer with `pitch` on it.
pub fn import_fb(card: &Card, fd: BorrowedFd<'_>, pitch: u32, size: (u32, u32)) -> Res<ImportedFb> {
    let handle = card
        .prime_fd_to_buffer(fd)
        .ctx("DRM_IOCTL_PRIME_FD_TO_HANDLE")?;
    let layout = Layout {
        size,
        format: DrmFourcc::Xrgb8888,
        handle,
        pitch,
        offset: 0,
    };
    let fb = card
        .add_planar_framebuffer(&layout, FbCmd2Flags::empty())
        .ctx("DRM_IOCTL_MODE_ADDFB2 on the imported buffer")?;
    Ok(ImportedFb { fb, handle })
}

/// A full modeset of `pipe` with its mode (a new property blob) showing `fb` on the whole screen.
pub fn modeset_to(card: &Card, pipe: &Pipe, fb: framebuffer::Handle, what: &str) -> Res<()> {
    let blob = card
        .create_property_blob(&pipe.mode)
        .ctx("DRM_IOCTL_MODE_CREATEPROPBLOB (mode)")?;
    let property::Value::Blob(blob) = blob else {
        return Err("CREATEPROPBLOB returned no blob id".into());
    };
    let req = pipe.modeset(blob, fb, pipe.full_screen())?;
    commit(card, AtomicCommitFlags::ALLOW_MODESET, req, what)
}
