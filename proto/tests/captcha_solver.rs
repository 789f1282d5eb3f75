//! The captcha against a solver written from the project's own code (`solver/`): as a
//! positive control it reads today's picture (qxfer/5's, a committed fixture); it must not
//! read the qxfer/6 picture, counted as the listener counts it: answers its tolerant check
//! accepts (one look-alike character allowed, `challenge::captcha::tolerance`).

mod solver;

use qxfer_proto::challenge::captcha::crowded::{self, Bend, Glyph};
use qxfer_proto::challenge::captcha::{random_text, tolerance, v5, Bitmap, Rng, ALPHABET};
use solver::{fixture, models, solve};

#[test]
fn qxfer5_clients_keep_todays_picture() {
    for case in fixture::cases() {
        let mut rng = Rng::new(case.seed);
        // The text took five draws of the generator; the picture comes after them.
        for _ in 0..5 {
            rng.next_u64();
        }
        assert_eq!(v5::draw(&case.text, &mut rng), case.bitmap, "seed {}", case.seed);
    }
}

#[test]
#[allow(clippy::disallowed_methods)] // the time is printed, never asserted
fn the_solver_reads_todays_captcha() {
    let started = std::time::Instant::now();
    let model = models::V5::new(fixture::ALPHABET);
    let cases = fixture::cases();
    let mut right = 0;
    for case in &cases {
        let r = solve(&model, &case.bitmap);
        right += usize::from(r.text == case.text);
        if r.text != case.text {
            println!("seed {}: {} read as {} ({}) {:?}", case.seed, case.text, r.text, r.by, r.both);
        }
    }
    println!("today's captcha: {right}/{} read in {:?}", cases.len(), started.elapsed());
    assert!(right * 10 >= cases.len() * 9, "the positive control read only {right}/{}", cases.len());
}

#[test]
#[allow(clippy::disallowed_methods)] // the time is printed, never asserted
fn the_solver_does_not_read_the_new_captcha() {
    let started = std::time::Instant::now();
    let model = models::Crowded::new(ALPHABET);
    let (mut right, mut accepted, mut chars) = (0, 0, 0);
    let n = 100;
    for seed in 0..n {
        let mut rng = Rng::new(0x5eed_0000 + seed);
        let text = random_text(&mut rng);
        let r = solve(&model, &crowded::draw(&text, &mut rng));
        right += usize::from(r.text == text);
        let ok = tolerance::accepts(&text, &r.text);
        accepted += usize::from(ok);
        chars += text.chars().zip(r.text.chars()).filter(|(a, b)| a == b).count();
        let said = if ok { ", accepted" } else { "" };
        println!("{text} read as {} ({}; {:?}){said}", r.text, r.by, r.both);
    }
    println!(
        "new captcha: {right}/{n} read exactly, {accepted}/{n} accepted by the tolerant check, {chars}/{} characters, in {:?}",
        n * 5,
        started.elapsed()
    );
    // What counts is what the listener lets in: answers the tolerant check accepts.
    assert!(accepted * 10 <= n as usize, "the tolerant check accepted {accepted}/{n} of the solver's readings");
}

/// Not a straw man: the same solver reads the qxfer/6 font when the glyphs are apart
/// (each glyph from the generator's whole parameter space but the wobble, a gap between
/// glyphs, no bend, no clutter): over 85 % of the characters (95 %, and 4 in 5 whole
/// texts, when last measured; the smallest glyphs are the hardest), against about half of
/// them crowded. What it cannot read is the crowding.
#[test]
fn the_solver_reads_the_new_font_set_apart() {
    let model = models::Crowded::new(ALPHABET);
    let (mut right, mut n, mut chars) = (0, 0, 0);
    let mut seed = 0;
    while n < 50 {
        seed += 1;
        let mut rng = Rng::new(0xa9a7_0000 + seed);
        let text = random_text(&mut rng);
        let glyphs: Vec<Glyph> = text
            .chars()
            .enumerate()
            .map(|(i, c)| Glyph { wobble: Default::default(), ..Glyph::random(c, i % 2 == 0, &mut rng) })
            .collect();
        let widths: f64 = glyphs.iter().map(|g| g.reach().1 - g.reach().0 + 1.5).sum();
        if widths > f64::from(crowded::WIDTH) / 2.0 - 2.0 {
            continue;
        }
        let mut bm = Bitmap::new(crowded::WIDTH, crowded::HEIGHT);
        let mut left = 1.0;
        for g in &glyphs {
            let (lo, hi) = g.reach();
            crowded::paint(&mut bm, g, (left - lo, f64::from(crowded::HEIGHT) / 2.0), &Bend::default());
            left += hi - lo + 1.5;
        }
        n += 1;
        let r = solve(&model, &bm);
        right += usize::from(r.text == text);
        chars += text.chars().zip(r.text.chars()).filter(|(a, b)| a == b).count();
        if r.text != text {
            println!("{text} set apart read as {} ({}; {:?})", r.text, r.by, r.both);
        }
    }
    println!("the new font set apart: {right}/{n} read, {chars}/{} characters", 5 * n);
    assert!(chars * 100 >= 85 * 5 * n, "the solver read only {chars}/{} characters of the new font set apart", 5 * n);
}
