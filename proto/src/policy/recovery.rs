//! Account recovery's decisions, pure (the clock comes in as seconds): which phone number a
//! recovery code goes to, whether a login comes from a known place, whether a recovery
//! applies now or after the delay, how many code attempts remain, and how a number is shown
//! in logs. Designed against the real attack: a thief who has the password adds their own
//! phone and "recovers" the account whenever the owner takes it back. So the oldest settled
//! number wins, a place counts as known only long after its first login, and from an
//! unknown place a change waits and is announced.
//!
//! Groundwork for the recovery flow; the listener does not use it yet.

use std::net::IpAddr;

use ipnet::IpNet;

use super::prefix_of;

const DAY: u64 = 24 * 3600;

/// `[recovery]` in the listener's config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryConfig {
    /// A number added or verified this recently is never used while an older one exists.
    pub new_phone_days: u64,
    /// A place counts as known only once its first login is this old.
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

/// The number a recovery code goes to: the oldest verified number that is settled (added
/// and verified more than `new_phone_days` ago); only when no verified number is settled,
/// the oldest verified one. An unverified number is never used.
pub fn recovery_phone<'a>(phones: &'a [Phone], cfg: &RecoveryConfig, now: u64) -> Option<&'a Phone> {
    let settled_after = cfg.new_phone_days.saturating_mul(DAY);
    let verified = || phones.iter().filter(|p| p.verified.is_some());
    let age = |p: &Phone| now.saturating_sub(p.added.max(p.verified.unwrap_or(p.added)));
    let oldest = |it: &mut dyn Iterator<Item = &'a Phone>| it.min_by_key(|p| (p.added, p.verified, p.number.clone()));
    oldest(&mut verified().filter(|p| age(p) >= settled_after)).or_else(|| oldest(&mut verified()))
}

/// A network an account logged in from: its /24 or /64, first and last seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub net: IpNet,
    pub first_seen: u64,
    pub last_seen: u64,
}

/// Whether `ip` is a known place of the account: its network was first seen more than
/// `new_place_days` ago and seen within `place_expiry_days`.
pub fn is_known_place(places: &[Place], ip: IpAddr, cfg: &RecoveryConfig, now: u64) -> bool {
    let net = prefix_of(ip);
    places.iter().any(|p| {
        p.net == net
            && now.saturating_sub(p.first_seen) > cfg.new_place_days.saturating_mul(DAY)
            && now.saturating_sub(p.last_seen) < cfg.place_expiry_days.saturating_mul(DAY)
    })
}

/// Note a successful login from `ip`: the place's last sighting, or a new place; expired
/// places go, and past `max_places` the least recently seen.
pub fn note_login(places: &mut Vec<Place>, ip: IpAddr, cfg: &RecoveryConfig, now: u64) {
    let net = prefix_of(ip);
    places.retain(|p| now.saturating_sub(p.last_seen) < cfg.place_expiry_days.saturating_mul(DAY));
    match places.iter_mut().find(|p| p.net == net) {
        Some(p) => p.last_seen = p.last_seen.max(now),
        None => {
            if places.len() >= cfg.max_places.max(1) {
                if let Some(i) = places.iter().enumerate().min_by_key(|(_, p)| p.last_seen).map(|(i, _)| i) {
                    places.swap_remove(i);
                }
            }
            places.push(Place { net, first_seen: now, last_seen: now });
        }
    }
}

/// When a recovery, or a change of phones, question or password, takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Now,
    /// Announced to every number and the mailbox, cancellable until then.
    At(u64),
}

/// From a known place at once; from an unknown one after the delay.
pub fn effect(known_place: bool, cfg: &RecoveryConfig, now: u64) -> Effect {
    if known_place {
        Effect::Now
    } else {
        Effect::At(now.saturating_add(cfg.unknown_place_delay_secs))
    }
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
}

/// Try a code whose keyed hash is `typed`: an attempt is used up whatever the outcome, and
/// the comparison is constant-time.
pub fn try_code(code: &mut Code, typed: &[u8; 32], now: u64) -> Result<(), CodeError> {
    if now >= code.expires {
        return Err(CodeError::Expired);
    }
    if code.attempts_left == 0 {
        return Err(CodeError::NoAttemptsLeft);
    }
    code.attempts_left -= 1;
    if blake3::Hash::from(code.hash) == blake3::Hash::from(*typed) {
        code.attempts_left = 0;
        return Ok(());
    }
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

/// A secret answer as it is hashed: lower case, runs of white space as one space, trimmed.
/// (Unicode NFKC comes with the crate that does it, when the flow is wired.)
pub fn normalise_secret_answer(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
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
    fn a_place_is_known_only_a_week_after_its_first_login() {
        let cfg = RecoveryConfig::default();
        let ip: IpAddr = "192.0.2.77".parse().expect("ip");
        let mut places = Vec::new();
        note_login(&mut places, ip, &cfg, NOW - 3 * DAY);
        assert!(!is_known_place(&places, ip, &cfg, NOW), "a thief's first logins do not make a place known");
        let mut places = Vec::new();
        note_login(&mut places, ip, &cfg, NOW - 30 * DAY);
        note_login(&mut places, "192.0.2.9".parse().expect("ip"), &cfg, NOW - DAY);
        assert_eq!(places.len(), 1, "one /24");
        assert!(is_known_place(&places, ip, &cfg, NOW));
        assert!(!is_known_place(&places, "192.0.3.1".parse().expect("ip"), &cfg, NOW));
        // Forgotten after a year unseen.
        assert!(!is_known_place(&places, ip, &cfg, NOW + 400 * DAY));
    }

    #[test]
    fn places_are_bounded_per_account() {
        let cfg = RecoveryConfig { max_places: 4, ..RecoveryConfig::default() };
        let mut places = Vec::new();
        for i in 0..100u32 {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + (i << 8)));
            note_login(&mut places, ip, &cfg, NOW + u64::from(i));
        }
        assert_eq!(places.len(), 4);
    }

    #[test]
    fn unknown_places_wait_and_codes_run_out() {
        let cfg = RecoveryConfig::default();
        assert_eq!(effect(true, &cfg, NOW), Effect::Now);
        assert_eq!(effect(false, &cfg, NOW), Effect::At(NOW + DAY));
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
    fn numbers_are_masked_and_answers_normalised() {
        assert_eq!(mask_phone("+34612346789"), "+34•••••6789");
        assert_eq!(mask_phone("+1234"), "+•••");
        assert_eq!(normalise_secret_answer("  My First   CAT\tis Tom "), "my first cat is tom");
    }
}
