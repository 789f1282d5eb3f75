//! Pictures and templates as rows of bits (bit 0 leftmost) for fast matching: a picture at
//! most 128 pixels wide (a qxfer/6 picture is read at half its width, one pixel a unit),
//! a template at most 64.

use qxfer_proto::challenge::captcha::Bitmap;

/// A picture at most 128 pixels wide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pic {
    pub w: usize,
    pub h: usize,
    rows: Vec<u128>,
}

/// A glyph rendered at known parameters, cropped to its ink (at most 64 pixels wide).
#[derive(Debug, Clone)]
pub struct Template {
    pub c: u8,
    pub w: usize,
    pub h: usize,
    pub rows: Vec<u64>,
    pub ink: u32,
    /// Which point of the model's parameter grid it was rendered at.
    pub params: Vec<u16>,
}

impl Template {
    /// `pic`'s ink, cropped; None when blank or wider than 64 pixels.
    pub fn from_pic(c: u8, pic: &Pic, params: Vec<u16>) -> Option<Template> {
        let ys: Vec<usize> = (0..pic.h).filter(|&y| pic.rows[y] != 0).collect();
        let (&y0, &y1) = (ys.first()?, ys.last()?);
        let all = pic.rows.iter().fold(0u128, |a, r| a | r);
        let (x0, x1) = (all.trailing_zeros() as usize, 127 - all.leading_zeros() as usize);
        if x1 - x0 >= 64 {
            return None;
        }
        let rows: Vec<u64> = (y0..=y1).map(|y| (pic.rows[y] >> x0) as u64).collect();
        let ink = rows.iter().map(|r| r.count_ones()).sum();
        Some(Template { c, w: x1 - x0 + 1, h: y1 - y0 + 1, rows, ink, params })
    }

    fn mask(&self) -> u64 {
        if self.w >= 64 {
            u64::MAX
        } else {
            (1u64 << self.w) - 1
        }
    }
}

impl Pic {
    pub fn new(w: usize, h: usize) -> Pic {
        assert!(w <= 128);
        Pic { w, h, rows: vec![0; h] }
    }

    /// `bm` pixel for pixel (at most 128 pixels wide).
    pub fn from_bitmap(bm: &Bitmap) -> Pic {
        Pic::sampled(bm, 1)
    }

    /// `bm` at half its width: a pixel is inked when either of its pair is.
    pub fn halved(bm: &Bitmap) -> Pic {
        Pic::sampled(bm, 2)
    }

    fn sampled(bm: &Bitmap, step: i32) -> Pic {
        let mut pic = Pic::new(usize::from(bm.width()).div_ceil(step as usize), usize::from(bm.height()));
        for y in 0..pic.h as i32 {
            for x in 0..i32::from(bm.width()) {
                if bm.get(x, y) {
                    pic.set(x / step, y);
                }
            }
        }
        pic
    }

    pub fn get(&self, x: i32, y: i32) -> bool {
        if x < 0 || y < 0 || x as usize >= self.w || y as usize >= self.h {
            return false;
        }
        self.rows[y as usize] >> x & 1 == 1
    }

    pub fn set(&mut self, x: i32, y: i32) {
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h {
            self.rows[y as usize] |= 1 << x;
        }
    }

    /// The 64 pixels of row `y` from column `x` on (outside the picture: blank).
    #[inline]
    pub fn window(&self, x: i32, y: i32) -> u64 {
        if y < 0 || y as usize >= self.h || x >= 128 || x <= -64 {
            return 0;
        }
        let row = self.rows[y as usize];
        if x >= 0 {
            (row >> x) as u64
        } else {
            (row << -x) as u64
        }
    }

    /// Template ink also inked here, with the template's corner at (x, y).
    pub fn hits(&self, t: &Template, x: i32, y: i32) -> u32 {
        let mut n = 0;
        for r in 0..t.h {
            n += (t.rows[r] & self.window(x, y + r as i32)).count_ones();
        }
        n
    }

    /// Ink here inside the template's box at (x, y).
    pub fn box_ink(&self, t: &Template, x: i32, y: i32) -> u32 {
        let mask = t.mask();
        let mut n = 0;
        for r in 0..t.h {
            n += (mask & self.window(x, y + r as i32)).count_ones();
        }
        n
    }

