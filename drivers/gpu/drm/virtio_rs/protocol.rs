// SPDX-License-Identifier: GPL-2.0

//! The virtio-gpu wire format: the commands the driver sends and the responses it reads.
//!
//! All multi-byte fields are little-endian on the wire (virtio 1.0); the structures hold them in
//! wire order and the accessors convert. Each structure is checked against the uapi header
//! `linux/virtio_gpu.h` by the KUnit tests at the end of this file.

// Commands of the display pipeline are defined (and tested) here before the display code that
// sends them exists; builds without KUnit would flag them meanwhile.
#![cfg_attr(not(CONFIG_KUNIT), allow(dead_code))]

use kernel::prelude::*;
use zerocopy::{
    Immutable,
    KnownLayout, //
};
use zerocopy_derive::{
    Immutable,
    KnownLayout, //
};

/// Feature bits of a virtio-gpu device (`VIRTIO_GPU_F_*`).
pub(crate) mod features {
    /// The device reports EDID blobs (`GET_EDID`).
    pub(crate) const EDID: u32 = 1;
    /// Blob resources (`RESOURCE_CREATE_BLOB`, `SET_SCANOUT_BLOB`).
    pub(crate) const RESOURCE_BLOB: u32 = 3;
    /// The device states an alignment for blob resources in its configuration space.
    pub(crate) const BLOB_ALIGNMENT: u32 = 5;
}

/// Command and response types (`enum virtio_gpu_ctrl_type`).
pub(crate) mod ctrl_type {
    /// `VIRTIO_GPU_CMD_GET_DISPLAY_INFO`.
    pub(crate) const CMD_GET_DISPLAY_INFO: u32 = 0x0100;
    /// `VIRTIO_GPU_CMD_RESOURCE_CREATE_2D`.
    pub(crate) const CMD_RESOURCE_CREATE_2D: u32 = 0x0101;
    /// `VIRTIO_GPU_CMD_RESOURCE_UNREF`.
    pub(crate) const CMD_RESOURCE_UNREF: u32 = 0x0102;
    /// `VIRTIO_GPU_CMD_SET_SCANOUT`.
    pub(crate) const CMD_SET_SCANOUT: u32 = 0x0103;
    /// `VIRTIO_GPU_CMD_RESOURCE_FLUSH`.
    pub(crate) const CMD_RESOURCE_FLUSH: u32 = 0x0104;
    /// `VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D`.
    pub(crate) const CMD_TRANSFER_TO_HOST_2D: u32 = 0x0105;
    /// `VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING`.
    pub(crate) const CMD_RESOURCE_ATTACH_BACKING: u32 = 0x0106;
    /// `VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING`.
    pub(crate) const CMD_RESOURCE_DETACH_BACKING: u32 = 0x0107;
    /// `VIRTIO_GPU_CMD_GET_EDID`.
    pub(crate) const CMD_GET_EDID: u32 = 0x010a;
    /// `VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB`.
    pub(crate) const CMD_RESOURCE_CREATE_BLOB: u32 = 0x010c;
    /// `VIRTIO_GPU_CMD_SET_SCANOUT_BLOB`.
    pub(crate) const CMD_SET_SCANOUT_BLOB: u32 = 0x010d;
    /// `VIRTIO_GPU_CMD_UPDATE_CURSOR`.
    pub(crate) const CMD_UPDATE_CURSOR: u32 = 0x0300;
    /// `VIRTIO_GPU_CMD_MOVE_CURSOR`.
    pub(crate) const CMD_MOVE_CURSOR: u32 = 0x0301;
    /// `VIRTIO_GPU_RESP_OK_NODATA`.
    pub(crate) const RESP_OK_NODATA: u32 = 0x1100;
    /// `VIRTIO_GPU_RESP_OK_DISPLAY_INFO`.
    pub(crate) const RESP_OK_DISPLAY_INFO: u32 = 0x1101;
    /// `VIRTIO_GPU_RESP_OK_EDID`.
    pub(crate) const RESP_OK_EDID: u32 = 0x1104;
    /// `VIRTIO_GPU_RESP_ERR_UNSPEC`, the first error response.
    pub(crate) const RESP_ERR_UNSPEC: u32 = 0x1200;
    /// `VIRTIO_GPU_RESP_ERR_OUT_OF_MEMORY`.
    pub(crate) const RESP_ERR_OUT_OF_MEMORY: u32 = 0x1201;
    /// `VIRTIO_GPU_RESP_ERR_INVALID_SCANOUT_ID`.
    pub(crate) const RESP_ERR_INVALID_SCANOUT_ID: u32 = 0x1202;
    /// `VIRTIO_GPU_RESP_ERR_INVALID_RESOURCE_ID`.
    pub(crate) const RESP_ERR_INVALID_RESOURCE_ID: u32 = 0x1203;
    /// `VIRTIO_GPU_RESP_ERR_INVALID_CONTEXT_ID`.
    pub(crate) const RESP_ERR_INVALID_CONTEXT_ID: u32 = 0x1204;
    /// `VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER`.
    pub(crate) const RESP_ERR_INVALID_PARAMETER: u32 = 0x1205;
}

