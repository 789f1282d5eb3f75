//! Suspicion scoring and ban verdicts, pure with the clock as an argument. Each offence has a
//! weight; weights are summed over a sliding window per source address (and, for the audit,
//! per account). A source whose score reaches the threshold is banned; each repeat offence
//! multiplies the ban time (fail2ban's bantime.increment) up to a maximum; when several
//! addresses of one /24 (/64) are banned within the window, the whole prefix is banned.
//! Only sources whose address QUIC validated earn strikes, and allow-listed ones never do:
//! the caller says which.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::iplist::canonical;
use super::prefix_of;

/// What a source did wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Offence {
    /// A wrong password or token.
    AuthFailure,
    /// A login for an account that does not exist.
    UnknownUser,
    /// A malformed, forged or out-of-order message.
    ProtocolViolation,
    /// A rate, size or quota limit hit.
    LimitHit,
    /// Asking for a delivery or file that is not the caller's.
    Probe,
    /// A handshake with no login by the deadline, or a transfer below the minimum rate.
    Timeout,
    /// A request that made the listener's task panic.
    PanicCaused,
}

/// Weights, window, threshold and ban times; the `[scoring]` section of the config file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoreConfig {
    pub window_secs: u64,
    /// Score at which a source is banned (fail2ban's maxretry).
    pub threshold: u32,
    /// First ban, seconds (fail2ban's bantime).
    pub ban_secs: u64,
    /// Each repeat offence multiplies the ban by this.
    pub ban_factor: u64,
    /// Longest ban, seconds.
    pub max_ban_secs: u64,
    /// Banned addresses of one /24 (/64) within the window that get the prefix banned.
    pub prefix_offenders: u32,
    /// Score of a whole /24 (/64), all its addresses together, that gets the prefix banned
    /// (many addresses each staying under `threshold`).
    pub prefix_threshold: u32,
    pub auth_failure: u32,
    pub unknown_user: u32,
    pub protocol_violation: u32,
    pub limit_hit: u32,
    pub probe: u32,
    pub timeout: u32,
    pub panic_caused: u32,
}

impl Default for ScoreConfig {
    fn default() -> Self {
        Self {
            window_secs: 600,
            threshold: 5,
            ban_secs: 600,
            ban_factor: 2,
            max_ban_secs: 7 * 24 * 3600,
            prefix_offenders: 3,
            prefix_threshold: 20,
            auth_failure: 1,
            unknown_user: 1,
            protocol_violation: 1,
            limit_hit: 1,
            probe: 1,
            timeout: 1,
            panic_caused: 5,
        }
    }
}

impl ScoreConfig {
    pub fn weight(&self, o: Offence) -> u32 {
        match o {
            Offence::AuthFailure => self.auth_failure,
            Offence::UnknownUser => self.unknown_user,
            Offence::ProtocolViolation => self.protocol_violation,
            Offence::LimitHit => self.limit_hit,
            Offence::Probe => self.probe,
            Offence::Timeout => self.timeout,
            Offence::PanicCaused => self.panic_caused,
        }
    }

    /// Ban length for the `level`-th offence (1 = first).
    pub fn ban_length(&self, level: u32) -> u64 {
        let mut secs = self.ban_secs;
        for _ in 1..level {
            secs = secs.saturating_mul(self.ban_factor.max(1));
            if secs >= self.max_ban_secs {
                break;
            }
        }
        secs.min(self.max_ban_secs)
    }
}

/// A verdict: keep `net` out until `until` (seconds since the epoch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ban {
    pub net: IpNet,
    pub until: u64,
    /// How many times this network has been banned, this one included.
    pub level: u32,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct Scorer {
    sources: HashMap<IpAddr, VecDeque<(u64, u32)>>,
    prefixes: HashMap<IpNet, VecDeque<(u64, u32)>>,
    accounts: HashMap<String, VecDeque<(u64, u32)>>,
    /// Bans per prefix in the window: (address, time).
    prefix_bans: HashMap<IpNet, Vec<(IpAddr, u64)>>,
    /// Offence levels, per banned network, with the end of its last ban: forgotten
    /// [`ESCALATION_MEMORY_SECS`] after it, so the table does not grow without bound.
    levels: HashMap<IpNet, (u32, u64)>,
}

