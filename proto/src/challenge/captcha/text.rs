//! What a captcha says: five characters of an alphabet without look-alikes.
//!
//! Left out, so that a person never has to guess between two readings of one shape, even
//! where a neighbour overlaps it or clutter crosses it: 0, O and Q (D's shape is kept); 1
//! and I; 2 and Z; 5 and S; 6, 8, B and G; F (an E whose lower bar is hidden); P (an R whose
//! leg is hidden); V (a U or Y bent by the distortion); J, U, 4 and 7 (a J's hook reads as
//! a U or a 3 when small, a U beside a W or an N as part of it, a 4 as an A or a Y, a 7 as
//! a T or a Y once a neighbour overlaps it); A, Y and N (read by eye in place of crowded
//! M, H or C, of K or X, and of M or W, more than any other characters:
//! `proto/tests/captcha_readings/`).

use super::rng::Rng;

/// Characters a captcha is made of.
pub const ALPHABET: &[u8] = b"CDEHKLMRTWX39";
/// Characters in one captcha.
pub const LEN: usize = 5;

/// Random captcha text, never the same character twice in a row (two of a kind side by
/// side, touching, were read as one or as another letter).
pub fn random_text(rng: &mut Rng) -> String {
    let mut text = String::with_capacity(LEN);
    let mut last: Option<usize> = None;
    for _ in 0..LEN {
        let choices = ALPHABET.len() - usize::from(last.is_some());
        let mut i = rng.below(choices as u32) as usize;
        if last.is_some_and(|l| i >= l) {
            i += 1;
        }
        text.push(char::from(ALPHABET.get(i).copied().unwrap_or(b'A')));
        last = Some(i);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_of_the_alphabet_and_it_has_no_look_alikes() {
        let mut rng = Rng::new(1);
        for _ in 0..100 {
            let t = random_text(&mut rng);
            assert_eq!(t.len(), LEN);
            assert!(t.bytes().all(|c| ALPHABET.contains(&c)), "{t}");
            assert!(t.as_bytes().windows(2).all(|w| w[0] != w[1]), "{t}");
        }
        for c in b"0OQ1I2Z5S68BGFPVJU47AYN" {
            assert!(!ALPHABET.contains(c), "{}", char::from(*c));
        }
    }
}
