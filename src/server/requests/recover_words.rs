//! What a recovery's replies say: what happened, what the person can do next and when
//! (the time the next code can be texted, whether the same code still works), naming only
//! commands that exist, written out with this listener's name and the account's, ready to
//! paste. Before the right texted code nothing here depends on whether the account or a
//! number exists: the words come from `account_guard::starts`, which answers names that
//! cannot be texted through the same steps.

use crate::clock::{format_duration, format_time};
use crate::policy::recovery::CodeError;
use crate::policy::sms::SmsRefusal;
use crate::server::account_guard::starts::{Stop, WrongCode};
use crate::server::texts::TextRefused;

/// What the replies need to know besides what happened.
pub struct Words<'a> {
    pub user: &'a str,
    /// How texts name this listener (`[sms] name`).
    pub host: &'a str,
    /// The asking network (/24, /64).
    pub net: &'a str,
    pub now: u64,
    pub per_network: usize,
    pub per_account: usize,
}

impl Words<'_> {
    /// `2026-12-07T14:12:00Z (in 9 min 58 s)`.
    fn when(&self, t: u64) -> String {
        match t.saturating_sub(self.now) {
            // Whole seconds: what ends in this very second ends in under one.
            0 => format!("{} (in under a second)", format_time(t)),
            left => format!("{} (in {})", format_time(t), format_duration(left)),
        }
    }

    fn again(&self) -> String {
        format!("qxfer recover {} --user {}", self.host, self.user)
    }

    /// A code went (for a name that cannot be texted, nothing did: the words are
    /// conditional on what only the owner knows).
    pub fn texted(&self, until: u64) -> String {
        format!(
            "if {user} exists and has a verified phone number, a code to recover it was texted just now to the \
             oldest one; it works until {}",
            self.when(until),
            user = self.user
        )
    }

    /// No new code: the one in force still works (the person types it).
    pub fn in_force(&self, asked: u64, until: u64) -> String {
        format!(
            "no new code was texted: a code to recover {user} was asked for at {} and works until {}; type that \
             one (if {user} exists and has a verified phone number, it went to the oldest one)",
            format_time(asked),
            self.when(until),
            user = self.user
        )
    }

    /// Why no code goes now, and when one can: `(why, when and where)`; `when` is empty
    /// when none can from this listener.
    fn stop_parts(&self, stop: &Stop) -> (String, String) {
        let user = self.user;
        let elsewhere = format!("or at once from a network {user} is known at, if it has one");
        match *stop {
            Stop::InForce { asked, until } => (
                format!("a code asked for at {} still works", format_time(asked)),
                format!("after {}, or type that code", self.when(until)),
            ),
            Stop::NetworkUsed { next } => (
                format!(
                    "this network ({}) has asked for the {} recovery codes of {user} it may a day",
                    self.net, self.per_network
                ),
                format!("from here at {}, {elsewhere}", self.when(next)),
            ),
            Stop::AccountUsed { next } => (
                format!("the {} recovery codes of {user} a day were asked for", self.per_account),
                format!("at {}, {elsewhere}", self.when(next)),
            ),
            Stop::Text { why, next } => {
                let at = next.map(|t| format!("at {}", self.when(t)));
                let (reason, away) = match why {
                    TextRefused::Full => ("the listener's text queue is full (its gateway is slow or failing)".into(), false),
                    TextRefused::Limit(r) => match r {
                        SmsRefusal::StrangerShare => {
                            (format!("the texts that requests from networks {user} is not known at may cause it today are used"), true)
                        }
                        SmsRefusal::NetworkStarts => (
                            format!("this network ({}) has asked for the recovery codes it may today, for all accounts together", self.net),
                            true,
                        ),
                        SmsRefusal::StrangersReserve => {
                            ("the day's texts that requests from unknown networks may cause are used, for all accounts".into(), true)
                        }
                        SmsRefusal::Budget | SmsRefusal::Reserve => ("the listener's texts for today are used".into(), false),
                        SmsRefusal::OwnerShare => (format!("the texts of {user} for today are used"), false),
                        SmsRefusal::Cooldown { .. } => (format!("a text went to the number of {user} moments ago"), false),
                        SmsRefusal::Country => (format!("texts to the country of the number of {user} are not allowed"), false),
                        SmsRefusal::Verify => (r.to_string(), false),
                    },
                };
                // No time: not from this listener at all (a country it does not text).
                let when = match (at, away) {
                    (None, _) => String::new(),
                    (Some(at), true) => format!("{at}, {elsewhere}"),
                    (Some(at), false) => at,
                };
                (reason, when)
            }
        }
    }

    /// The reply to a start that texted nothing.
    pub fn stopped(&self, stop: &Stop) -> String {
        let (why, when) = self.stop_parts(stop);
        match when.is_empty() {
            true => format!("no code was texted: {why}; {}", self.never()),
            false => format!("no code was texted: {why}; the next can be texted {when}: {}", self.again()),
        }
    }

    /// No code can be texted from this listener: the operator is the way back.
    fn never(&self) -> String {
        format!(
            "this listener texts no code there: its operator can set a new password (qxfer user passwd {})",
            self.user
        )
    }

    /// What to do for a new code, when the one typed can no longer be used.
    fn next_code(&self, next: &Result<(), Stop>) -> String {
        match next {
            Ok(()) => format!("a new code can be texted now: {}", self.again()),
            Err(Stop::InForce { asked, until }) => format!(
                "a newer code, asked for at {}, works until {}: {} asks for it",
                format_time(*asked),
                self.when(*until),
                self.again()
            ),
            Err(stop) => match self.stop_parts(stop) {
                (why, when) if when.is_empty() => format!("{why}: {}", self.never()),
                (why, when) => format!("{why}, so the next code can be texted {when}: {}", self.again()),
            },
        }
    }

    /// The reply to a texted code that was not right.
    pub fn wrong_code(&self, w: &WrongCode) -> String {
        let user = self.user;
        let until = w.until.map(|u| self.when(u)).unwrap_or_default();
        match w.why {
            CodeError::Wrong { left } if left > 0 => format!(
                "wrong code for {user}: {left} tries left with the code that works until {until}; check the text and \
                 type it again ({} texts no new code while it works)",
                self.again()
            ),
            CodeError::Wrong { .. } | CodeError::NoAttemptsLeft => {
                format!("wrong code for {user}, and the code texted has no tries left; {}", self.next_code(&w.next))
            }
            CodeError::Expired => format!("the code for {user} has expired; {}", self.next_code(&w.next)),
            CodeError::NotSent => format!(
                "no code to recover {user} is waiting (none was asked for lately, or it was used or ran out of tries); {}",
                self.next_code(&w.next)
            ),
            CodeError::Used => format!(
                "this code was used already: the recovery of {user} it was texted for went through or is pending (see \
                 the text announcing it); to recover again, {}",
                self.next_code(&w.next)
            ),
        }
    }

    /// The reply to a wrong secret answer or recovery code after the right texted code:
    /// `left` tries with that code (until `until`), else `next`.
    pub fn wrong_proof(&self, what: &str, left: u32, until: u64, codes: bool, next: &Result<(), Stop>) -> String {
        if left == 0 {
            return format!("the {what} is wrong, and the texted code has no tries left; {}", self.next_code(next));
        }
        let instead = if codes && what != "recovery code" { ", or one of the recovery codes instead" } else { "" };
        format!(
            "the {what} is wrong; {left} tries left with the same texted code, which works until {}: give the \
             {what} again{instead}",
            self.when(until)
        )
    }
}
