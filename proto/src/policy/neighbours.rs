//! Whose a regularity signal is, pure (time comes in as milliseconds): the address's first
//! (an IPv4 address, an IPv6 /64), and its network's (an IPv4 /24, an IPv6 /48) only when
//! at least [`SHARE_AFTER`] of the network's addresses gave signals within a window of each
//! other, or the network's own series was regular over the actions of that many addresses
//! (a bot rotating through its /24 on one timer). One regular neighbour never raises
//! another address's challenges or refuses its registrations.
//!
//! Registrations "look automated" on the network's shared signal, or on the address's own
//! repeated signals ([`REFUSE_AFTER_SIGNALS`] in a run), never on one neighbour's.

use std::net::IpAddr;

use ipnet::IpNet;

/// Addresses of one network with signals within a window that make it the network's.
pub const SHARE_AFTER: usize = 3;
/// An address's own signals in a run after which its registrations are refused.
pub const REFUSE_AFTER_SIGNALS: u32 = 2;
/// Addresses with signals remembered per network, at most (the stalest makes room).
pub const MAX_ADDRESSES: usize = 16;

/// The address a signal belongs to: an IPv4 address, or an IPv6 /64 (one host's share).
pub fn address_of(ip: IpAddr) -> IpNet {
    match super::canonical(ip) {
        IpAddr::V4(v4) => IpNet::from(IpAddr::V4(v4)),
        IpAddr::V6(v6) => IpNet::V6(ipnet::Ipv6Net::new(v6, 64).map(|n| n.trunc()).unwrap_or_default()),
    }
}

/// The network that shares its addresses' signals: an IPv4 /24, or an IPv6 /48.
pub fn network_of(ip: IpAddr) -> IpNet {
    match super::canonical(ip) {
        IpAddr::V4(v4) => IpNet::V4(ipnet::Ipv4Net::new(v4, 24).map(|n| n.trunc()).unwrap_or_default()),
        IpAddr::V6(v6) => IpNet::V6(ipnet::Ipv6Net::new(v6, 48).map(|n| n.trunc()).unwrap_or_default()),
    }
}

/// Who an address is, for a network's series (distinct addresses, distinct numbers).
pub fn actor_of(ip: IpAddr) -> u64 {
    match address_of(ip).addr() {
        IpAddr::V4(v4) => u64::from(u32::from(v4)),
        IpAddr::V6(v6) => (u128::from(v6) >> 64) as u64,
    }
}

/// The signals of one network's addresses.
#[derive(Debug, Clone, Default)]
pub struct Neighbourhood {
    /// Addresses with signals: (address, signals in its current run, time of the last).
    addresses: Vec<(IpNet, u32, u64)>,
    /// When the network's own series last gave a signal over several addresses' actions.
    network: Option<u64>,
}

/// Why a registration looks automated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Automated {
    /// The network's shared signal: this many of its addresses act on a timer (at least
    /// [`SHARE_AFTER`], also when the network's own series showed it).
    Network { addresses: usize },
    /// The address's own signals in a run.
    Address { signals: u32 },
}

impl Neighbourhood {
    fn fresh(at: u64, now_ms: u64, window_ms: u64) -> bool {
        now_ms.saturating_sub(at) < window_ms
    }

    /// A signal of `address`: its run goes on while signals come within `window_ms` of each
    /// other. Returns the address's signals in its run.
    pub fn address_signal(&mut self, address: IpNet, now_ms: u64, window_ms: u64) -> u32 {
        if let Some(e) = self.addresses.iter_mut().find(|e| e.0 == address) {
            e.1 = if Self::fresh(e.2, now_ms, window_ms) { e.1.saturating_add(1) } else { 1 };
            // Actions may be noted out of order: the last time never goes back.
            e.2 = e.2.max(now_ms);
            return e.1;
        }
        if self.addresses.len() >= MAX_ADDRESSES {
            let stalest = self.addresses.iter().enumerate().min_by_key(|(_, e)| e.2).map(|(i, _)| i);
            if let Some(i) = stalest {
                self.addresses.swap_remove(i);
            }
        }
        self.addresses.push((address, 1, now_ms));
        1
    }

    /// The network's own series gave a signal over the actions of at least
    /// [`SHARE_AFTER`] addresses.
    pub fn network_signal(&mut self, now_ms: u64) {
        self.network = Some(self.network.map_or(now_ms, |t| t.max(now_ms)));
    }

    /// The address's signals in its current run (the last within `window_ms` of now).
    pub fn address_signals(&self, address: IpNet, now_ms: u64, window_ms: u64) -> u32 {
        self.addresses.iter().find(|e| e.0 == address && Self::fresh(e.2, now_ms, window_ms)).map_or(0, |e| e.1)
    }

    /// Addresses with a signal within `window_ms` of now.
    pub fn regular_addresses(&self, now_ms: u64, window_ms: u64) -> usize {
        self.addresses.iter().filter(|e| Self::fresh(e.2, now_ms, window_ms)).count()
    }