/// The most scanouts a device can have (`VIRTIO_GPU_MAX_SCANOUTS`).
pub(crate) const MAX_SCANOUTS: usize = 16;

/// The largest EDID blob a device can return.
pub(crate) const EDID_MAX: usize = 1024;

/// The fields of the device configuration space (`struct virtio_gpu_config`).
pub(crate) mod config {
    use kernel::{
        uapi::virtio_gpu_config as Layout,
        virtio::ConfigField,
        virtio_config_field, //
    };

    /// Pending events (`VIRTIO_GPU_EVENT_*`), read-only.
    pub(crate) fn events_read() -> ConfigField<Layout, u32> {
        virtio_config_field!(Layout, events_read)
    }

    /// Write events here to acknowledge them.
    pub(crate) fn events_clear() -> ConfigField<Layout, u32> {
        virtio_config_field!(Layout, events_clear)
    }

    /// The number of scanouts.
    pub(crate) fn num_scanouts() -> ConfigField<Layout, u32> {
        virtio_config_field!(Layout, num_scanouts)
    }

    /// Event: the display configuration changed (`VIRTIO_GPU_EVENT_DISPLAY`).
    pub(crate) const EVENT_DISPLAY: u32 = 1 << 0;
}

/// The header of every command and response (`struct virtio_gpu_ctrl_hdr`).
#[repr(C)]
#[derive(Clone, Copy, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub(crate) struct CtrlHdr {
    type_: u32,
    flags: u32,
    fence_id: u64,
    ctx_id: u32,
    ring_idx: u8,
    padding: [u8; 3],
}

impl CtrlHdr {
    /// A header for a command of type `type_`.
    pub(crate) fn new(type_: u32) -> Self {
        Self {
            type_: type_.to_le(),
            ..Self::default()
        }
    }

    /// The command or response type.
    pub(crate) fn type_(&self) -> u32 {
        u32::from_le(self.type_)
    }

    /// Asks the device to signal fence `id` once it completed the command.
    pub(crate) fn set_fence(&mut self, id: u64) {
        self.flags = (u32::from_le(self.flags) | FLAG_FENCE).to_le();
        self.fence_id = id.to_le();
    }

    /// Sets fence `id` in the header at the start of the encoded command `bytes`.
    pub(crate) fn set_fence_in(bytes: &mut [u8], id: u64) -> Result {
        let (mut hdr, _) = Self::read_from_prefix(bytes).map_err(|_| EINVAL)?;
        hdr.set_fence(id);
        bytes
            .get_mut(..core::mem::size_of::<Self>())
            .ok_or(EINVAL)?
            .copy_from_slice(hdr.as_bytes());
        Ok(())
    }

    /// The fence the device signalled with this response, if any.
    pub(crate) fn fence(&self) -> Option<u64> {
        (u32::from_le(self.flags) & FLAG_FENCE != 0).then(|| u64::from_le(self.fence_id))
    }
}

/// `VIRTIO_GPU_FLAG_FENCE`: the command carries a fence id.
pub(crate) const FLAG_FENCE: u32 = 1 << 0;

/// A rectangle (`struct virtio_gpu_rect`).
#[repr(C)]
#[derive(Clone, Copy, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub(crate) struct Rect {
    x: u32,
    y: u32,
    width: u32,
    height: u32,
}

impl Rect {
    /// A rectangle in CPU byte order.
    pub(crate) fn new(x: u32, y: u32, width: u32, height: u32) -> Self {
        Self {
            x: x.to_le(),
            y: y.to_le(),
            width: width.to_le(),
            height: height.to_le(),
        }
    }

    /// Returns `(x, y, width, height)` in CPU byte order.
    pub(crate) fn get(&self) -> (u32, u32, u32, u32) {
        (
            u32::from_le(self.x),
            u32::from_le(self.y),
            u32::from_le(self.width),
            u32::from_le(self.height),
        )
    }
}

/// One scanout of a display info response (`struct virtio_gpu_display_one`).
#[repr(C)]
#[derive(Clone, Copy, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub(crate) struct DisplayOne {
    r: Rect,
    enabled: u32,
    flags: u32,
}

impl DisplayOne {
    /// The preferred position and size of the scanout.
    pub(crate) fn rect(&self) -> Rect {
        self.r
    }

    /// Whether a display is connected to the scanout.
    pub(crate) fn enabled(&self) -> bool {
        u32::from_le(self.enabled) != 0
    }
}

/// A command: its wire layout and the response the device answers it with.
pub(crate) trait Command: IntoBytes + Immutable {
    /// The response: a header plus the type's data.
    type Response: FromBytes + IntoBytes + KnownLayout + Immutable;

    /// The response type (`VIRTIO_GPU_RESP_OK_*`) that carries [`Self::Response`].
    const RESPONSE_TYPE: u32;
}

