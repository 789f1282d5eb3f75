//! The 1-bit picture a captcha is drawn into and sent as, checked when it comes from the
//! wire, and its two terminal drawings: half blocks (two pixels a cell, for pictures of
//! at most [`HALF_BLOCK_MAX_WIDTH`] pixels: qxfer/5's) and quadrants (2×2 pixels a cell,
//! for the wider qxfer/6 picture).

/// The largest bitmap a client accepts from a listener.
pub const MAX_WIDTH: u16 = 160;
pub const MAX_HEIGHT: u16 = 64;
/// The widest picture drawn with half blocks (one pixel a column, square pixels); wider ones
/// are drawn with quadrants (two pixels a column, pixels twice as tall as wide), so that
/// [`MAX_WIDTH`] still fits 80 columns.
pub const HALF_BLOCK_MAX_WIDTH: u16 = 80;

/// A 1-bit picture, rows of `stride` bytes, most significant bit leftmost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitmap {
    width: u16,
    height: u16,
    bits: Vec<u8>,
}

/// Why a received bitmap was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BitmapError {
    #[error("captcha picture of {0}x{1} pixels is larger than {MAX_WIDTH}x{MAX_HEIGHT}")]
    TooLarge(u16, u16),
    #[error("captcha picture holds {got} bytes where {want} were expected")]
    Length { got: usize, want: usize },
}

/// How a picture is drawn on a terminal, decided by its width alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cells {
    /// `▀▄█`: 1×2 pixels a cell, square pixels.
    HalfBlocks,
    /// `▘▝▖▗▀▄▌▐▚▞▛▜▙▟█`: 2×2 pixels a cell, each pixel twice as tall as wide.
    Quadrants,
}

impl Bitmap {
    pub fn new(width: u16, height: u16) -> Bitmap {
        let stride = usize::from(width).div_ceil(8);
        Bitmap { width, height, bits: vec![0; stride * usize::from(height)] }
    }

    /// A bitmap from the wire, checked: bounded dimensions and exactly the bytes they need.
    pub fn from_wire(width: u16, height: u16, bits: Vec<u8>) -> Result<Bitmap, BitmapError> {
        if width > MAX_WIDTH || height > MAX_HEIGHT {
            return Err(BitmapError::TooLarge(width, height));
        }
        let want = usize::from(width).div_ceil(8) * usize::from(height);
        if bits.len() != want {
            return Err(BitmapError::Length { got: bits.len(), want });
        }
        Ok(Bitmap { width, height, bits })
    }

    pub fn width(&self) -> u16 {
        self.width
    }

    pub fn height(&self) -> u16 {
        self.height
    }

    /// The packed rows, as sent.
    pub fn bits(&self) -> &[u8] {
        &self.bits
    }

    fn index(&self, x: i32, y: i32) -> Option<(usize, u8)> {
        let (x, y) = (u16::try_from(x).ok()?, u16::try_from(y).ok()?);
        if x >= self.width || y >= self.height {
            return None;
        }
        let stride = usize::from(self.width).div_ceil(8);
        Some((usize::from(y) * stride + usize::from(x) / 8, 0x80 >> (x % 8)))
    }

    /// The pixel at (x, y); outside the picture is blank.
    pub fn get(&self, x: i32, y: i32) -> bool {
        self.index(x, y).and_then(|(i, m)| self.bits.get(i).map(|b| b & m != 0)).unwrap_or(false)
    }

    /// Set or clear a pixel; outside the picture nothing happens.
    pub fn set(&mut self, x: i32, y: i32, on: bool) {
        if let Some((i, m)) = self.index(x, y) {
            if let Some(b) = self.bits.get_mut(i) {
                if on {
                    *b |= m;
                } else {
                    *b &= !m;
                }
            }
        }
    }

    /// How this picture is drawn on a terminal: half blocks up to
    /// [`HALF_BLOCK_MAX_WIDTH`] pixels wide, quadrants beyond.
    pub fn cells(&self) -> Cells {
        if self.width <= HALF_BLOCK_MAX_WIDTH {
            Cells::HalfBlocks
        } else {
            Cells::Quadrants
        }
    }

