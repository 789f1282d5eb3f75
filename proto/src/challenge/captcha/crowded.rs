//! The qxfer/6 captcha: five characters of the stroke font ([`super::font`]) crowded into a
//! 152×44 bitmap, drawn for a terminal's quadrant cells (2×2 pixels a cell, 76 columns and
//! 22 lines; each pixel twice as tall as wide, so the drawing works in *units* of one pixel
//! tall and two wide).
//!
//! What makes it hard for a program and not for a person (Bursztein et al., CCS 2011 and
//! WOOT 2014: resisting segmentation is what holds): no slots (each glyph is pushed into
//! the one before it until their ink touches, so no column and no outline parts them);
//! each glyph has its own shape, pen (light and heavy in turn, round or a broad nib), size,
//! width, slant, turn and wobble, so no one template fits a character; the whole picture
//! is bent by two slow waves; and clutter drawn with the glyphs' pens (arcs that cross
//! them, dots that touch them), which no thickness or length rule tells from a stroke. The
//! parameter space is public ([`Glyph`], [`paint`], the `*_RANGE` constants): the suite's
//! solver searches it.

use super::bitmap::Bitmap;
use super::font::{strokes, Stroke, VARIANTS};
pub use super::pen::{Bend, Pen};
use super::rng::Rng;

/// The bitmap's size in pixels.
pub const WIDTH: u16 = 152;
pub const HEIGHT: u16 = 44;
/// The picture in units (one pixel tall, two wide).
const UNITS_WIDE: f64 = WIDTH as f64 / 2.0;
const UNITS_TALL: f64 = HEIGHT as f64;

/// Light glyphs' round pen, in units across: about half a heavy glyph's, so that a person
/// tells two crowded neighbours apart by their weight.
pub const LIGHT_RANGE: (f64, f64) = (1.4, 1.7);
/// Heavy glyphs: a round pen, or (by `NIB_CHANCE`) a broad nib: its broad side in units,
/// its thin side over its broad side, and its angle in radians, either way from level.
pub const HEAVY_RANGE: (f64, f64) = (3.0, 3.5);
pub const NIB_CHANCE: f64 = 0.5;
pub const NIB_RANGE: (f64, f64) = (3.4, 3.9);
pub const NIB_THIN_RANGE: (f64, f64) = (0.55, 0.7);
pub const NIB_ANGLE_RANGE: (f64, f64) = (0.35, 1.05);
/// A glyph's height (of its centre lines), in units.
pub const HEIGHT_RANGE: (f64, f64) = (14.0, 31.0);
/// A glyph's width over its height.
pub const ASPECT_RANGE: (f64, f64) = (0.36, 0.6);
/// Characters drawn wider than the others, and by how much (narrow, an M was read as an N
/// and a W as an N or a V).
pub const WIDE: (&[char], f64) = (&['M', 'W'], 1.3);
/// Slant: how far the top moves right per unit of height (negative: left).
pub const SLANT_RANGE: (f64, f64) = (-0.2, 0.2);
/// Turn, in radians (about ±7°).
pub const TURN_RANGE: (f64, f64) = (-0.12, 0.12);
/// A glyph's wobble, in box units (a tenth of its height is 0.1).
pub const WOBBLE_RANGE: (f64, f64) = (0.02, 0.05);
/// How far a glyph's centre is above the middle (heavy glyphs) or below it (light ones),
/// in units.
pub const LIFT_RANGE: (f64, f64) = (0.5, 5.5);
/// How far a glyph may be pushed into the one before it past touching boxes, in units (it
/// stops sooner, where more of their ink would cross than `CROSS_RANGE` allows: a few
/// pixels, drawn per glyph).
pub const KERN: f64 = 3.5;
pub const CROSS_RANGE: (i32, i32) = (0, 6);
/// Clutter: arcs (how many, their radius and length in units, their pen: a light
/// glyph's; most of the line long, so a person sees a stroke through the word, not part
/// of a letter, while a program must still explain their ink) and dots (how many; a pen
/// as wide as a heavy glyph's, or a little wider).
pub const ARCS: (i32, i32) = (1, 1);
pub const ARC_RADIUS_RANGE: (f64, f64) = (40.0, 80.0);
pub const ARC_LENGTH_RANGE: (f64, f64) = (45.0, 70.0);
pub const DOTS: (i32, i32) = (3, 6);

