//! What the solver knows of each generator, read from its source: qxfer/5's 5×7 font and
//! its three leans; the qxfer/6 stroke font over a grid of its parameter space.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use qxfer_proto::challenge::captcha::crowded::{self, Bend, Glyph, Pen, Wobble};
use qxfer_proto::challenge::captcha::{font, v5, Bitmap};

use super::{Model, Pic, Template};

/// qxfer/5's picture: each glyph doubled and leaned by -1, 0 or 1 as `v5::draw` does;
/// noise of single pixels (holes in strokes are filled, specks dropped) and a one-pixel
/// line (a 2×2 opening removes it).
pub struct V5 {
    templates: Vec<Rc<Template>>,
}

impl V5 {
    pub fn new(alphabet: &[u8]) -> V5 {
        let mut templates = Vec::new();
        for &c in alphabet {
            let Some(rows) = v5::glyph(char::from(c)) else { continue };
            for lean in -1..=1i32 {
                let mut bm = Bitmap::new(32, 24);
                for (gy, row) in rows.iter().enumerate() {
                    for (gx, ink) in row.bytes().enumerate() {
                        let (gx, gy) = (gx as i32, gy as i32);
                        if ink == b'#' {
                            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                                bm.set(8 + gx * 2 + dx + lean * (3 - gy) / 2, 4 + gy * 2 + dy, true);
                            }
                        }
                    }
                }
                let t = Template::from_pic(c, &Pic::from_bitmap(&bm), vec![(lean + 1) as u16]);
                templates.extend(t.map(Rc::new));
            }
        }
        V5 { templates }
    }
}

impl Model for V5 {
    fn len(&self) -> usize {
        5
    }

    fn coarse(&self) -> &[Rc<Template>] {
        &self.templates
    }

    fn neighbours(&self, t: &Template) -> Vec<Rc<Template>> {
        self.templates.iter().filter(|o| o.c == t.c && o.params != t.params).cloned().collect()
    }

    fn prepare(&self, bm: &Bitmap) -> Pic {
        Pic::from_bitmap(bm).holes_filled().opened().without_specks(6)
    }
}

/// Points spread evenly over `range`, ends included, no further apart than `step`.
fn spread((lo, hi): (f64, f64), step: f64) -> Vec<f64> {
    let n = ((hi - lo) / step).ceil().max(1.0) as usize + 1;
    (0..n).map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64).collect()
}

/// The grid over the qxfer/6 generator's parameter space, axis by axis, read from its
/// public ranges (`crowded::*_RANGE`): shape, pen, height, width over height, slant, turn.
struct Grid {
    pens: Vec<Pen>,
    heights: Vec<f64>,
    aspects: Vec<f64>,
    slants: Vec<f64>,
    turns: Vec<f64>,
}

impl Grid {
    fn new() -> Grid {
        let mid = |(lo, hi): (f64, f64)| (lo + hi) / 2.0;
        // Light and heavy round pens; nibs at four angles.
        let mut pens: Vec<Pen> =
            [crowded::LIGHT_RANGE, crowded::HEAVY_RANGE].iter().map(|&r| Pen::round(mid(r))).collect();
        let (a0, a1) = crowded::NIB_ANGLE_RANGE;
        for angle in [-a1, -a0, a0, a1] {
            pens.push(Pen { width: mid(crowded::NIB_RANGE), thin: mid(crowded::NIB_THIN_RANGE), angle });
        }
        Grid {
            pens,
            // Steps of about a pixel at a glyph's edge.
            heights: spread(crowded::HEIGHT_RANGE, 1.7),
            aspects: spread(crowded::ASPECT_RANGE, 0.075),
            slants: spread(crowded::SLANT_RANGE, 0.07),
            turns: spread(crowded::TURN_RANGE, 0.08),
        }
    }

    /// Each axis's number of points: shape, pen, height, aspect, slant, turn.
    fn axes(&self) -> [usize; 6] {
        [
            usize::from(font::VARIANTS),
            self.pens.len(),
            self.heights.len(),
            self.aspects.len(),
            self.slants.len(),
            self.turns.len(),
        ]
    }
}