    /// Draw `t` with its corner at (x, y).
    pub fn paste(&mut self, t: &Template, x: i32, y: i32) {
        let keep = if self.w >= 128 { u128::MAX } else { (1u128 << self.w) - 1 };
        for r in 0..t.h {
            let yy = y + r as i32;
            if yy < 0 || yy as usize >= self.h || x >= 128 || x <= -64 {
                continue;
            }
            let bits = u128::from(t.rows[r]);
            self.rows[yy as usize] |= keep & if x >= 0 { bits << x } else { bits >> -x };
        }
    }

    pub fn xor_count(&self, other: &Pic) -> u32 {
        let mut n = 0;
        for y in 0..self.h.min(other.h) {
            n += (self.rows[y] ^ other.rows[y]).count_ones();
        }
        n
    }

    /// Ink per column.
    pub fn column_ink(&self) -> Vec<u32> {
        (0..self.w).map(|x| self.rows.iter().filter(|r| *r >> x & 1 == 1).count() as u32).collect()
    }

    /// The first and last inked rows.
    pub fn ink_rows(&self) -> (i32, i32) {
        let first = self.rows.iter().position(|r| *r != 0).unwrap_or(0);
        let last = self.rows.iter().rposition(|r| *r != 0).unwrap_or(self.h.saturating_sub(1));
        (first as i32, last as i32)
    }

    /// Only the columns `from..to`.
    pub fn columns(&self, from: i32, to: i32) -> Pic {
        let (from, to) = (from.clamp(0, 128) as u32, to.clamp(0, 128) as u32);
        let upto = if to >= 128 { u128::MAX } else { (1u128 << to) - 1 };
        let mask = upto & !((1u128 << from) - 1);
        Pic { w: self.w, h: self.h, rows: self.rows.iter().map(|r| r & mask).collect() }
    }

    /// Connected components (8-neighbours) of at least `min` pixels: column spans.
    pub fn components(&self, min: usize) -> Vec<(usize, usize)> {
        self.labelled()
            .into_iter()
            .filter(|c| c.len() >= min)
            .map(|c| {
                let xs = c.iter().map(|p| p.0);
                (xs.clone().min().unwrap_or(0) as usize, xs.max().unwrap_or(0) as usize)
            })
            .collect()
    }

    /// The picture without components of fewer than `min` pixels.
    pub fn without_specks(&self, min: usize) -> Pic {
        let mut out = Pic::new(self.w, self.h);
        for c in self.labelled().into_iter().filter(|c| c.len() >= min) {
            for (x, y) in c {
                out.set(x, y);
            }
        }
        out
    }

    /// Blank pixels with at least three of their four neighbours inked filled in (a hole
    /// punched by noise in a stroke).
    pub fn holes_filled(&self) -> Pic {
        let mut out = self.clone();
        for y in 0..self.h as i32 {
            for x in 0..self.w as i32 {
                let n =
                    [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)].iter().filter(|&&(a, b)| self.get(a, b)).count();
                if n >= 3 {
                    out.set(x, y);
                }
            }
        }
        out
    }

    /// Keep only pixels inside some fully inked 2×2 block (a morphological opening).
    pub fn opened(&self) -> Pic {
        let mut out = Pic::new(self.w, self.h);
        for y in 0..self.h.saturating_sub(1) {
            // Columns x where (x, y), (x+1, y), (x, y+1), (x+1, y+1) are all inked.
            let full = self.rows[y] & (self.rows[y] >> 1) & self.rows[y + 1] & (self.rows[y + 1] >> 1);
            let cover = full | (full << 1);
            out.rows[y] |= cover;
            out.rows[y + 1] |= cover;
        }
        out
    }

    fn labelled(&self) -> Vec<Vec<(i32, i32)>> {
        let mut seen = vec![false; self.w * self.h];
        let mut out = Vec::new();
        for y in 0..self.h as i32 {
            for x in 0..self.w as i32 {
                if !self.get(x, y) || seen[y as usize * self.w + x as usize] {
                    continue;
                }
                let mut comp = Vec::new();
                let mut stack = vec![(x, y)];
                seen[y as usize * self.w + x as usize] = true;
                while let Some((cx, cy)) = stack.pop() {
                    comp.push((cx, cy));
                    for (dx, dy) in [(-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)] {
                        let (nx, ny) = (cx + dx, cy + dy);
                        if self.get(nx, ny) && !seen[ny as usize * self.w + nx as usize] {
                            seen[ny as usize * self.w + nx as usize] = true;
                            stack.push((nx, ny));
                        }
                    }
                }
                out.push(comp);
            }
        }
        out
    }
}
