//! Whether to admit a connection attempt, decided on QUIC's `Incoming` before any handshake
//! work: block list, total / per-address / per-prefix connection counts (OpenSSH's
//! MaxStartups and PerSourceMaxStartups), and when to demand address validation (Retry).
//! Allow-listed addresses skip the per-address and per-prefix limits, never the total.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use super::iplist::canonical;
use super::{IpList, Limits, RetryMode, Rule};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Accept,
    /// Ask the client to prove its address first.
    Retry,
    /// Refuse without a handshake (the client learns at once); the reason is for the log.
    Refuse(&'static str),
    /// Drop silently, like a firewall's DROP: for blocked and flooding sources, whose
    /// attempts then cost one packet decode and their own timeout.
    Drop(&'static str),
    /// A banned address's first attempt of this ban: complete the handshake only to tell
    /// the client, in words, that `net` is banned until `until` (then it is dropped).
    Banned {
        net: IpNet,
        until: u64,
    },
}

/// Which banned addresses were told of their ban: one notice per address per ban, at most
/// [`NOTICES_PER_BAN`] addresses per ban (a banned /24 or /64 cannot buy thousands of
/// handshakes), and at most `cap` addresses remembered (when full, no more notices until
/// upkeep prunes the ended bans: deciding costs one lookup, never a scan). Only validated
/// addresses are told (the caller sends the others a Retry), so spoofed sources cannot fill
/// it.
#[derive(Debug)]
pub struct BanNotices {
    told: HashMap<IpAddr, u64>,
    per_ban: HashMap<IpNet, (u64, u32)>,
    cap: usize,
}

/// Addresses told of one ban, at most.
pub const NOTICES_PER_BAN: u32 = 8;

impl BanNotices {
    pub fn new(cap: usize) -> Self {
        Self { told: HashMap::new(), per_ban: HashMap::new(), cap }
    }

    /// Whether to tell `ip` of the ban of `net` that ends at `until`; remembers that it was
    /// told.
    pub fn tell(&mut self, ip: IpAddr, net: IpNet, until: u64) -> bool {
        if !self.might_tell(ip, net, until) {
            return false;
        }
        let given = self.per_ban.entry(net).or_insert((until, 0));
        if given.0 != until {
            *given = (until, 0);
        }
        given.1 += 1;
        self.told.insert(canonical(ip), until);
        true
    }

    /// Whether `tell` would tell `ip` now (nothing is remembered).
    pub fn might_tell(&self, ip: IpAddr, net: IpNet, until: u64) -> bool {
        let ip = canonical(ip);
        if self.told.get(&ip) == Some(&until) {
            return false;
        }
        // Full: no new entry in either table until upkeep prunes the ended bans.
        let full = |has: bool, len: usize| !has && len >= self.cap;
        if full(self.told.contains_key(&ip), self.told.len())
            || full(self.per_ban.contains_key(&net), self.per_ban.len())
        {
            return false;
        }
        self.per_ban.get(&net).is_none_or(|(u, given)| *u != until || *given < NOTICES_PER_BAN)
    }

    /// Forget notices of bans that have ended.
    pub fn prune(&mut self, now: u64) {
        self.told.retain(|_, until| *until > now);
        self.per_ban.retain(|_, (until, _)| *until > now);
    }

    pub fn len(&self) -> usize {
        self.told.len()
    }

    pub fn is_empty(&self) -> bool {
        self.told.is_empty()
    }
}

/// The /24 (IPv4) or /64 (IPv6) network an address belongs to.
pub fn prefix_of(ip: IpAddr) -> IpNet {
    match canonical(ip) {
        IpAddr::V4(v4) => IpNet::V4(ipnet::Ipv4Net::new(v4, 24).map(|n| n.trunc()).unwrap_or_default()),
        IpAddr::V6(v6) => IpNet::V6(ipnet::Ipv6Net::new(v6, 64).map(|n| n.trunc()).unwrap_or_default()),
    }
}

/// Open connections, counted by source.
#[derive(Debug, Default)]
pub struct Admission {
    total: u32,
    per_ip: HashMap<IpAddr, u32>,
    per_prefix: HashMap<IpNet, u32>,
}

impl Admission {
    pub fn decide(&self, ip: IpAddr, validated: bool, list: &IpList, limits: &Limits) -> Verdict {
        let ip = canonical(ip);
        let rule = list.lookup(ip);
        if rule == Some(Rule::Block) {
            return Verdict::Drop("address is blocked");
        }
        if self.total >= limits.max_connections {
            return Verdict::Refuse("listener is at its connection limit");
        }
        if rule != Some(Rule::Allow) {
            if self.per_ip.get(&ip).copied().unwrap_or(0) >= limits.max_connections_per_ip {
                return Verdict::Refuse("too many connections from this address");
            }
            if self.per_prefix.get(&prefix_of(ip)).copied().unwrap_or(0) >= limits.max_connections_per_prefix {
                return Verdict::Refuse("too many connections from this network");
            }
        }
        let retry = match limits.retry {
            RetryMode::Never => false,
            RetryMode::Always => true,
            RetryMode::Load => self.total >= limits.retry_above,
        };
        if retry && !validated {
            return Verdict::Retry;
        }
        Verdict::Accept
    }

    pub fn opened(&mut self, ip: IpAddr) {
        let ip = canonical(ip);
        self.total = self.total.saturating_add(1);
        *self.per_ip.entry(ip).or_default() += 1;
        *self.per_prefix.entry(prefix_of(ip)).or_default() += 1;
    }

    pub fn closed(&mut self, ip: IpAddr) {
        let ip = canonical(ip);
        self.total = self.total.saturating_sub(1);
        if let Some(n) = self.per_ip.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_ip.remove(&ip);
            }
        }
        let p = prefix_of(ip);
        if let Some(n) = self.per_prefix.get_mut(&p) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_prefix.remove(&p);
            }
        }
    }

    pub fn open(&self) -> u32 {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::test_ip::ip;

    #[test]
    fn a_banned_address_is_told_once_per_ban_and_the_table_is_bounded() {
        let net = |s: &str| s.parse::<IpNet>().expect("net");
        let mut n = BanNotices::new(2);
        assert!(n.tell(ip("192.0.2.1"), net("192.0.2.1/32"), 100));
        assert!(!n.tell(ip("192.0.2.1"), net("192.0.2.1/32"), 100));
        assert!(!n.tell(ip("::ffff:192.0.2.1"), net("192.0.2.1/32"), 100), "the same source");
        assert!(n.tell(ip("192.0.2.1"), net("192.0.2.1/32"), 500), "a new ban is told again");
        assert!(n.tell(ip("192.0.2.2"), net("192.0.2.2/32"), 100));
        assert!(!n.tell(ip("192.0.2.3"), net("192.0.2.3/32"), 100), "full");
        assert_eq!(n.len(), 2);
        // Upkeep makes room once bans end.
        n.prune(150);
        assert!(n.tell(ip("192.0.2.3"), net("192.0.2.3/32"), 900));
        // One banned prefix buys at most NOTICES_PER_BAN notices.
        let mut n = BanNotices::new(4096);
        let told = (1..=100).filter(|i| n.tell(ip(&format!("198.51.100.{i}")), net("198.51.100.0/24"), 100)).count();
        assert_eq!(told, NOTICES_PER_BAN as usize);
    }

    #[test]
    fn per_ip_prefix_and_total_limits() {
        let limits = Limits {
            max_connections: 5,
            max_connections_per_ip: 2,
            max_connections_per_prefix: 3,
            retry: RetryMode::Never,
            ..Limits::default()
        };
        let list = IpList::default();
        let mut a = Admission::default();
        for _ in 0..2 {
            assert_eq!(a.decide(ip("10.0.0.1"), false, &list, &limits), Verdict::Accept);
            a.opened(ip("10.0.0.1"));
        }
        assert!(matches!(a.decide(ip("10.0.0.1"), false, &list, &limits), Verdict::Refuse(_)));
        assert_eq!(a.decide(ip("10.0.0.2"), false, &list, &limits), Verdict::Accept);
        a.opened(ip("10.0.0.2"));
        assert!(matches!(a.decide(ip("10.0.0.3"), false, &list, &limits), Verdict::Refuse(_)), "prefix full");
        a.opened(ip("10.0.1.1"));
        a.opened(ip("10.0.2.1"));
        assert!(matches!(a.decide(ip("10.0.3.1"), false, &list, &limits), Verdict::Refuse(_)), "total full");
        a.closed(ip("10.0.0.1"));
        assert_eq!(a.decide(ip("10.0.3.1"), false, &list, &limits), Verdict::Accept);
        assert_eq!(a.open(), 4);
    }

    #[test]
    fn lists_and_retry() {
        let limits = Limits { max_connections_per_ip: 1, retry: RetryMode::Load, retry_above: 1, ..Limits::default() };
        let list = IpList::parse("block 192.0.2.0/24\nallow 198.51.100.7").expect("list");
        let mut a = Admission::default();
        assert!(matches!(a.decide(ip("192.0.2.9"), true, &list, &limits), Verdict::Drop(_)));
        assert_eq!(a.decide(ip("198.51.100.7"), true, &list, &limits), Verdict::Accept);
        a.opened(ip("198.51.100.7"));
        // Allow-listed: no per-address limit. Past retry_above: unvalidated clients must retry.
        assert_eq!(a.decide(ip("198.51.100.7"), false, &list, &limits), Verdict::Retry);
        assert_eq!(a.decide(ip("198.51.100.7"), true, &list, &limits), Verdict::Accept);
        assert_eq!(a.decide(ip("::ffff:192.0.2.1"), true, &list, &limits), Verdict::Drop("address is blocked"));
    }
}
