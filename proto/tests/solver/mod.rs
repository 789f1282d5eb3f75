//! A captcha solver written from the project's own code, as an attacker with the source
//! would write it in an hour: no training, only the generator's font and parameter space.
//!
//! 1. Clean-up ([`Model::prepare`]): what the generator's noise allows (an opening that
//!    drops one-pixel lines and specks; small blobs away from the text).
//! 2. Segmentation: connected components when there are as many as characters, else cuts
//!    where the fewest columns' ink is cut and the segments are most even (a dynamic
//!    programme over the column profile); then template matching of each segment against
//!    glyphs rendered from the project's own font: a coarse search of every character's
//!    typical templates over the segment, then hill climbing through the generator's
//!    parameter space (shape, serifs, stroke width, height, width, slant, turn; and
//!    place) from the best few.
//! 3. Analysis by synthesis: for each segment's window, the best eight characters matched
//!    against the whole picture (scored by ink explained less ink drawn where there is
//!    none, so a glyph may reach into its neighbours), each climbed the same way; then the
//!    combination of them whose rendering is closest to the picture (changing one window
//!    at a time while that brings it closer).
//! 4. Of the two readings, the one whose rendering is closer to the picture.
//!
//! Shared by the suite (`proto/tests/captcha_solver.rs`) and `bench --captcha`.

pub mod fixture;
pub mod models;
mod pic;

use std::rc::Rc;

pub use pic::{Pic, Template};
use qxfer_proto::challenge::captcha::Bitmap;

/// What the solver knows of a generator: its length, templates and clean-up.
pub trait Model {
    fn len(&self) -> usize;
    /// A few typical templates of every character (the coarse search).
    fn coarse(&self) -> &[Rc<Template>];
    /// Templates one step from `t` along each axis of the parameter space, same character.
    fn neighbours(&self, t: &Template) -> Vec<Rc<Template>>;
    /// The picture as the templates are made (a qxfer/6 picture at half width: one pixel a
    /// unit), with what the generator's noise allows removed.
    fn prepare(&self, bm: &Bitmap) -> Pic;
}

/// A template placed in the picture (top left corner), with its score.
#[derive(Debug, Clone)]
pub struct Placed {
    pub t: Rc<Template>,
    pub x: i32,
    pub y: i32,
    pub score: i64,
}

/// How the solver read one picture.
#[derive(Debug, Clone)]
pub struct Reading {
    pub text: String,
    /// Which stage's reading won: "segments" or "synthesis".
    pub by: &'static str,
    /// Both readings, with how many pixels their renderings differ from the picture.
    pub both: [(String, u32); 2],
}

/// Read `bm` with what `model` knows.
pub fn solve(model: &dyn Model, bm: &Bitmap) -> Reading {
    let pic = model.prepare(bm);
    let cuts = segments(&pic, model.len());
    let by_segments: Vec<Placed> = cuts.windows(2).map(|w| classify(model, &pic, w[0], w[1])).collect();
    let by_synthesis = synthesise(model, &pic, &cuts);
    let (a, b) = (distance(&pic, &by_segments), distance(&pic, &by_synthesis));
    let text = |g: &[Placed]| g.iter().map(|p| char::from(p.t.c)).collect::<String>();
    let both = [(text(&by_segments), a), (text(&by_synthesis), b)];
    let (best, by) = if b < a { (by_synthesis, "synthesis") } else { (by_segments, "segments") };
    Reading { text: text(&best), by, both }
}

/// The picture drawn from `glyphs`, compared with `pic`: pixels that differ.
pub fn distance(pic: &Pic, glyphs: &[Placed]) -> u32 {
    let mut drawn = Pic::new(pic.w, pic.h);
    for p in glyphs {
        drawn.paste(&p.t, p.x, p.y);
    }
    pic.xor_count(&drawn)
}

/// Column boundaries of `n` segments: the connected components when there are exactly
/// `n` big ones side by side; else the ink's span cut where the fewest columns' ink is cut
/// and the segments are most even, none narrower than half or wider than twice the mean.
pub fn segments(pic: &Pic, n: usize) -> Vec<i32> {
    let profile = pic.column_ink();
    let first = profile.iter().position(|&c| c > 0).unwrap_or(0);
    let last = profile.iter().rposition(|&c| c > 0).unwrap_or(pic.w - 1) + 1;
    let mut boxes = pic.components(12);
    boxes.sort_by_key(|b| b.0);
    if boxes.len() == n && boxes.windows(2).all(|w| w[0].1 <= w[1].0 + 1) {
        let mut cuts: Vec<i32> = boxes.windows(2).map(|w| ((w[0].1 + w[1].0) / 2) as i32).collect();
        cuts.insert(0, first as i32);
        cuts.push(last as i32);
        return cuts;
    }
    let span = (last - first).max(n);
    let mean = span as f64 / n as f64;
    let (lo, hi) = ((mean * 0.5) as usize, (mean * 2.0) as usize + 1);
    let cost = |x: usize| u64::from(profile.get(x).copied().unwrap_or(0));
    let inf = u64::MAX / 4;
    // best[k][x]: the least cost of k segments ending at column x, and where the k-th began.
    let mut best = vec![vec![(inf, 0usize); last + 1]; n + 1];
    best[0][first] = (0, first);
    for k in 1..=n {
        for x in first..=last {
            for w in lo.max(1)..=hi {
                let Some(from) = x.checked_sub(w) else { break };
                if from < first || best[k - 1][from].0 >= inf {
                    continue;
                }
                // Ink cut through, and unevenness: glyphs are about as wide as each other.
                let uneven = (w as f64 - mean).powi(2) as u64;
                let c = best[k - 1][from].0 + uneven + if k == n { 0 } else { 8 * cost(x) };
                if c < best[k][x].0 {
                    best[k][x] = (c, from);
                }
            }
        }
    }
    if best[n][last].0 >= inf {
        return (0..=n).map(|i| (first + i * span / n) as i32).collect();
    }
    let mut cuts = vec![last];
    let mut x = last;
    for k in (1..=n).rev() {
        x = best[k][x].1;
        cuts.push(x);
    }
    cuts.reverse();
    cuts.into_iter().map(|c| c as i32).collect()
}

