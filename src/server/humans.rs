//! Watching for behaviour too perfect to be human, the glue around `policy::regularity`
//! and `policy::neighbours`: the recent cadence of each address (an IPv4 address, an IPv6
//! /64), each network (/24, /48) and each account, fed by password and session-token
//! logins, challenge requests and registrations (never by transfers, the client's pipelined
//! requests, or sessions of automation tokens); whose each signal is (the address's, or its
//! network's when several of its addresses are regular); and the registrations each network
//! made today. Every map is bounded and pruned.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use ipnet::IpNet;

use crate::policy::neighbours::{actor_of, address_of, network_of, Automated, Neighbourhood, SHARE_AFTER};
use crate::policy::prefix_of;
use crate::policy::registration::{room, Cap, Counts, RegistrationConfig};
use crate::policy::regularity::{Action, Cadence, RegularityConfig, Signal};

/// Addresses, networks or accounts watched at once, at most; past that, one entry makes
/// room for a new one (the per-address rate limits still hold).
pub const MAX_WATCHED: usize = 65_536;

/// What is watched: an address, a network or an account (each kind of action has a
/// cadence of its own: a script that asks for a challenge and then registers, on a timer,
/// keeps a steady period for each).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Who {
    Address(IpNet, &'static str),
    Net(IpNet, &'static str),
    Account(String, &'static str),
}

/// The wider network of `ip` for registration caps: its /16 (IPv4) or /48 (IPv6).
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

/// One action for the watch.
#[derive(Debug, Clone, Copy)]
pub struct Noting<'a> {
    pub ip: IpAddr,
    /// The account, when it exists.
    pub account: Option<&'a str>,
    pub kind: &'static str,
    /// When its request arrived.
    pub at_ms: u64,
    pub digest: u64,
    /// A password login or a registration: judged for bursts.
    pub burst: bool,
}

/// What an action gave away.
#[derive(Debug, Default)]
pub struct Noted {
    /// The signals that count, and whose.
    pub signals: Vec<(Who, Signal)>,
    /// Whose next challenges are harder: the address, and its network when it shares them.
    pub raise: Vec<IpNet>,
}

#[derive(Default)]
struct State {
    cadences: HashMap<Who, Cadence>,
    /// Signals of each network's addresses (`policy::neighbours`).
    neighbourhoods: HashMap<IpNet, Neighbourhood>,
    /// Registrations per network today: (day, count); per /24 or /64, and per wider
    /// network (/16, /48: one ISP customer's IPv6 holds 65,536 /64s).
    registrations: HashMap<IpNet, (u64, u32)>,
    /// Registrations today, all networks: (day, count).
    today: (u64, u32),
    /// When each address's last signal was scored.
    scored: HashMap<IpNet, u64>,
}

/// Make room for one more key in a full map (whichever entry comes first goes), so a flood
/// of fresh keys cannot switch the watch off for the next one.
fn room_for<K: std::hash::Hash + Eq + Clone, V>(map: &mut HashMap<K, V>, key: &K) {
    if map.len() >= MAX_WATCHED && !map.contains_key(key) {
        if let Some(k) = map.keys().next().cloned() {
            map.remove(&k);
        }
    }
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

    /// Note an action by its address, its network and (when known) its account; the signals
    /// that count and whose challenges they raise. A signal of the address or of its account
    /// is the address's; one of the network's series counts only when the actions it judged
    /// came from at least `SHARE_AFTER` addresses. The network shares its addresses'
    /// signals once that many of them are regular within `window_ms`.
    pub fn note(&self, a: Noting<'_>, window_ms: u64) -> Noted {
        let mut st = self.state();
        let (address, net) = (address_of(a.ip), network_of(a.ip));
        let action = Action { at_ms: a.at_ms, digest: a.digest, actor: actor_of(a.ip), burst: a.burst };
        let account = a.account.map(|name| Who::Account(name.to_owned(), a.kind));
        let whos = [Some(Who::Address(address, a.kind)), Some(Who::Net(net, a.kind)), account].into_iter().flatten();
        let mut noted = Noted::default();
        let (mut own, mut shared) = (false, false);
        for who in whos {
            room_for(&mut st.cadences, &who);
            // Bursts are judged per address and per account: several people of one network
            // log in at nine at once.
            let action = Action { burst: action.burst && !matches!(who, Who::Net(..)), ..action };
            let Some(judged) = st.cadences.entry(who.clone()).or_default().note(&self.cfg, action) else { continue };
            match who {
                // One address on a timer is seen by its own series: the network's counts
                // only for several.
                Who::Net(..) if judged.actors < SHARE_AFTER => continue,
                Who::Net(..) => shared = true,
                _ => own = true,
            }
            noted.signals.push((who, judged.signal));
        }
        if noted.signals.is_empty() {
            return noted;
        }
        room_for(&mut st.neighbourhoods, &net);
        let hood = st.neighbourhoods.entry(net).or_default();
        if own {
            hood.address_signal(address, a.at_ms, window_ms);
            noted.raise.push(address);
        }
        if shared {
            hood.network_signal(a.at_ms);
        }
        if hood.shared(a.at_ms, window_ms) {
            noted.raise.push(net);
        }
        noted
    }

    /// Whether a signal from `ip`'s address is the first within `window_ms` (then it is
    /// scored, and the window starts; later ones within it are recorded unscored, so
    /// timing alone adds at most one weight per window to a source's score).
    pub fn first_in_window(&self, ip: IpAddr, now_ms: u64, window_ms: u64) -> bool {
        let address = address_of(ip);
        let mut st = self.state();
        if st.scored.get(&address).is_some_and(|at| now_ms.saturating_sub(*at) < window_ms) {
            return false;
        }
        if st.scored.len() >= MAX_WATCHED && !st.scored.contains_key(&address) {
            return false;
        }
        st.scored.insert(address, now_ms);
        true
    }

    /// Whether registrations from `ip` look automated now: its network's shared signal, or
    /// its address's own repeated signals (each within `window_ms` of the one before).
    pub fn automated(&self, ip: IpAddr, now_ms: u64, window_ms: u64) -> Option<Automated> {
        let st = self.state();
        st.neighbourhoods.get(&network_of(ip)).and_then(|n| n.automated(address_of(ip), now_ms, window_ms))
    }

    /// Today's registration counts where `ip`'s caps apply.
    fn counts(st: &State, ip: IpAddr, day: u64) -> Counts {
        let count = |net: IpNet| st.registrations.get(&net).filter(|(d, _)| *d == day).map_or(0, |(_, n)| *n);
        let (net, near) = (prefix_of(ip), wide_net(ip));
        Counts {
            listener: if st.today.0 == day { st.today.1 } else { 0 },
            network: (net, count(net)),
            near: (near, count(near)),
        }
    }

    /// Whether `ip`'s network may register another account today (not counted: asked when
    /// the captcha is, so no one types one for a registration the caps refuse).
    pub fn registration_room(&self, ip: IpAddr, cfg: &RegistrationConfig, now_ms: u64) -> Result<(), Cap> {
        let st = self.state();
        room(cfg, &Self::counts(&st, ip, now_ms / 86_400_000))
    }

    /// Whether `ip`'s network may register another account today (counted if so).
    pub fn allow_registration(&self, ip: IpAddr, cfg: &RegistrationConfig, now_ms: u64) -> Result<(), Cap> {
        let day = now_ms / 86_400_000;
        let mut st = self.state();
        room(cfg, &Self::counts(&st, ip, day))?;
        let nets = [prefix_of(ip), wide_net(ip)];
        if nets.iter().any(|net| st.registrations.len() >= MAX_WATCHED && !st.registrations.contains_key(net)) {
            return Err(Cap::Busy);
        }
        for net in nets {
            let e = st.registrations.entry(net).or_insert((day, 0));
            if e.0 != day {
                *e = (day, 0);
            }
            e.1 += 1;
        }
        if st.today.0 != day {
            st.today = (day, 0);
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
        st.neighbourhoods.retain(|_, n| !n.forget_old(now_ms, window_ms));
        st.scored.retain(|_, at| now_ms.saturating_sub(*at) < window_ms);
        st.registrations.retain(|_, (d, _)| *d == day);
    }

    /// Cadences watched now, and networks with signals (for the bound tests).
    #[cfg(test)]
    pub fn tracked(&self) -> (usize, usize) {
        let st = self.state();
        (st.cadences.len(), st.neighbourhoods.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: u64 = 600_000;

    fn noting(ip: IpAddr, at_ms: u64) -> Noting<'static> {
        Noting { ip, account: None, kind: "login", at_ms, digest: at_ms, burst: false }
    }

    /// `ip` acting every 500 ms, six times from `from`.
    fn on_a_timer(h: &Humans, ip: &str, from: u64) -> Noted {
        let ip: IpAddr = ip.parse().expect("ip");
        let mut last = Noted::default();
        for i in 0..6 {
            last = h.note(noting(ip, from + i * 500), W);
        }
        last
    }

    #[test]
    fn a_regular_address_raises_itself_and_three_raise_their_network() {
        let h = Humans::new(RegularityConfig::default());
        let me: IpAddr = "192.0.2.200".parse().expect("ip");
        let noted = on_a_timer(&h, "192.0.2.1", 0);
        assert_eq!(noted.raise, vec![address_of("192.0.2.1".parse().expect("ip"))], "{noted:?}");
        assert!(matches!(noted.signals.as_slice(), [(Who::Address(..), Signal::Regular { .. })]), "{noted:?}");
        assert_eq!(h.automated(me, 3000, W), None);
        on_a_timer(&h, "192.0.2.2", 10_000);
        assert_eq!(h.automated(me, 13_000, W), None, "two neighbours are not the network");
        let noted = on_a_timer(&h, "192.0.2.3", 20_000);
        assert!(noted.raise.contains(&network_of(me)), "{noted:?}");
        assert!(matches!(h.automated(me, 23_000, W), Some(Automated::Network { addresses: 3 })));
        // Elsewhere, nothing.
        assert_eq!(h.automated("198.51.100.1".parse().expect("ip"), 23_000, W), None);
    }

    #[test]
    fn addresses_taking_turns_on_one_timer_are_the_networks() {
        let h = Humans::new(RegularityConfig::default());
        let mut raised = Vec::new();
        for i in 0..6u64 {
            let ip: IpAddr = format!("192.0.2.{}", 1 + i % 3).parse().expect("ip");
            raised.extend(h.note(noting(ip, i * 500), W).raise);
        }
        assert_eq!(raised, vec![network_of("192.0.2.1".parse().expect("ip"))]);
        // Two addresses taking turns are two neighbours: each is judged by its own series.
        let h = Humans::new(RegularityConfig::default());
        for i in 0..6u64 {
            let ip: IpAddr = format!("198.51.100.{}", 1 + i % 2).parse().expect("ip");
            assert!(h.note(noting(ip, i * 500), W).raise.is_empty());
        }
    }

    #[test]
    fn watching_is_bounded_and_pruned() {
        let h = Humans::new(RegularityConfig::default());
        for i in 0..(MAX_WATCHED as u128 + 1000) {
            let ip = IpAddr::V6(std::net::Ipv6Addr::from(0x2001_0db8_u128 << 96 | i << 64));
            h.note(noting(ip, 1_000), W);
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
