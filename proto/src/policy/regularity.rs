//! Behaviour too perfect to be human, pure (the clock comes in as milliseconds): the
//! intervals between the login attempts, challenge requests and registrations of one
//! address (or network, or account), and the sameness of what they send. People hesitate,
//! retype and pause; a script fires at a fixed period, or a fixed pattern of periods, sends
//! the same bytes, or fires faster than anyone types a password. Four signals:
//!
//! - **Regular**: over the last `samples` actions, intervals whose coefficient of variation
//!   (standard deviation over mean) stays below `max_cv`.
//! - **Repeated**: the last `samples` requests all alike, at a steady pace (below twice
//!   `max_cv`).
//! - **Periodic**: intervals that repeat every 2 to [`MAX_PERIOD`] actions (1 s, 3 s, 1 s,
//!   3 s …): the average magnitude difference between intervals one period apart (a form of
//!   autocorrelation) below `max_cv` of the mean interval, over at least two periods and two
//!   more intervals.
//! - **Burst**: `burst` password logins or registrations in a row, on average less than
//!   `burst_ms` apart: faster than a person types a password, whatever the gaps.
//!
//! A signal is evidence, not proof: it raises the next challenge first, and weighs little
//! in the score, so it bans only together with other offences. Whose signal it is (the
//! address's, or its network's) is `policy::neighbours`. Transfers and the real client's
//! pipelined requests are never fed in; sessions of automation tokens neither.

use std::collections::VecDeque;

/// The longest pattern of intervals judged as repeating (a period of this many actions).
pub const MAX_PERIOD: usize = 4;

/// `[regularity]` in the listener's config.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegularityConfig {
    /// Actions looked at for the spread (and at least this many before it is judged).
    pub samples: usize,
    /// Intervals this regular (coefficient of variation below this) are a script's; also
    /// the spread below which a repeating pattern is.
    pub max_cv: f64,
    /// Actions further apart than this start a fresh series (a person who comes back later).
    pub reset_after_ms: u64,
    /// Password logins or registrations judged together for a burst.
    pub burst: usize,
    /// `burst` of them less than this far apart on average are faster than a person types a
    /// password.
    pub burst_ms: u64,
}

impl Default for RegularityConfig {
    fn default() -> Self {
        RegularityConfig { samples: 6, max_cv: 0.05, reset_after_ms: 10 * 60 * 1000, burst: 4, burst_ms: 1000 }
    }
}

impl RegularityConfig {
    /// Refuse values that would disable the check or make it fire on people.
    pub fn check(&self) -> Result<(), &'static str> {
        if !(4..=64).contains(&self.samples) {
            return Err("regularity.samples must be 4 to 64");
        }
        if !(self.max_cv.is_finite() && self.max_cv > 0.0 && self.max_cv <= 0.2) {
            return Err("regularity.max_cv must be above 0 and at most 0.2");
        }
        if self.reset_after_ms == 0 {
            return Err("regularity.reset_after_ms must be above 0");
        }
        if !(3..=64).contains(&self.burst) {
            return Err("regularity.burst must be 3 to 64");
        }
        if !(100..=2000).contains(&self.burst_ms) {
            return Err("regularity.burst_ms must be 100 to 2000 (a person types a password in a second or more)");
        }
        Ok(())
    }

    /// Actions kept per series: enough for the spread and for the longest pattern.
    pub fn kept(&self) -> usize {
        self.samples.max(self.burst).max(2 * MAX_PERIOD + 3)
    }
}

/// What a series of actions gave away.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Signal {
    /// The intervals are this regular (coefficient of variation) over `samples` actions.
    Regular { cv: f64, mean_ms: u64 },
    /// The last `samples` requests were all the same (same digest), at a steady pace (a
    /// spread below twice `max_cv`).
    Repeated,
    /// The intervals repeat every `period` actions, differing by `spread` (of the mean
    /// interval) from one period to the next.
    Periodic { period: usize, spread: f64, mean_ms: u64 },
    /// `count` password logins or registrations within `within_ms`.
    Burst { count: usize, within_ms: u64 },
}