/// The pen axis has no order: every pen is a neighbour of every other.
const PEN_AXIS: usize = 1;

/// qxfer/6's picture, read at half width (one pixel a unit): the stroke font rendered by
/// the generator's own `crowded::paint` over a grid of its parameters, on demand; specks
/// (the dots that touch nothing) dropped. Coarse templates: both shapes at three slants
/// and two heights, with a light and a heavy round pen, the middle of every other axis
/// (the climb reaches the nibs). The glyph's wobble is left out: its seven parameters
/// would multiply the grid by thousands, and hill climbing over the others absorbs some
/// of it.
pub struct Crowded {
    grid: Grid,
    coarse: Vec<Rc<Template>>,
    cache: RefCell<Cache>,
}

/// Templates rendered so far, by character and grid point (None: nothing drawn).
type Cache = HashMap<(u8, Vec<u16>), Option<Rc<Template>>>;

impl Crowded {
    pub fn new(alphabet: &[u8]) -> Crowded {
        let model = Crowded { grid: Grid::new(), coarse: Vec::new(), cache: RefCell::new(HashMap::new()) };
        let mut coarse = Vec::new();
        for &c in alphabet {
            for shape in 0..u16::from(font::VARIANTS) {
                let mid = |n: usize| (n / 2) as u16;
                let [_, _, heights, aspects, slants, turns] = model.grid.axes();
                let quarter = |n: usize| [(n / 6) as u16, (n / 2) as u16, (5 * n / 6) as u16];
                for slant in [mid(slants) - mid(slants) / 2, mid(slants), mid(slants) + mid(slants) / 2] {
                    for pen in [0, 1] {
                        for height in quarter(heights) {
                            coarse.extend(model.template(c, vec![shape, pen, height, mid(aspects), slant, mid(turns)]));
                        }
                    }
                }
            }
        }
        Crowded { coarse, ..model }
    }

    /// `c` at grid point `p` (cached).
    fn template(&self, c: u8, p: Vec<u16>) -> Option<Rc<Template>> {
        if let Some(t) = self.cache.borrow().get(&(c, p.clone())) {
            return t.clone();
        }
        let at = |axis: &[f64], i: u16| axis.get(usize::from(i)).copied().unwrap_or(0.0);
        let grid = &self.grid;
        let g = Glyph {
            c: char::from(c),
            variant: p[0] as u8,
            pen: grid.pens.get(usize::from(p[1])).copied().unwrap_or(Pen::round(2.0)),
            height: at(&grid.heights, p[2]),
            aspect: at(&grid.aspects, p[3]),
            slant: at(&grid.slants, p[4]),
            turn: at(&grid.turns, p[5]),
            wobble: Wobble::default(),
        };
        let mut bm = Bitmap::new(64, 48);
        crowded::paint(&mut bm, &g, (16.0, 24.0), &Bend::default());
        let t = Template::from_pic(c, &Pic::halved(&bm), p.clone()).map(Rc::new);
        self.cache.borrow_mut().insert((c, p), t.clone());
        t
    }
}

impl Model for Crowded {
    fn len(&self) -> usize {
        5
    }

    fn coarse(&self) -> &[Rc<Template>] {
        &self.coarse
    }

    fn neighbours(&self, t: &Template) -> Vec<Rc<Template>> {
        let mut out = Vec::new();
        for (axis, n) in self.grid.axes().into_iter().enumerate() {
            let n = n as i32;
            let steps: Vec<i32> = if axis == PEN_AXIS { (-n..n).filter(|&s| s != 0).collect() } else { vec![-1, 1] };
            for step in steps {
                let i = i32::from(t.params[axis]) + step;
                if (0..n).contains(&i) {
                    let mut p = t.params.clone();
                    p[axis] = i as u16;
                    out.extend(self.template(t.c, p));
                }
            }
        }
        out
    }

    fn prepare(&self, bm: &Bitmap) -> Pic {
        Pic::halved(bm).without_specks(10)
    }
}
