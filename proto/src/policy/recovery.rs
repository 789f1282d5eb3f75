//! Account recovery's decisions, pure (the clock comes in as seconds): which phone number a
//! recovery code goes to, how many code attempts remain, and how a number is shown in logs
//! (known places are `policy::places`). Designed against the real attack: a thief who has
//! the password adds their own phone and "recovers" the account whenever the owner takes it
//! back. So the oldest settled number is the root of trust: a change that could take the
//! account over needs its code, or waits and is announced to it.
//!
//! The listener's glue (`server::account_guard`, `server::requests::{recover, account}`)
//! keeps these records in its database and does
//! the I/O; everything it decides comes from here.

const DAY: u64 = 24 * 3600;

/// `[recovery]` in the listener's config.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecoveryConfig {
    /// A number added or verified this recently is never used while an older one exists.
    pub new_phone_days: u64,
    /// A place is known after password logins on `places::PLACE_DAYS` distinct days spanning
    /// at least this many days.
    pub new_place_days: u64,
    /// A place not seen for this long is forgotten.
    pub place_expiry_days: u64,
    /// From an unknown place, a recovery (or a change of phones, question or password)
    /// waits this long, announced and cancellable.
    pub unknown_place_delay_secs: u64,
    /// A recovery code's lifetime and attempts.
    pub code_ttl_secs: u64,
    pub code_attempts: u32,
    /// Places remembered per account, at most (the stalest go first).
    pub max_places: usize,
    /// Recovery starts and texts asked for per account per day, at most.
    pub max_per_day: u32,
    /// A new account sets itself up at once (its first number, secret question and
    /// recovery codes) within this long of its creation, from the network of its first
    /// password login or with the operator's setup code; 0 turns it off.
    pub setup_window_secs: u64,
}

impl RecoveryConfig {
    /// Refuse values that would disable a defence.
    pub fn check(&self) -> Result<(), &'static str> {
        if self.code_attempts == 0 || self.code_attempts > 10 {
            return Err("recovery.code_attempts must be 1 to 10");
        }
        if !(60..=3600).contains(&self.code_ttl_secs) {
            return Err("recovery.code_ttl_secs must be 60 to 3600");
        }
        if self.max_places == 0 || self.max_places > 1024 {
            return Err("recovery.max_places must be 1 to 1024");
        }
        if self.max_per_day == 0 || self.max_per_day > 100 {
            return Err("recovery.max_per_day must be 1 to 100");
        }
        if self.place_expiry_days <= self.new_place_days {
            return Err("recovery.place_expiry_days must be longer than new_place_days");
        }
        if self.setup_window_secs > super::account_setup::MAX_SETUP_WINDOW_SECS {
            return Err("recovery.setup_window_secs must be 0 (off) to 2592000 (30 days)");
        }
        Ok(())
    }
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        RecoveryConfig {
            new_phone_days: 7,
            new_place_days: 7,
            place_expiry_days: 365,
            unknown_place_delay_secs: DAY,
            code_ttl_secs: 600,
            code_attempts: 5,
            max_places: 64,
            max_per_day: 5,
            setup_window_secs: DAY,
        }
    }
}

/// A phone number of an account (E.164), with when it was added and verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone {
    pub number: String,
    pub added: u64,
    pub verified: Option<u64>,
}

/// The verification time of a number the operator vouched for (`qxfer user add --phone`,
/// `qxfer user phone`): settled at once, whatever `new_phone_days` says.
pub const VOUCHED: u64 = 0;

impl Phone {
    /// Whether the operator vouched for this number.
    pub fn vouched(&self) -> bool {
        self.verified == Some(VOUCHED)
    }
}

/// Since when a number counts: the later of when it was added and when it was verified
/// (`None` for a number never verified). Numbers are ranked by this, so a number planted
/// long ago and verified yesterday is yesterday's number.
fn since(p: &Phone) -> Option<u64> {
    p.verified.map(|v| v.max(p.added))
}