impl Signal {
    pub fn describe(&self) -> String {
        match self {
            Signal::Regular { cv, mean_ms } => {
                format!("intervals of {mean_ms} ms varying by {:.1} %, like a timer", cv * 100.0)
            }
            Signal::Repeated => "the same request over and over, like a script".into(),
            Signal::Periodic { period, spread, mean_ms } => format!(
                "intervals repeating every {period} actions (averaging {mean_ms} ms, {:.1} % apart from one \
                 period to the next), like a timer",
                spread * 100.0
            ),
            Signal::Burst { count, within_ms } => {
                format!("{count} in {within_ms} ms, faster than a person types a password")
            }
        }
    }
}

/// The coefficient of variation of `intervals` (standard deviation over mean); `None` for
/// fewer than two intervals or a zero mean.
pub fn coefficient_of_variation(intervals: &[u64]) -> Option<f64> {
    if intervals.len() < 2 {
        return None;
    }
    let n = intervals.len() as f64;
    let mean = intervals.iter().map(|&i| i as f64).sum::<f64>() / n;
    if mean <= 0.0 {
        return None;
    }
    let var = intervals.iter().map(|&i| (i as f64 - mean).powi(2)).sum::<f64>() / n;
    Some(var.sqrt() / mean)
}

/// How far `intervals` are from repeating every `period`: the root mean square of the
/// differences between intervals `period` apart, over the mean interval (the average
/// magnitude difference function, the autocorrelation's cousin that finds a pitch's
/// period). `None` below two periods and two more intervals, or for a zero mean.
pub fn period_spread(intervals: &[u64], period: usize) -> Option<f64> {
    if period == 0 || intervals.len() < 2 * period + 2 {
        return None;
    }
    let mean = intervals.iter().map(|&i| i as f64).sum::<f64>() / intervals.len() as f64;
    if mean <= 0.0 {
        return None;
    }
    let pairs = intervals.len() - period;
    let sum: f64 =
        intervals.iter().zip(intervals.iter().skip(period)).map(|(&a, &b)| (b as f64 - a as f64).powi(2)).sum();
    Some((sum / pairs as f64).sqrt() / mean)
}

/// One action as the watch sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Action {
    /// When its request arrived.
    pub at_ms: u64,
    /// What it sent (the same action repeated is a script's).
    pub digest: u64,
    /// Who sent it (an address, for a network's series).
    pub actor: u64,
    /// A password login or a registration: judged for bursts.
    pub burst: bool,
}

/// A signal, and how many actors made the actions it judged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Judged {
    pub signal: Signal,
    pub actors: usize,
}

/// The recent actions of one address, network or account: times, digests of what was
/// sent and who sent it, bounded by [`RegularityConfig::kept`].
#[derive(Debug, Clone, Default)]
pub struct Cadence {
    times: VecDeque<u64>,
    digests: VecDeque<u64>,
    actors: VecDeque<u64>,
}

fn intervals(times: &[u64]) -> Vec<u64> {
    times.iter().zip(times.iter().skip(1)).map(|(a, b)| b.saturating_sub(*a)).collect()
}

impl Cadence {
    /// Note an action; a signal when the series is too regular, periodic, or a burst. The
    /// series starts over after a signal and after a pause of `reset_after_ms`. Actions
    /// are timed when they arrive but may be noted in another order (one waited for a
    /// password hash, the next did not): an earlier time within `reset_after_ms` of the
    /// last takes its place in the series; only a bigger jump back (a clock set back)
    /// starts it over.
    pub fn note(&mut self, cfg: &RegularityConfig, a: Action) -> Option<Judged> {
        let now_ms = a.at_ms;
        let last = self.times.back().copied();
        if last.is_some_and(|t| {
            now_ms.saturating_sub(t) > cfg.reset_after_ms || t.saturating_sub(now_ms) > cfg.reset_after_ms
        }) {
            self.clear();
        }
        let at = self.times.partition_point(|&t| t <= now_ms);
        self.times.insert(at, now_ms);
        self.digests.insert(at, a.digest);
        self.actors.insert(at, a.actor);
        while self.times.len() > cfg.kept() {
            self.times.pop_front();
            self.digests.pop_front();
            self.actors.pop_front();
        }
        let judged = self.judge(cfg, a.burst);
        if judged.is_some() {
            self.clear();
        }
        judged
    }

    fn clear(&mut self) {
        self.times.clear();
        self.digests.clear();
        self.actors.clear();
    }

    /// The signal over the last `n` actions, with how many actors made them.
    fn over(&self, signal: Signal, n: usize) -> Judged {
        let mut seen: Vec<u64> = self.actors.iter().rev().take(n).copied().collect();
        seen.sort_unstable();
        seen.dedup();
        Judged { signal, actors: seen.len() }
    }