/// One glyph as drawn: the character, its shape, its pen and its transformation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Glyph {
    pub c: char,
    /// Which of the font's shapes (0, 1 or 2).
    pub variant: u8,
    pub pen: Pen,
    /// Height in units, and width over height.
    pub height: f64,
    pub aspect: f64,
    pub slant: f64,
    pub turn: f64,
    /// A slow wave through the glyph's own box, as a hand does not draw the same letter
    /// twice.
    pub wobble: Wobble,
}

/// A glyph's wobble: each point of its box moves by `amp` (box units) times a wave in x
/// and one in y, of `freq` cycles per box along x and y, at `phase`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Wobble {
    pub amp: f64,
    pub freq: [(f64, f64); 2],
    pub phase: [f64; 2],
}

impl Wobble {
    pub fn random(rng: &mut Rng) -> Wobble {
        let tau = std::f64::consts::TAU;
        let mut f = || (rng.real(-1.2, 1.2), rng.real(-1.2, 1.2));
        let freq = [f(), f()];
        Wobble { amp: rng.real(WOBBLE_RANGE.0, WOBBLE_RANGE.1), freq, phase: [rng.real(0.0, tau), rng.real(0.0, tau)] }
    }

    fn at(&self, (x, y): (f64, f64)) -> (f64, f64) {
        let tau = std::f64::consts::TAU;
        let wave = |(fx, fy): (f64, f64), p: f64| self.amp * (tau * (fx * x + fy * y) + p).sin();
        (x + wave(self.freq[0], self.phase[0]), y + wave(self.freq[1], self.phase[1]))
    }
}

/// A random pen: a light glyph's, or a heavy glyph's.
fn random_pen(heavy: bool, rng: &mut Rng) -> Pen {
    let r = |rng: &mut Rng, (lo, hi): (f64, f64)| rng.real(lo, hi);
    if !heavy {
        Pen::round(r(rng, LIGHT_RANGE))
    } else if rng.chance(NIB_CHANCE) {
        let angle = r(rng, NIB_ANGLE_RANGE) * if rng.chance(0.5) { 1.0 } else { -1.0 };
        Pen { width: r(rng, NIB_RANGE), thin: r(rng, NIB_THIN_RANGE), angle }
    } else {
        Pen::round(r(rng, HEAVY_RANGE))
    }
}

impl Glyph {
    /// A random glyph of `c`, light or heavy, from the whole parameter space.
    pub fn random(c: char, heavy: bool, rng: &mut Rng) -> Glyph {
        let r = |rng: &mut Rng, (lo, hi): (f64, f64)| rng.real(lo, hi);
        Glyph {
            c,
            variant: rng.below(u32::from(VARIANTS)) as u8,
            pen: random_pen(heavy, rng),
            height: r(rng, HEIGHT_RANGE),
            aspect: r(rng, ASPECT_RANGE),
            slant: r(rng, SLANT_RANGE),
            turn: r(rng, TURN_RANGE),
            wobble: Wobble::random(rng),
        }
    }

    /// The centre lines of the glyph's strokes, as polylines in units around its centre.
    pub fn lines(&self) -> Vec<Vec<(f64, f64)>> {
        let wide = if WIDE.0.contains(&self.c) { WIDE.1 } else { 1.0 };
        let (w, h) = (self.height * self.aspect * wide, self.height);
        let (sin, cos) = self.turn.sin_cos();
        let place = |p: (f64, f64)| {
            let (x, y) = self.wobble.at(p);
            let (lx, ly) = ((x - 0.5) * w, (y - 0.5) * h);
            let lx = lx - self.slant * ly;
            (lx * cos - ly * sin, lx * sin + ly * cos)
        };
        let line = |stroke: &Stroke| -> Vec<(f64, f64)> {
            match *stroke {
                Stroke::Line(points) => points.iter().copied().map(place).collect(),
                Stroke::Arc((cx, cy), (rx, ry), from, to) => {
                    let steps = ((to - from).abs() / 6.0).ceil().max(2.0) as usize;
                    (0..=steps)
                        .map(|i| {
                            let a = (from + (to - from) * i as f64 / steps as f64).to_radians();
                            place((cx + rx * a.cos(), cy - ry * a.sin()))
                        })
                        .collect()
                }
            }
        };
        strokes(self.c, self.variant).unwrap_or_default().iter().map(line).collect()
    }

