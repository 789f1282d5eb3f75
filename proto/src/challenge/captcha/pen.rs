//! Ink for the qxfer/6 captcha: a pen (round, or a broad nib that draws thick and thin by
//! direction) drawn along lines in *units* (one pixel tall, two wide: the quadrant cell's
//! pixel), through the slow waves that bend the whole picture.

use super::bitmap::Bitmap;
use super::rng::Rng;

/// A pen: an ellipse `width` units across its broad side and `thin` times that across its
/// narrow side, turned by `angle` radians (a round pen has `thin` 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pen {
    pub width: f64,
    pub thin: f64,
    pub angle: f64,
}

impl Pen {
    pub fn round(width: f64) -> Pen {
        Pen { width, thin: 1.0, angle: 0.0 }
    }

    /// Ink a pen-shaped blot centred at `(x, y)` units.
    pub fn blot(&self, bm: &mut Bitmap, (x, y): (f64, f64)) {
        let (a, b) = (self.width / 2.0, self.width * self.thin / 2.0);
        let (sin, cos) = self.angle.sin_cos();
        let (hx, hy) = ((a * cos).hypot(b * sin), (a * sin).hypot(b * cos));
        for py in (y - hy).floor() as i32..=(y + hy).ceil() as i32 {
            let dy = f64::from(py) + 0.5 - y;
            // Pixel px covers units px/2 .. (px+1)/2 and is inked when its centre is inside.
            for px in ((x - hx) * 2.0).floor() as i32..=((x + hx) * 2.0).ceil() as i32 {
                let dx = (f64::from(px) + 0.5) / 2.0 - x;
                let (u, v) = (dx * cos + dy * sin, dy * cos - dx * sin);
                if (u / a).powi(2) + (v / b).powi(2) <= 1.0 {
                    bm.set(px, py, true);
                }
            }
        }
    }

    /// Draw along `line` (units, already placed), bent by `bend`.
    pub fn stroke(&self, bm: &mut Bitmap, line: &[(f64, f64)], bend: &Bend) {
        for pair in line.windows(2) {
            let (Some(&(x0, y0)), Some(&(x1, y1))) = (pair.first(), pair.get(1)) else { continue };
            let steps = ((x1 - x0).hypot(y1 - y0) / 0.25).ceil().max(1.0) as usize;
            for i in 0..=steps {
                let t = i as f64 / steps as f64;
                self.blot(bm, bend.at((x0 + (x1 - x0) * t, y0 + (y1 - y0) * t)));
            }
        }
    }
}

/// The two slow waves that bend the whole picture: x moves with y, and y with x.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Bend {
    /// Amplitude (units), wavelength (units) and phase (radians) of the sideways wave.
    pub side: (f64, f64, f64),
    /// The same for the up-and-down wave.
    pub lift: (f64, f64, f64),
}

impl Bend {
    pub fn random(rng: &mut Rng) -> Bend {
        let tau = std::f64::consts::TAU;
        Bend {
            side: (rng.real(0.5, 1.2), rng.real(40.0, 70.0), rng.real(0.0, tau)),
            lift: (rng.real(1.5, 3.0), rng.real(40.0, 70.0), rng.real(0.0, tau)),
        }
    }

    pub fn at(&self, (x, y): (f64, f64)) -> (f64, f64) {
        let wave = |(a, l, p): (f64, f64, f64), t: f64| {
            if l > 0.0 {
                a * (std::f64::consts::TAU * t / l + p).sin()
            } else {
                0.0
            }
        };
        (x + wave(self.side, y), y + wave(self.lift, x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ink(bm: &Bitmap) -> usize {
        (0..i32::from(bm.width()))
            .flat_map(|x| (0..i32::from(bm.height())).map(move |y| (x, y)))
            .filter(|&(x, y)| bm.get(x, y))
            .count()
    }

    #[test]
    fn a_round_blot_is_as_tall_as_it_is_wide_in_units() {
        let mut bm = Bitmap::new(40, 20);
        Pen::round(4.0).blot(&mut bm, (10.0, 10.0));
        // 4 units across: 4 rows tall, 8 pixels wide.
        assert!(bm.get(16, 10) && bm.get(23, 10) && !bm.get(15, 10) && !bm.get(24, 10));
        assert!(bm.get(20, 8) && bm.get(20, 11) && !bm.get(20, 7) && !bm.get(20, 12));
    }

    #[test]
    fn a_nib_draws_thick_and_thin_by_direction() {
        let nib = Pen { width: 3.0, thin: 0.3, angle: 0.0 };
        let (mut across, mut along) = (Bitmap::new(60, 30), Bitmap::new(60, 30));
        // The broad side lies along x: a vertical stroke is thick, a horizontal one thin.
        nib.stroke(&mut across, &[(15.0, 5.0), (15.0, 25.0)], &Bend::default());
        nib.stroke(&mut along, &[(5.0, 15.0), (25.0, 15.0)], &Bend::default());
        assert!(ink(&across) > 2 * ink(&along), "{} {}", ink(&across), ink(&along));
    }
}
