//! Bans in force: which networks are refused before the handshake, until when. The
//! recorder decides bans (scoring) and an operator makes them by hand; this module only
//! holds, answers and writes the structured log line. Putting a ban in force (closing live
//! connections, recording the event) is `Shared::ban`.

use std::net::IpAddr;
use std::sync::RwLock;

use ipnet::IpNet;
use tracing::info;

use crate::clock::format_time;
use crate::policy::{canonical, Ban};

/// The one structured line a ban makes on the listener's log (documented in
/// docs/activity-and-bans.md: fail2ban, a SIEM or grep consume it).
pub fn log_ban(ban: &Ban, now: u64) {
    info!(
        event = "ban",
        net = %ban.net,
        until = ban.until,
        until_utc = %format_time(ban.until),
        level = ban.level,
        reason = ?ban.reason,
        "qxfer ban {} for {} s (level {})",
        ban.net,
        ban.until.saturating_sub(now),
        ban.level
    );
}

/// The one structured line lifting a ban makes.
pub fn log_unban(net: IpNet) {
    info!(event = "unban", net = %net, "qxfer unban {net}");
}

/// Bans by network (in force or expired; expired ones are skipped).
#[derive(Debug, Default)]
pub struct Bans {
    bans: RwLock<Vec<Ban>>,
}

impl Bans {
    pub fn new(bans: Vec<Ban>) -> Self {
        Self { bans: RwLock::new(bans) }
    }

    /// Put `ban` in the table, replacing any earlier ban of the same network.
    pub fn install(&self, ban: Ban) {
        let mut bans = self.bans.write().unwrap_or_else(|p| p.into_inner());
        bans.retain(|b| b.net != ban.net);
        bans.push(ban);
    }

    /// End a ban of exactly `net` at `now`. Returns whether one was in force.
    pub fn lift(&self, net: IpNet, now: u64) -> bool {
        let mut bans = self.bans.write().unwrap_or_else(|p| p.into_inner());
        let mut found = false;
        for b in bans.iter_mut().filter(|b| b.net == net && b.until > now) {
            b.until = now;
            found = true;
        }
        found
    }

    /// Whether `ip` is under a ban at `now`.
    #[cfg(test)]
    pub fn covers(&self, ip: IpAddr, now: u64) -> bool {
        self.covering(ip, now).is_some()
    }

    /// The network and end of the ban that covers `ip` at `now` (the longest, if several do).
    pub fn covering(&self, ip: IpAddr, now: u64) -> Option<(IpNet, u64)> {
        let ip = canonical(ip);
        let bans = self.bans.read().unwrap_or_else(|p| p.into_inner());
        bans.iter().filter(|b| b.until > now && b.net.contains(&ip)).map(|b| (b.net, b.until)).max_by_key(|b| b.1)
    }

    /// Forget bans that ended more than `memory` seconds before `now`; returns how many
    /// are kept.
    pub fn prune(&self, now: u64, memory: u64) -> usize {
        let mut bans = self.bans.write().unwrap_or_else(|p| p.into_inner());
        bans.retain(|b| b.until.saturating_add(memory) > now);
        bans.shrink_to_fit();
        bans.len()
    }

    pub fn all(&self) -> Vec<Ban> {
        self.bans.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ban(net: &str, until: u64, level: u32) -> Ban {
        Ban { net: net.parse().expect("net"), until, level, reason: "test".into() }
    }

    #[test]
    fn a_ban_covers_its_network_until_it_expires() {
        let bans = Bans::default();
        bans.install(ban("203.0.113.0/24", 100, 1));
        let ip: IpAddr = "203.0.113.9".parse().expect("ip");
        assert!(bans.covers(ip, 99));
        assert!(!bans.covers(ip, 100));
        assert!(!bans.covers("203.0.114.9".parse().expect("ip"), 50));
        // An IPv4-mapped IPv6 address is the same source.
        assert!(bans.covers("::ffff:203.0.113.9".parse().expect("ip"), 50));
    }

    #[test]
    fn lifting_and_replacing() {
        let bans = Bans::default();
        bans.install(ban("198.51.100.7/32", 100, 1));
        bans.install(ban("198.51.100.7/32", 500, 2));
        assert_eq!(bans.all().len(), 1);
        let ip: IpAddr = "198.51.100.7".parse().expect("ip");
        assert!(bans.covers(ip, 400));
        assert!(bans.lift("198.51.100.7/32".parse().expect("net"), 10));
        assert!(!bans.covers(ip, 11));
        assert!(!bans.lift("198.51.100.7/32".parse().expect("net"), 20));
    }
}