/// The account's settled numbers (verified, and counted since more than `new_phone_days`
/// ago, or vouched for by the operator), oldest first.
fn settled_phones<'a>(phones: &'a [Phone], cfg: &RecoveryConfig, now: u64) -> impl Iterator<Item = &'a Phone> {
    let settled_after = cfg.new_phone_days.saturating_mul(DAY);
    phones.iter().filter(move |p| p.vouched() || since(p).is_some_and(|s| now.saturating_sub(s) >= settled_after))
}

fn oldest<'a>(it: impl Iterator<Item = &'a Phone>) -> Option<&'a Phone> {
    it.min_by_key(|p| (since(p), p.number.clone()))
}

/// The number a recovery code goes to: the oldest settled number; only when no verified
/// number is settled, the oldest verified one (an owner whose only number is new can still
/// recover, behind the delay and its announcements). An unverified number is never used.
pub fn recovery_phone<'a>(phones: &'a [Phone], cfg: &RecoveryConfig, now: u64) -> Option<&'a Phone> {
    oldest(settled_phones(phones, cfg, now)).or_else(|| oldest(phones.iter().filter(|p| p.verified.is_some())))
}

/// Whether `number` is a settled number of the account (texts to it draw from the owner
/// reserve of `sms`).
pub fn is_settled_number(phones: &[Phone], number: &str, cfg: &RecoveryConfig, now: u64) -> bool {
    settled_phones(phones, cfg, now).any(|p| p.number == number)
}

/// The number a code that authorises a change at once goes to: the oldest settled number,
/// never a new one (a thief's number verified minutes ago must not skip the delay).
pub fn settled_phone<'a>(phones: &'a [Phone], cfg: &RecoveryConfig, now: u64) -> Option<&'a Phone> {
    oldest(settled_phones(phones, cfg, now))
}

/// The numbers that get a cancel code when a change asked for at `requested` waits: the
/// settled ones, or, when no verified number is settled, every verified one. Never a
/// number younger than the change (counted since after it was asked for): whoever added it
/// must not be able to cancel what was asked before it. The others are told without a code.
pub fn cancel_phones<'a>(phones: &'a [Phone], cfg: &RecoveryConfig, requested: u64) -> Vec<&'a Phone> {
    let older = |p: &&Phone| since(p).is_some_and(|s| s <= requested);
    let settled: Vec<&Phone> = settled_phones(phones, cfg, requested).filter(older).collect();
    if settled.is_empty() {
        phones.iter().filter(|p| p.verified.is_some()).filter(older).collect()
    } else {
        settled
    }
}

/// A protected change, as the rule of what may apply at once sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guarded {
    /// A recovery's new password (its texted code went to the oldest settled number).
    Recovery,
    /// A new password asked for by a logged-in session.
    Password,
    /// Anything that could move the root of trust or keep a thief in: adding, removing or
    /// replacing a number, the secret question, recovery codes, an automation token,
    /// disowning a place.
    RootOfTrust,
}

/// Whether a change of this kind applies at once from a known place, with no texted code.
/// Only a new password does (the owner must be able to change a leaked password at once; a
/// thief who does it from a place he earned is undone by her recovery, whose code goes to
/// the root of trust). Everything that could move the root of trust needs its code, or
/// waits the delay announced to it, from anywhere: a thief who earns a place by patience
/// gains nothing by it but the password, which a recovery takes back.
pub fn known_place_suffices(kind: Guarded) -> bool {
    matches!(kind, Guarded::Recovery | Guarded::Password)
}

/// A one-time code sent by SMS: what is kept is its keyed hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    pub hash: [u8; 32],
    pub expires: u64,
    pub attempts_left: u32,
}

/// Why a typed code was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    #[error("the code expired; ask for a new one")]
    Expired,
    #[error("wrong code ({left} attempts left)")]
    Wrong { left: u32 },
    #[error("too many wrong codes; ask for a new one")]
    NoAttemptsLeft,
    /// No code is waiting for this: none was texted, or it was used or has expired.
    #[error("no code is waiting for this (none was texted, or it was used or expired); ask for a new one")]
    NotSent,
    /// A code that was used already, typed again within its lifetime: a person's mistake,
    /// not a guess.
    #[error("this code was used already")]
    Used,
}

