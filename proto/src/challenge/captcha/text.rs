//! What a captcha says: five characters of an alphabet without look-alikes.
//!
//! Left out, so that a person never has to guess between two readings of one shape, even
//! where a neighbour overlaps it or clutter crosses it: 0, O and Q (D's shape is kept); 1
//! and I; 2 and Z; 5 and S; 6, 8, B and G; F (an E whose lower bar is hidden); P (an R whose
//! leg is hidden); V (a U or Y bent by the distortion).

use super::rng::Rng;

/// Characters a captcha is made of.
pub const ALPHABET: &[u8] = b"ACDEHJKLMNRTUWXY39";
/// Characters in one captcha.
pub const LEN: usize = 5;

/// Random captcha text.
pub fn random_text(rng: &mut Rng) -> String {
    (0..LEN)
        .map(|_| char::from(ALPHABET.get(rng.below(ALPHABET.len() as u32) as usize).copied().unwrap_or(b'A')))
        .collect()
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
        }
        for c in b"0OQ1I2Z5S68BGFPV" {
            assert!(!ALPHABET.contains(c), "{}", char::from(*c));
        }
    }
}