/// `VIRTIO_GPU_CMD_GET_DISPLAY_INFO`.
#[repr(C)]
#[derive(FromBytes, IntoBytes, Immutable, KnownLayout)]
pub(crate) struct GetDisplayInfo {
    hdr: CtrlHdr,
}

impl GetDisplayInfo {
    pub(crate) fn new() -> Self {
        Self {
            hdr: CtrlHdr::new(ctrl_type::CMD_GET_DISPLAY_INFO),
        }
    }
}

/// `struct virtio_gpu_resp_display_info`.
#[repr(C)]
#[derive(FromBytes, IntoBytes, Immutable, KnownLayout)]
pub(crate) struct RespDisplayInfo {
    hdr: CtrlHdr,
    pmodes: [DisplayOne; MAX_SCANOUTS],
}

impl RespDisplayInfo {
    /// The scanouts, of which the device has `num_scanouts`.
    pub(crate) fn scanouts(&self) -> &[DisplayOne; MAX_SCANOUTS] {
        &self.pmodes
    }
}

impl Command for GetDisplayInfo {
    type Response = RespDisplayInfo;
    const RESPONSE_TYPE: u32 = ctrl_type::RESP_OK_DISPLAY_INFO;
}

/// `VIRTIO_GPU_CMD_GET_EDID`.
#[repr(C)]
#[derive(FromBytes, IntoBytes, Immutable, KnownLayout)]
pub(crate) struct GetEdid {
    hdr: CtrlHdr,
    scanout: u32,
    padding: u32,
}

impl GetEdid {
    pub(crate) fn new(scanout: u32) -> Self {
        Self {
            hdr: CtrlHdr::new(ctrl_type::CMD_GET_EDID),
            scanout: scanout.to_le(),
            padding: 0,
        }
    }
}

/// `struct virtio_gpu_resp_edid`.
#[repr(C)]
#[derive(FromBytes, IntoBytes, Immutable, KnownLayout)]
pub(crate) struct RespEdid {
    hdr: CtrlHdr,
    size: u32,
    padding: u32,
    edid: [u8; EDID_MAX],
}

impl RespEdid {
    /// The EDID blob, or `EPROTO` if the device claims more than the response holds.
    pub(crate) fn edid(&self) -> Result<&[u8]> {
        let size = usize::try_from(u32::from_le(self.size)).map_err(|_| EPROTO)?;
        self.edid.get(..size).ok_or(EPROTO)
    }
}

impl Command for GetEdid {
    type Response = RespEdid;
    const RESPONSE_TYPE: u32 = ctrl_type::RESP_OK_EDID;
}

/// The response of commands that return no data (`VIRTIO_GPU_RESP_OK_NODATA`).
#[repr(C)]
#[derive(FromBytes, IntoBytes, Immutable, KnownLayout)]
pub(crate) struct RespNoData {
    hdr: CtrlHdr,
}

