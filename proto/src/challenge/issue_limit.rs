//! How many challenges one source may be issued: a token bucket per source (an IPv4 address,
//! an IPv6 /64: `policy::challenges::source_key`), `per_minute` a minute with bursts of as
//! many. Each source has its own bucket, so a flood from some sources never uses up another
//! source's: there is no shared count for a flood to fill. Every ticket counts, whatever it
//! is for (a login, a recovery of a name that does not exist, a registration). The map is
//! bounded: a full bucket says nothing (it is what a new source gets) and is dropped first;
//! if every tracked source is still refilling, a new source is served untracked (the spent
//! set's memory stays bounded by what the listener can hand out, see `spent`).

use std::collections::HashMap;

use ipnet::IpNet;

/// Thousandths of a ticket in one ticket.
const MILLI: u64 = 1000;

/// Per-source token buckets (see the module).
#[derive(Debug)]
pub struct IssueLimit {
    per_minute: u32,
    cap: usize,
    /// Tokens left (thousandths) and when they were counted.
    buckets: HashMap<IpNet, (u64, u64)>,
}

impl IssueLimit {
    pub fn new(per_minute: u32, cap: usize) -> IssueLimit {
        IssueLimit { per_minute, cap, buckets: HashMap::new() }
    }

    fn full(&self) -> u64 {
        u64::from(self.per_minute) * MILLI
    }

    /// Tokens of a bucket last counted at `at` with `left`, refilled to `now_ms`.
    fn refilled(&self, (left, at): (u64, u64), now_ms: u64) -> u64 {
        // per_minute tickets in 60,000 ms: per_minute / 60 thousandths a ms.
        let gained = now_ms.saturating_sub(at).saturating_mul(u64::from(self.per_minute)) / 60;
        left.saturating_add(gained).min(self.full())
    }

    /// Whether `source` may be issued one more ticket now; counts it if so.
    pub fn take(&mut self, source: IpNet, now_ms: u64) -> bool {
        if !self.buckets.contains_key(&source) && self.buckets.len() >= self.cap {
            self.prune(now_ms);
            if self.buckets.len() >= self.cap {
                return true;
            }
        }
        let full = self.full();
        let left = self.buckets.get(&source).map_or(full, |b| self.refilled(*b, now_ms));
        if left < MILLI {
            self.buckets.insert(source, (left, now_ms));
            return false;
        }
        self.buckets.insert(source, (left - MILLI, now_ms));
        true
    }

    /// Drop the buckets that have refilled (they hold nothing a new one would not).
    pub fn prune(&mut self, now_ms: u64) {
        let full = self.full();
        let buckets = std::mem::take(&mut self.buckets);
        self.buckets = buckets.into_iter().filter(|(_, b)| self.refilled(*b, now_ms) < full).collect();
    }

    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().expect("net")
    }

    #[test]
    fn a_source_gets_its_burst_then_its_rate_and_others_are_not_touched() {
        let mut l = IssueLimit::new(30, 100);
        let a = net("192.0.2.7/32");
        assert!((0..30).all(|_| l.take(a, 0)));
        assert!(!l.take(a, 0));
        // Another source is untouched by a's flood.
        assert!(l.take(net("192.0.2.8/32"), 0));
        // Half a ticket a second: one after 2 s, not after 1 s.
        assert!(!l.take(a, 1_000));
        assert!(l.take(a, 2_000));
        assert!(!l.take(a, 2_000));
        // A minute later, the whole burst again.
        assert!((0..30).all(|_| l.take(a, 62_000)));
    }

    #[test]
    fn the_map_is_bounded_and_keeps_the_sources_that_are_refilling() {
        let mut l = IssueLimit::new(2, 4);
        let a = net("192.0.2.7/32");
        assert!(l.take(a, 0) && l.take(a, 0) && !l.take(a, 0));
        for i in 0..1000u32 {
            let src = IpNet::from(std::net::IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i)));
            l.take(src, 1);
        }
        assert_eq!(l.len(), 4);
        // The limited source was not dropped to make room.
        assert!(!l.take(a, 2));
        l.prune(120_000);
        assert!(l.is_empty());
    }
}
