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
