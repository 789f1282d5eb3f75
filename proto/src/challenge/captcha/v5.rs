//! qxfer/5's captcha picture, as it was: five characters of a 5×7 font doubled into a
//! 72×24 bitmap, each glyph in its own 14-pixel slot, moved and leaned a pixel, riding a
//! sine wave, with noise pixels and a one-pixel line through it. Kept only for qxfer/5
//! clients, which draw at most 72 pixels wide with half blocks; the suite's solver reads it
//! (`proto/tests/captcha_solver.rs`). qxfer/6 clients get [`super::crowded`].

use super::bitmap::Bitmap;
use super::rng::Rng;
use super::text::LEN;

/// The bitmap's size in pixels.
pub const WIDTH: u16 = 72;
pub const HEIGHT: u16 = 24;

/// The 5×7 font: one row per string, `#` for ink (public for the suite's solver, which
/// renders its templates from it as an attacker would from the source).
pub fn glyph(c: char) -> Option<[&'static str; 7]> {
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

/// Draw `text` (characters of [`super::ALPHABET`]; others are skipped) distorted by `rng`.
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
    use crate::challenge::captcha::text::{random_text, ALPHABET};

    #[test]
    fn every_character_of_the_alphabet_has_a_glyph() {
        for c in ALPHABET {
            let rows = glyph(char::from(*c)).expect("glyph");
            assert!(rows.iter().all(|r| r.len() == 5), "{}", char::from(*c));
        }
    }

    #[test]
    fn a_drawing_has_ink_in_every_glyph_column_and_is_reproducible() {
        let bm = draw("K7WXR", &mut Rng::new(42));
        assert_eq!((bm.width(), bm.height()), (WIDTH, HEIGHT));
        for i in 0..LEN as i32 {
            let ink =
                (i * 14 + 3..i * 14 + 13).flat_map(|x| (0..24).map(move |y| (x, y))).filter(|&(x, y)| bm.get(x, y));
            assert!(ink.count() > 40, "glyph {i}");
        }
        assert_eq!(draw("K7WXR", &mut Rng::new(42)), bm);
        assert_ne!(draw("K7WXR", &mut Rng::new(43)), bm);
        let text = draw(&random_text(&mut Rng::new(7)), &mut Rng::new(7)).half_blocks();
        assert_eq!(text.lines().count(), usize::from(HEIGHT) / 2);
        assert!(text.lines().all(|l| l.chars().count() == usize::from(WIDTH)));
    }
}