/// How long after a ban ends its network's level is remembered for escalation.
pub const ESCALATION_MEMORY_SECS: u64 = 30 * 24 * 3600;

fn prune(q: &mut VecDeque<(u64, u32)>, now: u64, window: u64) {
    while q.front().is_some_and(|(t, _)| now.saturating_sub(*t) >= window) {
        q.pop_front();
    }
}

impl Scorer {
    /// Remember a network's offence level and the end of its last ban (from the database,
    /// at start).
    pub fn set_level(&mut self, net: IpNet, level: u32, until: u64) {
        self.levels.insert(net, (level, until));
    }

    /// Networks whose escalation level is remembered.
    pub fn remembered(&self) -> usize {
        self.levels.len()
    }

    /// Count one offence; returns a ban when a threshold is crossed.
    pub fn strike(
        &mut self,
        cfg: &ScoreConfig,
        ip: IpAddr,
        account: Option<&str>,
        o: Offence,
        now: u64,
    ) -> Option<Ban> {
        let ip = canonical(ip);
        let w = cfg.weight(o);
        if let Some(a) = account {
            let q = self.accounts.entry(a.to_owned()).or_default();
            q.push_back((now, w));
            prune(q, now, cfg.window_secs);
        }
        let prefix = prefix_of(ip);
        let pq = self.prefixes.entry(prefix).or_default();
        pq.push_back((now, w));
        prune(pq, now, cfg.window_secs);
        let prefix_score: u32 = pq.iter().map(|(_, w)| *w).sum();
        if prefix_score >= cfg.prefix_threshold.max(1) {
            pq.clear();
            self.sources.retain(|a, _| prefix_of(*a) != prefix);
            let reason =
                format!("{prefix} scored {prefix_score} >= {} within {} s", cfg.prefix_threshold, cfg.window_secs);
            return Some(self.ban(cfg, prefix, reason, now));
        }
        let q = self.sources.entry(ip).or_default();
        q.push_back((now, w));
        prune(q, now, cfg.window_secs);
        let score: u32 = q.iter().map(|(_, w)| *w).sum();
        if score < cfg.threshold {
            return None;
        }
        q.clear();
        // Several banned addresses in one prefix: ban the prefix.
        let recent = self.prefix_bans.entry(prefix).or_default();
        recent.retain(|(a, t)| now.saturating_sub(*t) < cfg.window_secs && *a != ip);
        recent.push((ip, now));
        let (net, reason) = if recent.len() as u32 >= cfg.prefix_offenders.max(2) {
            recent.clear();
            (prefix, format!("{} addresses of {prefix} offended within {} s", cfg.prefix_offenders, cfg.window_secs))
        } else {
            (IpNet::from(ip), format!("score {score} >= {} within {} s (last: {o:?})", cfg.threshold, cfg.window_secs))
        };
        Some(self.ban(cfg, net, reason, now))
    }

    fn ban(&mut self, cfg: &ScoreConfig, net: IpNet, reason: String, now: u64) -> Ban {
        let entry = self.levels.entry(net).or_insert((0, 0));
        let level = entry.0.saturating_add(1);
        let until = now.saturating_add(cfg.ban_length(level));
        *entry = (level, until);
        Ban { net, until, level, reason }
    }

    /// A source's current score.
    pub fn score(&self, cfg: &ScoreConfig, ip: IpAddr, now: u64) -> u32 {
        self.sources
            .get(&canonical(ip))
            .map(|q| q.iter().filter(|(t, _)| now.saturating_sub(*t) < cfg.window_secs).map(|(_, w)| *w).sum())
            .unwrap_or(0)
    }

    /// An account's current score (for the audit; accounts are not banned by address).
    pub fn account_score(&self, cfg: &ScoreConfig, account: &str, now: u64) -> u32 {
        self.accounts
            .get(account)
            .map(|q| q.iter().filter(|(t, _)| now.saturating_sub(*t) < cfg.window_secs).map(|(_, w)| *w).sum())
            .unwrap_or(0)
    }

