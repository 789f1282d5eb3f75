//! `--captcha`: the suite's captcha solver (`proto/tests/solver`) against both pictures,
//! measured in one run: qxfer/5's (today's fixture, and freshly drawn ones) and qxfer/6's
//! crowded one, over the same number of seeds: texts read exactly, texts the listener's
//! tolerant check accepts (one look-alike character allowed), characters read, time per
//! solve; and each generator's cost (ms to draw one captcha, text included).
//!
//! `--captcha-pictures DIR [--count N] [--seed S] [--scale P]`: N qxfer/6 pictures (default
//! 40, from seed S, default 1) as DIR/NN.png (P pixels a pixel, default 4), as the terminal
//! draws them (quadrant cells) in DIR/NN.terminal.txt, and their texts in DIR/texts.txt,
//! for reading by eye before looking at the texts.

use super::*;
use qxfer_proto::challenge::captcha::{crowded, random_text, tolerance, v5, Bitmap, Rng, ALPHABET};

#[path = "../../proto/tests/solver/mod.rs"]
#[allow(dead_code)]
mod solver;

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> Result<T> {
    match args.iter().skip_while(|a| *a != name).nth(1) {
        Some(v) => v.parse().map_err(|_| anyhow!("{name} {v}: not a number")),
        None => Ok(default),
    }
}

/// Texts read exactly, texts accepted by the tolerant check, characters read, of `cases`,
/// and the mean solve time.
fn read(model: &dyn solver::Model, cases: &[(String, Bitmap)]) -> (usize, usize, usize, f64) {
    let started = Instant::now();
    let (mut texts, mut accepted, mut chars) = (0, 0, 0);
    for (text, bm) in cases {
        let r = solver::solve(model, bm);
        texts += usize::from(&r.text == text);
        accepted += usize::from(tolerance::accepts(text, &r.text));
        chars += text.chars().zip(r.text.chars()).filter(|(a, b)| a == b).count();
    }
    (texts, accepted, chars, started.elapsed().as_secs_f64() * 1e3 / cases.len().max(1) as f64)
}

/// `n` captchas drawn by `draw` from seeds `base..`, and the mean ms to draw one.
fn drawn(n: u64, base: u64, draw: fn(&str, &mut Rng) -> Bitmap) -> (Vec<(String, Bitmap)>, f64) {
    let started = Instant::now();
    let cases: Vec<(String, Bitmap)> = (0..n)
        .map(|i| {
            let mut rng = Rng::new(base + i);
            let text = random_text(&mut rng);
            let bm = draw(&text, &mut rng);
            (text, bm)
        })
        .collect();
    (cases, started.elapsed().as_secs_f64() * 1e3 / n.max(1) as f64)
}

pub(super) fn captcha_bench(args: &[String]) -> Result<()> {
    let n: u64 = arg(args, "--count", 300)?;
    let base: u64 = arg(args, "--seed", 0xbe4c_0000)?;
    let fixture: Vec<(String, Bitmap)> = solver::fixture::cases().into_iter().map(|c| (c.text, c.bitmap)).collect();
    let (old, old_ms) = drawn(n, base, v5::draw);
    let (new, new_ms) = drawn(n, base, crowded::draw);
    let v5_then = solver::models::V5::new(solver::fixture::ALPHABET);
    let v5_now = solver::models::V5::new(ALPHABET);
    let crowded_model = solver::models::Crowded::new(ALPHABET);
    println!("captcha solver from proto/tests/solver (one core), and the generators' cost");
    println!(
        "{:<40} {:>9} {:>7} {:>9} {:>11} {:>10} {:>9}",
        "picture", "captchas", "read", "accepted", "characters", "ms/solve", "ms/draw"
    );
    let row = |name: &str, cases: &[(String, Bitmap)], model: &dyn solver::Model, draw_ms: Option<f64>| {
        let (texts, accepted, chars, solve_ms) = read(model, cases);
        let n = cases.len();
        println!(
            "{name:<40} {n:>9} {:>6.1}% {:>8.1}% {:>10.1}% {solve_ms:>10.1} {:>9}",
            100.0 * texts as f64 / n.max(1) as f64,
            100.0 * accepted as f64 / n.max(1) as f64,
            100.0 * chars as f64 / (5 * n).max(1) as f64,
            draw_ms.map_or("-".to_owned(), |ms| format!("{ms:.3}"))
        );
    };
    row("qxfer/5, today's fixture (alphabet then)", &fixture, &v5_then, None);
    row("qxfer/5 (72x24, half blocks)", &old, &v5_now, Some(old_ms));
    row("qxfer/6 (152x44, quadrants, crowded)", &new, &crowded_model, Some(new_ms));
    println!(
        "generator cost: qxfer/6 {new_ms:.3} ms a picture, qxfer/5 {old_ms:.3} ms ({:.1}x), measured in this run",
        new_ms / old_ms.max(1e-9)
    );
    Ok(())
}

pub(super) fn captcha_pictures(args: &[String]) -> Result<()> {
    let dir = PathBuf::from(
        args.iter()
            .skip_while(|a| *a != "--captcha-pictures")
            .nth(1)
            .ok_or_else(|| anyhow!("--captcha-pictures needs a directory"))?,
    );
    let n: u64 = arg(args, "--count", 40)?;
    let seed: u64 = arg(args, "--seed", 1)?;
    let scale: u16 = arg(args, "--scale", 4)?;
    std::fs::create_dir_all(&dir)?;
    let mut texts = String::new();
    for i in 0..n {
        let mut rng = Rng::new(seed + i);
        let text = random_text(&mut rng);
        let bm = crowded::draw(&text, &mut rng);
        std::fs::write(dir.join(format!("{:02}.png", i + 1)), bm.to_png(scale))?;
        std::fs::write(dir.join(format!("{:02}.terminal.txt", i + 1)), bm.terminal())?;
        texts.push_str(&format!("{:02} {} {text}\n", i + 1, seed + i));
    }
    std::fs::write(dir.join("texts.txt"), texts)?;
    println!("{n} pictures in {} (texts in texts.txt)", dir.display());
    Ok(())
}
