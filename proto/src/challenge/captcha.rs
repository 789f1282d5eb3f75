//! The captcha: five characters of distorted text drawn into a small 1-bit bitmap, the
//! only picture the listener ever sends. The client decodes nothing richer than
//! [`Bitmap::from_wire`] (bounded size, exact length) and shows it with Unicode half blocks
//! ([`Bitmap::half_blocks`]), two pixels per character cell.
//!
//! The alphabet keeps one of each look-alike pair (0, O and Q go, D's shape is kept; 1/I,
//! 2/Z, 5/S and 8/B all go; G goes and 6 stays), so a person never has to guess between two readings. Drawing is our own few
//! hundred lines over a 5×7 font: each glyph is scaled, sheared and moved, the glyphs
//! ride a sine wave, and noise pixels and a line are drawn through it. It stops casual
//! scripts, not a trained OCR model; that is what the proof of work beside it is for.

/// Characters a captcha is made of.
pub const ALPHABET: &[u8] = b"ACDEFHJKLMNPRTUVWXY34679";
/// Characters in one captcha.
pub const LEN: usize = 5;
/// The bitmap's size in pixels.
pub const WIDTH: u16 = 72;
pub const HEIGHT: u16 = 24;
/// The largest bitmap a client accepts from a listener.
pub const MAX_WIDTH: u16 = 160;
pub const MAX_HEIGHT: u16 = 64;

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

    /// The picture as text: each character cell shows two pixels, one above the other
    /// (`▀`, `▄`, `█` or a space), so 72×24 pixels take 72 columns and 12 lines.
    pub fn half_blocks(&self) -> String {
        let mut out = String::new();
        let h = i32::from(self.height);
        let mut y = 0;
        while y < h {
            for x in 0..i32::from(self.width) {
                out.push(match (self.get(x, y), self.get(x, y + 1)) {
                    (false, false) => ' ',
                    (true, false) => '▀',
                    (false, true) => '▄',
                    (true, true) => '█',
                });
            }
            out.push('\n');
            y += 2;
        }
        out
    }
}

impl Bitmap {
    /// The picture as a PNG file (1-bit greyscale, ink black on white, each pixel drawn
    /// `scale`×`scale`), for `--captcha-file`: written by the client for another viewer,
    /// never read from the network. Uncompressed (stored deflate blocks): a few kilobytes.
    pub fn to_png(&self, scale: u16) -> Vec<u8> {
        let scale = scale.clamp(1, 16);
        let (w, h) = (u32::from(self.width) * u32::from(scale), u32::from(self.height) * u32::from(scale));
        let stride = (w as usize).div_ceil(8);
        // Scanlines: a filter byte (0), then the row's bits, 1 for white.
        let mut raw = Vec::with_capacity((stride + 1) * h as usize);
        for y in 0..h as i32 {
            raw.push(0);
            let start = raw.len();
            raw.resize(start + stride, 0);
            for x in 0..w as i32 {
                if !self.get(x / i32::from(scale), y / i32::from(scale)) {
                    if let Some(b) = raw.get_mut(start + x as usize / 8) {
                        *b |= 0x80 >> (x % 8);
                    }
                }
            }
        }
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&w.to_be_bytes());
        ihdr.extend_from_slice(&h.to_be_bytes());
        ihdr.extend_from_slice(&[1, 0, 0, 0, 0]); // 1 bit, greyscale, deflate, no filter, no interlace
        chunk(&mut png, b"IHDR", &ihdr);
        chunk(&mut png, b"IDAT", &zlib_stored(&raw));
        chunk(&mut png, b"IEND", &[]);
        png
    }
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(out.get(start..).unwrap_or_default());
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A zlib stream of stored (uncompressed) deflate blocks.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let mut blocks = data.chunks(65_535).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        let last = u8::from(blocks.peek().is_none());
        let len = block.len() as u16;
        out.push(last);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A small deterministic generator (SplitMix64): the caller seeds it from the system's
