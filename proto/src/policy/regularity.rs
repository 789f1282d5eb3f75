//! Behaviour too perfect to be human, pure (the clock comes in as milliseconds): the
//! spread of the intervals between a source's (or an account's) login attempts, challenge
//! requests and registrations, and the sameness of what they send. People hesitate, retype
//! and pause; a script fires at a fixed period and sends the same bytes. Over the last
//! `samples` actions, intervals whose coefficient of variation (standard deviation over
//! mean) stays below `max_cv`, or requests that are all alike, are a signal.
//!
//! A signal is evidence, not proof: it raises the next challenge first, and weighs little
//! in the score, so it bans only together with other offences. Transfers and the real
//! client's pipelined requests are never fed in; sessions of automation tokens neither.

use std::collections::VecDeque;

/// `[regularity]` in the listener's config.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegularityConfig {
    /// Actions looked at, at most (and at least this many before anything is judged).
    pub samples: usize,
    /// Intervals this regular (coefficient of variation below this) are a script's.
    pub max_cv: f64,
    /// Actions further apart than this start a fresh series (a person who comes back later).
    pub reset_after_ms: u64,
}

impl Default for RegularityConfig {
    fn default() -> Self {
        RegularityConfig { samples: 6, max_cv: 0.05, reset_after_ms: 10 * 60 * 1000 }
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
        Ok(())
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
}

impl Signal {
    pub fn describe(&self) -> String {
        match self {
            Signal::Regular { cv, mean_ms } => {
                format!("intervals of {mean_ms} ms varying by {:.1} %, like a timer", cv * 100.0)
            }
            Signal::Repeated => "the same request over and over, like a script".into(),
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

/// The recent actions of one source or account: times and digests of what was sent,
/// bounded by `samples`.
#[derive(Debug, Clone, Default)]
pub struct Cadence {
    times: VecDeque<u64>,
    digests: VecDeque<u64>,
}

impl Cadence {
    /// Note an action at `now_ms` with a digest of what it sent; a signal when the series
    /// of the last `samples` actions is too regular. The series starts over after a
    /// signal (one signal per `samples` actions) and after a pause of `reset_after_ms`.
    /// Actions are timed when they arrive but may be noted in another order (one waited
    /// for a password hash, the next did not): an earlier time within `reset_after_ms` of
    /// the last takes its place in the series; only a bigger jump back (a clock set back)
    /// starts it over.
    pub fn note(&mut self, cfg: &RegularityConfig, now_ms: u64, digest: u64) -> Option<Signal> {
        let last = self.times.back().copied();
        if last.is_some_and(|t| {
            now_ms.saturating_sub(t) > cfg.reset_after_ms || t.saturating_sub(now_ms) > cfg.reset_after_ms
        }) {
            self.times.clear();
            self.digests.clear();
        }
        let at = self.times.partition_point(|&t| t <= now_ms);
        self.times.insert(at, now_ms);
        self.digests.insert(at, digest);
        while self.times.len() > cfg.samples {
            self.times.pop_front();
            self.digests.pop_front();
        }
        if self.times.len() < cfg.samples {
            return None;
        }
        let intervals: Vec<u64> =
            self.times.iter().zip(self.times.iter().skip(1)).map(|(a, b)| b.saturating_sub(*a)).collect();
        let cv = coefficient_of_variation(&intervals)?;
        let mean_ms = intervals.iter().sum::<u64>() / intervals.len() as u64;
        let same = self.digests.iter().all(|d| Some(d) == self.digests.front());
        let signal = if cv < cfg.max_cv {
            Some(Signal::Regular { cv, mean_ms })
        } else if same && cv < cfg.max_cv * 2.0 {
            Some(Signal::Repeated)
        } else {
            None
        };
        if signal.is_some() {
            self.times.clear();
            self.digests.clear();
        }
        signal
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

    fn feed(c: &mut Cadence, cfg: &RegularityConfig, gaps: &[u64], digest: impl Fn(usize) -> u64) -> Vec<Signal> {
        let mut t = T0;
        let mut out = Vec::new();
        for (i, g) in std::iter::once(&0).chain(gaps).enumerate() {
            t += g;
            out.extend(c.note(cfg, t, digest(i)));
        }
        out
    }

    #[test]
    fn the_spread_of_intervals() {
        assert_eq!(coefficient_of_variation(&[100]), None);
        assert_eq!(coefficient_of_variation(&[0, 0]), None);
        assert_eq!(coefficient_of_variation(&[500, 500, 500]), Some(0.0));
        let cv = coefficient_of_variation(&[1000, 3000]).expect("cv");
        assert!((cv - 0.5).abs() < 1e-9, "{cv}");
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
        assert!(feed(&mut person, &cfg, &[3100, 7400, 2600, 12_900, 4800], |i| i as u64).is_empty());
        // Five actions are not enough to judge.
        let mut few = Cadence::default();
        assert!(feed(&mut few, &cfg, &[2000, 2000, 2000, 2000], |_| 1).is_empty());
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
            assert!(c.note(&cfg, T0 + i * 2000, 1).is_none());
        }
        let back = T0 - cfg.reset_after_ms - 1;
        for i in 0..5 {
            assert!(c.note(&cfg, back + i * 2000, 1).is_none(), "judged across the jump back");
        }
        assert!(c.note(&cfg, back + 10_000, 1).is_some());
    }

    #[test]
    fn actions_noted_out_of_order_take_their_place() {
        // A 2 s timer whose actions are noted as they finish: the third waited for a
        // password hash and is noted after the fourth.
        let cfg = RegularityConfig::default();
        let mut c = Cadence::default();
        let mut signals = Vec::new();
        for t in [0, 2000, 6001, 3999, 8000, 10_002] {
            signals.extend(c.note(&cfg, T0 + t, t));
        }
        assert!(matches!(signals.as_slice(), [Signal::Regular { mean_ms: 2000, .. }]), "{signals:?}");
        // A person's actions noted out of order stay a person's.
        let mut c = Cadence::default();
        for t in [0, 3100, 13_100, 10_500, 23_400, 28_200] {
            assert!(c.note(&cfg, T0 + t, t).is_none());
        }
    }

    #[test]
    fn the_config_is_checked() {
        assert!(RegularityConfig::default().check().is_ok());
        assert!(RegularityConfig { samples: 2, ..Default::default() }.check().is_err());
        assert!(RegularityConfig { max_cv: 0.0, ..Default::default() }.check().is_err());
        assert!(RegularityConfig { max_cv: f64::NAN, ..Default::default() }.check().is_err());
        assert!(RegularityConfig { max_cv: 0.5, ..Default::default() }.check().is_err());
    }
}
