//! Suspicion scoring and ban verdicts, pure with the clock as an argument. Each offence has a
//! weight (fractions allowed: asking for a delivery that is not yours weighs a twentieth of
//! a failed login); weights are summed over a sliding window per source address (and, for
//! the audit, per account). A source whose score reaches the threshold is banned; each
//! repeat offence multiplies the ban time (fail2ban's bantime.increment) up to a maximum.
//! A whole /24 (/64) is banned only when at least `prefix_offenders` distinct addresses of
//! it offended: when that many of its addresses were banned within the window, or when the
//! prefix's summed score reaches `prefix_threshold` with that many addresses behind it. One
//! address alone never gets its neighbours banned.
//! Only sources whose address QUIC validated earn strikes, and allow-listed or exempt ones
//! never do: the caller says which.
//!
//! Scores are kept in thousandths of a point, so sums of fractional weights are exact.

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
    /// A wrong recovery code, secret answer or cancel code.
    RecoveryGuess,
    /// Timing or sameness too perfect to be human.
    TooRegular,
    /// A challenge failed (wrong answer or work, expired, spent, forged, or missing).
    ChallengeFailed,
    /// A captcha answered faster than a person can.
    TooFast,
}

/// Weights, window, threshold and ban times; the `[scoring]` section of the config file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoreConfig {
    pub window_secs: u64,
    /// Score at which a source is banned (fail2ban's maxretry): five failed logins.
    pub threshold: f64,
    /// First ban, seconds (fail2ban's bantime).
    pub ban_secs: u64,
    /// Each repeat offence multiplies the ban by this.
    pub ban_factor: u64,
    /// Longest ban, seconds.
    pub max_ban_secs: u64,
    /// Banned addresses of one /24 (/64) within the window that get the prefix banned.
    pub prefix_offenders: u32,
    /// Score of a whole /24 (/64), all its addresses together, that gets the prefix banned
    /// (many addresses each staying under `threshold`), provided at least
    /// `prefix_offenders` distinct addresses make it up.
    pub prefix_threshold: f64,
    /// A wrong password or token (fail2ban's rule: five in ten minutes ban).
    pub auth_failure: f64,
    /// A login for an account that does not exist.
    pub unknown_user: f64,
    /// A malformed or forged frame: the real client never sends one.
    pub protocol_violation: f64,
    /// A rate, size or quota limit hit (a user may hit a quota by mistake).
    pub limit_hit: f64,
    /// Asking for a delivery that is not yours (or a mistyped id): a hundred in the window
    /// ban, twenty mistyped ids do not.
    pub probe: f64,
    /// No login by the deadline, or a transfer below the minimum rate (slow links and slow
    /// typists exist).
    pub timeout: f64,
    pub panic_caused: f64,
    /// A failed challenge: a person misreads a captcha now and then, a guesser keeps
    /// failing (ten in the window ban).
    pub challenge_failed: f64,
    /// A captcha answered faster than a person: it raises the next challenge's effort at
    /// once, and bans only together with other offences.
    pub too_fast: f64,
    /// A wrong texted code, secret answer, recovery code or cancel code: as a wrong
    /// password (five in the window ban).
    pub recovery_guess: f64,
    /// Behaviour too regular to be human (intervals like a timer, the same request over
    /// and over): it raises the next challenge at once and weighs little, so it bans only
    /// together with other offences.
    pub too_regular: f64,
    /// Networks never scored nor banned automatically (fail2ban's `ignoreself`/`ignoreip`):
    /// by default the listener's own host, so its operator is never locked out. Other
    /// loopback addresses are scored as usual.
    pub exempt: Vec<IpNet>,
}

impl Default for ScoreConfig {
    fn default() -> Self {
        Self {
            window_secs: 600,
            threshold: 5.0,
            ban_secs: 600,
            ban_factor: 2,
            max_ban_secs: 7 * 24 * 3600,
            prefix_offenders: 3,
            prefix_threshold: 20.0,
            auth_failure: 1.0,
            unknown_user: 1.0,
            protocol_violation: 2.5,
            limit_hit: 0.5,
            probe: 0.05,
            timeout: 0.5,
            panic_caused: 5.0,
            challenge_failed: 0.5,
            too_fast: 0.5,
            recovery_guess: 1.0,
            too_regular: 0.3,
            exempt: default_exempt(),
        }
    }
}

/// The listener's own host: 127.0.0.1 and ::1.
pub fn default_exempt() -> Vec<IpNet> {
    vec![IpNet::from(IpAddr::from([127, 0, 0, 1])), IpNet::from(IpAddr::from(std::net::Ipv6Addr::LOCALHOST))]
}

/// Thousandths of a point in one point.
pub const MILLI: u64 = 1000;

