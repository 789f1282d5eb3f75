//! Recovery starts, pure (the clock comes in as seconds): whether a start texts a code now,
//! and if not, what stops it and until when: a code still in force (it is not replaced: the
//! owner may be typing it), the starts one network may make for an account a day, the
//! account's starts a day from places it does not know, the texts such requests may cause it
//! a day.
//!
//! A stranger must not learn from the reply whether an account exists or has a number. So
//! names that cannot be texted (made-up names, accounts without a verified number) are
//! answered from a [`Phantoms`] entry that goes through the same steps as a real account's
//! record: its starts, its "code" (one nobody can know, so every code typed for it is
//! wrong, and its attempts run out like a real one's), its texts of the day. The same
//! requests from the same network get the same words either way.
//!
//! # Bounded
//! At most `cap` phantom names are kept; entries with nothing in the last day go first, then
//! the stalest. A flood of made-up names from many networks (each start needs a solved
//! challenge, and a network makes at most `sms.starts_per_network` a day) can push a name
//! out early: that name then reads as one never asked for, as a real account never asked
//! for does.

use std::collections::HashMap;

use super::recovery::CodeError;

pub const DAY: u64 = 86_400;

/// Phantom names kept at most.
pub const MAX_PHANTOMS: usize = 4096;

/// The rules a start is held to (from `[recovery]` and `[sms]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartRules {
    /// Starts that texted, from one network (not a known place), for one account, in a day.
    pub per_network: usize,
    /// Starts that texted, for one account, in a day (none count at a known place).
    pub per_account: usize,
    /// Texts requests from places an account does not know may cause it per UTC day
    /// (`sms.stranger_share`).
    pub stranger_texts: u32,
    /// A code's lifetime and attempts (`recovery.code_ttl_secs`, `code_attempts`).
    pub code_ttl: u64,
    pub code_attempts: u32,
}

/// A start that texted a code: when, and from which network (/24, /64).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Past<'a> {
    pub at: u64,
    pub net: &'a str,
}

/// What a start does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Text a code.
    Text,
    /// The code texted at `asked` works until `until`; none is texted before then.
    InForce { asked: u64, until: u64 },
    /// This network's starts for the account today are used; the next at `next`.
    NetworkUsed { next: u64 },
    /// The account's starts for today are used; the next at `next`.
    AccountUsed { next: u64 },
}

/// The next UTC midnight after `now` (when the day's text pools and shares start again).
pub fn next_day(now: u64) -> u64 {
    (now / DAY + 1) * DAY
}

/// When a limit of `n` a rolling day, with `times` (any order) counted in the last day,
/// lets one more through: now if fewer than `n`, else when enough of them are a day old.
fn next_free(times: &mut [u64], n: usize, now: u64) -> Option<u64> {
    if times.len() < n {
        return None;
    }
    times.sort_unstable();
    let oldest_to_go = times.get(times.len() - n).copied().unwrap_or(now);
    Some(oldest_to_go.saturating_add(DAY).max(now + 1))
}

