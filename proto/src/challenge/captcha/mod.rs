//! The captcha: five characters of distorted text drawn into a small 1-bit bitmap, the only
//! picture the listener ever sends. The client decodes nothing richer than
//! [`Bitmap::from_wire`] (bounded size, exact length) and shows it with Unicode block
//! characters ([`Bitmap::terminal`]).
//!
//! Two pictures: qxfer/6 clients get [`crowded::draw`] (152×44, glyphs that touch and
//! cross, several shapes and stroke widths, clutter drawn with the glyphs' pen; quadrant
//! cells), qxfer/5 clients today's [`v5::draw`] (72×24, half blocks), which they can draw.
//! The text ([`random_text`]) comes from an alphabet without look-alikes ([`ALPHABET`]);
//! an answer may still have one character taken for a look-alike ([`tolerance`]).
//! It stops a solver written from this code in an hour (the suite keeps one:
//! `proto/tests/captcha_solver.rs`), not a model trained on pictures from this generator:
//! that is what the proof of work, the per-account lockout and the bans around it are for.

mod bitmap;
pub mod crowded;
pub mod font;
mod pen;
mod png;
mod rng;
mod text;
pub mod tolerance;
pub mod v5;

pub use bitmap::{Bitmap, BitmapError, Cells, HALF_BLOCK_MAX_WIDTH, MAX_HEIGHT, MAX_WIDTH};
pub use rng::Rng;
pub use text::{random_text, ALPHABET, LEN};

/// Draw `text` as the picture for a client that draws `cells`: qxfer/6 clients draw
/// quadrants ([`crowded::draw`]), qxfer/5 clients half blocks ([`v5::draw`]).
pub fn draw(text: &str, cells: Cells, rng: &mut Rng) -> Bitmap {
    match cells {
        Cells::HalfBlocks => v5::draw(text, rng),
        Cells::Quadrants => crowded::draw(text, rng),
    }
}