/// A weight or threshold in thousandths of a point (negative and NaN count as 0).
pub fn milli(points: f64) -> u64 {
    if points.is_finite() && points > 0.0 {
        (points * MILLI as f64).round().min(u64::MAX as f64) as u64
    } else {
        0
    }
}

/// Thousandths of a point back to points, for display.
pub fn points(milli: u64) -> f64 {
    milli as f64 / MILLI as f64
}

impl Offence {
    /// The name of the activity kind that records it (as `qxfer audit --kind` spells it).
    pub fn name(self) -> &'static str {
        match self {
            Offence::AuthFailure => "login_failed",
            Offence::UnknownUser => "unknown_user",
            Offence::ProtocolViolation => "violation",
            Offence::LimitHit => "limit",
            Offence::Probe => "probe",
            Offence::Timeout => "timeout",
            Offence::PanicCaused => "panic",
            Offence::ChallengeFailed => "challenge_failed",
            Offence::TooFast => "too_fast",
            Offence::RecoveryGuess => "recovery_wrong_code",
            Offence::TooRegular => "too_regular",
        }
    }
}

impl ScoreConfig {
    /// Whether `ip` is exempt from scoring.
    pub fn is_exempt(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.exempt.iter().any(|n| n.contains(&ip))
    }

    /// An offence's weight in thousandths of a point.
    pub fn weight_milli(&self, o: Offence) -> u64 {
        milli(self.weight(o))
    }

