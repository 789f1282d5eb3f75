//! Today's captcha as a committed fixture (`tests/data/captcha-v5-fixture.txt`): 100 seeds
//! with their text and bitmap, drawn by the generator qxfer/5 clients still get.

use qxfer_proto::challenge::captcha::Bitmap;

/// The alphabet today's generator drew from (`6` included).
pub const ALPHABET: &[u8] = b"ACDEFHJKLMNPRTUVWXY34679";

/// One fixture case.
pub struct Case {
    pub seed: u64,
    pub text: String,
    pub bitmap: Bitmap,
}

pub fn cases() -> Vec<Case> {
    include_str!("../../../tests/data/captcha-v5-fixture.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let mut f = l.split(' ');
            let (seed, text, hex) = (f.next().unwrap_or(""), f.next().unwrap_or(""), f.next().unwrap_or(""));
            let bits =
                (0..hex.len() / 2).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex")).collect();
            Case {
                seed: seed.parse().expect("seed"),
                text: text.to_owned(),
                bitmap: Bitmap::from_wire(72, 24, bits).expect("72x24 bitmap"),
            }
        })
        .collect()
}
