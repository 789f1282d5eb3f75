//! A captcha as a PNG file, for `--captcha-file`: written by the client for another viewer,
//! never read from the network. 1-bit greyscale, ink black on white, uncompressed (stored
//! deflate blocks): a few kilobytes.

use super::bitmap::{Bitmap, Cells};

impl Bitmap {
    /// The picture as a PNG, each pixel drawn `scale` wide, and as tall as the terminal
    /// draws it: `scale` for half blocks, twice that for quadrants.
    pub fn to_png(&self, scale: u16) -> Vec<u8> {
        let sx = u32::from(scale.clamp(1, 16));
        let sy = match self.cells() {
            Cells::HalfBlocks => sx,
            Cells::Quadrants => 2 * sx,
        };
        let (w, h) = (u32::from(self.width()) * sx, u32::from(self.height()) * sy);
        let stride = (w as usize).div_ceil(8);
        // Scanlines: a filter byte (0), then the row's bits, 1 for white.
        let mut raw = Vec::with_capacity((stride + 1) * h as usize);
        for y in 0..h as i32 {
            raw.push(0);
            let start = raw.len();
            raw.resize(start + stride, 0);
            for x in 0..w as i32 {
                if !self.get(x / sx as i32, y / sy as i32) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ihdr(png: &[u8]) -> Option<&[u8]> {
        png.get(16..26)
    }

    #[test]
    fn the_png_is_well_formed_and_as_tall_as_the_terminal_draws_it() {
        let mut bm = Bitmap::new(72, 24);
        bm.set(3, 3, true);
        let png = bm.to_png(2);
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR"));
        // 144 x 48 pixels, 1-bit greyscale.
        assert_eq!(ihdr(&png), Some(&[0, 0, 0, 144, 0, 0, 0, 48, 1, 0][..]));
        // The empty IEND chunk's CRC is a constant of the format.
        assert!(png.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xae, 0x42, 0x60, 0x82]));
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        // Quadrant pictures: pixels twice as tall as wide (304 x 160).
        let png = Bitmap::new(152, 40).to_png(2);
        assert_eq!(ihdr(&png), Some(&[0, 0, 1, 48, 0, 0, 0, 160, 1, 0][..]));
    }
}
