//! A recovery's texted code from start to finish: a start goes through the gate of
//! `policy::recovery_start` (a code in force, the network's and the account's starts of the
//! day) and then the text ledger; a code typed for the account is checked (a wrong one costs
//! an attempt, a used one typed again costs nothing); and when either stops, when the next
//! code can be texted. A name that cannot be texted (no such account, or no verified
//! number) goes through the same steps on its phantom, so every answer reads the same for
//! it as for an account (the words are `requests::recover_words`).

use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};

use super::codes::{Checked, SendCodeError, RECOVER};
use super::AccountGuard;
use crate::policy::prefix_of;
use crate::policy::recovery::{mask_phone, CodeError};
use crate::policy::recovery_start::{gate, next_day, Gate, Past, Phantoms, StartRules};
use crate::policy::sms::SmsRefusal;
use crate::server::texts::TextRefused;
use crate::store::{RecentKind, RecoveryRecord, Store, StoreError};

/// Why no code is texted now, and until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The code asked for at `asked` works until `until`; no new one before then.
    InForce { asked: u64, until: u64 },
    /// This network's starts for the account today are used.
    NetworkUsed { next: u64 },
    /// The account's starts for today are used.
    AccountUsed { next: u64 },
    /// The text ledger (or the outbox) refused; `next`: when it would not (`None`: not on
    /// this listener, a country not allowed).
    Text { why: TextRefused, next: Option<u64> },
}

impl std::fmt::Display for Stop {
    /// For the listener's log and the activity log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = |t: &Option<u64>| t.map_or_else(|| "never".to_string(), crate::clock::format_time);
        match self {
            Stop::InForce { until, .. } => write!(f, "a code in force until {}", at(&Some(*until))),
            Stop::NetworkUsed { next } => write!(f, "the network's starts are used, next at {}", at(&Some(*next))),
            Stop::AccountUsed { next } => write!(f, "the account's starts are used, next at {}", at(&Some(*next))),
            Stop::Text { why, next } => write!(f, "the text was refused ({why}), next at {}", at(next)),
        }
    }
}

impl Stop {
    fn from_gate(g: Gate) -> Option<Stop> {
        match g {
            Gate::Text => None,
            Gate::InForce { asked, until } => Some(Stop::InForce { asked, until }),
            Gate::NetworkUsed { next } => Some(Stop::NetworkUsed { next }),
            Gate::AccountUsed { next } => Some(Stop::AccountUsed { next }),
        }
    }
}

/// A typed recovery code that was not right: why, when the code in force (if any) expires,
/// and whether a new code could be texted now (said when this one can no longer be used).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongCode {
    pub why: CodeError,
    pub until: Option<u64>,
    pub next: Result<(), Stop>,
}