/// Declares a command struct answered by [`RespNoData`], with a constructor taking its fields in
/// CPU byte order.
macro_rules! nodata_command {
    ($(#[$doc:meta])* $name:ident = $type:expr, { $($field:ident: $ty:ty),* $(,)? }
     $(, padding: $pad:ty)?) => {
        $(#[$doc])*
        #[repr(C)]
        #[derive(FromBytes, IntoBytes, Immutable, KnownLayout)]
        pub(crate) struct $name {
            hdr: CtrlHdr,
            $($field: $ty,)*
            $(padding: $pad,)?
        }

        impl $name {
            pub(crate) fn new($($field: $ty),*) -> Self {
                Self {
                    hdr: CtrlHdr::new($type),
                    $($field: $field.to_le(),)*
                    $(padding: <$pad>::default(),)?
                }
            }
        }

        impl Command for $name {
            type Response = RespNoData;
            const RESPONSE_TYPE: u32 = ctrl_type::RESP_OK_NODATA;
        }
    };
}

nodata_command!(
    /// `VIRTIO_GPU_CMD_RESOURCE_CREATE_2D`: a host resource of `format` and size.
    ResourceCreate2d = ctrl_type::CMD_RESOURCE_CREATE_2D,
    { resource_id: u32, format: u32, width: u32, height: u32 }
);

nodata_command!(
    /// `VIRTIO_GPU_CMD_RESOURCE_UNREF`.
    ResourceUnref = ctrl_type::CMD_RESOURCE_UNREF, { resource_id: u32 }, padding: u32
);

nodata_command!(
    /// `VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING`.
    ResourceDetachBacking = ctrl_type::CMD_RESOURCE_DETACH_BACKING, { resource_id: u32 },
    padding: u32
);

nodata_command!(
    /// `VIRTIO_GPU_CMD_RESOURCE_ATTACH_BACKING`; followed by `nr_entries` [`MemEntry`]s.
    ResourceAttachBacking = ctrl_type::CMD_RESOURCE_ATTACH_BACKING,
    { resource_id: u32, nr_entries: u32 }
);

/// `VIRTIO_GPU_CMD_SET_SCANOUT`: show `r` of a resource on a scanout (resource 0 disables it).
#[repr(C)]
#[derive(FromBytes, IntoBytes, Immutable, KnownLayout)]
pub(crate) struct SetScanout {
    hdr: CtrlHdr,
    r: Rect,
    scanout_id: u32,
    resource_id: u32,
}

impl SetScanout {
    pub(crate) fn new(scanout_id: u32, resource_id: u32, r: Rect) -> Self {
        Self {
            hdr: CtrlHdr::new(ctrl_type::CMD_SET_SCANOUT),
            r,
            scanout_id: scanout_id.to_le(),
            resource_id: resource_id.to_le(),
        }
    }
}

impl Command for SetScanout {
    type Response = RespNoData;
    const RESPONSE_TYPE: u32 = ctrl_type::RESP_OK_NODATA;
}

/// `VIRTIO_GPU_CMD_RESOURCE_FLUSH`: the host should show `r` of the resource again.
#[repr(C)]
#[derive(FromBytes, IntoBytes, Immutable, KnownLayout)]
pub(crate) struct ResourceFlush {
    hdr: CtrlHdr,
    r: Rect,
    resource_id: u32,
    padding: u32,
}

impl ResourceFlush {
    pub(crate) fn new(resource_id: u32, r: Rect) -> Self {
        Self {
            hdr: CtrlHdr::new(ctrl_type::CMD_RESOURCE_FLUSH),
            r,
            resource_id: resource_id.to_le(),
            padding: 0,
        }
    }
}

impl Command for ResourceFlush {
    type Response = RespNoData;
    const RESPONSE_TYPE: u32 = ctrl_type::RESP_OK_NODATA;
}

/// `VIRTIO_GPU_CMD_TRANSFER_TO_HOST_2D`: copy `r` of the guest backing, starting at byte
/// `offset`, into the host resource.
#[repr(C)]
#[derive(FromBytes, IntoBytes, Immutable, KnownLayout)]
pub(crate) struct TransferToHost2d {
    hdr: CtrlHdr,
    r: Rect,
    offset: u64,
    resource_id: u32,
    padding: u32,
}

impl TransferToHost2d {
    pub(crate) fn new(resource_id: u32, r: Rect, offset: u64) -> Self {
        Self {
            hdr: CtrlHdr::new(ctrl_type::CMD_TRANSFER_TO_HOST_2D),
            r,
            offset: offset.to_le(),
            resource_id: resource_id.to_le(),
            padding: 0,
        }
    }
}

impl Command for TransferToHost2d {
    type Response = RespNoData;
    const RESPONSE_TYPE: u32 = ctrl_type::RESP_OK_NODATA;
}

/// One guest memory range backing a resource (`struct virtio_gpu_mem_entry`).
#[repr(C)]
#[derive(Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub(crate) struct MemEntry {
    addr: u64,
    length: u32,
    padding: u32,
}

impl MemEntry {
    pub(crate) fn new(addr: u64, length: u32) -> Self {
        Self {
            addr: addr.to_le(),
            length: length.to_le(),
            padding: 0,
        }
    }

    /// The address and the length, in CPU byte order.
    #[cfg(CONFIG_KUNIT)]
    pub(crate) fn parts(&self) -> (u64, u32) {
        (u64::from_le(self.addr), u32::from_le(self.length))
    }
}

/// Blob memory types (`VIRTIO_GPU_BLOB_MEM_*`).
pub(crate) mod blob_mem {
    /// Guest memory, described by the command's [`super::MemEntry`]s.
    pub(crate) const GUEST: u32 = 1;
}

/// Blob flags (`VIRTIO_GPU_BLOB_FLAG_*`).
pub(crate) mod blob_flags {
    /// The resource may be shared with other devices or processes.
    pub(crate) const USE_SHAREABLE: u32 = 2;
}

/// `VIRTIO_GPU_CMD_RESOURCE_CREATE_BLOB`; followed by `nr_entries` [`MemEntry`]s.
#[repr(C)]
#[derive(FromBytes, IntoBytes, Immutable, KnownLayout)]
pub(crate) struct ResourceCreateBlob {
    hdr: CtrlHdr,
    resource_id: u32,
    blob_mem: u32,
    blob_flags: u32,
    nr_entries: u32,
    blob_id: u64,
    size: u64,
}

impl ResourceCreateBlob {
    /// A shareable blob of guest memory.
    pub(crate) fn guest(resource_id: u32, nr_entries: u32, size: u64) -> Self {
        Self {
            hdr: CtrlHdr::new(ctrl_type::CMD_RESOURCE_CREATE_BLOB),
            resource_id: resource_id.to_le(),
            blob_mem: blob_mem::GUEST.to_le(),
            blob_flags: blob_flags::USE_SHAREABLE.to_le(),
            nr_entries: nr_entries.to_le(),
            blob_id: 0,
            size: size.to_le(),
        }
    }
}

impl Command for ResourceCreateBlob {
    type Response = RespNoData;
    const RESPONSE_TYPE: u32 = ctrl_type::RESP_OK_NODATA;
}

/// The layout of a blob resource shown by [`SetScanoutBlob`].
pub(crate) struct BlobLayout {
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) format: u32,
    pub(crate) strides: [u32; 4],
    pub(crate) offsets: [u32; 4],
}

