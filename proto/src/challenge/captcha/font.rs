//! The stroke font of the qxfer/6 captcha: each character of the alphabet as the centre
//! lines of its strokes in a unit box (x to the right, y down, both 0..1), in two shapes
//! ([`VARIANTS`]) a person reads as the same character. [`super::crowded`] draws them with
//! a round brush of the glyph's stroke width, after scaling, slanting, turning and bending
//! them.

/// One stroke's centre line.
#[derive(Debug, Clone, Copy)]
pub enum Stroke {
    /// Straight segments through these points.
    Line(&'static [(f64, f64)]),
    /// Part of an ellipse: centre, radii, and the angles it runs from and to, in degrees
    /// as on paper (0 to the right, 90 up); either direction.
    Arc((f64, f64), (f64, f64), f64, f64),
}

use Stroke::{Arc, Line};

/// Shapes per character.
pub const VARIANTS: u8 = 2;

/// The strokes of `c` in shape `variant` (0 or 1); None for a character not drawn.
pub fn strokes(c: char, variant: u8) -> Option<&'static [Stroke]> {
    let v = variant % VARIANTS == 1;
    Some(match (c, v) {
        ('A', false) => &[Line(&[(0.0, 1.0), (0.5, 0.0), (1.0, 1.0)]), Line(&[(0.22, 0.64), (0.78, 0.64)])],
        ('A', true) => &[Line(&[(0.0, 1.0), (0.32, 0.0), (0.68, 0.0), (1.0, 1.0)]), Line(&[(0.14, 0.6), (0.86, 0.6)])],
        ('C', false) => &[Arc((0.55, 0.5), (0.5, 0.5), 45.0, 315.0)],
        ('C', true) => {
            &[Line(&[(1.0, 0.12), (0.8, 0.0), (0.2, 0.0), (0.0, 0.2), (0.0, 0.8), (0.2, 1.0), (0.8, 1.0), (1.0, 0.88)])]
        }
        ('D', false) => {
            &[Line(&[(0.4, 0.0), (0.0, 0.0), (0.0, 1.0), (0.4, 1.0)]), Arc((0.4, 0.5), (0.6, 0.5), 90.0, -90.0)]
        }
        ('D', true) => &[Line(&[(0.0, 0.0), (0.6, 0.0), (1.0, 0.3), (1.0, 0.7), (0.6, 1.0), (0.0, 1.0), (0.0, 0.0)])],
        ('E', false) => &[Line(&[(1.0, 0.0), (0.0, 0.0), (0.0, 1.0), (1.0, 1.0)]), Line(&[(0.0, 0.5), (0.78, 0.5)])],
        ('E', true) => &[Line(&[(0.9, 0.0), (0.05, 0.0), (0.0, 1.0), (1.0, 1.0)]), Line(&[(0.02, 0.46), (0.62, 0.46)])],
        ('H', false) => {
            &[Line(&[(0.0, 0.0), (0.0, 1.0)]), Line(&[(1.0, 0.0), (1.0, 1.0)]), Line(&[(0.0, 0.5), (1.0, 0.5)])]
        }
        ('H', true) => {
            &[Line(&[(0.05, 0.0), (0.0, 1.0)]), Line(&[(0.95, 0.0), (1.0, 1.0)]), Line(&[(0.02, 0.42), (0.97, 0.42)])]
        }
        ('J', false) => &[
            Line(&[(0.3, 0.0), (1.0, 0.0)]),
            Line(&[(0.75, 0.0), (0.75, 0.68)]),
            Arc((0.4, 0.68), (0.35, 0.32), 0.0, -180.0),
        ],
        // Always with its bar: a hook alone is read as a 3 or a U when small.
        ('J', true) => &[
            Line(&[(0.15, 0.0), (1.0, 0.0)]),
            Line(&[(0.62, 0.0), (0.62, 0.7)]),
            Arc((0.32, 0.7), (0.3, 0.3), 0.0, -170.0),
        ],
        ('K', false) => {
            &[Line(&[(0.0, 0.0), (0.0, 1.0)]), Line(&[(1.0, 0.0), (0.0, 0.64)]), Line(&[(0.3, 0.45), (1.0, 1.0)])]
        }
        ('K', true) => &[Line(&[(0.0, 0.0), (0.0, 1.0)]), Line(&[(1.0, 0.0), (0.0, 0.52), (1.0, 1.0)])],
        ('L', false) => &[Line(&[(0.0, 0.0), (0.0, 1.0), (1.0, 1.0)])],
        ('L', true) => &[Line(&[(0.08, 0.0), (0.02, 1.0), (1.0, 0.96)])],
        ('M', false) => &[Line(&[(0.0, 1.0), (0.0, 0.0), (0.5, 0.65), (1.0, 0.0), (1.0, 1.0)])],
        ('M', true) => &[Line(&[(0.0, 1.0), (0.14, 0.0), (0.5, 0.72), (0.86, 0.0), (1.0, 1.0)])],
        ('N', false) => &[Line(&[(0.0, 1.0), (0.0, 0.0), (1.0, 1.0), (1.0, 0.0)])],
        ('N', true) => &[Line(&[(0.04, 1.0), (0.0, 0.0), (0.96, 1.0), (1.0, 0.0)])],
        ('R', false) => &[
            Line(&[(0.0, 1.0), (0.0, 0.0), (0.55, 0.0)]),
            Arc((0.55, 0.27), (0.45, 0.27), 90.0, -90.0),
            Line(&[(0.55, 0.54), (0.0, 0.54)]),
            Line(&[(0.4, 0.54), (1.0, 1.0)]),
        ],
        ('R', true) => &[
            Line(&[(0.0, 1.0), (0.0, 0.0), (0.6, 0.0)]),
            Arc((0.6, 0.25), (0.4, 0.25), 90.0, -90.0),
            Line(&[(0.6, 0.5), (0.0, 0.5)]),
            Line(&[(0.5, 0.5), (0.9, 0.78), (1.0, 1.0)]),
        ],
        ('T', false) => &[Line(&[(0.0, 0.0), (1.0, 0.0)]), Line(&[(0.5, 0.0), (0.5, 1.0)])],
        ('T', true) => &[Line(&[(0.0, 0.04), (1.0, 0.0)]), Line(&[(0.52, 0.02), (0.48, 1.0)])],
        ('U', false) => &[
            Line(&[(0.0, 0.0), (0.0, 0.6)]),
            Arc((0.5, 0.6), (0.5, 0.4), 180.0, 360.0),
            Line(&[(1.0, 0.6), (1.0, 0.0)]),
        ],
        ('U', true) => &[Line(&[(0.0, 0.0), (0.0, 0.78), (0.22, 1.0), (0.78, 1.0), (1.0, 0.78), (1.0, 0.0)])],
        ('W', false) => &[Line(&[(0.0, 0.0), (0.25, 1.0), (0.5, 0.35), (0.75, 1.0), (1.0, 0.0)])],
        ('W', true) => &[Line(&[(0.0, 0.0), (0.2, 1.0), (0.5, 0.22), (0.8, 1.0), (1.0, 0.0)])],
        ('X', false) => &[Line(&[(0.0, 0.0), (1.0, 1.0)]), Line(&[(1.0, 0.0), (0.0, 1.0)])],
        ('X', true) => &[Line(&[(0.1, 0.0), (0.9, 1.0)]), Line(&[(0.9, 0.0), (0.1, 1.0)])],
        ('Y', false) => &[Line(&[(0.0, 0.0), (0.5, 0.5), (1.0, 0.0)]), Line(&[(0.5, 0.5), (0.5, 1.0)])],
        ('Y', true) => &[Line(&[(0.0, 0.0), (0.5, 0.56)]), Line(&[(1.0, 0.0), (0.5, 0.56), (0.5, 1.0)])],
        ('3', false) => &[Arc((0.5, 0.26), (0.45, 0.26), 160.0, -90.0), Arc((0.5, 0.74), (0.5, 0.26), 90.0, -160.0)],
        ('3', true) => &[Line(&[(0.0, 0.0), (1.0, 0.0), (0.45, 0.4)]), Arc((0.45, 0.7), (0.55, 0.3), 90.0, -160.0)],
        // Open at the top, never A's closed peak.
        ('4', false) => &[Line(&[(0.12, 0.0), (0.02, 0.64), (1.0, 0.64)]), Line(&[(0.72, 0.22), (0.72, 1.0)])],
        ('4', true) => &[Line(&[(0.3, 0.0), (0.0, 0.6), (1.0, 0.6)]), Line(&[(0.7, 0.12), (0.7, 1.0)])],
        ('7', false) => &[Line(&[(0.0, 0.0), (1.0, 0.0), (0.35, 1.0)])],
        ('7', true) => &[Line(&[(0.0, 0.12), (0.0, 0.0), (1.0, 0.0), (0.62, 0.45), (0.48, 1.0)])],
        ('9', false) => &[
            Arc((0.5, 0.32), (0.5, 0.32), 0.0, 360.0),
            Line(&[(1.0, 0.32), (1.0, 0.66)]),
            Arc((0.55, 0.66), (0.45, 0.34), 0.0, -130.0),
        ],
        ('9', true) => &[Arc((0.5, 0.32), (0.5, 0.32), 0.0, 360.0), Line(&[(1.0, 0.32), (0.55, 1.0)])],
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::challenge::captcha::text::ALPHABET;

    #[test]
    fn every_character_of_the_alphabet_has_its_shapes_inside_the_box() {
        for &c in ALPHABET {
            for v in 0..VARIANTS {
                let s = strokes(char::from(c), v).expect("strokes");
                assert!(!s.is_empty());
                for stroke in s {
                    if let Line(points) = stroke {
                        assert!(points.len() >= 2, "{}", char::from(c));
                        assert!(points.iter().all(|&(x, y)| (0.0..=1.0).contains(&x) && (0.0..=1.0).contains(&y)));
                    }
                }
            }
        }
        assert!(strokes('O', 0).is_none());
    }
}
