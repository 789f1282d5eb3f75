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
/// `cap` addresses remembered (past that, no more notices until some ban ends), so a
/// banned source costs one handshake per ban and the table stays bounded.
#[derive(Debug)]
pub struct BanNotices {
    told: HashMap<IpAddr, u64>,
    cap: usize,
}

impl BanNotices {
    pub fn new(cap: usize) -> Self {
        Self { told: HashMap::new(), cap }
    }

    /// Whether to tell `ip` of the ban that ends at `until`; remembers that it was told.
    pub fn tell(&mut self, ip: IpAddr, until: u64, now: u64) -> bool {
        let ip = canonical(ip);
        if self.told.get(&ip) == Some(&until) {
            return false;
        }
        if !self.told.contains_key(&ip) && self.told.len() >= self.cap {
            self.prune(now);
            if self.told.len() >= self.cap {
                return false;
            }
        }
        self.told.insert(ip, until);
        true
    }

    /// Forget notices of bans that have ended.
    pub fn prune(&mut self, now: u64) {
        self.told.retain(|_, until| *until > now);
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
    use crate::policy::ip;

    #[test]
    fn a_banned_address_is_told_once_per_ban_and_the_table_is_bounded() {
        let mut n = BanNotices::new(2);
        assert!(n.tell(ip("192.0.2.1"), 100, 0));
        assert!(!n.tell(ip("192.0.2.1"), 100, 10));
        assert!(!n.tell(ip("::ffff:192.0.2.1"), 100, 10), "the same source");
        assert!(n.tell(ip("192.0.2.1"), 500, 200), "a new ban is told again");
        assert!(n.tell(ip("192.0.2.2"), 100, 10));
        assert!(!n.tell(ip("192.0.2.3"), 100, 10), "full");
        assert_eq!(n.len(), 2);
        // Once a ban ends its entry makes room.
        assert!(n.tell(ip("192.0.2.3"), 900, 150));
        assert_eq!(n.len(), 2);
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
