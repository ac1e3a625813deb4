// SPDX-License-Identifier: GPL-2.0

//! Which display timings the device and the vblank timer can serve.
//!
//! The device has no timings of its own: a mode's pixel clock and totals only set the rate at
//! which the vblank timer sends page flip events. The DRM core computes that rate with 32-bit
//! integer arithmetic and keeps the scanned-out lines of a frame in 16 bits, so a user mode with
//! absurd values makes the timer fire never (a zero frame duration from an overflow) or all the
//! time. Such modes are refused in the atomic check instead.

use kernel::{
    drm::kms::DisplayMode,
    prelude::*, //
};

/// The slowest refresh rate the vblank timer paces, in mHz: one frame per second, well inside
/// the DRM core's ten second page flip timeout.
const MIN_REFRESH_MHZ: u64 = 1_000;

/// The fastest refresh rate the vblank timer paces, in mHz: a timer interrupt per millisecond.
const MAX_REFRESH_MHZ: u64 = 1_000_000;

/// The timings of a mode that the refresh rate depends on.
#[derive(Clone, Copy)]
pub(crate) struct Timings {
    /// Pixel clock in kHz.
    pub(crate) clock: i32,
    pub(crate) hdisplay: u16,
    pub(crate) htotal: u16,
    pub(crate) vdisplay: u16,
    pub(crate) vtotal: u16,
    /// Times each line is scanned out (0 and 1: once).
    pub(crate) vscan: u16,
    pub(crate) interlaced: bool,
    pub(crate) doublescan: bool,
}

impl Timings {
    pub(crate) fn of(mode: &DisplayMode) -> Self {
        Self {
            clock: mode.clock(),
            hdisplay: mode.hdisplay(),
            htotal: mode.htotal(),
            vdisplay: mode.vdisplay(),
            vtotal: mode.vtotal(),
            vscan: mode.vscan(),
            interlaced: mode.is_interlaced(),
            doublescan: mode.is_doublescan(),
        }
    }
}

/// Why a mode's timings cannot be served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TimingError {
    /// No (or a negative) pixel clock.
    NoClock,
    /// A total smaller than the visible area, or an empty visible area.
    Totals,
    /// More scanned lines per frame than the DRM core's 16-bit CRTC timings hold.
    Lines(u64),
    /// More pixels per frame than the DRM core's 32-bit arithmetic holds.
    Frame(u64),
    /// A refresh rate (mHz) outside what the vblank timer paces.
    Refresh(u64),
}

/// Checks that the vblank timer can pace `t`; returns the refresh rate in mHz.
pub(crate) fn check(t: &Timings) -> Result<u64, TimingError> {
    let clock = u64::try_from(t.clock)
        .ok()
        .filter(|&c| c > 0)
        .ok_or(TimingError::NoClock)?;
    if t.hdisplay == 0 || t.vdisplay == 0 || t.htotal < t.hdisplay || t.vtotal < t.vdisplay {
        return Err(TimingError::Totals);
    }
    // All in 64 bits: 16-bit totals, a 16-bit vscan and a factor two cannot overflow them.
    let lines = u64::from(t.vtotal) * u64::from(t.vscan.max(1)) * if t.doublescan { 2 } else { 1 };
    if lines > u64::from(u16::MAX) {
        return Err(TimingError::Lines(lines));
    }
    let frame = u64::from(t.htotal) * lines;
    if frame > i32::MAX as u64 {
        return Err(TimingError::Frame(frame));
    }
    // Fields of an interlaced mode come twice per frame.
    let fields = if t.interlaced { 2 } else { 1 };
    // At most 2^31 kHz * 10^6 * 2 < 2^63.
    let refresh = clock * 1_000_000 * fields / frame;
    if !(MIN_REFRESH_MHZ..=MAX_REFRESH_MHZ).contains(&refresh) {
        return Err(TimingError::Refresh(refresh));
    }
    Ok(refresh)
}

#[kunit_tests(virtio_rs_timings)]
mod tests {
    use super::*;

    /// 1024x768 at 75 Hz (VESA DMT).
    const XGA75: Timings = Timings {
        clock: 78_750,
        hdisplay: 1024,
        htotal: 1312,
        vdisplay: 768,
        vtotal: 800,
        vscan: 0,
        interlaced: false,
        doublescan: false,
    };

    #[test]
    fn standard_modes_pass() {
        assert_eq!(check(&XGA75), Ok(75_028));
        // 7680x4320 at 120 Hz (CVT reduced blanking v2).
        let uhd8k = Timings {
            clock: 4_121_080,
            hdisplay: 7680,
            htotal: 7760,
            vdisplay: 4320,
            vtotal: 4426,
            ..XGA75
        };
        assert!(check(&uhd8k).is_ok());
        let interlaced = Timings {
            interlaced: true,
            ..XGA75
        };
        assert_eq!(check(&interlaced), Ok(150_057));
    }

    #[test]
    fn absurd_clocks_are_refused() {
        let fast = Timings {
            clock: i32::MAX,
            ..XGA75
        };
        assert!(matches!(check(&fast), Err(TimingError::Refresh(_))));
        for clock in [0, -1, i32::MIN] {
            assert_eq!(
                check(&Timings { clock, ..XGA75 }),
                Err(TimingError::NoClock)
            );
        }
        let slow = Timings { clock: 1, ..XGA75 };
        assert!(matches!(check(&slow), Err(TimingError::Refresh(0))));
    }

    #[test]
    fn overflowing_totals_are_refused() {
        // htotal * vtotal * vscan = 2^32: 0 in 32 bits.
        let wrap = Timings {
            htotal: 4096,
            vtotal: 4096,
            vscan: 256,
            ..XGA75
        };
        assert_eq!(check(&wrap), Err(TimingError::Lines(1 << 20)));
        let big = Timings {
            clock: i32::MAX,
            hdisplay: 65535,
            htotal: 65535,
            vdisplay: 65535,
            vtotal: 65535,
            ..XGA75
        };
        assert_eq!(check(&big), Err(TimingError::Frame(65535 * 65535)));
        let doubled = Timings {
            vtotal: 40000,
            vdisplay: 40000,
            doublescan: true,
            ..XGA75
        };
        assert_eq!(check(&doubled), Err(TimingError::Lines(80000)));
    }

    #[test]
    fn totals_below_the_visible_area_are_refused() {
        let short = Timings {
            htotal: 1000,
            ..XGA75
        };
        assert_eq!(check(&short), Err(TimingError::Totals));
        let empty = Timings {
            vdisplay: 0,
            ..XGA75
        };
        assert_eq!(check(&empty), Err(TimingError::Totals));
    }
}
