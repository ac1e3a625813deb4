// SPDX-License-Identifier: GPL-2.0

//! The virtio-gpu wire format: the commands the driver sends and the responses it reads.
//!
//! All multi-byte fields are little-endian on the wire (virtio 1.0); the structures hold them in
//! wire order and the accessors convert. Each structure is checked against the uapi header
//! `linux/virtio_gpu.h` by the KUnit tests at the end of this file.

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
    /// 3D rendering through virgl; never negotiated by this display driver.
    #[cfg_attr(not(CONFIG_KUNIT), allow(dead_code))]
    pub(crate) const VIRGL: u32 = 0;
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
    /// `VIRTIO_GPU_CMD_GET_EDID`.
    pub(crate) const CMD_GET_EDID: u32 = 0x010a;
    /// `VIRTIO_GPU_RESP_OK_NODATA`.
    #[cfg_attr(not(CONFIG_KUNIT), allow(dead_code))]
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

/// Offsets in the device configuration space (`struct virtio_gpu_config`).
pub(crate) mod config {
    /// Pending events (`VIRTIO_GPU_EVENT_*`), read-only.
    #[cfg_attr(not(CONFIG_KUNIT), allow(dead_code))]
    pub(crate) const EVENTS_READ: usize = 0;
    /// Write events here to acknowledge them.
    #[cfg_attr(not(CONFIG_KUNIT), allow(dead_code))]
    pub(crate) const EVENTS_CLEAR: usize = 4;
    /// The number of scanouts.
    pub(crate) const NUM_SCANOUTS: usize = 8;
    /// The number of 3D capability sets.
    #[cfg_attr(not(CONFIG_KUNIT), allow(dead_code))]
    pub(crate) const NUM_CAPSETS: usize = 12;
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
}

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

#[kunit_tests(virtio_rs_protocol)]
mod tests {
    use super::*;
    use core::mem::{
        offset_of,
        size_of, //
    };
    use kernel::uapi;
    use zerocopy::FromZeros;

    #[test]
    fn sizes_match_uapi() {
        assert_eq!(size_of::<CtrlHdr>(), size_of::<uapi::virtio_gpu_ctrl_hdr>());
        assert_eq!(size_of::<Rect>(), size_of::<uapi::virtio_gpu_rect>());
        assert_eq!(
            size_of::<DisplayOne>(),
            size_of::<uapi::virtio_gpu_resp_display_info_virtio_gpu_display_one>()
        );
        assert_eq!(
            size_of::<GetDisplayInfo>(),
            size_of::<uapi::virtio_gpu_ctrl_hdr>()
        );
        assert_eq!(
            size_of::<RespDisplayInfo>(),
            size_of::<uapi::virtio_gpu_resp_display_info>()
        );
        assert_eq!(
            size_of::<GetEdid>(),
            size_of::<uapi::virtio_gpu_cmd_get_edid>()
        );
        assert_eq!(
            size_of::<RespEdid>(),
            size_of::<uapi::virtio_gpu_resp_edid>()
        );
    }

    #[test]
    fn offsets_match_uapi() {
        assert_eq!(
            offset_of!(CtrlHdr, fence_id),
            offset_of!(uapi::virtio_gpu_ctrl_hdr, fence_id)
        );
        assert_eq!(
            offset_of!(CtrlHdr, ring_idx),
            offset_of!(uapi::virtio_gpu_ctrl_hdr, ring_idx)
        );
        assert_eq!(
            offset_of!(RespDisplayInfo, pmodes),
            offset_of!(uapi::virtio_gpu_resp_display_info, pmodes)
        );
        assert_eq!(
            offset_of!(GetEdid, scanout),
            offset_of!(uapi::virtio_gpu_cmd_get_edid, scanout)
        );
        assert_eq!(
            offset_of!(RespEdid, edid),
            offset_of!(uapi::virtio_gpu_resp_edid, edid)
        );
        assert_eq!(
            config::NUM_SCANOUTS,
            offset_of!(uapi::virtio_gpu_config, num_scanouts)
        );
        assert_eq!(
            config::EVENTS_READ,
            offset_of!(uapi::virtio_gpu_config, events_read)
        );
        assert_eq!(
            config::EVENTS_CLEAR,
            offset_of!(uapi::virtio_gpu_config, events_clear)
        );
        assert_eq!(
            config::NUM_CAPSETS,
            offset_of!(uapi::virtio_gpu_config, num_capsets)
        );
    }

    #[test]
    fn constants_match_uapi() {
        assert_eq!(MAX_SCANOUTS, uapi::VIRTIO_GPU_MAX_SCANOUTS as usize);
        assert_eq!(features::VIRGL, uapi::VIRTIO_GPU_F_VIRGL);
        assert_eq!(features::EDID, uapi::VIRTIO_GPU_F_EDID);
        assert_eq!(features::RESOURCE_BLOB, uapi::VIRTIO_GPU_F_RESOURCE_BLOB);
        assert_eq!(features::BLOB_ALIGNMENT, uapi::VIRTIO_GPU_F_BLOB_ALIGNMENT);
        assert_eq!(
            ctrl_type::CMD_GET_DISPLAY_INFO,
            uapi::virtio_gpu_ctrl_type_VIRTIO_GPU_CMD_GET_DISPLAY_INFO
        );
        assert_eq!(
            ctrl_type::CMD_GET_EDID,
            uapi::virtio_gpu_ctrl_type_VIRTIO_GPU_CMD_GET_EDID
        );
        assert_eq!(
            ctrl_type::RESP_OK_NODATA,
            uapi::virtio_gpu_ctrl_type_VIRTIO_GPU_RESP_OK_NODATA
        );
        assert_eq!(
            ctrl_type::RESP_OK_DISPLAY_INFO,
            uapi::virtio_gpu_ctrl_type_VIRTIO_GPU_RESP_OK_DISPLAY_INFO
        );
        assert_eq!(
            ctrl_type::RESP_OK_EDID,
            uapi::virtio_gpu_ctrl_type_VIRTIO_GPU_RESP_OK_EDID
        );
        assert_eq!(
            ctrl_type::RESP_ERR_UNSPEC,
            uapi::virtio_gpu_ctrl_type_VIRTIO_GPU_RESP_ERR_UNSPEC
        );
        assert_eq!(
            ctrl_type::RESP_ERR_INVALID_PARAMETER,
            uapi::virtio_gpu_ctrl_type_VIRTIO_GPU_RESP_ERR_INVALID_PARAMETER
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