/// random source, and tests from constants.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: u32) -> u32 {
        (((self.next_u64() >> 32) * u64::from(n.max(1))) >> 32) as u32
    }

    /// A number in `lo..=hi`.
    pub fn between(&mut self, lo: i32, hi: i32) -> i32 {
        lo + self.below(u32::try_from(hi - lo + 1).unwrap_or(1)) as i32
    }
}

/// Random captcha text.
pub fn random_text(rng: &mut Rng) -> String {
    (0..LEN)
        .map(|_| char::from(ALPHABET.get(rng.below(ALPHABET.len() as u32) as usize).copied().unwrap_or(b'A')))
        .collect()
}

/// The 5×7 font: one row per string, `#` for ink.
fn glyph(c: char) -> Option<[&'static str; 7]> {
    Some(match c {
        'A' => [".###.", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"],
        'C' => [".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."],
        'D' => ["####.", "#...#", "#...#", "#...#", "#...#", "#...#", "####."],
        'E' => ["#####", "#....", "#....", "####.", "#....", "#....", "#####"],
        'F' => ["#####", "#....", "#....", "####.", "#....", "#....", "#...."],
        'H' => ["#...#", "#...#", "#...#", "#####", "#...#", "#...#", "#...#"],
        'J' => ["..###", "...#.", "...#.", "...#.", "...#.", "#..#.", ".##.."],
        'K' => ["#...#", "#..#.", "#.#..", "##...", "#.#..", "#..#.", "#...#"],
        'L' => ["#....", "#....", "#....", "#....", "#....", "#....", "#####"],
        'M' => ["#...#", "##.##", "#.#.#", "#.#.#", "#...#", "#...#", "#...#"],
        'N' => ["#...#", "#...#", "##..#", "#.#.#", "#..##", "#...#", "#...#"],
        'P' => ["####.", "#...#", "#...#", "####.", "#....", "#....", "#...."],
        'R' => ["####.", "#...#", "#...#", "####.", "#.#..", "#..#.", "#...#"],
        'T' => ["#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."],
        'U' => ["#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."],
        'V' => ["#...#", "#...#", "#...#", "#...#", "#...#", ".#.#.", "..#.."],
        'W' => ["#...#", "#...#", "#...#", "#.#.#", "#.#.#", "#.#.#", ".#.#."],
        'X' => ["#...#", "#...#", ".#.#.", "..#..", ".#.#.", "#...#", "#...#"],
        'Y' => ["#...#", "#...#", ".#.#.", "..#..", "..#..", "..#..", "..#.."],
        '3' => ["####.", "....#", "....#", ".###.", "....#", "....#", "####."],
        '4' => ["...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."],
        '6' => [".###.", "#....", "#....", "####.", "#...#", "#...#", ".###."],
        '7' => ["#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."],
        '9' => [".###.", "#...#", "#...#", ".####", "....#", "....#", ".###."],
        _ => return None,
    })
}

/// Draw `text` (characters of [`ALPHABET`]; others are skipped) distorted by `rng`.
pub fn draw(text: &str, rng: &mut Rng) -> Bitmap {
    let mut bm = Bitmap::new(WIDTH, HEIGHT);
    // The whole line rides one sine wave.
    let phase = f64::from(rng.below(628)) / 100.0;
    let amplitude = f64::from(rng.between(1, 2));
    let wave = |x: i32| (amplitude * (f64::from(x) / 9.0 + phase).sin()).round() as i32;
    for (i, c) in text.chars().take(LEN).enumerate() {
        let Some(rows) = glyph(c) else { continue };
        let x0 = 3 + i as i32 * 14 + rng.between(-1, 1);
        let y0 = 4 + rng.between(-2, 2);
        // Lean: up to a pixel and a half each way at the top and bottom rows; the glyph
        // rides the wave as a whole, so its strokes stay straight and readable.
        let lean = rng.between(-1, 1);
        let lift = wave(x0 + 5);
        for (gy, row) in rows.iter().enumerate() {
            for (gx, ink) in row.bytes().enumerate() {
                if ink != b'#' {
                    continue;
                }
                let (gx, gy) = (gx as i32, gy as i32);
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let x = x0 + gx * 2 + dx + lean * (3 - gy) / 2;
                    let y = y0 + gy * 2 + dy;
                    bm.set(x, y + lift, true);
                }
            }
        }
    }
    // Noise: a few percent of the pixels flipped, and one line through the text.
    let pixels = u32::from(WIDTH) * u32::from(HEIGHT);
    for _ in 0..pixels / 50 {
        let (x, y) = (rng.below(u32::from(WIDTH)) as i32, rng.below(u32::from(HEIGHT)) as i32);
        let on = bm.get(x, y);
        bm.set(x, y, !on);
    }
    let (y1, y2) = (rng.between(4, i32::from(HEIGHT) - 5), rng.between(4, i32::from(HEIGHT) - 5));
    line(&mut bm, 0, y1, i32::from(WIDTH) - 1, y2);
    bm
}