    /// Leftmost and rightmost reach of the ink around the centre, in units.
    pub fn reach(&self) -> (f64, f64) {
        let xs = self.lines().into_iter().flatten().map(|p| p.0);
        let (lo, hi) = xs.fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(x), hi.max(x)));
        (lo - self.pen.width / 2.0, hi + self.pen.width / 2.0)
    }
}

/// Paint `g` centred at `centre` (units), bent by `bend`.
pub fn paint(bm: &mut Bitmap, g: &Glyph, centre: (f64, f64), bend: &Bend) {
    for line in g.lines() {
        let placed: Vec<(f64, f64)> = line.into_iter().map(|(x, y)| (x + centre.0, y + centre.1)).collect();
        g.pen.stroke(bm, &placed, bend);
    }
}

/// Draw `text` (characters of [`super::ALPHABET`]; others are drawn as nothing).
pub fn draw(text: &str, rng: &mut Rng) -> Bitmap {
    draw_labelled(text, rng).0
}

/// [`draw`], also saying where each glyph's centre landed: its character and its column
/// in units, after the bend. The generator is open, so anyone can label its pictures so;
/// the suite's learned solver (`proto/tests/solver2.rs`) trains on these labels.
pub fn draw_labelled(text: &str, rng: &mut Rng) -> (Bitmap, Vec<(char, f64)>) {
    let mut bm = Bitmap::new(WIDTH, HEIGHT);
    let bend = Bend::random(rng);
    let (glyphs, right) = line_of(text, rng);
    // The line somewhere across the picture, a unit and a half from its edges.
    let shift = 1.5 + rng.real(0.0, (UNITS_WIDE - 3.0 - right).max(0.0));
    let mut centres = Vec::with_capacity(glyphs.len());
    for (g, (x, y)) in &glyphs {
        paint(&mut bm, g, (x + shift, *y), &bend);
        centres.push((g.c, bend.at((x + shift, *y)).0));
    }
    clutter(&mut bm, rng, &bend);
    (bm, centres)
}

/// Glyphs with their centres, in units.
type Laid = Vec<(Glyph, (f64, f64))>;

/// A line of glyphs for `text` that fits the picture with a unit and a half to spare at
/// each end: glyphs drawn again until it does (one time in a few).
fn line_of(text: &str, rng: &mut Rng) -> (Laid, f64) {
    let mut line = lay_out(text, rng);
    for _ in 0..64 {
        if line.1 <= UNITS_WIDE - 3.0 {
            break;
        }
        line = lay_out(text, rng);
    }
    line
}

/// Random glyphs for `text`, light and heavy in turn and above and below the middle in
/// turn, with their centres (from the line's left end), and where the last one ends. Each
/// glyph is pushed into the one before it half a unit at a time, up to `KERN` units past
/// touching boxes, as long as their ink crosses in no more than a few pixels: glyphs touch
/// and nestle into each other, so no column and no outline parts them, yet none hides
/// more than a pixel or two of another's strokes (a person reads them apart by their
/// weight and height; a program has no such rule).
fn lay_out(text: &str, rng: &mut Rng) -> (Laid, f64) {
    // Drawn unbent on a canvas twice as wide as the picture, from two units in.
    let mut inked = Bitmap::new(2 * WIDTH, HEIGHT);
    let mut glyphs = Vec::with_capacity(text.len());
    let mut right = 1.0;
    let first_heavy = rng.chance(0.5);
    for (i, c) in text.chars().enumerate() {
        let g = Glyph::random(c, first_heavy ^ (i % 2 == 1), rng);
        let (lo, hi) = g.reach();
        let up = if first_heavy ^ (i % 2 == 1) { 1.0 } else { -1.0 };
        // Within the picture, the bend's lift included.
        let room = (UNITS_TALL - g.height - g.pen.width) / 2.0 - 3.5;
        let y = UNITS_TALL / 2.0 + up * rng.real(LIFT_RANGE.0, LIFT_RANGE.1).min(room.max(0.0));
        // The glyph alone, a unit clear of the last one; then moved left a pixel at a time.
        let loose = right + 1.0 - lo;
        let mut alone = Bitmap::new(2 * WIDTH, HEIGHT);
        paint(&mut alone, &g, (loose, y), &Bend::default());
        let ink: Vec<(i32, i32)> = (0..2 * i32::from(WIDTH))
            .flat_map(|x| (0..i32::from(HEIGHT)).map(move |y| (x, y)))
            .filter(|&(x, y)| alone.get(x, y))
            .collect();
        let allowed = rng.between(CROSS_RANGE.0, CROSS_RANGE.1) as usize;
        let crosses = |shift: i32| ink.iter().filter(|&&(x, y)| inked.get(x - shift, y)).count() > allowed;
        let most = if i == 0 { 0 } else { (2.0 * (KERN + 1.0)) as i32 };
        // As far as it goes without crossing, stopping at the first crossing on the way.
        let shift = (0..=most).take_while(|&s| !crosses(s)).last().unwrap_or(0);
        for &(x, y) in &ink {
            inked.set(x - shift, y, true);
        }
        let x = loose - f64::from(shift) / 2.0;
        glyphs.push((g, (x - 2.0, y)));
        right = x + hi;
    }
    (glyphs, right - 2.0)
}