/// `VIRTIO_GPU_CMD_SET_SCANOUT_BLOB`: show `r` of a blob resource with the given layout.
#[repr(C)]
#[derive(FromBytes, IntoBytes, Immutable, KnownLayout)]
pub(crate) struct SetScanoutBlob {
    hdr: CtrlHdr,
    r: Rect,
    scanout_id: u32,
    resource_id: u32,
    width: u32,
    height: u32,
    format: u32,
    padding: u32,
    strides: [u32; 4],
    offsets: [u32; 4],
}

impl SetScanoutBlob {
    pub(crate) fn new(scanout_id: u32, resource_id: u32, r: Rect, layout: &BlobLayout) -> Self {
        Self {
            hdr: CtrlHdr::new(ctrl_type::CMD_SET_SCANOUT_BLOB),
            r,
            scanout_id: scanout_id.to_le(),
            resource_id: resource_id.to_le(),
            width: layout.width.to_le(),
            height: layout.height.to_le(),
            format: layout.format.to_le(),
            padding: 0,
            strides: layout.strides.map(u32::to_le),
            offsets: layout.offsets.map(u32::to_le),
        }
    }
}

impl Command for SetScanoutBlob {
    type Response = RespNoData;
    const RESPONSE_TYPE: u32 = ctrl_type::RESP_OK_NODATA;
}

/// `struct virtio_gpu_cursor_pos`.
#[repr(C)]
#[derive(Clone, Copy, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub(crate) struct CursorPos {
    scanout_id: u32,
    x: u32,
    y: u32,
    padding: u32,
}

/// `VIRTIO_GPU_CMD_UPDATE_CURSOR` and `VIRTIO_GPU_CMD_MOVE_CURSOR`, sent on the cursor queue
/// (which has no responses).
#[repr(C)]
#[derive(Clone, Copy, Default, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub(crate) struct UpdateCursor {
    hdr: CtrlHdr,
    pos: CursorPos,
    resource_id: u32,
    hot_x: u32,
    hot_y: u32,
    padding: u32,
}

impl UpdateCursor {
    /// Shows `resource_id` (0: hides the cursor) at `(x, y)` with its hotspot.
    pub(crate) fn update(
        scanout_id: u32,
        (x, y): (i32, i32),
        resource_id: u32,
        (hot_x, hot_y): (i32, i32),
    ) -> Self {
        Self {
            hdr: CtrlHdr::new(ctrl_type::CMD_UPDATE_CURSOR),
            pos: CursorPos::at(scanout_id, x, y),
            resource_id: resource_id.to_le(),
            // The device takes the two's complement of negative coordinates, as C does.
            hot_x: (hot_x as u32).to_le(),
            hot_y: (hot_y as u32).to_le(),
            padding: 0,
        }
    }

    /// Moves the cursor that `self` showed to `(x, y)`. The move keeps naming the cursor's
    /// resource: QEMU takes a resource id of 0 in a move for "hide the cursor".
    pub(crate) fn moved_to(&self, (x, y): (i32, i32)) -> Self {
        Self {
            hdr: CtrlHdr::new(ctrl_type::CMD_MOVE_CURSOR),
            pos: CursorPos::at(u32::from_le(self.pos.scanout_id), x, y),
            ..*self
        }
    }
}

impl CursorPos {
    fn at(scanout_id: u32, x: i32, y: i32) -> Self {
        Self {
            scanout_id: scanout_id.to_le(),
            x: (x as u32).to_le(),
            y: (y as u32).to_le(),
            padding: 0,
        }
    }
}

/// Pixel formats of 2D resources (`enum virtio_gpu_formats`).
pub(crate) mod format {
    use kernel::drm::kms::format::{
        ARGB8888,
        BGRA8888,
        BGRX8888,
        XRGB8888, //
    };

    /// The virtio format of the DRM format `drm` on a little-endian guest, or `None` if the
    /// device has none.
    pub(crate) const fn from_drm(drm: u32) -> Option<u32> {
        match drm {
            XRGB8888 => Some(B8G8R8X8_UNORM),
            ARGB8888 => Some(B8G8R8A8_UNORM),
            BGRX8888 => Some(X8R8G8B8_UNORM),
            BGRA8888 => Some(A8R8G8B8_UNORM),
            _ => None,
        }
    }

    /// `VIRTIO_GPU_FORMAT_B8G8R8A8_UNORM`: DRM's ARGB8888 on a little-endian guest.
    pub(crate) const B8G8R8A8_UNORM: u32 = 1;
    /// `VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM`: DRM's XRGB8888 on a little-endian guest.
    pub(crate) const B8G8R8X8_UNORM: u32 = 2;
    /// `VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM`: DRM's BGRA8888.
    pub(crate) const A8R8G8B8_UNORM: u32 = 3;
    /// `VIRTIO_GPU_FORMAT_X8R8G8B8_UNORM`: DRM's BGRX8888.
    pub(crate) const X8R8G8B8_UNORM: u32 = 4;
}