    /// The picture as text for a terminal, in its [`Bitmap::cells`].
    pub fn terminal(&self) -> String {
        match self.cells() {
            Cells::HalfBlocks => self.half_blocks(),
            Cells::Quadrants => self.quadrants(),
        }
    }

    /// Each character cell shows two pixels, one above the other (`▀`, `▄`, `█` or a
    /// space), so 72×24 pixels take 72 columns and 12 lines.
    pub fn half_blocks(&self) -> String {
        self.cell_rows(1, |x, y| match (self.get(x, y), self.get(x, y + 1)) {
            (false, false) => ' ',
            (true, false) => '▀',
            (false, true) => '▄',
            (true, true) => '█',
        })
    }

    /// Each character cell shows 2×2 pixels with the Unicode quadrant blocks (in every
    /// monospace font that has `▀▄█`'s block: Block Elements, Unicode 3.2), so 152×44
    /// pixels take 76 columns and 22 lines.
    pub fn quadrants(&self) -> String {
        // Indexed by upper left, upper right, lower left, lower right (bits 0..3).
        const QUADS: [char; 16] = [' ', '▘', '▝', '▀', '▖', '▌', '▞', '▛', '▗', '▚', '▐', '▜', '▄', '▙', '▟', '█'];
        self.cell_rows(2, |x, y| {
            let at = |dx, dy, bit: usize| usize::from(self.get(x + dx, y + dy)) << bit;
            QUADS.get(at(0, 0, 0) | at(1, 0, 1) | at(0, 1, 2) | at(1, 1, 3)).copied().unwrap_or(' ')
        })
    }

    fn cell_rows(&self, step: usize, cell: impl Fn(i32, i32) -> char) -> String {
        let mut out = String::new();
        for y in (0..i32::from(self.height)).step_by(2) {
            for x in (0..i32::from(self.width)).step_by(step) {
                out.push(cell(x, y));
            }
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_blocks_show_two_rows_per_line() {
        let mut bm = Bitmap::new(3, 3);
        bm.set(0, 0, true);
        bm.set(1, 1, true);
        bm.set(2, 0, true);
        bm.set(2, 1, true);
        bm.set(0, 2, true);
        bm.set(9, 9, true);
        assert_eq!(bm.half_blocks(), "▀▄█\n▀  \n");
        assert_eq!(bm.cells(), Cells::HalfBlocks);
        assert_eq!(bm.terminal(), bm.half_blocks());
    }

    #[test]
    fn quadrants_show_two_by_two_pixels_per_cell() {
        let mut bm = Bitmap::new(HALF_BLOCK_MAX_WIDTH + 2, 3);
        for (x, y) in [(0, 0), (3, 0), (2, 1), (3, 1), (1, 2)] {
            bm.set(x, y, true);
        }
        let text = bm.quadrants();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|l| l.chars().count() == 41), "{text}");
        assert!(lines[0].starts_with("▘▟ "), "{text}");
        assert!(lines[1].starts_with("▝  "), "{text}");
        assert_eq!(bm.cells(), Cells::Quadrants);
        assert_eq!(bm.terminal(), text);
    }

    #[test]
    fn bitmaps_from_the_wire_are_bounded_and_exact() {
        let mut bm = Bitmap::new(19, 5);
        bm.set(18, 4, true);
        let back = Bitmap::from_wire(bm.width(), bm.height(), bm.bits().to_vec()).expect("valid");
        assert_eq!(back, bm);
        assert_eq!(Bitmap::from_wire(MAX_WIDTH + 1, 1, vec![0; 21]), Err(BitmapError::TooLarge(MAX_WIDTH + 1, 1)));
        assert_eq!(Bitmap::from_wire(9, 2, vec![0; 3]), Err(BitmapError::Length { got: 3, want: 4 }));
        assert!(Bitmap::from_wire(0, 0, Vec::new()).is_ok());
    }
}