    /// Drop state older than the window (call now and then so memory stays bounded).
    pub fn forget_old(&mut self, cfg: &ScoreConfig, now: u64) {
        self.sources.retain(|_, q| {
            prune(q, now, cfg.window_secs);
            !q.is_empty()
        });
        self.accounts.retain(|_, q| {
            prune(q, now, cfg.window_secs);
            !q.is_empty()
        });
        self.prefixes.retain(|_, q| {
            prune(q, now, cfg.window_secs);
            !q.is_empty()
        });
        self.levels.retain(|_, (_, until)| until.saturating_add(ESCALATION_MEMORY_SECS) > now);
        self.prefix_bans.retain(|_, v| {
            v.retain(|(_, t)| now.saturating_sub(*t) < cfg.window_secs);
            !v.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::ip;

    #[test]
    fn five_failures_in_ten_minutes_ban_for_ten_minutes() {
        let cfg = ScoreConfig::default();
        let mut s = Scorer::default();
        for i in 0..4 {
            assert_eq!(s.strike(&cfg, ip("192.0.2.1"), Some("root"), Offence::AuthFailure, 1000 + i * 100), None);
        }
        let ban = s.strike(&cfg, ip("192.0.2.1"), Some("root"), Offence::AuthFailure, 1400).expect("ban");
        assert_eq!(ban.net, "192.0.2.1/32".parse::<IpNet>().expect("net"));
        assert_eq!((ban.until, ban.level), (2000, 1));
        assert_eq!(s.account_score(&cfg, "root", 1400), 5);
    }

    #[test]
    fn the_window_slides() {
        let cfg = ScoreConfig::default();
        let mut s = Scorer::default();
        for i in 0..10 {
            // One failure every 150 s never reaches 5 within 600 s.
            assert_eq!(s.strike(&cfg, ip("192.0.2.2"), None, Offence::AuthFailure, i * 150), None);
        }
        assert_eq!(s.score(&cfg, ip("192.0.2.2"), 1350), 4);
        s.forget_old(&cfg, 10_000);
        assert_eq!(s.score(&cfg, ip("192.0.2.2"), 10_000), 0);
    }

    #[test]
    fn repeat_offences_ban_longer_up_to_the_maximum() {
        let cfg = ScoreConfig { max_ban_secs: 3000, ..ScoreConfig::default() };
        let mut s = Scorer::default();
        let mut lengths = Vec::new();
        let mut now = 0;
        for _ in 0..4 {
            let ban = s.strike(&cfg, ip("192.0.2.3"), None, Offence::PanicCaused, now).expect("ban");
            lengths.push(ban.until - now);
            now = ban.until + 1;
        }
        assert_eq!(lengths, [600, 1200, 2400, 3000]);
    }

    #[test]
    fn many_addresses_under_the_threshold_get_their_prefix_banned() {
        let cfg = ScoreConfig::default();
        let mut s = Scorer::default();
        let mut verdicts = Vec::new();
        // 4 failures from each of 5 addresses: none reaches 5, the /24 reaches 20.
        for host in 1..=5 {
            for i in 0..4 {
                if let Some(b) = s.strike(&cfg, ip(&format!("203.0.113.{host}")), None, Offence::AuthFailure, 10 + i) {
                    verdicts.push(b);
                }
            }
        }
        assert_eq!(verdicts.len(), 1, "{verdicts:?}");
        assert_eq!(verdicts[0].net, "203.0.113.0/24".parse::<IpNet>().expect("net"));
    }

    #[test]
    fn several_offenders_in_a_prefix_ban_the_prefix() {
        let cfg = ScoreConfig::default();
        let mut s = Scorer::default();
        let mut last = None;
        for host in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
            last = s.strike(&cfg, ip(host), None, Offence::PanicCaused, 100);
        }
        assert_eq!(last.expect("ban").net, "198.51.100.0/24".parse::<IpNet>().expect("net"));
    }

    #[test]
    fn escalation_levels_are_forgotten_a_month_after_the_ban() {
        let cfg = ScoreConfig::default();
        let mut s = Scorer::default();
        let mut ban = None;
        for _ in 0..5 {
            ban = ban.or(s.strike(&cfg, ip("198.51.100.1"), None, Offence::AuthFailure, 1000));
        }
        let until = ban.expect("banned").until;
        assert_eq!(s.remembered(), 1);
        s.forget_old(&cfg, until + ESCALATION_MEMORY_SECS - 1);
        assert_eq!(s.remembered(), 1);
        s.forget_old(&cfg, until + ESCALATION_MEMORY_SECS);
        assert_eq!(s.remembered(), 0);
    }
}