/// Maps an error response type to the kernel error it stands for.
pub(crate) fn response_error(type_: u32) -> Error {
    match type_ {
        ctrl_type::RESP_ERR_OUT_OF_MEMORY => ENOMEM,
        ctrl_type::RESP_ERR_INVALID_SCANOUT_ID
        | ctrl_type::RESP_ERR_INVALID_RESOURCE_ID
        | ctrl_type::RESP_ERR_INVALID_CONTEXT_ID
        | ctrl_type::RESP_ERR_INVALID_PARAMETER => EINVAL,
        ctrl_type::RESP_ERR_UNSPEC.. => EIO,
        // An OK response of another type than the command expects.
        _ => EPROTO,
    }
}

/// The wire format against the uapi header, checked when the driver is built.
const _: () = {
    use core::mem::{
        offset_of,
        size_of, //
    };
    use kernel::uapi;
    assert!(size_of::<CtrlHdr>() == size_of::<uapi::virtio_gpu_ctrl_hdr>());
    assert!(size_of::<Rect>() == size_of::<uapi::virtio_gpu_rect>());
    assert!(
        size_of::<DisplayOne>()
            == size_of::<uapi::virtio_gpu_resp_display_info_virtio_gpu_display_one>()
    );
    assert!(size_of::<GetDisplayInfo>() == size_of::<uapi::virtio_gpu_ctrl_hdr>());
    assert!(size_of::<RespDisplayInfo>() == size_of::<uapi::virtio_gpu_resp_display_info>());
    assert!(size_of::<GetEdid>() == size_of::<uapi::virtio_gpu_cmd_get_edid>());
    assert!(size_of::<RespEdid>() == size_of::<uapi::virtio_gpu_resp_edid>());
    assert!(size_of::<RespNoData>() == size_of::<uapi::virtio_gpu_ctrl_hdr>());
    assert!(size_of::<ResourceCreate2d>() == size_of::<uapi::virtio_gpu_resource_create_2d>());
    assert!(size_of::<ResourceUnref>() == size_of::<uapi::virtio_gpu_resource_unref>());
    assert!(size_of::<SetScanout>() == size_of::<uapi::virtio_gpu_set_scanout>());
    assert!(size_of::<ResourceFlush>() == size_of::<uapi::virtio_gpu_resource_flush>());
    assert!(size_of::<TransferToHost2d>() == size_of::<uapi::virtio_gpu_transfer_to_host_2d>());
    assert!(
        size_of::<ResourceAttachBacking>() == size_of::<uapi::virtio_gpu_resource_attach_backing>()
    );
    assert!(
        size_of::<ResourceDetachBacking>() == size_of::<uapi::virtio_gpu_resource_detach_backing>()
    );
    assert!(size_of::<MemEntry>() == size_of::<uapi::virtio_gpu_mem_entry>());
    assert!(size_of::<ResourceCreateBlob>() == size_of::<uapi::virtio_gpu_resource_create_blob>());
    assert!(size_of::<SetScanoutBlob>() == size_of::<uapi::virtio_gpu_set_scanout_blob>());
    assert!(size_of::<UpdateCursor>() == size_of::<uapi::virtio_gpu_update_cursor>());
    assert!(
        offset_of!(SetScanout, scanout_id) == offset_of!(uapi::virtio_gpu_set_scanout, scanout_id)
    );
    assert!(
        offset_of!(TransferToHost2d, offset)
            == offset_of!(uapi::virtio_gpu_transfer_to_host_2d, offset)
    );
    assert!(
        offset_of!(ResourceCreateBlob, size)
            == offset_of!(uapi::virtio_gpu_resource_create_blob, size)
    );
    assert!(
        offset_of!(SetScanoutBlob, strides)
            == offset_of!(uapi::virtio_gpu_set_scanout_blob, strides)
    );
    assert!(
        offset_of!(SetScanoutBlob, offsets)
            == offset_of!(uapi::virtio_gpu_set_scanout_blob, offsets)
    );
    assert!(
        offset_of!(UpdateCursor, resource_id)
            == offset_of!(uapi::virtio_gpu_update_cursor, resource_id)
    );
    assert!(
        offset_of!(ResourceAttachBacking, nr_entries)
            == offset_of!(uapi::virtio_gpu_resource_attach_backing, nr_entries)
    );
    assert!(
        ctrl_type::CMD_RESOURCE_CREATE_2D
            == uapi::virtio_gpu_ctrl_type_VIRTIO_GPU_CMD_RESOURCE_CREATE_2D
    );
    assert!(
        ctrl_type::CMD_RESOURCE_DETACH_BACKING
            == uapi::virtio_gpu_ctrl_type_VIRTIO_GPU_CMD_RESOURCE_DETACH_BACKING
    );
    assert!(
        ctrl_type::CMD_SET_SCANOUT_BLOB
            == uapi::virtio_gpu_ctrl_type_VIRTIO_GPU_CMD_SET_SCANOUT_BLOB
    );
    assert!(ctrl_type::CMD_MOVE_CURSOR == uapi::virtio_gpu_ctrl_type_VIRTIO_GPU_CMD_MOVE_CURSOR);
    assert!(FLAG_FENCE == uapi::VIRTIO_GPU_FLAG_FENCE);
    assert!(blob_mem::GUEST == uapi::VIRTIO_GPU_BLOB_MEM_GUEST);
    assert!(blob_flags::USE_SHAREABLE == uapi::VIRTIO_GPU_BLOB_FLAG_USE_SHAREABLE);
    assert!(format::B8G8R8X8_UNORM == uapi::virtio_gpu_formats_VIRTIO_GPU_FORMAT_B8G8R8X8_UNORM);
    assert!(format::A8R8G8B8_UNORM == uapi::virtio_gpu_formats_VIRTIO_GPU_FORMAT_A8R8G8B8_UNORM);
    assert!(offset_of!(CtrlHdr, fence_id) == offset_of!(uapi::virtio_gpu_ctrl_hdr, fence_id));
    assert!(offset_of!(CtrlHdr, ring_idx) == offset_of!(uapi::virtio_gpu_ctrl_hdr, ring_idx));
    assert!(
        offset_of!(RespDisplayInfo, pmodes)
            == offset_of!(uapi::virtio_gpu_resp_display_info, pmodes)
    );
    assert!(offset_of!(GetEdid, scanout) == offset_of!(uapi::virtio_gpu_cmd_get_edid, scanout));
    assert!(offset_of!(RespEdid, edid) == offset_of!(uapi::virtio_gpu_resp_edid, edid));
    assert!(MAX_SCANOUTS == uapi::VIRTIO_GPU_MAX_SCANOUTS as usize);
    assert!(config::EVENT_DISPLAY == uapi::VIRTIO_GPU_EVENT_DISPLAY);
    assert!(features::EDID == uapi::VIRTIO_GPU_F_EDID);
    assert!(features::RESOURCE_BLOB == uapi::VIRTIO_GPU_F_RESOURCE_BLOB);
    assert!(features::BLOB_ALIGNMENT == uapi::VIRTIO_GPU_F_BLOB_ALIGNMENT);
    assert!(
        ctrl_type::CMD_GET_DISPLAY_INFO
            == uapi::virtio_gpu_ctrl_type_VIRTIO_GPU_CMD_GET_DISPLAY_INFO
    );
    assert!(ctrl_type::CMD_GET_EDID == uapi::virtio_gpu_ctrl_type_VIRTIO_GPU_CMD_GET_EDID);
    assert!(ctrl_type::RESP_OK_NODATA == uapi::virtio_gpu_ctrl_type_VIRTIO_GPU_RESP_OK_NODATA);
    assert!(
        ctrl_type::RESP_OK_DISPLAY_INFO
            == uapi::virtio_gpu_ctrl_type_VIRTIO_GPU_RESP_OK_DISPLAY_INFO
    );
    assert!(ctrl_type::RESP_OK_EDID == uapi::virtio_gpu_ctrl_type_VIRTIO_GPU_RESP_OK_EDID);
    assert!(ctrl_type::RESP_ERR_UNSPEC == uapi::virtio_gpu_ctrl_type_VIRTIO_GPU_RESP_ERR_UNSPEC);
    assert!(
        ctrl_type::RESP_ERR_INVALID_PARAMETER
            == uapi::virtio_gpu_ctrl_type_VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER
    );
};