/// Try a code whose keyed hash is `typed`: an attempt is used up whatever the outcome, and
/// the comparison is constant-time.
pub fn try_code(code: &mut Code, typed: &[u8; 32], now: u64) -> Result<(), CodeError> {
    check_code(code, typed, now, true)?;
    code.attempts_left = 0;
    Ok(())
}

/// Check a code whose keyed hash is `typed` without using it up: a wrong one costs an
/// attempt; a right one costs one only when `charge` (something else is about to be
/// checked with it, a secret answer say, so every such check is paid for before it is
/// made). The comparison is constant-time. `Ok`: the attempts left.
pub fn check_code(code: &mut Code, typed: &[u8; 32], now: u64, charge: bool) -> Result<u32, CodeError> {
    if now >= code.expires {
        return Err(CodeError::Expired);
    }
    if code.attempts_left == 0 {
        return Err(CodeError::NoAttemptsLeft);
    }
    if blake3::Hash::from(code.hash) == blake3::Hash::from(*typed) {
        if charge {
            code.attempts_left -= 1;
        }
        return Ok(code.attempts_left);
    }
    code.attempts_left -= 1;
    Err(CodeError::Wrong { left: code.attempts_left })
}

/// A phone number as logs, the activity log, `audit` and error texts show it: the `+`, two
/// digits, dots, the last four (`+34•••••6789`).
pub fn mask_phone(number: &str) -> String {
    let digits: Vec<char> = number.chars().filter(char::is_ascii_digit).collect();
    if digits.len() <= 6 {
        return "+•••".into();
    }
    let head: String = digits.iter().take(2).collect();
    let tail: String = digits.iter().skip(digits.len() - 4).collect();
    format!("+{head}{}{tail}", "•".repeat(digits.len() - 6))
}