    fn judge(&self, cfg: &RegularityConfig, burst: bool) -> Option<Judged> {
        let times: Vec<u64> = self.times.iter().copied().collect();
        let n = times.len();
        if burst && n >= cfg.burst {
            let first = times.get(n - cfg.burst).copied().unwrap_or_default();
            let within_ms = times.last().copied().unwrap_or_default().saturating_sub(first);
            if within_ms < (cfg.burst as u64 - 1).saturating_mul(cfg.burst_ms) {
                return Some(self.over(Signal::Burst { count: cfg.burst, within_ms }, cfg.burst));
            }
        }
        if n >= cfg.samples {
            let recent = intervals(times.get(n - cfg.samples..).unwrap_or_default());
            if let Some(cv) = coefficient_of_variation(&recent) {
                let mean_ms = recent.iter().sum::<u64>() / recent.len() as u64;
                let mut digests = self.digests.iter().rev().take(cfg.samples);
                let first = digests.next();
                let same = digests.all(|d| Some(d) == first);
                if cv < cfg.max_cv {
                    return Some(self.over(Signal::Regular { cv, mean_ms }, cfg.samples));
                }
                if same && cv < cfg.max_cv * 2.0 {
                    return Some(self.over(Signal::Repeated, cfg.samples));
                }
            }
        }
        let all = intervals(&times);
        for period in 2..=MAX_PERIOD {
            if let Some(spread) = period_spread(&all, period).filter(|s| *s < cfg.max_cv) {
                let mean_ms = all.iter().sum::<u64>() / all.len().max(1) as u64;
                return Some(self.over(Signal::Periodic { period, spread, mean_ms }, n));
            }
        }
        None
    }

    /// The last action's time, for pruning.
    pub fn last(&self) -> Option<u64> {
        self.times.back().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_800_000_000_000;

    fn act(at_ms: u64, digest: u64) -> Action {
        Action { at_ms, digest, actor: 1, burst: false }
    }

    fn feed(c: &mut Cadence, cfg: &RegularityConfig, gaps: &[u64], digest: impl Fn(usize) -> u64) -> Vec<Signal> {
        feed_as(c, cfg, gaps, false, digest)
    }

    fn feed_as(
        c: &mut Cadence,
        cfg: &RegularityConfig,
        gaps: &[u64],
        burst: bool,
        digest: impl Fn(usize) -> u64,
    ) -> Vec<Signal> {
        let mut t = T0;
        let mut out = Vec::new();
        for (i, g) in std::iter::once(&0).chain(gaps).enumerate() {
            t += g;
            out.extend(c.note(cfg, Action { burst, ..act(t, digest(i)) }).map(|j| j.signal));
        }
        out
    }

    /// A small deterministic generator for the tests' jitter (xorshift64*).
    struct Rand(u64);
    impl Rand {
        fn unit(&mut self) -> f64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
        }
        /// `base` ± `jitter` (a fraction), uniform.
        fn around(&mut self, base: f64, jitter: f64) -> u64 {
            (base * (1.0 + jitter * (2.0 * self.unit() - 1.0))).round() as u64
        }
    }

    #[test]
    fn the_spread_of_intervals() {
        assert_eq!(coefficient_of_variation(&[100]), None);
        assert_eq!(coefficient_of_variation(&[0, 0]), None);
        assert_eq!(coefficient_of_variation(&[500, 500, 500]), Some(0.0));
        let cv = coefficient_of_variation(&[1000, 3000]).expect("cv");
        assert!((cv - 0.5).abs() < 1e-9, "{cv}");
        // Alternating 1 s and 3 s: spread out (a CV of 50 %), yet exactly periodic.
        let alternating = [1000, 3000, 1000, 3000, 1000, 3000];
        assert_eq!(period_spread(&alternating, 2), Some(0.0));
        assert!(period_spread(&alternating, 1).expect("lag 1") > 0.9);
        assert_eq!(period_spread(&alternating, 3), None, "two periods and two more are needed");
        assert_eq!(period_spread(&[0; 8], 2), None);
    }

