//! A new account setting itself up, pure (the clock comes in as seconds). An account the
//! operator made has no known place and no settled number, so every change of it would
//! wait the delay and be announced to nobody. Within `recovery.setup_window_secs` of its
//! creation, what it lacks (its first verified number, its first secret question, its first
//! recovery codes) applies at once from the network of its first password login, or from
//! anywhere with the one-time setup code `qxfer user add` printed. Only what it lacks: once
//! it has a verified number, a second number waits like any change, window or not.

use std::net::IpAddr;

use super::prefix_of;

/// The longest setup window an operator may configure (30 days); a setup code is kept no
/// longer than this.
pub const MAX_SETUP_WINDOW_SECS: u64 = 30 * 86_400;

/// What a setup code is for: part of its keyed hash (as every texted code's purpose is).
pub const SETUP_PURPOSE: &str = "setup";

/// Wrong tries a setup code takes before it is gone.
pub const SETUP_CODE_ATTEMPTS: u32 = 5;

/// What a change gives the account, when it is something a new account sets up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupItem {
    Number,
    Question,
    Codes,
}

/// What the account has already.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Has {
    pub verified_number: bool,
    pub question: bool,
    pub codes: bool,
}

/// How a setup change was let through at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupWay {
    /// From the network of the account's first password login.
    FirstNetwork,
    /// With the operator's one-time setup code.
    SetupCode,
}

/// Whether the account is still within its setup window: made less than `window_secs`
/// (`recovery.setup_window_secs`) ago; an account whose creation is unknown never is.
pub fn window_open(window_secs: u64, created: Option<u64>, now: u64) -> bool {
    created.is_some_and(|c| now < c.saturating_add(window_secs))
}

/// Whether `item` is something the account lacks, so setting it up is its first setup.
pub fn lacks(item: SetupItem, has: Has) -> bool {
    match item {
        SetupItem::Number => !has.verified_number,
        SetupItem::Question => !has.question,
        SetupItem::Codes => !has.codes,
    }
}

/// Whether `ip` is on the network (`/24` or `/64`, as text) of the first password login.
pub fn from_first_network(first: Option<&str>, ip: IpAddr) -> bool {
    first.is_some_and(|net| net == prefix_of(ip).to_string())
}

/// Why a setup change applied at once, in words (`window`: the window's length, written
/// out): "the first number of a new account is set up at once (from the network it first
/// logged in from, within 1 d of its creation)".
pub fn reason(item: SetupItem, way: SetupWay, window: &str) -> String {
    let what = match item {
        SetupItem::Number => "the first number of a new account is",
        SetupItem::Question => "the first secret question of a new account is",
        SetupItem::Codes => "the first recovery codes of a new account are",
    };
    let how = match way {
        SetupWay::FirstNetwork => "from the network it first logged in from",
        SetupWay::SetupCode => "with the operator's one-time setup code",
    };
    format!("{what} set up at once ({how}, within {window} of its creation)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_measured_from_creation_and_zero_turns_it_off() {
        assert!(window_open(86_400, Some(1000), 1000 + 86_399));
        assert!(!window_open(86_400, Some(1000), 1000 + 86_400));
        assert!(!window_open(86_400, None, 1000));
        assert!(!window_open(0, Some(1000), 1000), "0 turns it off");
    }

    #[test]
    fn only_what_the_account_lacks_is_set_up() {
        let fresh = Has::default();
        assert!(lacks(SetupItem::Number, fresh) && lacks(SetupItem::Question, fresh) && lacks(SetupItem::Codes, fresh));
        let numbered = Has { verified_number: true, ..fresh };
        assert!(!lacks(SetupItem::Number, numbered), "a second number waits");
        assert!(lacks(SetupItem::Question, numbered));
        assert!(!lacks(SetupItem::Codes, Has { codes: true, ..fresh }));
    }

    #[test]
    fn the_first_network_is_a_slash_24_or_64() {
        let ip: IpAddr = "192.0.2.77".parse().expect("ip");
        assert!(from_first_network(Some("192.0.2.0/24"), ip));
        assert!(!from_first_network(Some("192.0.3.0/24"), ip));
        assert!(!from_first_network(None, ip));
        let text = reason(SetupItem::Number, SetupWay::FirstNetwork, "1 d");
        assert_eq!(
            text,
            "the first number of a new account is set up at once (from the network it first logged in from, \
             within 1 d of its creation)"
        );
    }
}