#[kunit_tests(virtio_rs_protocol)]
mod tests {
    use super::*;
    use zerocopy::FromZeros;

    /// The command type of an encoded command.
    fn type_of(bytes: &[u8]) -> u32 {
        u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
    }

    #[test]
    fn commands_carry_their_type_and_fields() {
        let r = Rect::new(1, 2, 3, 4);
        assert_eq!(r.get(), (1, 2, 3, 4));

        let create = ResourceCreate2d::new(5, format::B8G8R8X8_UNORM, 640, 480);
        assert_eq!(
            type_of(create.as_bytes()),
            ctrl_type::CMD_RESOURCE_CREATE_2D
        );
        assert_eq!(
            &create.as_bytes()[24..40],
            &[5, 0, 0, 0, 2, 0, 0, 0, 128, 2, 0, 0, 224, 1, 0, 0]
        );

        let unref = ResourceUnref::new(5);
        assert_eq!(type_of(unref.as_bytes()), ctrl_type::CMD_RESOURCE_UNREF);
        let detach = ResourceDetachBacking::new(5);
        assert_eq!(
            type_of(detach.as_bytes()),
            ctrl_type::CMD_RESOURCE_DETACH_BACKING
        );
        let attach = ResourceAttachBacking::new(5, 2);
        assert_eq!(&attach.as_bytes()[28..32], &[2, 0, 0, 0]);
        let entry = MemEntry::new(0x1000, 4096);
        assert_eq!(
            &entry.as_bytes()[..12],
            &[0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0]
        );

        let scanout = SetScanout::new(1, 5, r);
        assert_eq!(type_of(scanout.as_bytes()), ctrl_type::CMD_SET_SCANOUT);
        assert_eq!(&scanout.as_bytes()[40..48], &[1, 0, 0, 0, 5, 0, 0, 0]);

        let flush = ResourceFlush::new(5, r);
        assert_eq!(type_of(flush.as_bytes()), ctrl_type::CMD_RESOURCE_FLUSH);
        let transfer = TransferToHost2d::new(5, r, 0x1_0000_0000);
        assert_eq!(&transfer.as_bytes()[40..48], &[0, 0, 0, 0, 1, 0, 0, 0]);

        let blob = ResourceCreateBlob::guest(5, 3, 8192);
        assert_eq!(
            type_of(blob.as_bytes()),
            ctrl_type::CMD_RESOURCE_CREATE_BLOB
        );
        assert_eq!(
            &blob.as_bytes()[24..40],
            &[5, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]
        );

        let layout = BlobLayout {
            width: 640,
            height: 480,
            format: format::B8G8R8X8_UNORM,
            strides: [2560, 0, 0, 0],
            offsets: [0; 4],
        };
        let show = SetScanoutBlob::new(0, 5, r, &layout);
        assert_eq!(type_of(show.as_bytes()), ctrl_type::CMD_SET_SCANOUT_BLOB);
        assert_eq!(&show.as_bytes()[64..68], &[0, 10, 0, 0]);
    }