    #[test]
    fn a_timer_is_flagged_and_a_person_is_not() {
        let cfg = RegularityConfig::default();
        // A script every 2 s, a millisecond or two of network jitter.
        let mut script = Cadence::default();
        let signals = feed(&mut script, &cfg, &[2000, 2001, 1999, 2002, 2000], |i| i as u64);
        assert!(matches!(signals.as_slice(), [Signal::Regular { cv, mean_ms: 2000 }] if *cv < 0.01), "{signals:?}");
        // A person: reading, typing, a typo, a pause.
        let mut person = Cadence::default();
        let gaps = [3100, 7400, 2600, 12_900, 4800, 3900, 9100, 2200, 6600, 5100, 3000, 7700];
        assert!(feed(&mut person, &cfg, &gaps, |i| i as u64).is_empty());
        // Five actions are not enough to judge.
        let mut few = Cadence::default();
        assert!(feed(&mut few, &cfg, &[2000, 2000, 2000, 2000], |_| 1).is_empty());
    }

    #[test]
    fn alternating_and_cycling_intervals_are_flagged() {
        let cfg = RegularityConfig::default();
        // 1 s, 3 s, 1 s, 3 s …: a CV of 50 %, never flagged by the spread; periodic.
        let mut c = Cadence::default();
        let signals = feed(&mut c, &cfg, &[1000, 3000, 1000, 3000, 1000, 3000, 1000, 3000], |i| i as u64);
        assert!(matches!(signals.as_slice(), [Signal::Periodic { period: 2, mean_ms: 2000, .. }]), "{signals:?}");
        // With a few milliseconds of network jitter, as on a real link.
        let mut c = Cadence::default();
        let gaps = [1003, 2998, 1001, 3004, 997, 3001, 1002, 2996];
        let signals = feed(&mut c, &cfg, &gaps, |i| i as u64);
        assert!(matches!(signals.as_slice(), [Signal::Periodic { period: 2, .. }]), "{signals:?}");
        // A cycle of three (0.5 s, 2 s, 4 s) and one of four.
        let mut c = Cadence::default();
        let signals = feed(&mut c, &cfg, &[500, 2000, 4000, 500, 2000, 4000, 500, 2000, 4000], |i| i as u64);
        assert!(matches!(signals.as_slice(), [Signal::Periodic { period: 3, .. }]), "{signals:?}");
        let mut c = Cadence::default();
        let cycle = [700, 1500, 2600, 900];
        let gaps: Vec<u64> = cycle.iter().cycle().take(10).copied().collect();
        let signals = feed(&mut c, &cfg, &gaps, |i| i as u64);
        assert!(matches!(signals.as_slice(), [Signal::Periodic { period: 4, .. }]), "{signals:?}");
        // A person whose pauses happen to alternate short and long is not a period: the
        // lengths differ from one time to the next.
        let mut person = Cadence::default();
        let gaps = [1200, 5400, 1900, 3800, 900, 7100, 1500, 4600, 2300, 6100];
        assert!(feed(&mut person, &cfg, &gaps, |i| i as u64).is_empty());
    }

    #[test]
    fn jitter_of_a_few_percent_is_flagged_and_a_quarter_is_not() {
        let cfg = RegularityConfig::default();
        let mut rand = Rand(0x9e37_79b9_7f4a_7c15);
        // ±3 %: a timer with a little noise added, flagged within one series.
        let mut c = Cadence::default();
        let gaps: Vec<u64> = (0..5).map(|_| rand.around(500.0, 0.03)).collect();
        assert!(matches!(feed(&mut c, &cfg, &gaps, |i| i as u64).as_slice(), [Signal::Regular { .. }]));
        // ±25 % (a spread of 14 %): passes this check; what stops such a bot is the work
        // and the limits (see `what_a_bot_must_do_to_stay_unflagged`).
        let mut c = Cadence::default();
        let gaps: Vec<u64> = (0..40).map(|_| rand.around(500.0, 0.25)).collect();
        assert!(feed(&mut c, &cfg, &gaps, |i| i as u64).is_empty());
    }

