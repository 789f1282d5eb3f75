//! Smart lockout: password failures for one account from places that are not its known
//! places are limited per account, whatever the number of addresses they come from
//! (`[challenges] lockout_after` in [`WINDOW_SECS`]); past the limit the account takes no
//! password from an unknown place for `lockout_secs`, doubled per repeat up to
//! [`MAX_LOCKOUT_SECS`]. Names that do not exist are limited the same way, so the replies
//! never tell a real name from a made-up one. Failures at the account's known places never
//! count here (the owner at home is never locked out by someone else). Pure: the clock
//! comes in as ms.
//!
//! # Bounded, and safe for owners when full
//! Existing accounts and made-up names are kept apart, at most `cap` entries each, so a
//! flood of made-up names can never push a real account's count out. When the made-up
//! names' map is full (entries past their window go first; none is dropped to make room,
//! so a flood cannot wipe the count of the name someone is probing), a new made-up name
//! is counted in one bucket per source network (/24 or /64) instead, and a locked bucket
//! locks its network out of every name, real or made up, from places not known to the
//! account: a network guessing many names locks itself out, never anyone else, and a
//! real name still looks like a made-up one. In the accounts' and networks' maps, when
//! full, the stalest entry that is not locked makes room; if all are locked the new one
//! is not tracked.

use std::collections::HashMap;
use std::net::IpAddr;

use super::admission::prefix_of;

/// Failures further apart than this from the first of a count are not counted together.
pub const WINDOW_SECS: u64 = 3_600;
/// The longest lockout, however often it repeats.
pub const MAX_LOCKOUT_SECS: u64 = 86_400;

/// The knobs (`[challenges] lockout_after`, `lockout_secs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutConfig {
    /// Failures from unknown places within [`WINDOW_SECS`] that lock the account.
    pub after: u32,
    /// The first lockout; each repeat doubles it, up to [`MAX_LOCKOUT_SECS`].
    pub secs: u64,
}

impl Default for LockoutConfig {
    fn default() -> Self {
        LockoutConfig { after: 10, secs: 900 }
    }
}

impl LockoutConfig {
    /// How long the lockout after `repeats` earlier ones lasts, in ms.
    pub fn duration_ms(&self, repeats: u32) -> u64 {
        let secs = self.secs.saturating_mul(1u64.checked_shl(repeats.min(63)).unwrap_or(u64::MAX));
        secs.min(MAX_LOCKOUT_SECS).saturating_mul(1000)
    }
}