    /// Whether the network shares its addresses' signals now.
    pub fn shared(&self, now_ms: u64, window_ms: u64) -> bool {
        self.regular_addresses(now_ms, window_ms) >= SHARE_AFTER
            || self.network.is_some_and(|t| Self::fresh(t, now_ms, window_ms))
    }

    /// Whether registrations from `address` look automated now, and why.
    pub fn automated(&self, address: IpNet, now_ms: u64, window_ms: u64) -> Option<Automated> {
        if self.shared(now_ms, window_ms) {
            let addresses = self.regular_addresses(now_ms, window_ms).max(SHARE_AFTER);
            return Some(Automated::Network { addresses });
        }
        let signals = self.address_signals(address, now_ms, window_ms);
        (signals >= REFUSE_AFTER_SIGNALS).then_some(Automated::Address { signals })
    }

    /// Forget signals older than `window_ms`; true when nothing is left.
    pub fn forget_old(&mut self, now_ms: u64, window_ms: u64) -> bool {
        self.addresses.retain(|e| Self::fresh(e.2, now_ms, window_ms));
        self.network = self.network.filter(|t| Self::fresh(*t, now_ms, window_ms));
        self.addresses.is_empty() && self.network.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: u64 = 600_000;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn an_address_is_itself_and_its_network_is_wider() {
        assert_eq!(address_of(ip("192.0.2.7")).to_string(), "192.0.2.7/32");
        assert_eq!(address_of(ip("::ffff:192.0.2.7")).to_string(), "192.0.2.7/32");
        assert_eq!(address_of(ip("2001:db8:1:2:3:4:5:6")).to_string(), "2001:db8:1:2::/64");
        assert_eq!(network_of(ip("192.0.2.7")).to_string(), "192.0.2.0/24");
        assert_eq!(network_of(ip("2001:db8:1:2:3:4:5:6")).to_string(), "2001:db8:1::/48");
        assert_ne!(actor_of(ip("192.0.2.7")), actor_of(ip("192.0.2.8")));
        assert_eq!(actor_of(ip("2001:db8:1:2::1")), actor_of(ip("2001:db8:1:2::2")), "one /64, one actor");
    }

    #[test]
    fn one_regular_neighbour_is_its_own_and_three_are_the_networks() {
        let mut n = Neighbourhood::default();
        let (bot, me) = (address_of(ip("192.0.2.1")), address_of(ip("192.0.2.200")));
        assert_eq!(n.address_signal(bot, 1000, W), 1);
        assert!(!n.shared(1000, W));
        assert_eq!(n.automated(me, 1000, W), None, "a neighbour's signal is not mine");
        assert_eq!(n.automated(bot, 1000, W), None, "one signal is not yet automated");
        // Its own repeated signals refuse it, and still not me.
        assert_eq!(n.address_signal(bot, 5000, W), 2);
        assert_eq!(n.automated(bot, 5000, W), Some(Automated::Address { signals: 2 }));
        assert_eq!(n.automated(me, 5000, W), None);
        // Two regular addresses are still two neighbours; a third makes it the network's.
        n.address_signal(address_of(ip("192.0.2.2")), 6000, W);
        assert!(!n.shared(6000, W));
        n.address_signal(address_of(ip("192.0.2.3")), 7000, W);
        assert!(n.shared(7000, W));
        assert_eq!(n.automated(me, 7000, W), Some(Automated::Network { addresses: 3 }));
        // A window after the last, forgotten.
        assert!(!n.shared(7000 + W, W));
        assert_eq!(n.automated(bot, 5000 + W, W), None);
        assert!(n.forget_old(7000 + W, W));
    }

    #[test]
    fn a_run_starts_over_after_a_quiet_window_and_the_networks_own_series_shares() {
        let mut n = Neighbourhood::default();
        let a = address_of(ip("192.0.2.1"));
        n.address_signal(a, 0, W);
        assert_eq!(n.address_signal(a, W + 1, W), 1, "a new run");
        let mut n = Neighbourhood::default();
        n.network_signal(1000);
        assert!(n.shared(2000, W));
        assert!(matches!(n.automated(a, 2000, W), Some(Automated::Network { addresses: 3 })));
    }

    #[test]
    fn the_addresses_remembered_are_bounded() {
        let mut n = Neighbourhood::default();
        for i in 0..1000u32 {
            n.address_signal(address_of(IpAddr::from(std::net::Ipv4Addr::from(0xc000_0200 + i))), u64::from(i), W);
        }
        assert_eq!(n.regular_addresses(1000, W), MAX_ADDRESSES);
        // The newest were kept.
        let newest = address_of(IpAddr::from(std::net::Ipv4Addr::from(0xc000_0200 + 999u32)));
        assert_eq!(n.address_signals(newest, 1000, W), 1);
    }
}