    #[test]
    fn bursts_of_password_logins_are_flagged_whatever_the_gaps() {
        let cfg = RegularityConfig::default();
        // 15 password logins in 2.9 s with random gaps (the attack's).
        let gaps = [120, 340, 90, 260, 180, 410, 60, 230, 150, 300, 110, 270, 200, 180];
        assert_eq!(gaps.iter().sum::<u64>(), 2900);
        let mut c = Cadence::default();
        let signals = feed_as(&mut c, &cfg, &gaps, true, |i| i as u64);
        assert_eq!(signals.len(), 3, "one a burst of four: {signals:?}");
        assert!(signals.iter().all(|s| matches!(s, Signal::Burst { count: 4, .. })), "{signals:?}");
        // The same timing of actions that are not password logins: no burst.
        let mut c = Cadence::default();
        assert!(feed_as(&mut c, &cfg, &gaps, false, |i| i as u64).is_empty());
        // A person who mistypes a password three times: each try typed, seconds apart.
        let mut c = Cadence::default();
        assert!(feed_as(&mut c, &cfg, &[4200, 3100, 5600, 2900], true, |i| i as u64).is_empty());
        // Four in 3 s or more are not a burst; in less they are.
        let mut c = Cadence::default();
        assert!(feed_as(&mut c, &cfg, &[400, 1600, 1000], true, |i| i as u64).is_empty());
        let mut c = Cadence::default();
        assert_eq!(feed_as(&mut c, &cfg, &[400, 1600, 999], true, |i| i as u64).len(), 1);
    }

    #[test]
    fn a_signal_says_how_many_actors_made_it() {
        let cfg = RegularityConfig::default();
        let mut c = Cadence::default();
        let mut judged = Vec::new();
        for i in 0..6u64 {
            judged.extend(c.note(&cfg, Action { actor: i % 3, ..act(T0 + i * 500, i) }));
        }
        assert!(matches!(judged.as_slice(), [Judged { signal: Signal::Regular { .. }, actors: 3 }]), "{judged:?}");
        let mut c = Cadence::default();
        let mut judged = Vec::new();
        for i in 0..6u64 {
            judged.extend(c.note(&cfg, act(T0 + i * 500, i)));
        }
        assert!(matches!(judged.as_slice(), [Judged { actors: 1, .. }]), "{judged:?}");
    }

    #[test]
    fn the_same_request_at_a_steady_pace_is_flagged_but_varied_ones_are_not() {
        let cfg = RegularityConfig::default();
        // A 6 % spread: not flagged for its timing alone...
        let gaps = [1000, 1100, 930, 1080, 990];
        let mut varied = Cadence::default();
        assert!(feed(&mut varied, &cfg, &gaps, |i| i as u64).is_empty());
        // ...but sending the very same bytes each time at that pace is a script.
        let mut same = Cadence::default();
        assert_eq!(feed(&mut same, &cfg, &gaps, |_| 42), vec![Signal::Repeated]);
        // A person repeating a command a minute or so apart is neither.
        let mut person = Cadence::default();
        assert!(feed(&mut person, &cfg, &[45_000, 80_000, 52_000, 71_000, 60_000], |_| 42).is_empty());
    }

    #[test]
    fn a_pause_starts_over_and_a_signal_is_given_once_per_series() {
        let cfg = RegularityConfig::default();
        let mut c = Cadence::default();
        // Three quick ones, a long pause, then three more: never six in one series.
        let gaps = [1000, 1000, 20 * 60 * 1000, 1000, 1000];
        assert!(feed(&mut c, &cfg, &gaps, |i| i as u64).is_empty());
        let mut c = Cadence::default();
        let signals = feed(&mut c, &cfg, &[500; 11], |i| i as u64);
        assert_eq!(signals.len(), 2, "one signal per six actions: {signals:?}");
        // A clock set back further than a pause starts over instead of underflowing.
        let mut c = Cadence::default();
        for i in 0..5 {
            assert!(c.note(&cfg, act(T0 + i * 2000, 1)).is_none());
        }
        let back = T0 - cfg.reset_after_ms - 1;
        for i in 0..5 {
            assert!(c.note(&cfg, act(back + i * 2000, 1)).is_none(), "judged across the jump back");
        }
        assert!(c.note(&cfg, act(back + 10_000, 1)).is_some());
    }

    #[test]
    fn actions_noted_out_of_order_take_their_place() {
        // A 2 s timer whose actions are noted as they finish: the third waited for a
        // password hash and is noted after the fourth.
        let cfg = RegularityConfig::default();
        let mut c = Cadence::default();
        let mut signals = Vec::new();
        for t in [0, 2000, 6001, 3999, 8000, 10_002] {
            signals.extend(c.note(&cfg, act(T0 + t, t)).map(|j| j.signal));
        }
        assert!(matches!(signals.as_slice(), [Signal::Regular { mean_ms: 2000, .. }]), "{signals:?}");
        // A person's actions noted out of order stay a person's.
        let mut c = Cadence::default();
        for t in [0, 3100, 13_100, 10_500, 23_400, 28_200] {
            assert!(c.note(&cfg, act(T0 + t, t)).is_none());
        }
    }

