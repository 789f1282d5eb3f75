//! Watching for behaviour too perfect to be human, the glue around `policy::regularity`:
//! the recent cadence of each network (/24, /64) and each account, fed by password and
//! session-token logins, challenge requests and registrations (never by transfers, the
//! client's pipelined requests, or sessions of automation tokens), and the registrations
//! each network made today. Every map is bounded and pruned.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use ipnet::IpNet;

use crate::policy::prefix_of;
use crate::policy::registration::RegistrationConfig;
use crate::policy::regularity::{Cadence, RegularityConfig, Signal};

/// Networks or accounts watched at once, at most; past that, new ones are not watched
/// until pruning makes room (the per-address rate limits still hold).
pub const MAX_WATCHED: usize = 65_536;

/// What is watched: a network or an account (each kind of action has a cadence of its
/// own: a script that asks for a challenge and then registers, on a timer, keeps a steady
/// period for each).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Who {
    Net(IpNet, &'static str),
    Account(String, &'static str),
}

/// The wider network of `ip`: its /16 (IPv4) or /48 (IPv6).
fn wide_net(ip: IpAddr) -> IpNet {
    match crate::policy::canonical(ip) {
        IpAddr::V4(v4) => IpNet::V4(ipnet::Ipv4Net::new(v4, 16).map(|n| n.trunc()).unwrap_or_default()),
        IpAddr::V6(v6) => IpNet::V6(ipnet::Ipv6Net::new(v6, 48).map(|n| n.trunc()).unwrap_or_default()),
    }
}

/// What an action was, for its digest (the same action repeated is a script's).
pub fn digest(parts: &[&[u8]]) -> u64 {
    let mut h = blake3::Hasher::new();
    for p in parts {
        h.update(&(p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let out = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(out.as_bytes().get(..8).unwrap_or(&[0; 8]));
    u64::from_le_bytes(first)
}

#[derive(Default)]
struct State {
    cadences: HashMap<Who, Cadence>,
    /// Signals per network: (count, time of the last), for refusing registrations: the
    /// count runs on while signals keep coming within a window of each other, and is
    /// forgotten a window after the last.
    flagged: HashMap<IpNet, (u32, u64)>,
    /// Registrations per network today: (day, count); per /24 or /64, and per wider
    /// network (/16, /48: one ISP customer's IPv6 holds 65,536 /64s).
    registrations: HashMap<IpNet, (u64, u32)>,
    /// Registrations today, all networks: (day, count).
    today: (u64, u32),
    /// When each network's last signal was scored.
    scored: HashMap<IpNet, u64>,
}

/// The watch.
pub struct Humans {
    cfg: RegularityConfig,
    state: Mutex<State>,
}

impl Humans {
    pub fn new(cfg: RegularityConfig) -> Humans {
        Humans { cfg, state: Mutex::new(State::default()) }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Note an action of kind `kind` by `ip`'s network and (when known) by `account`; the
    /// signals it gave.
    pub fn note(
        &self,
        ip: IpAddr,
        account: Option<&str>,
        kind: &'static str,
        now_ms: u64,
        digest: u64,
    ) -> Vec<(Who, Signal)> {
        let mut st = self.state();
        let mut out = Vec::new();
        let net = prefix_of(ip);
        let whos = std::iter::once(Who::Net(net, kind)).chain(account.map(|a| Who::Account(a.to_owned(), kind)));
        for who in whos {
            // Full: one entry makes room (whichever comes first), so a flood of fresh
            // networks cannot switch the watch off for the next one.
            if st.cadences.len() >= MAX_WATCHED && !st.cadences.contains_key(&who) {
                if let Some(k) = st.cadences.keys().next().cloned() {
                    st.cadences.remove(&k);
                }
            }
            let signal = st.cadences.entry(who.clone()).or_default().note(&self.cfg, now_ms, digest);
            if let Some(signal) = signal {
                out.push((who, signal));
            }
        }
        if !out.is_empty() {
            if st.flagged.len() >= MAX_WATCHED && !st.flagged.contains_key(&net) {
                if let Some(k) = st.flagged.keys().next().cloned() {
                    st.flagged.remove(&k);
                }
            }
            let e = st.flagged.entry(net).or_insert((0, now_ms));
            // Actions may be noted out of order: the last time never goes back.
            *e = (e.0.saturating_add(1), e.1.max(now_ms));
        }
        out
    }

    /// Whether a signal from `ip`'s network is the first within `window_ms` (then it is
    /// scored, and the window starts; later ones within it are recorded unscored, so
    /// timing alone adds at most one weight per window to a source's score).
    pub fn first_in_window(&self, ip: IpAddr, now_ms: u64, window_ms: u64) -> bool {
        let net = prefix_of(ip);
        let mut st = self.state();
        if st.scored.get(&net).is_some_and(|at| now_ms.saturating_sub(*at) < window_ms) {
            return false;
        }
        if st.scored.len() >= MAX_WATCHED && !st.scored.contains_key(&net) {
            return false;
        }
        st.scored.insert(net, now_ms);
        true
    }

    /// Signals from `ip`'s network in its current run (each within `window_ms` of the
    /// one before, the last within `window_ms` of now).
    pub fn flagged(&self, ip: IpAddr, now_ms: u64, window_ms: u64) -> u32 {
        let st = self.state();
        st.flagged
            .get(&prefix_of(ip))
            .filter(|(_, last)| now_ms.saturating_sub(*last) < window_ms)
            .map_or(0, |(n, _)| *n)
    }

    /// Whether `ip`'s network may register another account today (counted if so).
    pub fn allow_registration(&self, ip: IpAddr, cfg: &RegistrationConfig, now_ms: u64) -> Result<(), &'static str> {
        let day = now_ms / 86_400_000;
        let mut st = self.state();
        if st.today.0 != day {
            st.today = (day, 0);
        }
        if st.today.1 >= cfg.per_day {
            return Err("the listener takes no more registrations today; try tomorrow");
        }
        let nets =
            [(prefix_of(ip), cfg.per_network_per_day), (wide_net(ip), cfg.per_network_per_day.saturating_mul(4))];
        for (net, limit) in nets {
            if st.registrations.len() >= MAX_WATCHED && !st.registrations.contains_key(&net) {
                return Err("the listener is busy with registrations; try later");
            }
            let count = st.registrations.get(&net).filter(|(d, _)| *d == day).map_or(0, |(_, n)| *n);
            if count >= limit {
                return Err("this network has registered as many accounts as it may today; try tomorrow");
            }
        }
        for (net, _) in nets {
            let e = st.registrations.entry(net).or_insert((day, 0));
            if e.0 != day {
                *e = (day, 0);
            }
            e.1 += 1;
        }
        st.today.1 += 1;
        Ok(())
    }

    /// A registration counted by `allow_registration` made no account: its count goes back
    /// (a taken name or a busy listener is a mistake, not a registration).
    pub fn give_back_registration(&self, ip: IpAddr, now_ms: u64) {
        let day = now_ms / 86_400_000;
        let mut st = self.state();
        for net in [prefix_of(ip), wide_net(ip)] {
            if let Some(e) = st.registrations.get_mut(&net).filter(|(d, _)| *d == day) {
                e.1 = e.1.saturating_sub(1);
            }
        }
        if st.today.0 == day {
            st.today.1 = st.today.1.saturating_sub(1);
        }
    }

    /// Forget what no longer matters: quiet cadences, old signals, earlier days.
    pub fn prune(&self, now_ms: u64, window_ms: u64) {
        let reset = self.cfg.reset_after_ms;
        let day = now_ms / 86_400_000;
        let mut st = self.state();
        st.cadences.retain(|_, c| c.last().is_some_and(|t| now_ms.saturating_sub(t) <= reset));
        st.flagged.retain(|_, (_, last)| now_ms.saturating_sub(*last) < window_ms);
        st.scored.retain(|_, at| now_ms.saturating_sub(*at) < window_ms);
        st.registrations.retain(|_, (d, _)| *d == day);
    }

    /// Networks and accounts watched now, and networks flagged (for the bound tests).
    #[cfg(test)]
    pub fn tracked(&self) -> (usize, usize) {
        let st = self.state();
        (st.cadences.len(), st.flagged.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watching_is_bounded_and_pruned() {
        let h = Humans::new(RegularityConfig::default());
        for i in 0..(MAX_WATCHED as u128 + 1000) {
            let ip = IpAddr::V6(std::net::Ipv6Addr::from(0x2001_0db8_u128 << 96 | i << 64));
            h.note(ip, None, "login", 1_000, 1);
        }
        assert!(h.tracked().0 <= MAX_WATCHED);
        h.prune(1_000 + RegularityConfig::default().reset_after_ms + 1, 600_000);
        assert_eq!(h.tracked().0, 0);
    }

    #[test]
    fn registrations_are_limited_per_network_and_per_day() {
        let h = Humans::new(RegularityConfig::default());
        let cfg = RegistrationConfig { per_network_per_day: 2, per_day: 3, ..Default::default() };
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.200".parse().expect("ip");
        let c: IpAddr = "198.51.100.1".parse().expect("ip");
        let day = 20_000 * 86_400_000;
        assert!(h.allow_registration(a, &cfg, day).is_ok());
        assert!(h.allow_registration(b, &cfg, day).is_ok());
        assert!(h.allow_registration(a, &cfg, day).is_err(), "two per /24");
        assert!(h.allow_registration(c, &cfg, day).is_ok());
        assert!(h.allow_registration(c, &cfg, day).is_err(), "three a day in all");
        assert!(h.allow_registration(a, &cfg, day + 86_400_000).is_ok(), "a new day");
        // A registration that made nothing gives its count back.
        h.give_back_registration(a, day + 86_400_000);
        assert!(h.allow_registration(a, &cfg, day + 86_400_000).is_ok());
        assert!(h.allow_registration(b, &cfg, day + 86_400_000).is_ok());
        assert!(h.allow_registration(a, &cfg, day + 86_400_000).is_err());
    }

    #[test]
    fn one_wide_ipv6_network_cannot_register_from_each_of_its_64s() {
        let h = Humans::new(RegularityConfig::default());
        let cfg = RegistrationConfig { per_network_per_day: 1, per_day: 1000, ..Default::default() };
        let day = 20_000 * 86_400_000;
        let mut made = 0;
        for i in 0..100u128 {
            let ip = IpAddr::V6(std::net::Ipv6Addr::from(0x2001_0db8_0001_u128 << 80 | i << 64));
            if h.allow_registration(ip, &cfg, day).is_ok() {
                made += 1;
            }
        }
        assert_eq!(made, 4, "one /48 gets four times one /64's share");
    }
}
