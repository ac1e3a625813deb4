// SPDX-License-Identifier: GPL-2.0

//! The images the tests show. tests/png_check.py implements the same formulas and checks every
//! pixel of the screendumps against them.
//!
//! Pattern A, for a W x H screen: four quadrants split at (W/2, H/2) (integer division), the
//! left half being x < W/2 and the top half y < H/2: top left red, top right green, bottom left
//! blue, bottom right white; over them a yellow 64x64 square covering 96 <= x < 160,
//! 96 <= y < 160.
//!
//! Pattern B: the same quadrants with top left white, top right blue, bottom left green, bottom
//! right red; over them a magenta 64x64 square covering 800 <= x < 864, 600 <= y < 664 (so the
//! screen must be at least 864x664).
//!
//! Colours are full intensity (0 or 255 per channel). The framebuffers are XRGB8888 with the X
//! byte 0: a driver or host that took it for alpha would show it.
//!
//! The cursor: 64x64 ARGB8888 (premultiplied), transparent where x + y >= 80, else opaque black
//! where x < 4 or y < 4 (its top and left edges), else opaque cyan.

pub type Rgb = (u8, u8, u8);

pub const RED: Rgb = (255, 0, 0);
pub const GREEN: Rgb = (0, 255, 0);
pub const BLUE: Rgb = (0, 0, 255);
pub const WHITE: Rgb = (255, 255, 255);
pub const YELLOW: Rgb = (255, 255, 0);
pub const MAGENTA: Rgb = (255, 0, 255);

/// The square of each pattern: (x, y, size, colour).
pub const SQUARE_A: (u32, u32, u32, Rgb) = (96, 96, 64, YELLOW);
pub const SQUARE_B: (u32, u32, u32, Rgb) = (800, 600, 64, MAGENTA);

/// Quadrant colours: top left, top right, bottom left, bottom right.
const QUADRANTS_A: [Rgb; 4] = [RED, GREEN, BLUE, WHITE];
const QUADRANTS_B: [Rgb; 4] = [WHITE, BLUE, GREEN, RED];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    A,
    B,
}

impl Pattern {
    /// The smallest screen the pattern fits on.
    pub fn min_size(self) -> (u32, u32) {
        let (x, y, s, _) = self.square();
        (x + s, y + s)
    }

    fn square(self) -> (u32, u32, u32, Rgb) {
        match self {
            Pattern::A => SQUARE_A,
            Pattern::B => SQUARE_B,
        }
    }

    /// The colour of pixel (x, y) on a w x h screen.
    pub fn pixel(self, x: u32, y: u32, w: u32, h: u32) -> Rgb {
        let (sx, sy, s, colour) = self.square();
        if (sx..sx + s).contains(&x) && (sy..sy + s).contains(&y) {
            return colour;
        }
        let q = usize::from(x >= w / 2) + 2 * usize::from(y >= h / 2);
        match self {
            Pattern::A => QUADRANTS_A[q],
            Pattern::B => QUADRANTS_B[q],
        }
    }
}

/// XRGB8888 with the X byte 0.
pub fn xrgb((r, g, b): Rgb) -> u32 {
    (u32::from(r) << 16) | (u32::from(g) << 8) | u32::from(b)
}

pub const CURSOR_SIZE: u32 = 64;

/// The ARGB8888 cursor image at (x, y).
pub fn cursor_pixel(x: u32, y: u32) -> u32 {
    if x + y >= 80 {
        0x0000_0000
    } else if x < 4 || y < 4 {
        0xff00_0000
    } else {
        0xff00_ffff
    }
}