/// Which name a login was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Name<'a> {
    /// An account that exists.
    Account(&'a str),
    /// A name no account has.
    MadeUp(&'a str),
}

#[derive(Debug, Clone, Copy, Default)]
struct Entry {
    /// Failures since `first_ms`.
    failures: u32,
    first_ms: u64,
    /// Locked until then (0: never locked).
    until_ms: u64,
    /// Lockouts so far, remembered until [`MAX_LOCKOUT_SECS`] after the last one ended.
    repeats: u32,
    last_ms: u64,
}

impl Entry {
    fn locked(&self, now_ms: u64) -> bool {
        now_ms < self.until_ms
    }

    /// Nothing left to remember: no lockout in force or remembered, the count expired.
    fn idle(&self, now_ms: u64) -> bool {
        let window = WINDOW_SECS * 1000;
        now_ms.saturating_sub(self.first_ms) >= window
            && now_ms >= self.until_ms.saturating_add(MAX_LOCKOUT_SECS * 1000)
    }

    fn failed(&mut self, cfg: &LockoutConfig, now_ms: u64) {
        self.last_ms = now_ms;
        if self.locked(now_ms) {
            // Attempts during a lockout change nothing (right or wrong alike).
            return;
        }
        if self.until_ms > 0 && now_ms >= self.until_ms.saturating_add(MAX_LOCKOUT_SECS * 1000) {
            self.repeats = 0;
        }
        if self.failures == 0 || now_ms.saturating_sub(self.first_ms) >= WINDOW_SECS * 1000 {
            self.failures = 0;
            self.first_ms = now_ms;
        }
        self.failures = self.failures.saturating_add(1);
        if self.failures >= cfg.after {
            self.until_ms = now_ms.saturating_add(cfg.duration_ms(self.repeats));
            self.repeats = self.repeats.saturating_add(1);
            self.failures = 0;
        }
    }
}

/// The per-account (and per made-up name) counts of failures from unknown places.
#[derive(Debug)]
pub struct Lockout {
    cap: usize,
    accounts: HashMap<String, Entry>,
    made_up: HashMap<String, Entry>,
    /// Made-up names counted by source network once `made_up` is full.
    networks: HashMap<ipnet::IpNet, Entry>,
}

/// Make room for `key` in `map` (see the module's comment); false when there is none.
/// `evict`: whether the stalest entry that is not locked may be dropped.
fn room<K: std::hash::Hash + Eq + Clone>(
    map: &mut HashMap<K, Entry>,
    key: &K,
    (cap, evict): (usize, bool),
    now_ms: u64,
) -> bool {
    if map.contains_key(key) || map.len() < cap {
        return true;
    }
    map.retain(|_, e| !e.idle(now_ms));
    if map.len() < cap {
        return true;
    }
    if !evict {
        return false;
    }
    let stalest = map.iter().filter(|(_, e)| !e.locked(now_ms)).min_by_key(|(_, e)| e.last_ms).map(|(k, _)| k.clone());
    match stalest {
        Some(k) => map.remove(&k).is_some(),
        None => false,
    }
}

impl Lockout {
    pub fn new(cap: usize) -> Lockout {
        Lockout { cap, accounts: HashMap::new(), made_up: HashMap::new(), networks: HashMap::new() }
    }

    /// When the lockout in force for a password login for `name` from an unknown place
    /// `source` ends (ms), if one is: the name's own, or its network's.
    pub fn until(&self, name: Name<'_>, source: IpAddr, now_ms: u64) -> Option<u64> {
        let own = match name {
            Name::Account(a) => self.accounts.get(a),
            Name::MadeUp(n) => self.made_up.get(n),
        };
        let net = self.networks.get(&prefix_of(source));
        [own, net].into_iter().flatten().filter(|e| e.locked(now_ms)).map(|e| e.until_ms).max()
    }

    /// Whether a password login for `name` from an unknown place `source` is refused now,
    /// whatever the password.
    pub fn locked(&self, name: Name<'_>, source: IpAddr, now_ms: u64) -> bool {
        self.until(name, source, now_ms).is_some()
    }

    /// A wrong password (or any password during a lockout) for `name` from an unknown place
    /// `source`. True when this failure started a lockout.
    pub fn failed(&mut self, cfg: &LockoutConfig, name: Name<'_>, source: IpAddr, now_ms: u64) -> bool {
        let cap = self.cap;
        let entry = match name {
            Name::Account(a) => {
                let key = a.to_owned();
                room(&mut self.accounts, &key, (cap, true), now_ms).then(|| self.accounts.entry(key).or_default())
            }
            Name::MadeUp(n) => {
                let key = n.to_owned();
                if room(&mut self.made_up, &key, (cap, false), now_ms) {
                    Some(self.made_up.entry(key).or_default())
                } else {
                    let net = prefix_of(source);
                    room(&mut self.networks, &net, (cap, true), now_ms).then(|| self.networks.entry(net).or_default())
                }
            }
        };
        let Some(e) = entry else { return false };
        let was = e.locked(now_ms);
        e.failed(cfg, now_ms);
        !was && e.locked(now_ms)
    }

    /// Entries kept: (accounts, made-up names, networks).
    pub fn len(&self) -> (usize, usize, usize) {
        (self.accounts.len(), self.made_up.len(), self.networks.len())
    }

    /// Forget what is past its window and its lockout's memory.
    pub fn prune(&mut self, now_ms: u64) {
        self.accounts.retain(|_, e| !e.idle(now_ms));
        self.made_up.retain(|_, e| !e.idle(now_ms));
        self.networks.retain(|_, e| !e.idle(now_ms));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::test_ip::ip;

    const MIN: u64 = 60_000;

    #[test]
    fn ten_failures_from_any_addresses_lock_the_account_for_15_minutes() {
        let cfg = LockoutConfig::default();
        let mut l = Lockout::new(100);
        let alice = Name::Account("alice");
        for i in 0..9u64 {
            assert!(!l.failed(&cfg, alice, ip(&format!("198.51.100.{i}")), i * MIN));
        }
        assert!(!l.locked(alice, ip("203.0.113.9"), 9 * MIN));
        assert!(l.failed(&cfg, alice, ip("203.0.113.9"), 9 * MIN));
        // Locked for every unknown place, whatever its address; not another account.
        assert!(l.locked(alice, ip("192.0.2.1"), 10 * MIN));
        assert!(!l.locked(Name::Account("bob"), ip("192.0.2.1"), 10 * MIN));
        assert_eq!(l.until(alice, ip("192.0.2.1"), 10 * MIN), Some(24 * MIN));
        // Attempts during the lockout change nothing; it ends on time.
        for _ in 0..50 {
            assert!(!l.failed(&cfg, alice, ip("192.0.2.1"), 20 * MIN));
        }
        assert!(l.locked(alice, ip("192.0.2.1"), 24 * MIN - 1));
        assert!(!l.locked(alice, ip("192.0.2.1"), 24 * MIN));
    }

    #[test]
    fn failures_more_than_an_hour_apart_are_not_counted_together() {
        let cfg = LockoutConfig::default();
        let mut l = Lockout::new(100);
        let alice = Name::Account("alice");
        for i in 0..30u64 {
            l.failed(&cfg, alice, ip("198.51.100.1"), i * 7 * MIN);
        }
        assert!(!l.locked(alice, ip("198.51.100.1"), 30 * 7 * MIN));
    }

    #[test]
    fn the_lockout_doubles_per_repeat_up_to_a_day_and_is_forgotten_a_day_later() {
        let cfg = LockoutConfig::default();
        let mut l = Lockout::new(100);
        let alice = Name::Account("alice");
        let mut now = 0;
        let mut lengths = Vec::new();
        for _ in 0..10 {
            for _ in 0..cfg.after {
                l.failed(&cfg, alice, ip("198.51.100.1"), now);
            }
            let until = l.until(alice, ip("198.51.100.1"), now).expect("locked");
            lengths.push((until - now) / 1000);
            now = until;
        }
        assert_eq!(lengths, [900, 1800, 3600, 7200, 14_400, 28_800, 57_600, 86_400, 86_400, 86_400]);
        // A day after the last lockout ended, a new one starts at 15 minutes again.
        now += MAX_LOCKOUT_SECS * 1000;
        for _ in 0..cfg.after {
            l.failed(&cfg, alice, ip("198.51.100.1"), now);
        }
        assert_eq!(l.until(alice, ip("198.51.100.1"), now), Some(now + 900_000));
        assert_eq!(cfg.duration_ms(u32::MAX), MAX_LOCKOUT_SECS * 1000);
        let big = LockoutConfig { after: 1, secs: u64::MAX };
        assert_eq!(big.duration_ms(0), MAX_LOCKOUT_SECS * 1000);
    }

    #[test]
    fn made_up_names_are_locked_like_accounts_and_a_flood_of_them_cannot_push_an_account_out() {
        let cfg = LockoutConfig { after: 3, secs: 900 };
        let mut l = Lockout::new(10);
        for _ in 0..3 {
            l.failed(&cfg, Name::MadeUp("nobody"), ip("198.51.100.1"), 0);
            l.failed(&cfg, Name::Account("alice"), ip("198.51.100.1"), 0);
        }
        assert!(l.locked(Name::MadeUp("nobody"), ip("203.0.113.1"), 1));
        assert!(l.locked(Name::Account("alice"), ip("203.0.113.1"), 1));
        // A flood of made-up names fills their map, then one bucket per network.
        for i in 0..1000u32 {
            l.failed(&cfg, Name::MadeUp(&format!("n{i}")), ip("192.0.2.7"), 10);
        }
        assert_eq!(l.len(), (1, 10, 1));
        assert!(l.locked(Name::Account("alice"), ip("203.0.113.1"), 11));
        assert!(l.locked(Name::MadeUp("nobody"), ip("203.0.113.1"), 11));
        // The flooding network locked itself out of every name, real or not; others are not.
        assert!(l.locked(Name::MadeUp("someone-else"), ip("192.0.2.99"), 11));
        assert!(l.locked(Name::Account("bob"), ip("192.0.2.99"), 11));
        assert!(!l.locked(Name::MadeUp("someone-else"), ip("198.51.100.5"), 11));
        assert!(!l.locked(Name::Account("bob"), ip("198.51.100.5"), 11));
        // Accounts have a map of their own, bounded too.
        for i in 0..100u32 {
            l.failed(&cfg, Name::Account(&format!("a{i}")), ip("192.0.2.7"), 20);
        }
        assert_eq!(l.len().0, 10);
        assert!(l.locked(Name::Account("alice"), ip("203.0.113.1"), 21));
        l.prune(100 * MAX_LOCKOUT_SECS * 1000);
        assert_eq!(l.len(), (0, 0, 0));
    }
}
