//! `--pow`: the proof-of-work effort table: for each effort, the time to solve puzzles of
//! fresh nonces on one core (mean and median over several), and the time to verify one.

use super::*;
use qxfer_proto::challenge::pow;

pub(super) fn pow_bench() -> Result<()> {
    // Nonces from a fixed sequence: the same table on every run of the same machine.
    let mut seed = 0x51u64;
    let mut nonce = || {
        let mut n = [0u8; 16];
        for b in n.iter_mut() {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            *b = (seed >> 56) as u8;
        }
        n
    };
    let n = 1_000_000u64;
    let start = Instant::now();
    let x = nonce();
    let mut ok = 0u64;
    for c in 0..n {
        ok += u64::from(pow::verify(&x, 16, c));
    }
    let verify_ns = start.elapsed().as_secs_f64() * 1e9 / n as f64;
    println!(
        "proof of work (BLAKE3 hashcash), one core; verify: {verify_ns:.0} ns ({ok} of {n} counters solved 16 bits)"
    );
    println!("{:>5} {:>14} {:>12} {:>12} {:>8}", "bits", "expected tries", "mean solve", "median", "puzzles");
    for (bits, puzzles) in [(8u8, 200usize), (12, 100), (16, 40), (18, 20), (20, 10), (22, 6), (24, 4)] {
        let mut times = Vec::new();
        for _ in 0..puzzles {
            let x = nonce();
            let t = Instant::now();
            pow::solve_some(&x, bits, 0, u64::MAX).map_err(|_| anyhow!("no solution"))?;
            times.push(t.elapsed().as_secs_f64());
        }
        let mean = times.iter().sum::<f64>() / times.len() as f64;
        println!(
            "{bits:>5} {:>14} {:>10.1} ms {:>9.1} ms {puzzles:>8}",
            pow::expected_tries(bits),
            mean * 1e3,
            median(times) * 1e3
        );
    }
    Ok(())
}
