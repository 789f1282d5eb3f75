//! The listener's challenges: it issues signed tickets (a proof of work, with a captcha at
//! the step-up), checks solved ones, and remembers failed logins so that, past
//! `challenges.challenge_after` of them, a login must carry a solved challenge. The
//! decisions are `policy::challenges`; the mechanisms `challenge`; this is the state
//! between them, each piece bounded.
//!
//! The ticket key is drawn at start and kept in memory only: a restart voids the challenges
//! out at that moment, which live two minutes by default.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use crate::challenge::captcha::{self, Rng};
use crate::challenge::{pow, ChallengeKind, Issue, Spent, Ticket, TicketError, TicketKey};
use crate::policy::challenges::{bits_for, ChallengeConfig, Effort, StepUp};
use crate::policy::prefix_of;
use crate::wire::{Picture, Solution};

/// Unexpired spent tickets remembered, at most (each cost a solved proof of work).
pub const MAX_SPENT: usize = 65_536;
/// Sources and accounts tracked for the step-up, at most each.
pub const MAX_TRACKED: usize = 65_536;

/// A checked solution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Solved {
    pub kind: ChallengeKind,
    pub bits: u8,
    /// Milliseconds from issue to answer, on the listener's clock.
    pub took_ms: u64,
    /// Faster than a person reads and types the answer.
    pub too_fast: bool,
}

pub(crate) struct Challenges {
    cfg: ChallengeConfig,
    key: TicketKey,
    spent: Mutex<Spent>,
    effort: Mutex<Effort>,
    step_up: Mutex<StepUp>,
    /// Answers faster than a person, by source network, with the last one's time (bounded
    /// like the step-up maps).
    too_fast: Mutex<HashMap<ipnet::IpNet, (u32, u64)>>,
    /// Suspicion scores (points) of sources and accounts as the activity log last scored
    /// them, with when (bounded like the step-up maps).
    scores: Mutex<Scores>,
}

#[derive(Debug, Default)]
struct Scores {
    sources: HashMap<IpAddr, (f64, u64)>,
    accounts: HashMap<String, (f64, u64)>,
}

fn note<K: std::hash::Hash + Eq>(map: &mut HashMap<K, (f64, u64)>, key: K, points: f64, now_ms: u64) {
    if map.len() < MAX_TRACKED || map.contains_key(&key) {
        map.insert(key, (points, now_ms));
    }
}

impl std::fmt::Debug for Challenges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Challenges").field("cfg", &self.cfg).finish_non_exhaustive()
    }
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // The system's generator does not fail on the systems we run on; if it ever did, the
    // nonce would still be unique per process (spent nonces are refused) but guessable.
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    b
}

impl Challenges {
    pub fn new(cfg: ChallengeConfig, now_ms: u64) -> Challenges {
        let effort = Effort::new(&cfg.effort(), now_ms);
        Challenges {
            key: TicketKey::new(&random::<32>()),
            spent: Mutex::new(Spent::new(MAX_SPENT)),
            effort: Mutex::new(effort),
            step_up: Mutex::new(StepUp::new(MAX_TRACKED)),
            too_fast: Mutex::new(HashMap::new()),
            scores: Mutex::new(Scores::default()),
            cfg,
        }
    }

    pub fn config(&self) -> &ChallengeConfig {
        &self.cfg
    }

    /// Whether a login from `source` (None when the source is exempt) for `account` must
    /// carry a solved challenge now.
    pub fn needed(&self, source: Option<IpAddr>, account: &str, now_ms: u64) -> bool {
        self.step_up.lock().is_ok_and(|s| s.needed(&self.cfg, source, account, now_ms))
    }

    pub fn failed(&self, source: Option<IpAddr>, account: &str, now_ms: u64) {
        if let Ok(mut s) = self.step_up.lock() {
            s.failed(&self.cfg, source, account, now_ms);
        }
    }

    pub fn cleared(&self, source: IpAddr, account: &str) {
        if let Ok(mut s) = self.step_up.lock() {
            s.cleared(source, account);
        }
    }