    /// Measured, for the documentation: what a bot must do to stay unflagged at the
    /// defaults. Each row: 1000 bots, each making 40 actions; the share flagged at least
    /// once. Run with `--nocapture` to see the table.
    #[test]
    fn what_a_bot_must_do_to_stay_unflagged() {
        let cfg = RegularityConfig::default();
        let mut rand = Rand(0x2545_f491_4f6c_dd1d);
        let mut flagged = |gap: &mut dyn FnMut(&mut Rand, usize) -> u64, burst: bool| -> f64 {
            let mut hit = 0;
            for _ in 0..1000 {
                let mut c = Cadence::default();
                let gaps: Vec<u64> = (0..39).map(|i| gap(&mut rand, i)).collect();
                if !feed_as(&mut c, &cfg, &gaps, burst, |i| i as u64).is_empty() {
                    hit += 1;
                }
            }
            f64::from(hit) / 10.0
        };
        let mut rows = Vec::new();
        for jitter in [0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.35, 0.40, 0.50] {
            let fixed = flagged(&mut |r, _| r.around(2000.0, jitter), false);
            let alternating = flagged(&mut |r, i| r.around(if i % 2 == 0 { 1000.0 } else { 3000.0 }, jitter), false);
            println!(
                "uniform jitter ±{:>2.0} %: fixed period {fixed:>5.1} % flagged, alternating 1 s/3 s {alternating:>5.1} %",
                jitter * 100.0
            );
            rows.push((jitter, fixed, alternating));
        }
        // Gaps drawn at random (exponential, as independent people arrive), mean 2 s.
        let random = flagged(&mut |r, _| (-2000.0 * (1.0 - r.unit()).ln()).round() as u64, false);
        println!("random (exponential) gaps averaging 2 s: {random:>5.1} % flagged");
        for mean in [500.0, 1000.0, 2000.0, 5000.0, 10_000.0, 20_000.0] {
            // Password logins at random (exponential) gaps of this mean.
            let burst = flagged(&mut |r, _| (-mean * (1.0 - r.unit()).ln()).round() as u64, true);
            println!("password logins at random gaps averaging {mean:>5.0} ms: {burst:>5.1} % flagged");
            rows.push((mean, burst, 0.0));
        }
        let spaced = flagged(&mut |r, _| 1000 + (2000.0 * r.unit()) as u64, true);
        println!("password logins at gaps uniform in 1 s to 3 s: {spaced:>5.1} % flagged");
        // The numbers the documentation states.
        let at = |j: f64| rows.iter().find(|r| (r.0 - j).abs() < 1e-9).copied().expect("row");
        assert!(at(0.05).1 > 99.0 && at(0.05).2 > 99.0, "±5 % is caught: {rows:?}");
        assert!(at(0.10).1 > 99.0 && at(0.10).2 > 50.0, "±10 % is caught: {rows:?}");
        assert!(at(0.40).2 < 1.0, "alternating ±40 % passes: {rows:?}");
        assert!(random < 1.0, "random gaps pass: {random}");
        assert!(at(1000.0).1 > 99.0, "bursts at 1 s are caught: {rows:?}");
        assert!(at(20_000.0).1 < 3.0, "20 s apart mostly passes: {rows:?}");
        assert!(spaced < 10.0, "1 s to 3 s apart, no burst: {spaced}");
    }

    #[test]
    fn the_config_is_checked() {
        assert!(RegularityConfig::default().check().is_ok());
        assert!(RegularityConfig { samples: 2, ..Default::default() }.check().is_err());
        assert!(RegularityConfig { max_cv: 0.0, ..Default::default() }.check().is_err());
        assert!(RegularityConfig { max_cv: f64::NAN, ..Default::default() }.check().is_err());
        assert!(RegularityConfig { max_cv: 0.5, ..Default::default() }.check().is_err());
        assert!(RegularityConfig { burst: 2, ..Default::default() }.check().is_err());
        assert!(RegularityConfig { burst_ms: 5000, ..Default::default() }.check().is_err());
        assert_eq!(RegularityConfig::default().kept(), 11);
    }
}