/// Whether a start from `net` texts a code now. `in_force`: the expiry of the account's
/// recovery code still in force (unexpired, attempts left), if any. `known_here`: `net` is
/// a known place of the account (neither daily limit applies there; one code at a time
/// still does).
pub fn gate(
    past: &[Past<'_>],
    in_force: Option<u64>,
    net: &str,
    known_here: bool,
    rules: &StartRules,
    now: u64,
) -> Gate {
    if let Some(until) = in_force.filter(|u| *u > now) {
        return Gate::InForce { asked: until.saturating_sub(rules.code_ttl), until };
    }
    if known_here {
        return Gate::Text;
    }
    let day: Vec<&Past<'_>> = past.iter().filter(|p| now.saturating_sub(p.at) < DAY).collect();
    let mut here: Vec<u64> = day.iter().filter(|p| p.net == net).map(|p| p.at).collect();
    if let Some(next) = next_free(&mut here, rules.per_network, now) {
        return Gate::NetworkUsed { next };
    }
    let mut all: Vec<u64> = day.iter().map(|p| p.at).collect();
    if let Some(next) = next_free(&mut all, rules.per_account, now) {
        return Gate::AccountUsed { next };
    }
    Gate::Text
}

/// A name that cannot be texted, as far as starts go.
#[derive(Debug, Clone, Default)]
struct Phantom {
    /// Its starts that "texted" in the last day.
    starts: Vec<(u64, String)>,
    /// Its "code": when it expires, and the attempts left.
    code: Option<(u64, u32)>,
    /// The UTC day `texts` counts, and how many.
    day: u64,
    texts: u32,
    last: u64,
}

impl Phantom {
    fn quiet(&self, now: u64) -> bool {
        self.starts.iter().all(|(at, _)| now.saturating_sub(*at) >= DAY) && self.code.is_none_or(|(e, _)| e <= now)
    }
}

/// The phantom names (see the module's notes).
#[derive(Debug)]
pub struct Phantoms {
    map: HashMap<String, Phantom>,
    cap: usize,
}

impl Default for Phantoms {
    fn default() -> Self {
        Phantoms::new(MAX_PHANTOMS)
    }
}

impl Phantoms {
    pub fn new(cap: usize) -> Self {
        Phantoms { map: HashMap::new(), cap: cap.max(1) }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// What a start for `name` from `net` does now (nothing is counted: see [`Self::texted`]).
    pub fn gate(&self, name: &str, net: &str, rules: &StartRules, now: u64) -> Gate {
        let Some(p) = self.map.get(name) else { return Gate::Text };
        let in_force = p.code.filter(|(e, left)| *e > now && *left > 0).map(|(e, _)| e);
        let past: Vec<Past<'_>> = p.starts.iter().map(|(at, net)| Past { at: *at, net }).collect();
        gate(&past, in_force, net, false, rules, now)
    }

    /// Whether the texts requests from unknown places may cause `name` today are used (a
    /// real account's share is the text ledger's to say; this is its phantom's).
    pub fn share_used(&self, name: &str, rules: &StartRules, now: u64) -> bool {
        self.map.get(name).is_some_and(|p| p.day == now / DAY && p.texts >= rules.stranger_texts)
    }

    /// Count a start for `name` from `net` that [`Self::gate`] let through (and the text
    /// ledger did): its "code" is in force from now.
    pub fn texted(&mut self, name: &str, net: &str, rules: &StartRules, now: u64) {
        if !self.map.contains_key(name) {
            self.make_room(now);
        }
        let p = self.map.entry(name.to_owned()).or_default();
        p.starts.retain(|(at, _)| now.saturating_sub(*at) < DAY);
        p.starts.push((now, net.to_owned()));
        // The day's starts are bounded by the rules, whatever happens: keep the newest.
        let keep = rules.per_account.max(rules.per_network).max(1);
        if p.starts.len() > keep {
            p.starts.drain(..p.starts.len() - keep);
        }
        if p.day != now / DAY {
            p.day = now / DAY;
            p.texts = 0;
        }
        p.texts += 1;
        p.code = Some((now.saturating_add(rules.code_ttl), rules.code_attempts));
        p.last = now;
    }

    /// The expiry of `name`'s phantom code, while it is in force.
    pub fn code_until(&self, name: &str, now: u64) -> Option<u64> {
        self.map.get(name).and_then(|p| p.code).filter(|(e, _)| *e > now).map(|(e, _)| e)
    }

    /// A code typed for `name`: never right. An attempt is spent, as on a real code.
    pub fn try_code(&mut self, name: &str, now: u64) -> CodeError {
        let Some(p) = self.map.get_mut(name) else { return CodeError::NotSent };
        p.last = now;
        match &mut p.code {
            None => CodeError::NotSent,
            Some((expires, _)) if *expires <= now => {
                p.code = None;
                CodeError::Expired
            }
            Some((_, 0)) => CodeError::NoAttemptsLeft,
            Some((_, left)) => {
                *left -= 1;
                CodeError::Wrong { left: *left }
            }
        }
    }

    /// Room for one more: quiet entries go first, then the stalest.
    fn make_room(&mut self, now: u64) {
        if self.map.len() < self.cap {
            return;
        }
        self.map.retain(|_, p| !p.quiet(now));
        if self.map.len() >= self.cap {
            if let Some(stalest) = self.map.iter().min_by_key(|(_, p)| p.last).map(|(n, _)| n.clone()) {
                self.map.remove(&stalest);
            }
        }
    }

    /// Forget the entries with nothing left to say.
    pub fn prune(&mut self, now: u64) {
        self.map.retain(|_, p| !p.quiet(now) || p.day == now / DAY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000;
    const RULES: StartRules =
        StartRules { per_network: 2, per_account: 5, stranger_texts: 4, code_ttl: 600, code_attempts: 5 };

    #[test]
    fn a_code_in_force_then_the_networks_then_the_accounts_starts_stop_a_text_and_say_until_when() {
        let past = [Past { at: NOW - 5000, net: "a" }, Past { at: NOW - 3000, net: "a" }];
        assert_eq!(
            gate(&past, Some(NOW + 100), "b", true, &RULES, NOW),
            Gate::InForce { asked: NOW - 500, until: NOW + 100 }
        );
        assert_eq!(gate(&past, None, "a", false, &RULES, NOW), Gate::NetworkUsed { next: NOW - 5000 + DAY });
        assert_eq!(gate(&past, None, "a", true, &RULES, NOW), Gate::Text, "no daily limit at a known place");
        assert_eq!(gate(&past, None, "b", false, &RULES, NOW), Gate::Text);
        let more: Vec<Past<'_>> = (0..5).map(|i| Past { at: NOW - 9000 + i * 1000, net: "x" }).collect();
        let rules = StartRules { per_network: 9, ..RULES };
        assert_eq!(gate(&more, None, "b", false, &rules, NOW), Gate::AccountUsed { next: NOW - 9000 + DAY });
        // A day later they no longer count.
        assert_eq!(gate(&past, None, "a", false, &RULES, NOW + DAY), Gate::Text);
    }

    #[test]
    fn a_phantom_goes_through_the_same_steps_as_an_account() {
        let mut ph = Phantoms::new(8);
        assert_eq!(ph.gate("nobody", "a", &RULES, NOW), Gate::Text);
        assert_eq!(ph.try_code("nobody", NOW), CodeError::NotSent, "no code was ever asked for");
        ph.texted("nobody", "a", &RULES, NOW);
        assert_eq!(ph.gate("nobody", "a", &RULES, NOW + 1), Gate::InForce { asked: NOW, until: NOW + 600 });
        assert_eq!(ph.try_code("nobody", NOW + 2), CodeError::Wrong { left: 4 });
        for _ in 0..4 {
            ph.try_code("nobody", NOW + 3);
        }
        assert_eq!(ph.try_code("nobody", NOW + 4), CodeError::NoAttemptsLeft);
        // Out of attempts: no longer in force; the network's second start goes, its third not.
        assert_eq!(ph.gate("nobody", "a", &RULES, NOW + 5), Gate::Text);
        ph.texted("nobody", "a", &RULES, NOW + 5);
        assert_eq!(ph.gate("nobody", "a", &RULES, NOW + 700), Gate::NetworkUsed { next: NOW + DAY });
        assert_eq!(ph.try_code("nobody", NOW + 700), CodeError::Expired);
        // Other networks: the texts of the day run out at the stranger share.
        ph.texted("nobody", "b", &RULES, NOW + 800);
        ph.texted("nobody", "c", &RULES, NOW + 1600);
        assert_eq!(ph.gate("nobody", "d", &RULES, NOW + 2400), Gate::Text);
        assert!(ph.share_used("nobody", &RULES, NOW + 2400));
        assert!(!ph.share_used("nobody", &RULES, next_day(NOW + 2400)));
    }

    #[test]
    fn phantoms_are_bounded() {
        let mut ph = Phantoms::new(4);
        for i in 0..100u64 {
            ph.texted(&format!("n{i}"), "a", &RULES, NOW + i);
        }
        assert_eq!(ph.len(), 4);
        assert!(ph.code_until("n99", NOW + 100).is_some(), "the newest is kept");
        ph.prune(NOW + 3 * DAY);
        assert!(ph.is_empty());
    }
}