/// Arcs across the glyphs and dots among them, with the glyphs' pens.
fn clutter(bm: &mut Bitmap, rng: &mut Rng, bend: &Bend) {
    for _ in 0..rng.between(ARCS.0, ARCS.1) {
        // A circle through a point of the text band, running roughly along it.
        let (px, py) = (rng.real(6.0, UNITS_WIDE - 6.0), rng.real(12.0, UNITS_TALL - 12.0));
        let radius = rng.real(ARC_RADIUS_RANGE.0, ARC_RADIUS_RANGE.1);
        let heading = rng.real(-0.9, 0.9) + if rng.chance(0.5) { std::f64::consts::PI } else { 0.0 };
        let side = if rng.chance(0.5) { 1.0 } else { -1.0 };
        let (cx, cy) = (px - side * radius * heading.sin(), py + side * radius * heading.cos());
        let start = (py - cy).atan2(px - cx);
        let span = rng.real(ARC_LENGTH_RANGE.0, ARC_LENGTH_RANGE.1) / radius;
        let steps = (span * radius / 0.5).ceil().max(2.0) as usize;
        let line: Vec<(f64, f64)> = (0..=steps)
            .map(|i| {
                let a = start - span / 2.0 + span * i as f64 / steps as f64;
                (cx + radius * a.cos(), cy + radius * a.sin())
            })
            .collect();
        random_pen(false, rng).stroke(bm, &line, bend);
    }
    for _ in 0..rng.between(DOTS.0, DOTS.1) {
        let at = (rng.real(2.0, UNITS_WIDE - 2.0), rng.real(5.0, UNITS_TALL - 5.0));
        Pen::round(rng.real(HEAVY_RANGE.0, HEAVY_RANGE.1) * rng.real(0.9, 1.3)).blot(bm, bend.at(at));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::challenge::captcha::text::{random_text, ALPHABET};

    #[test]
    fn a_drawing_fits_its_terminal_and_is_reproducible() {
        let bm = draw("K3WXR", &mut Rng::new(42));
        assert_eq!((bm.width(), bm.height()), (WIDTH, HEIGHT));
        assert_eq!(draw("K3WXR", &mut Rng::new(42)), bm);
        assert_ne!(draw("K3WXR", &mut Rng::new(43)), bm);
        let text = bm.terminal();
        assert_eq!(text.lines().count(), 22);
        assert!(text.lines().all(|l| l.chars().count() == 76), "{text}");
    }

    #[test]
    fn every_glyph_is_inked_and_the_line_of_them_fits() {
        for &c in ALPHABET {
            let mut bm = Bitmap::new(WIDTH, HEIGHT);
            let g = Glyph::random(char::from(c), false, &mut Rng::new(u64::from(c)));
            paint(&mut bm, &g, (20.0, UNITS_TALL / 2.0), &Bend::default());
            let ink = (0..i32::from(WIDTH))
                .flat_map(|x| (0..i32::from(HEIGHT)).map(move |y| (x, y)))
                .filter(|&(x, y)| bm.get(x, y));
            assert!(ink.count() > 60, "{}", char::from(c));
        }
        // Lines of glyphs fit, a unit and a half from the edges.
        let mut rng = Rng::new(9);
        for _ in 0..100 {
            let text = random_text(&mut rng);
            let (_, right) = line_of(&text, &mut rng);
            assert!(right <= UNITS_WIDE - 3.0, "{text}: {right}");
        }
    }
}