/// The rows a template's top may be at: within the ink's band, give or take two.
fn tops(pic: &Pic, t: &Template) -> std::ops::RangeInclusive<i32> {
    let (first, last) = pic.ink_rows();
    (first - 2)..=(last + 3 - t.h as i32).max(first - 2)
}

/// The best placement of each coarse template with its centre within `from..to`; the best
/// `keep` of them, at most one per character when `distinct`.
fn coarse_search(
    model: &dyn Model,
    pic: &Pic,
    (from, to): (i32, i32),
    score: &dyn Fn(&Template, i32, i32) -> i64,
    keep: usize,
    distinct: bool,
) -> Vec<Placed> {
    let mut found: Vec<Placed> = Vec::new();
    for t in model.coarse() {
        let mut best = Placed { t: t.clone(), x: 0, y: 0, score: i64::MIN };
        // Every other row: the climb that follows moves a row either way.
        for y in tops(pic, t).step_by(2) {
            for x in from - t.w as i32 / 2..=to - t.w as i32 / 2 {
                let s = score(t, x, y);
                if s > best.score {
                    best = Placed { t: t.clone(), x, y, score: s };
                }
            }
        }
        match found.iter_mut().find(|p| distinct && p.t.c == t.c) {
            Some(p) if p.score >= best.score => {}
            Some(p) => *p = best,
            None => found.push(best),
        }
    }
    found.sort_by_key(|p| -p.score);
    found.truncate(keep);
    found
}

/// Hill climbing from `start` through the parameter space and the place, one step at a
/// time, while the score improves.
fn climb(model: &dyn Model, start: Placed, score: &dyn Fn(&Template, i32, i32) -> i64) -> Placed {
    let mut best = start;
    for _ in 0..40 {
        let mut next = best.clone();
        let mut candidates = model.neighbours(&best.t);
        candidates.push(best.t.clone());
        for t in candidates {
            for dy in -1..=1 {
                for dx in -1..=1 {
                    let s = score(&t, best.x + dx, best.y + dy);
                    if s > next.score {
                        next = Placed { t: t.clone(), x: best.x + dx, y: best.y + dy, score: s };
                    }
                }
            }
        }
        if next.score <= best.score {
            break;
        }
        best = next;
    }
    best
}

/// The best template and placement for the segment between columns `from` and `to`:
/// matched against the segment's ink alone (the rest of the picture blanked), by Dice.
fn classify(model: &dyn Model, pic: &Pic, from: i32, to: i32) -> Placed {
    let seg = pic.columns(from, to);
    let dice = |t: &Template, x: i32, y: i32| {
        let hits = seg.hits(t, x, y);
        (2_000 * i64::from(hits)) / i64::from(t.ink + seg.box_ink(t, x, y)).max(1)
    };
    let centre = (from + to) / 2;
    let starts = coarse_search(model, &seg, (centre - 3, centre + 3), &dice, 3, false);
    starts.into_iter().map(|p| climb(model, p, &dice)).max_by_key(|p| p.score).unwrap_or_else(|| Placed {
        t: model.coarse()[0].clone(),
        x: 0,
        y: 0,
        score: 0,
    })
}

/// Characters kept per window for the synthesis.
const CANDIDATES: usize = 8;

/// Analysis by synthesis: for each window, the best few characters (each with its best
/// template and placement over the whole picture, scored by ink explained less ink drawn
/// where the picture has none, and climbed), then the combination of them whose drawing is
/// closest to the picture.
fn synthesise(model: &dyn Model, pic: &Pic, cuts: &[i32]) -> Vec<Placed> {
    let fit = |t: &Template, x: i32, y: i32| {
        let hits = i64::from(pic.hits(t, x, y));
        hits - (i64::from(t.ink) - hits)
    };
    let slots: Vec<Vec<Placed>> = cuts
        .windows(2)
        .map(|w| {
            let margin = (w[1] - w[0]) / 3;
            coarse_search(model, pic, (w[0] + margin, w[1] - margin), &fit, CANDIDATES, true)
                .into_iter()
                .map(|p| climb(model, p, &fit))
                .collect()
        })
        .collect();
    // The closest combination of the slots' candidates: starting from each slot's best,
    // change one slot at a time to whichever candidate brings the drawing closest to the
    // picture, until no change helps.
    let mut choice = vec![0usize; slots.len()];
    let drawn = |choice: &[usize]| -> Vec<Placed> {
        slots.iter().zip(choice).filter_map(|(s, &i)| s.get(i).cloned()).collect()
    };
    let mut best = distance(pic, &drawn(&choice));
    loop {
        let mut changed = false;
        for k in 0..slots.len() {
            for i in 0..slots[k].len() {
                let mut trial = choice.clone();
                trial[k] = i;
                let d = distance(pic, &drawn(&trial));
                if d < best {
                    (best, choice, changed) = (d, trial, true);
                }
            }
        }
        if !changed {
            return drawn(&choice);
        }
    }
}
