//! The tolerant answer check: a typed answer is accepted when it is the captcha's text, or
//! differs from it in exactly one position where the typed character is one a person was
//! seen to take that true character for ([`LOOK_ALIKES`]).
//!
//! Where the glyphs crowd each other, most wrong readings by eye were one character taken
//! for a look-alike (an L for an E when the clutter arc crosses it as a bar, a D for a 9, an
//! M or a W for an N, an H for a K, T or X). The table comes from rounds 1 to 5 of the
//! pictures read by eye (`proto/tests/captcha_readings/`, where the rule was written down
//! before it was measured); the suite's solver is measured under it
//! (`proto/tests/captcha_solver.rs`).
//!
//! The listener never keeps the text: the ticket carries a keyed hash of it, so the check
//! runs the other way, from the answer: [`candidates`] lists the texts a typed answer is
//! accepted for (the answer itself and, in each position, each true character its typed
//! one stands in for: at most 1 + [`LEN`] × [`MAX_STAND_INS`]), and each is hashed against the ticket's.

use super::text::LEN;

/// True character → the characters accepted in its place (directed: a person who typed
/// the second was looking at the first). From the readings of rounds 1-5 that were wrong
/// in exactly one position, for the characters of the shipped alphabet.
pub const LOOK_ALIKES: &[(char, &str)] = &[
    ('C', "AER"),
    ('D', "9E"),
    ('E', "KT"),
    ('H', "ANTX"),
    ('K', "R"),
    ('L', "EKTX"),
    ('M', "AN"),
    ('T', "9AE"),
    ('W', "KX"),
    ('X', "NY"),
];

/// The most true characters one typed character stands in for (`A` for C, H, M or T; `E` for C, D, L or T).
pub const MAX_STAND_INS: usize = 4;

/// Whether `typed` is accepted in place of `true_char` (never for itself: that is exact).
pub fn look_alike(true_char: char, typed: char) -> bool {
    LOOK_ALIKES.iter().any(|(t, typed_for)| *t == true_char && typed_for.contains(typed))
}

/// Whether the (normalised) `answer` is accepted for `text` under the rule: equal, or one
/// position differs and the typed character there is a look-alike of the true one.
pub fn accepts(text: &str, answer: &str) -> bool {
    if text.chars().count() != answer.chars().count() {
        return false;
    }
    let mut differ = text.chars().zip(answer.chars()).filter(|(t, a)| t != a);
    match (differ.next(), differ.next()) {
        (None, _) => true,
        (Some((t, a)), None) => look_alike(t, a),
        (Some(_), Some(_)) => false,
    }
}

/// The texts the (normalised) `answer` is accepted for: the answer itself first, then,
/// for an answer of [`LEN`] characters, each text that differs from it in one position
/// whose typed character is a look-alike of the text's. At most 1 + `LEN` ×
/// [`MAX_STAND_INS`]; an answer of another length stands only for itself (and is wrong).
pub fn candidates(answer: &str) -> Vec<String> {
    let typed: Vec<char> = answer.chars().collect();
    let mut out = vec![answer.to_string()];
    if typed.len() != LEN {
        return out;
    }
    for (i, &c) in typed.iter().enumerate() {
        for (true_char, _) in LOOK_ALIKES.iter().filter(|(t, _)| look_alike(*t, c)) {
            let mut v = typed.clone();
            if let Some(slot) = v.get_mut(i) {
                *slot = *true_char;
            }
            out.push(v.into_iter().collect());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exact_answer_is_accepted() {
        assert!(accepts("LWR3K", "LWR3K"));
        assert_eq!(candidates("LWR3K").first().map(String::as_str), Some("LWR3K"));
    }

    #[test]
    fn one_look_alike_is_accepted_and_the_candidates_hold_the_text() {
        // An L read as an E (the clutter arc as its bar), a D as a 9, an M as an N.
        for (text, typed) in [("LWR3K", "EWR3K"), ("CX9DR", "CX99R"), ("TMCXW", "TNCXW")] {
            assert!(accepts(text, typed), "{typed} for {text}");
            assert!(candidates(typed).iter().any(|c| c == text), "{typed} for {text}");
        }
    }

    #[test]
    fn two_look_alikes_are_refused() {
        // Each alone would be accepted (an L read as an E, an H as a T).
        assert!(accepts("LWRHK", "EWRHK") && accepts("LWRHK", "LWRTK"));
        assert!(!accepts("LWRHK", "EWRTK"));
        assert!(!candidates("EWRTK").iter().any(|c| c == "LWRHK"));
    }

    #[test]
    fn a_character_that_is_no_look_alike_is_refused() {
        // A 9 for an L; the other way round from the table (an E read as an L); and a 9
        // for a 3, seen only in a reading wrong in three places, so not in the table.
        for (text, typed) in [("LWR3K", "9WR3K"), ("EWR3K", "LWR3K"), ("LWR3K", "LWR9K")] {
            assert!(!accepts(text, typed), "{typed} for {text}");
            assert!(!candidates(typed).iter().any(|c| c == text), "{typed} for {text}");
        }
    }

    #[test]
    fn a_wrong_length_is_refused() {
        assert!(!accepts("LWR3K", "LWR3"));
        assert!(!accepts("LWR3K", "LWR3KK"));
        assert_eq!(candidates("LWR3"), vec!["LWR3".to_string()]);
        assert!(!candidates("LWR3KK").iter().any(|c| c == "LWR3K"));
    }

    #[test]
    fn the_table_speaks_of_the_alphabet_and_its_bound_holds() {
        for (t, typed_for) in LOOK_ALIKES {
            assert!(super::super::ALPHABET.contains(&(*t as u8)), "{t}");
            assert!(!typed_for.contains(*t), "{t}");
        }
        for c in ('0'..='9').chain('A'..='Z') {
            let n = LOOK_ALIKES.iter().filter(|(t, _)| look_alike(*t, c)).count();
            assert!(n <= MAX_STAND_INS, "{c} stands in for {n}");
        }
        assert!(candidates("AEAEA").len() <= 1 + LEN * MAX_STAND_INS);
    }
}