    /// A challenge for a login as `account` from `source`: a captcha with work when the
    /// step-up applies (work alone, at the cap, with `captcha = false`), work otherwise.
    /// Returns the ticket, the picture, and the captcha's text (for the test hook only).
    pub fn issue(
        &self,
        source: IpAddr,
        exempt: bool,
        account: &str,
        now_ms: u64,
    ) -> (Ticket, Option<Picture>, Option<String>) {
        let scored = (!exempt).then_some(source);
        let step_up = self.needed(scored, account, now_ms);
        let suggested = self.effort.lock().map_or(self.cfg.min_bits, |mut e| e.suggested(&self.cfg.effort(), now_ms));
        let excess = self.step_up.lock().map_or(0, |s| s.excess(&self.cfg, scored, account, now_ms));
        let fast = self.too_fast.lock().map_or(0, |m| m.get(&prefix_of(source)).map_or(0, |e| e.0));
        let scored_points = self.scores.lock().map_or(0.0, |sc| {
            let window = self.cfg.window_secs.saturating_mul(1000);
            let fresh =
                |e: Option<&(f64, u64)>| e.filter(|(_, at)| now_ms.saturating_sub(*at) < window).map_or(0.0, |e| e.0);
            let source = scored.map_or(0.0, |ip| fresh(sc.sources.get(&ip)));
            source.max(fresh(sc.accounts.get(account)))
        });
        let mut bits = bits_for(&self.cfg.effort(), suggested, f64::from(excess) + scored_points, fast);
        let (kind, text) = if step_up && self.cfg.captcha {
            let mut rng = Rng::new(u64::from_le_bytes(random::<8>()));
            (ChallengeKind::Captcha, Some(captcha::random_text(&mut rng)).map(|t| (t, rng)))
        } else {
            if step_up {
                bits = self.cfg.max_bits;
            }
            (ChallengeKind::Work, None)
        };
        let ticket = self.key.issue(&Issue {
            account,
            kind,
            bits,
            prefix: prefix_of(source),
            now_ms,
            ttl_ms: self.cfg.ttl_secs.saturating_mul(1000),
            nonce: random::<16>(),
            answer: text.as_ref().map(|(t, _)| t.as_str()),
        });
        match text {
            Some((t, mut rng)) => {
                let bm = captcha::draw(&t, &mut rng);
                let picture = Picture { width: bm.width(), height: bm.height(), bits: bm.bits().to_vec() };
                (ticket, Some(picture), Some(t))
            }
            None => (ticket, None, None),
        }
    }

    /// Check a solution from `source` for a login as `account`: the ticket's signature
    /// (which covers the account), network and time, that it is the kind the step-up asks
    /// for when `stepped_up` (a captcha, or the capped work with `captcha = false`), the work
    /// (one hash), the captcha's text; then spend it. A ticket that fails is not spent,
    /// except by a wrong captcha answer (no second guess on one picture).
    pub fn check(
        &self,
        s: &Solution,
        account: &str,
        source: IpAddr,
        stepped_up: bool,
        now_ms: u64,
    ) -> Result<Solved, TicketError> {
        let t = &s.ticket;
        self.key.check(t, account, source, now_ms)?;
        let enough = match (self.cfg.captcha, t.kind) {
            (true, ChallengeKind::Captcha) => true,
            (true, ChallengeKind::Work) => false,
            (false, _) => t.bits >= self.cfg.max_bits,
        };
        if stepped_up && !enough {
            return Err(TicketError::NotEnough);
        }
        if !pow::verify(&t.nonce, t.bits, s.counter) {
            return Err(TicketError::WrongWork);
        }
        let typed = match t.kind {
            ChallengeKind::Captcha => {
                let answer = s.answer.as_deref().unwrap_or_default();
                if !self.key.answer_matches(t, answer) {
                    // A wrong answer spends the ticket too: no second guess on one picture.
                    let _ = self.spent.lock().map(|mut sp| sp.spend(t, now_ms));
                    return Err(TicketError::WrongAnswer);
                }
                crate::challenge::normalise_answer(answer).chars().count()
            }
            ChallengeKind::Work => 0,
        };
        self.spent.lock().map_err(|_| TicketError::Busy)?.spend(t, now_ms)?;
        if let Ok(mut e) = self.effort.lock() {
            e.solved(&self.cfg.effort(), t.bits, now_ms);
        }
        let took_ms = now_ms.saturating_sub(t.issued_ms);
        // Only a typed answer is timed: work alone is solved by the program.
        let too_fast = t.kind == ChallengeKind::Captcha && self.cfg.timing().too_fast(t.issued_ms, now_ms, typed);
        if too_fast {
            if let Ok(mut m) = self.too_fast.lock() {
                if m.len() < MAX_TRACKED || m.contains_key(&t.prefix) {
                    let e = m.entry(t.prefix).or_insert((0, now_ms));
                    *e = (e.0.saturating_add(1), now_ms);
                }
            }
        }
        Ok(Solved { kind: t.kind, bits: t.bits, took_ms, too_fast })
    }

    /// The activity log scored an offence: remember the source's and the account's score,
    /// for the effort of their next challenge.
    pub fn scored(&self, source: IpAddr, source_points: f64, account: Option<(&str, f64)>, now_ms: u64) {
        if let Ok(mut sc) = self.scores.lock() {
            note(&mut sc.sources, source, source_points, now_ms);
            if let Some((name, points)) = account {
                note(&mut sc.accounts, name.to_owned(), points, now_ms);
            }
        }
    }

    /// Upkeep: forget what is past its window.
    pub fn prune(&self, now_ms: u64) {
        if let Ok(mut s) = self.spent.lock() {
            s.prune(now_ms);
        }
        if let Ok(mut s) = self.step_up.lock() {
            s.prune(&self.cfg, now_ms);
        }
        let window = self.cfg.window_secs.saturating_mul(1000);
        if let Ok(mut m) = self.too_fast.lock() {
            // Fast answers count against a network for one step-up window.
            m.retain(|_, (_, last)| now_ms.saturating_sub(*last) < window);
        }
        if let Ok(mut sc) = self.scores.lock() {
            sc.sources.retain(|_, (_, at)| now_ms.saturating_sub(*at) < window);
            sc.accounts.retain(|_, (_, at)| now_ms.saturating_sub(*at) < window);
        }
    }
}