    pub fn weight(&self, o: Offence) -> f64 {
        match o {
            Offence::AuthFailure => self.auth_failure,
            Offence::UnknownUser => self.unknown_user,
            Offence::ProtocolViolation => self.protocol_violation,
            Offence::LimitHit => self.limit_hit,
            Offence::Probe => self.probe,
            Offence::Timeout => self.timeout,
            Offence::PanicCaused => self.panic_caused,
            Offence::ChallengeFailed => self.challenge_failed,
            Offence::TooFast => self.too_fast,
            Offence::RecoveryGuess => self.recovery_guess,
            Offence::TooRegular => self.too_regular,
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
    sources: HashMap<IpAddr, VecDeque<(u64, u64)>>,
    /// Per prefix: (time, weight, address) of each offence.
    prefixes: HashMap<IpNet, VecDeque<(u64, u64, IpAddr)>>,
    accounts: HashMap<String, VecDeque<(u64, u64)>>,
    /// Bans per prefix in the window: (address, time).
    prefix_bans: HashMap<IpNet, Vec<(IpAddr, u64)>>,
    /// Offence levels, per banned network, with the end of its last ban: forgotten
    /// [`ESCALATION_MEMORY_SECS`] after it, so the table does not grow without bound.
    levels: HashMap<IpNet, (u32, u64)>,
}

/// How long after a ban ends its network's level is remembered for escalation.
pub const ESCALATION_MEMORY_SECS: u64 = 30 * 24 * 3600;

fn prune(q: &mut VecDeque<(u64, u64)>, now: u64, window: u64) {
    while q.front().is_some_and(|(t, _)| now.saturating_sub(*t) >= window) {
        q.pop_front();
    }
}

fn prune_prefix(q: &mut VecDeque<(u64, u64, IpAddr)>, now: u64, window: u64) {
    while q.front().is_some_and(|(t, _, _)| now.saturating_sub(*t) >= window) {
        q.pop_front();
    }
}

/// Distinct addresses in a prefix's offences (bounded by the queue's length).
fn distinct(q: &VecDeque<(u64, u64, IpAddr)>) -> usize {
    let mut seen: Vec<IpAddr> = q.iter().map(|(_, _, a)| *a).collect();
    seen.sort_unstable();
    seen.dedup();
    seen.len()
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
        let w = cfg.weight_milli(o);
        if w == 0 {
            return None;
        }
        if let Some(a) = account {
            let q = self.accounts.entry(a.to_owned()).or_default();
            q.push_back((now, w));
            prune(q, now, cfg.window_secs);
        }
        let prefix = prefix_of(ip);
        let offenders = cfg.prefix_offenders.max(2) as usize;
        let pq = self.prefixes.entry(prefix).or_default();
        pq.push_back((now, w, ip));
        prune_prefix(pq, now, cfg.window_secs);
        let prefix_score: u64 = pq.iter().map(|(_, w, _)| *w).sum();
        if prefix_score >= milli(cfg.prefix_threshold).max(1) && distinct(pq) >= offenders {
            let n = distinct(pq);
            pq.clear();
            self.sources.retain(|a, _| prefix_of(*a) != prefix);
            let reason = format!(
                "{prefix}: {n} addresses scored {} >= {} within {} s",
                points(prefix_score),
                cfg.prefix_threshold,
                cfg.window_secs
            );
            return Some(self.ban(cfg, prefix, reason, now));
        }
        let q = self.sources.entry(ip).or_default();
        q.push_back((now, w));
        prune(q, now, cfg.window_secs);
        let score: u64 = q.iter().map(|(_, w)| *w).sum();
        if score < milli(cfg.threshold).max(1) {
            return None;
        }
        q.clear();
        // Several banned addresses in one prefix: ban the prefix.
        let recent = self.prefix_bans.entry(prefix).or_default();
        recent.retain(|(a, t)| now.saturating_sub(*t) < cfg.window_secs && *a != ip);
        recent.push((ip, now));
        let (net, reason) = if recent.len() >= offenders {
            recent.clear();
            (prefix, format!("{} addresses of {prefix} offended within {} s", offenders, cfg.window_secs))
        } else {
            let reason = format!(
                "score {} >= {} within {} s (last: {})",
                points(score),
                cfg.threshold,
                cfg.window_secs,
                o.name()
            );
            (IpNet::from(ip), reason)
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

    /// A source's current score, in points.
    pub fn score(&self, cfg: &ScoreConfig, ip: IpAddr, now: u64) -> f64 {
        points(
            self.sources
                .get(&canonical(ip))
                .map(|q| q.iter().filter(|(t, _)| now.saturating_sub(*t) < cfg.window_secs).map(|(_, w)| *w).sum())
                .unwrap_or(0),
        )
    }

    /// An account's current score in points (for the audit; accounts are not banned by
    /// address).
    pub fn account_score(&self, cfg: &ScoreConfig, account: &str, now: u64) -> f64 {
        points(
            self.accounts
                .get(account)
                .map(|q| q.iter().filter(|(t, _)| now.saturating_sub(*t) < cfg.window_secs).map(|(_, w)| *w).sum())
                .unwrap_or(0),
        )
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
            prune_prefix(q, now, cfg.window_secs);
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
    use crate::policy::test_ip::ip;

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
        assert_eq!(s.account_score(&cfg, "root", 1400), 5.0);
    }

    #[test]
    fn the_window_slides() {
        let cfg = ScoreConfig::default();
        let mut s = Scorer::default();
        for i in 0..10 {
            // One failure every 150 s never reaches 5 within 600 s.
            assert_eq!(s.strike(&cfg, ip("192.0.2.2"), None, Offence::AuthFailure, i * 150), None);
        }
        assert_eq!(s.score(&cfg, ip("192.0.2.2"), 1350), 4.0);
        s.forget_old(&cfg, 10_000);
        assert_eq!(s.score(&cfg, ip("192.0.2.2"), 10_000), 0.0);
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

    #[test]
    fn one_address_never_gets_its_prefix_banned() {
        // Twenty failed logins from one address: it is banned (four times over the window),
        // its /24 never is, however much it scores.
        let cfg = ScoreConfig { threshold: 100.0, ..ScoreConfig::default() };
        let mut s = Scorer::default();
        for i in 0..60 {
            let v = s.strike(&cfg, ip("203.0.113.9"), None, Offence::AuthFailure, 10 + i);
            assert!(v.as_ref().is_none_or(|b| b.net.prefix_len() == 32), "{v:?}");
        }
    }

    #[test]
    fn mistakes_weigh_less_than_failed_logins() {
        // Twenty mistyped ids and three wrong passwords: no ban. A hundred probes: a ban.
        let cfg = ScoreConfig::default();
        let mut s = Scorer::default();
        for i in 0..20 {
            assert_eq!(s.strike(&cfg, ip("192.0.2.7"), Some("bob"), Offence::Probe, 100 + i), None);
        }
        for i in 0..3 {
            assert_eq!(s.strike(&cfg, ip("192.0.2.7"), Some("bob"), Offence::AuthFailure, 200 + i), None);
        }
        assert_eq!(s.score(&cfg, ip("192.0.2.7"), 300), 4.0);
        let mut t = Scorer::default();
        let bans: Vec<_> = (0..100).filter_map(|i| t.strike(&cfg, ip("192.0.2.8"), None, Offence::Probe, i)).collect();
        assert_eq!(bans.len(), 1);
    }

    #[test]
    fn the_own_host_is_exempt_by_default() {
        let cfg = ScoreConfig::default();
        assert!(cfg.is_exempt(ip("127.0.0.1")));
        assert!(cfg.is_exempt(ip("::1")));
        assert!(cfg.is_exempt(ip("::ffff:127.0.0.1")));
        assert!(!cfg.is_exempt(ip("127.0.0.2")));
        assert!(!cfg.is_exempt(ip("192.0.2.1")));
    }
}
