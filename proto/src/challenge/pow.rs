//! The proof of work: a BLAKE3 hashcash over a ticket's nonce. The client tries counters
//! until `BLAKE3(domain ‖ nonce ‖ counter)` starts with the ticket's number of zero bits
//! (about 2^bits hashes on average); the listener checks a solution with one hash.
//!
//! BLAKE3 rather than Equi-X (Tor's choice): Equi-X is memory-hard enough to narrow the gap
//! between a GPU and the client's CPU, which matters when the work is the only defence; here
//! it rides with rate limits, scores and bans, and one hash function the project already
//! ships keeps the verifier one line. A GPU solves a BLAKE3 hashcash perhaps a hundred times
//! faster than a laptop's core, which the effort cap in the policy takes into account.

/// What is hashed before the nonce, so a solution is good for nothing else.
const DOMAIN: &[u8] = b"qxfer 2026-11 proof of work";

/// The hash of one attempt.
pub fn attempt(nonce: &[u8; 16], counter: u64) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(DOMAIN);
    h.update(nonce);
    h.update(&counter.to_le_bytes());
    *h.finalize().as_bytes()
}

/// Leading zero bits of a hash.
pub fn zero_bits(hash: &[u8; 32]) -> u32 {
    let mut bits = 0;
    for b in hash {
        if *b == 0 {
            bits += 8;
        } else {
            return bits + b.leading_zeros();
        }
    }
    bits
}

/// Whether `counter` solves the puzzle of `nonce` at `bits`: one hash.
pub fn verify(nonce: &[u8; 16], bits: u8, counter: u64) -> bool {
    zero_bits(&attempt(nonce, counter)) >= u32::from(bits)
}

/// Try `tries` counters from `from`: the solution, or `Err(next counter)` to carry on from
/// (so a client can show progress and be interrupted between calls).
pub fn solve_some(nonce: &[u8; 16], bits: u8, from: u64, tries: u64) -> Result<u64, u64> {
    let end = from.saturating_add(tries);
    let mut c = from;
    while c < end {
        if verify(nonce, bits, c) {
            return Ok(c);
        }
        c += 1;
    }
    Err(end)
}

/// Hashes a solution at `bits` takes on average.
pub fn expected_tries(bits: u8) -> u64 {
    1u64.checked_shl(u32::from(bits)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_bits_are_counted_across_bytes() {
        let mut h = [0xff; 32];
        assert_eq!(zero_bits(&h), 0);
        h[0] = 0;
        h[1] = 0x1f;
        assert_eq!(zero_bits(&h), 11);
        assert_eq!(zero_bits(&[0; 32]), 256);
    }

    #[test]
    fn a_found_solution_verifies_and_its_neighbours_mostly_do_not() {
        let nonce = [9; 16];
        let c = solve_some(&nonce, 10, 0, 1 << 20).expect("solved within 2^20 tries at 10 bits");
        assert!(verify(&nonce, 10, c));
        assert!(verify(&nonce, 0, 12345), "no work asked: anything goes");
        // Another nonce needs its own work.
        let misses = (0..64).filter(|i| !verify(&[10; 16], 10, c + i)).count();
        assert!(misses > 56, "{misses}");
    }

    #[test]
    fn solving_resumes_where_it_stopped() {
        let nonce = [1; 16];
        let whole = solve_some(&nonce, 8, 0, u64::MAX).expect("solved");
        let mut from = 0;
        let found = loop {
            match solve_some(&nonce, 8, from, 7) {
                Ok(c) => break c,
                Err(next) => from = next,
            }
        };
        assert_eq!(found, whole);
        assert_eq!(expected_tries(8), 256);
        assert_eq!(expected_tries(200), u64::MAX);
    }
}