/// A one-pixel line (Bresenham).
fn line(bm: &mut Bitmap, x1: i32, y1: i32, x2: i32, y2: i32) {
    let (dx, dy) = ((x2 - x1).abs(), -(y2 - y1).abs());
    let (sx, sy) = (if x1 < x2 { 1 } else { -1 }, if y1 < y2 { 1 } else { -1 });
    let (mut x, mut y, mut err) = (x1, y1, dx + dy);
    loop {
        bm.set(x, y, true);
        if x == x2 && y == y2 {
            return;
        }
        let e2 = 2 * err;
        if e2 >= dy {
            err += dy;
            x += sx;
        }
        if e2 <= dx {
            err += dx;
            y += sy;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_character_of_the_alphabet_has_a_glyph() {
        for c in ALPHABET {
            let rows = glyph(char::from(*c)).expect("glyph");
            assert!(rows.iter().all(|r| r.len() == 5), "{}", char::from(*c));
        }
        let mut rng = Rng::new(1);
        for _ in 0..100 {
            let t = random_text(&mut rng);
            assert_eq!(t.len(), LEN);
            assert!(t.bytes().all(|c| ALPHABET.contains(&c)), "{t}");
        }
    }

    #[test]
    fn a_drawing_has_ink_in_every_glyph_column_and_is_reproducible() {
        let bm = draw("K7WXP", &mut Rng::new(42));
        assert_eq!((bm.width(), bm.height()), (WIDTH, HEIGHT));
        for i in 0..LEN as i32 {
            let ink =
                (i * 14 + 3..i * 14 + 13).flat_map(|x| (0..24).map(move |y| (x, y))).filter(|&(x, y)| bm.get(x, y));
            assert!(ink.count() > 40, "glyph {i}");
        }
        assert_eq!(draw("K7WXP", &mut Rng::new(42)), bm);
        assert_ne!(draw("K7WXP", &mut Rng::new(43)), bm);
    }

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
        let text = draw("ACDEF", &mut Rng::new(7)).half_blocks();
        assert_eq!(text.lines().count(), usize::from(HEIGHT) / 2);
        assert!(text.lines().all(|l| l.chars().count() == usize::from(WIDTH)));
    }

    #[test]
    fn the_png_is_well_formed() {
        let png = draw("C3PO", &mut Rng::new(5)).to_png(2);
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR"));
        // 144 x 48 pixels, 1-bit greyscale.
        assert_eq!(png.get(16..26), Some(&[0, 0, 0, 144, 0, 0, 0, 48, 1, 0][..]));
        // The empty IEND chunk's CRC is a constant of the format.
        assert!(png.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xae, 0x42, 0x60, 0x82]));
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn bitmaps_from_the_wire_are_bounded_and_exact() {
        let bm = draw("HJKLM", &mut Rng::new(3));
        let back = Bitmap::from_wire(bm.width(), bm.height(), bm.bits().to_vec()).expect("valid");
        assert_eq!(back, bm);
        assert_eq!(Bitmap::from_wire(MAX_WIDTH + 1, 1, vec![0; 21]), Err(BitmapError::TooLarge(MAX_WIDTH + 1, 1)));
        assert_eq!(Bitmap::from_wire(9, 2, vec![0; 3]), Err(BitmapError::Length { got: 3, want: 4 }));
        assert!(Bitmap::from_wire(0, 0, Vec::new()).is_ok());
    }
}