fn lock(m: &Mutex<Phantoms>) -> MutexGuard<'_, Phantoms> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl AccountGuard {
    pub fn start_rules(&self) -> StartRules {
        StartRules {
            per_network: super::daily::STARTS_PER_NETWORK,
            per_account: self.cfg.max_per_day as usize,
            stranger_texts: self.texts.limits().stranger_share,
            code_ttl: self.cfg.code_ttl_secs,
            code_attempts: self.cfg.code_attempts,
        }
    }

    /// What a start of `rec`'s recovery from `ip` does now; `in_force`: the code in force
    /// counts (`false` when asking only about the day's limits).
    pub fn start_gate(&self, rec: &RecoveryRecord, ip: IpAddr, in_force: bool, now: u64) -> Gate {
        let past: Vec<Past<'_>> =
            rec.recent.iter().filter(|r| r.kind == RecentKind::Start).map(|r| Past { at: r.at, net: &r.net }).collect();
        let until = if in_force { Self::code_until(rec, RECOVER, now) } else { None };
        gate(&past, until, &prefix_of(ip).to_string(), self.known(rec, ip, now), &self.start_rules(), now)
    }

    /// When the ledger would let a text it refused for `why` go.
    pub fn next_text_at(&self, why: TextRefused, now: u64) -> Option<u64> {
        match why {
            TextRefused::Full => Some(now + 60),
            TextRefused::Limit(SmsRefusal::Cooldown { secs }) => {
                Some(now + self.texts.limits().cooldown_secs.saturating_sub(secs).max(1))
            }
            TextRefused::Limit(SmsRefusal::Country) => None,
            TextRefused::Limit(_) => Some(next_day(now)),
        }
    }

    fn stop_text(&self, why: TextRefused, now: u64) -> Stop {
        Stop::Text { why, next: self.next_text_at(why, now) }
    }

    /// Start `user`'s recovery from `ip`: `Ok(until)` when a code went (or, for a name that
    /// cannot be texted, would have), else what stopped it; and what really happened, for
    /// the listener's log.
    pub fn start_recovery(
        &self,
        store: &Store,
        user: &str,
        ip: IpAddr,
        now_ms: u64,
    ) -> Result<(Result<u64, Stop>, String), StoreError> {
        let now = now_ms / 1000;
        let until = now + self.cfg.code_ttl_secs;
        let real = store.update_recovery(user, |rec| {
            let Some(number) = self.owner_number(rec, now) else { return (None, false) };
            let masked = mask_phone(&number);
            if let Some(stop) = Stop::from_gate(self.start_gate(rec, ip, true, now)) {
                return (Some((Err(stop), format!("no code texted to {masked}: {stop}"))), false);
            }
            let sent = self.send_code(rec, RecentKind::Start, ip, RECOVER, user, &number, now_ms, |code, min| {
                format!(
                    "your code to recover account {user} is {code}. It works for {min} min. \
                     If you did not ask for it, ignore it: nothing changes without it."
                )
            });
            let stop = match sent {
                Ok(()) => return (Some((Ok(until), format!("code texted to {masked}"))), true),
                Err(SendCodeError::Text(why)) => self.stop_text(why, now),
                // The gate said the day's starts allow it (the same rule); a random
                // source that failed leaves nothing texted either.
                Err(e) => Stop::Text { why: TextRefused::Full, next: Some(now + 60) }.with_log(&e),
            };
            (Some((Err(stop), format!("no code texted to {masked}: {stop}"))), false)
        })?;
        if let Some(Some(done)) = real {
            return Ok(done);
        }
        let why = if real.is_none() { "no such account" } else { "no verified number" };
        let net = prefix_of(ip).to_string();
        let rules = self.start_rules();
        let mut phantoms = lock(&self.phantoms);
        if let Some(stop) = Stop::from_gate(phantoms.gate(user, &net, &rules, now)) {
            return Ok((Err(stop), format!("{why}; answered as: {stop}")));
        }
        let share_used = phantoms.share_used(user, &rules, now);
        match self.texts.phantom_start(&net, share_used, now, true) {
            Ok(()) => {
                phantoms.texted(user, &net, &rules, now);
                Ok((Ok(until), format!("{why}; nothing texted")))
            }
            Err(refused) => {
                let stop = self.stop_text(refused, now);
                Ok((Err(stop), format!("{why}; answered as: {stop}")))
            }
        }
    }

    /// Whether a new code for `user` could be texted from `ip` now (nothing is counted).
    /// `rec`: the account's record, when it exists.
    pub fn next_code(&self, rec: Option<&RecoveryRecord>, user: &str, ip: IpAddr, now: u64) -> Result<(), Stop> {
        let net = prefix_of(ip).to_string();
        if let Some((rec, number)) = rec.and_then(|r| self.owner_number(r, now).map(|n| (r, n))) {
            if let Some(stop) = Stop::from_gate(self.start_gate(rec, ip, true, now)) {
                return Err(stop);
            }
            let ask = self.code_ask(rec, RecentKind::Start, ip, RECOVER, user, &number, &net, now);
            return self.texts.check(&number, &ask, now).map_err(|why| self.stop_text(why, now));
        }
        let rules = self.start_rules();
        let phantoms = lock(&self.phantoms);
        if let Some(stop) = Stop::from_gate(phantoms.gate(user, &net, &rules, now)) {
            return Err(stop);
        }
        let share_used = phantoms.share_used(user, &rules, now);
        self.texts.phantom_start(&net, share_used, now, false).map_err(|why| self.stop_text(why, now))
    }

    /// Check a recovery code typed for `user`, an account whose record is `rec` (`charge`:
    /// a proof is about to be checked with it, see `AccountGuard::check_code`): in the
    /// record when the account can be texted, else on its phantom. Right: what the check
    /// left. Wrong: why, and what to say about the next code.
    pub fn check_recovery_code(
        &self,
        rec: &mut RecoveryRecord,
        user: &str,
        typed: &str,
        ip: IpAddr,
        charge: bool,
        now: u64,
    ) -> Result<Checked, WrongCode> {
        if self.owner_number(rec, now).is_none() {
            return Err(self.phantom_code(user, ip, now));
        }
        self.check_code(rec, RECOVER, user, typed, now, charge).map_err(|why| WrongCode {
            why,
            until: Self::code_until(rec, RECOVER, now),
            next: self.next_code(Some(rec), user, ip, now),
        })
    }

    /// A recovery code typed for `user`, a name that cannot be texted: never right; an
    /// attempt of its phantom code is spent as on a real one.
    pub fn phantom_code(&self, user: &str, ip: IpAddr, now: u64) -> WrongCode {
        let (why, until) = {
            let mut phantoms = lock(&self.phantoms);
            (phantoms.try_code(user, now), phantoms.code_until(user, now))
        };
        WrongCode { why, until, next: self.next_code(None, user, ip, now) }
    }

    /// Forget phantoms with nothing left to say.
    pub fn prune_phantoms(&self, now: u64) {
        lock(&self.phantoms).prune(now);
    }
}

impl Stop {
    /// `self`, with `e` logged (a failure with nothing to tell the person but to retry).
    fn with_log(self, e: &SendCodeError) -> Stop {
        tracing::warn!(event = "recovery_code", "no recovery code texted: {e}");
        self
    }
}