/// A secret answer as it is hashed: Unicode NFKC (full-width letters, ligatures and
/// composed accents the same however the keyboard typed them), lower case, runs of white
/// space as one space, trimmed.
pub fn normalise_secret_answer(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let nfkc: String = s.nfkc().collect();
    nfkc.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// What a recovery or cancel code is spelt with: 26 letters and digits that no one misreads.
const LETTERS: &[u8; 26] = b"3469acdefghjkmnpqrtuvwxy7b";

/// A code from random bytes, one character per two bytes (a 16-bit number modulo 26: a
/// bias of 16 in 65,536, nothing a guesser can use), grouped in fives with dashes:
/// `k4x9m-qe7tr` (4.7 bits a character; ten of them are 47 bits).
pub fn letters_code(random: &[u8]) -> String {
    let mut out = String::new();
    for (i, pair) in random.chunks_exact(2).enumerate() {
        if i > 0 && i % 5 == 0 {
            out.push('-');
        }
        let n = usize::from(u16::from_le_bytes([pair[0], pair[1]]));
        out.push(char::from(LETTERS[n % LETTERS.len()]));
    }
    out
}

/// A typed recovery or cancel code as it is hashed: lower case, dashes and spaces gone.
pub fn normalise_typed_code(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect()
}

/// An eight-digit texted code from eight random bytes (the modulo bias is below 10⁻¹¹).
pub fn digits_code(random: [u8; 8]) -> String {
    format!("{:08}", u64::from_le_bytes(random) % 100_000_000)
}

/// What is kept of a code: its hash keyed with the listener's recovery key, bound to what
/// the code is for and to the account, so a code for one purpose or account is worth
/// nothing for another.
pub fn code_hash(key: &[u8; 32], purpose: &str, account: &str, code: &str) -> [u8; 32] {
    let mut h = blake3::Hasher::new_keyed(key);
    for part in [purpose, account, code] {
        h.update(&(part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    *h.finalize().as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn phone(number: &str, added_days_ago: u64, verified_days_ago: Option<u64>) -> Phone {
        Phone {
            number: number.into(),
            added: NOW - added_days_ago * DAY,
            verified: verified_days_ago.map(|d| NOW - d * DAY),
        }
    }

    #[test]
    fn the_oldest_settled_number_gets_the_code_never_the_thiefs() {
        let cfg = RecoveryConfig::default();
        let owner = phone("+34612346789", 400, Some(399));
        let thief = phone("+447700900123", 1, Some(1));
        let phones = [thief.clone(), owner.clone()];
        assert_eq!(recovery_phone(&phones, &cfg, NOW), Some(&owner));
        // Even a thief's number added long ago but verified yesterday waits its week.
        let old_unverified = phone("+447700900124", 500, Some(2));
        assert_eq!(recovery_phone(&[old_unverified, owner.clone()], &cfg, NOW), Some(&owner));
        // Unverified numbers are never used; only fresh ones: the oldest of them.
        assert_eq!(recovery_phone(&[phone("+1", 900, None)], &cfg, NOW), None);
        let a = phone("+34600000001", 3, Some(3));
        let b = phone("+34600000002", 2, Some(2));
        assert_eq!(recovery_phone(&[b, a.clone()], &cfg, NOW), Some(&a));
    }

    #[test]
    fn numbers_rank_by_when_they_were_verified_and_authorising_needs_a_settled_one() {
        let cfg = RecoveryConfig::default();
        // Planted long ago, verified a month ago; the owner's new phone added 60 days ago
        // and verified then: the owner's counts from earlier.
        let planted = phone("+447911123456", 400, Some(30));
        let owner = phone("+34612346789", 60, Some(60));
        assert_eq!(recovery_phone(&[planted.clone(), owner.clone()], &cfg, NOW), Some(&owner));
        let fresh = phone("+34600000001", 1, Some(1));
        assert_eq!(settled_phone(std::slice::from_ref(&fresh), &cfg, NOW), None);
        assert_eq!(recovery_phone(std::slice::from_ref(&fresh), &cfg, NOW), Some(&fresh));
        let both = [fresh.clone(), owner.clone()];
        assert_eq!(cancel_phones(&both, &cfg, NOW), vec![&owner]);
        assert_eq!(cancel_phones(std::slice::from_ref(&fresh), &cfg, NOW), vec![&fresh]);
    }

    #[test]
    fn a_cancel_code_never_goes_to_a_number_younger_than_the_change() {
        let cfg = RecoveryConfig::default();
        // No settled number: the verified ones get codes, but only those verified before
        // the change was asked for.
        let before = phone("+34600000001", 2, Some(2));
        let after = Phone { number: "+447911123456".into(), added: NOW - DAY, verified: Some(NOW + 60) };
        let phones = [before.clone(), after];
        assert_eq!(cancel_phones(&phones, &cfg, NOW), vec![&before]);
    }

    #[test]
    fn a_known_place_applies_only_a_new_password_at_once() {
        assert!(known_place_suffices(Guarded::Password));
        assert!(known_place_suffices(Guarded::Recovery));
        assert!(!known_place_suffices(Guarded::RootOfTrust));
    }

    #[test]
    fn vouched_numbers_are_settled_at_once_and_the_setup_window_is_bounded() {
        let cfg = RecoveryConfig::default();
        let vouched = Phone { number: "+34600000009".into(), added: NOW, verified: Some(VOUCHED) };
        assert_eq!(settled_phone(std::slice::from_ref(&vouched), &cfg, NOW), Some(&vouched));
        // Ranked by when the operator added it: an older settled number still comes first.
        let owner = phone("+34612346789", 60, Some(60));
        assert_eq!(recovery_phone(&[vouched, owner.clone()], &cfg, NOW), Some(&owner));
        let too_long = super::super::account_setup::MAX_SETUP_WINDOW_SECS + 1;
        assert!(RecoveryConfig { setup_window_secs: too_long, ..cfg }.check().is_err());
        assert!(RecoveryConfig { setup_window_secs: 0, ..cfg }.check().is_ok());
    }

    #[test]
    fn codes_run_out_and_are_used_once() {
        let mut code = Code { hash: [1; 32], expires: NOW + 600, attempts_left: 5 };
        for left in (1..5).rev() {
            assert_eq!(try_code(&mut code, &[2; 32], NOW), Err(CodeError::Wrong { left }));
        }
        assert_eq!(try_code(&mut code, &[2; 32], NOW), Err(CodeError::Wrong { left: 0 }));
        assert_eq!(try_code(&mut code, &[1; 32], NOW), Err(CodeError::NoAttemptsLeft), "the right code, too late");
        let mut code = Code { hash: [1; 32], expires: NOW + 600, attempts_left: 5 };
        assert_eq!(try_code(&mut code, &[1; 32], NOW + 601), Err(CodeError::Expired));
        assert_eq!(try_code(&mut code, &[1; 32], NOW), Ok(()));
        assert_eq!(try_code(&mut code, &[1; 32], NOW), Err(CodeError::NoAttemptsLeft), "single use");
    }

    #[test]
    fn a_right_code_is_checked_without_being_used_and_each_charged_check_costs_an_attempt() {
        let mut code = Code { hash: [1; 32], expires: NOW + 600, attempts_left: 5 };
        assert_eq!(check_code(&mut code, &[1; 32], NOW, false), Ok(5), "a right code alone costs nothing");
        assert_eq!(check_code(&mut code, &[2; 32], NOW, false), Err(CodeError::Wrong { left: 4 }));
        // Each answer checked with it is paid for: at most five checks a code, whatever they are.
        for left in (0..4).rev() {
            assert_eq!(check_code(&mut code, &[1; 32], NOW, true), Ok(left));
        }
        assert_eq!(check_code(&mut code, &[1; 32], NOW, true), Err(CodeError::NoAttemptsLeft));
        assert_eq!(check_code(&mut code, &[1; 32], NOW + 600, false), Err(CodeError::Expired));
    }

    #[test]
    fn numbers_are_masked_and_answers_normalised() {
        assert_eq!(mask_phone("+34612346789"), "+34•••••6789");
        assert_eq!(mask_phone("+1234"), "+•••");
        assert_eq!(normalise_secret_answer("  My First   CAT\tis Tom "), "my first cat is tom");
        // NFKC: full-width letters, a ligature, a composed and a decomposed é are one answer.
        assert_eq!(normalise_secret_answer("ＴＯＭ"), "tom");
        assert_eq!(normalise_secret_answer("ﬁdo"), "fido");
        assert_eq!(normalise_secret_answer("Ren\u{e9}"), normalise_secret_answer("Rene\u{301}"));
    }

    #[test]
    fn codes_are_spelt_plainly_and_bound_to_purpose_and_account() {
        let code = letters_code(&[9u8; 20].iter().enumerate().map(|(i, b)| b ^ i as u8).collect::<Vec<_>>());
        assert_eq!(code.len(), 11);
        assert_eq!(code.as_bytes()[5], b'-');
        assert!(!code.contains(['0', 'o', '1', 'l', 'i', 'z', 's', '5', '8', '2']));
        assert_eq!(normalise_typed_code(&code.to_uppercase().replace('-', " ")), code.replace('-', ""));
        assert_eq!(digits_code([0; 8]), "00000000");
        assert_eq!(digits_code(u64::MAX.to_le_bytes()).len(), 8);
        let key = [7; 32];
        let a = code_hash(&key, "recover", "alice", "12345678");
        assert_ne!(a, code_hash(&key, "authorise", "alice", "12345678"));
        assert_ne!(a, code_hash(&key, "recover", "bob", "12345678"));
        assert_ne!(a, code_hash(&[8; 32], "recover", "alice", "12345678"));
        assert_ne!(code_hash(&key, "ab", "c", "x"), code_hash(&key, "a", "bc", "x"));
    }
}