    #[test]
    fn fences_round_trip() {
        let mut hdr = CtrlHdr::new(ctrl_type::CMD_RESOURCE_FLUSH);
        assert_eq!(hdr.fence(), None);
        hdr.set_fence(0x1_0000_0002);
        assert_eq!(hdr.fence(), Some(0x1_0000_0002));
        assert_eq!(&hdr.as_bytes()[4..8], &[1, 0, 0, 0]);
    }

    #[test]
    fn cursor_coordinates_keep_their_sign() {
        let cmd = UpdateCursor::update(1, (-5, 7), 9, (2, -1));
        let bytes = cmd.as_bytes();
        assert_eq!(&bytes[..4], &[0, 3, 0, 0]);
        assert_eq!(&bytes[24..28], &[1, 0, 0, 0]);
        assert_eq!(&bytes[28..32], &[0xfb, 0xff, 0xff, 0xff]);
        assert_eq!(&bytes[52..56], &[0, 0, 0, 0]);
        let moved = cmd.moved_to((3, 4));
        assert_eq!(&moved.as_bytes()[..4], &[1, 3, 0, 0]);
        assert_eq!(&moved.as_bytes()[24..32], &[1, 0, 0, 0, 3, 0, 0, 0]);
        assert_eq!(u32::from_le(moved.resource_id), 9);
        assert_eq!(&moved.as_bytes()[44..48], &[2, 0, 0, 0]);
    }

    #[test]
    fn drm_formats_map_to_virtio() {
        use kernel::drm::kms::format as drm_format;
        assert_eq!(drm_format::XRGB8888, 0x3432_5258);
        assert_eq!(
            format::from_drm(drm_format::XRGB8888),
            Some(format::B8G8R8X8_UNORM)
        );
        assert_eq!(
            format::from_drm(drm_format::ARGB8888),
            Some(format::B8G8R8A8_UNORM)
        );
        assert_eq!(
            format::from_drm(drm_format::BGRA8888),
            Some(format::A8R8G8B8_UNORM)
        );
        assert_eq!(
            format::from_drm(drm_format::fourcc(b'R', b'G', b'1', b'6')),
            None
        );
    }

    #[test]
    fn header_encoding_is_little_endian() {
        let cmd = GetEdid::new(3);
        let bytes = cmd.as_bytes();
        assert_eq!(&bytes[..4], &[0x0a, 0x01, 0, 0]);
        assert_eq!(&bytes[24..28], &[3, 0, 0, 0]);
    }

    #[test]
    fn error_responses_map_to_errnos() {
        assert_eq!(response_error(ctrl_type::RESP_ERR_UNSPEC), EIO);
        assert_eq!(response_error(ctrl_type::RESP_ERR_OUT_OF_MEMORY), ENOMEM);
        assert_eq!(
            response_error(ctrl_type::RESP_ERR_INVALID_PARAMETER),
            EINVAL
        );
        assert_eq!(response_error(0x12ff), EIO);
        assert_eq!(response_error(ctrl_type::RESP_OK_NODATA), EPROTO);
    }

    #[test]
    fn edid_size_is_bounded() -> Result {
        let mut resp = KBox::new(RespEdid::new_zeroed(), GFP_KERNEL)?;
        resp.size = 128u32.to_le();
        assert_eq!(resp.edid()?.len(), 128);
        resp.size = 1025u32.to_le();
        assert_eq!(resp.edid().err(), Some(EPROTO));
        Ok(())
    }
}
