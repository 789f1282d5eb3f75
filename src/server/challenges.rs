//! The listener's challenges: it issues signed tickets (a proof of work, with a captcha at
//! the step-up), checks solved ones, and remembers failed logins so that, past
//! `challenges.challenge_after` of them, a login must carry a solved challenge. The
//! decisions are `policy::challenges`; the mechanisms `challenge`; this is the state
//! between them, each piece bounded; and the per-account lockout against unknown places
//! (`policy::lockout`).
//!
//! The ticket key is drawn at start and kept in memory only: a restart voids the challenges
//! out at that moment, which live two minutes by default. Tickets are numbered, limited per
//! source and spent in `tickets`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use super::tickets::{IssueError, Tickets};
use crate::challenge::captcha::{self, Cells, Rng};
use crate::challenge::{pow, ChallengeKind, Issue, Ticket, TicketError, TicketId, TicketKey};
use crate::policy::challenges::{bits_for, source_key, ChallengeConfig, Effort, Place, StepUp};
use crate::policy::lockout::{Lockout, Name};
use crate::policy::prefix_of;
use crate::wire::{Picture, Solution};

/// Sources and accounts tracked for the step-up, scores and fast answers, at most each (past
/// it, new ones are not tracked until upkeep frees room; the step-up's own map drops its
/// stalest entry instead).
pub const MAX_TRACKED: usize = 65_536;

/// An issued challenge: the ticket, the picture, and the captcha's text (for the test
/// hook only).
pub(crate) type Issued = Result<(Ticket, Option<Picture>, Option<String>), IssueError>;

/// A checked solution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Solved {
    pub kind: ChallengeKind,
    pub bits: u8,
    /// Milliseconds from issue to answer, on the listener's clock.
    pub took_ms: u64,
}

pub(crate) struct Challenges {
    cfg: ChallengeConfig,
    key: TicketKey,
    tickets: Tickets,
    effort: Mutex<Effort>,
    step_up: Mutex<StepUp>,
    /// Password failures per account from places it does not know (bounded, see
    /// `policy::lockout`).
    lockout: Mutex<Lockout>,
    /// Answers faster than a person, by source network, with the last one's time (bounded
    /// like the step-up maps).
    too_fast: Mutex<HashMap<ipnet::IpNet, (u32, u64)>>,
    /// Suspicion scores (points) of sources and accounts as the activity log last scored
    /// them, with when (bounded like the step-up maps).
    scores: Mutex<Scores>,
    /// Behaviour too regular to be human, by address (IPv4, IPv6 /64) and by network (/24,
    /// /48) when it shares its addresses' signals: (signals, the last one's time), bounded
    /// like the step-up maps.
    regular: Mutex<HashMap<ipnet::IpNet, (u32, u64)>>,
}

#[derive(Debug, Default)]
struct Scores {
    sources: HashMap<ipnet::IpNet, (f64, u64)>,
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

/// The system's random source failed (never seen; without it no ticket can be trusted).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the system's random number generator failed")]
pub struct NoRandomness;

pub(crate) fn random<const N: usize>() -> Result<[u8; N], NoRandomness> {
    let mut b = [0u8; N];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).map_err(|_| NoRandomness)?;
    Ok(b)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Challenges {
    pub fn new(cfg: ChallengeConfig, now_ms: u64) -> Result<Challenges, NoRandomness> {
        let effort = Effort::new(&cfg.effort(), now_ms);
        Ok(Challenges {
            key: TicketKey::new(&random::<32>()?),
            tickets: Tickets::new(&cfg, MAX_TRACKED),
            effort: Mutex::new(effort),
            step_up: Mutex::new(StepUp::new(MAX_TRACKED)),
            lockout: Mutex::new(Lockout::new(MAX_TRACKED)),
            too_fast: Mutex::new(HashMap::new()),
            scores: Mutex::new(Scores::default()),
            regular: Mutex::new(HashMap::new()),
            cfg,
        })
    }

    pub fn config(&self) -> &ChallengeConfig {
        &self.cfg
    }

    /// Whether a request from `source` (None when the source is exempt) for `account`, not
    /// known to come from one of its known places, must carry a solved challenge now.
    pub fn needed(&self, source: Option<IpAddr>, account: &str, now_ms: u64) -> bool {
        self.needed_at(source, account, Place::Elsewhere, now_ms)
    }

    /// Whether a login from `source` (None when exempt), a `place` of `account`, must carry
    /// a solved challenge now.
    pub fn needed_at(&self, source: Option<IpAddr>, account: &str, place: Place, now_ms: u64) -> bool {
        lock(&self.step_up).needed(&self.cfg, source, account, place, now_ms)
    }

    /// A failure (a wrong password, code or answer) not known to come from one of the
    /// account's known places.
    pub fn failed(&self, source: Option<IpAddr>, account: &str, now_ms: u64) {
        self.failed_at(source, account, Place::Elsewhere, now_ms);
    }

    pub fn failed_at(&self, source: Option<IpAddr>, account: &str, place: Place, now_ms: u64) {
        lock(&self.step_up).failed(&self.cfg, source, account, place, now_ms);
    }

    pub fn cleared(&self, source: IpAddr, account: &str, place: Place) {
        lock(&self.step_up).cleared(source, account, place);
    }

    /// Whether a password login for `name` from `source`, not a known place of it, is
    /// refused now whatever the password (`policy::lockout`).
    pub fn locked(&self, name: Name<'_>, source: IpAddr, now_ms: u64) -> bool {
        lock(&self.lockout).locked(name, source, now_ms)
    }

    /// A wrong password for `name` from `source`, not a known place of it. True when it
    /// locked the name.
    pub fn lockout_failed(&self, name: Name<'_>, source: IpAddr, now_ms: u64) -> bool {
        lock(&self.lockout).failed(&self.cfg.lockout(), name, source, now_ms)
    }

    /// A challenge for a login as `account` from `source`: a captcha with work when the
    /// step-up applies (work alone, at the cap, with `captcha = false`), work otherwise;
    /// the picture is the one a client drawing `cells` can draw.
    /// Returns the ticket, the picture, and the captcha's text (for the test hook only).
    pub fn issue(&self, source: IpAddr, exempt: bool, account: &str, cells: Cells, now_ms: u64) -> Issued {
        self.issue_for(source, exempt, account, (false, cells), now_ms)
    }

    /// [`Challenges::issue`]; with `captcha`, always a captcha (a registration), whatever
    /// the step-up says. Refused past the source's share of tickets, whoever it is for.
    pub fn issue_for(
        &self,
        source: IpAddr,
        exempt: bool,
        account: &str,
        (captcha, cells): (bool, Cells),
        now_ms: u64,
    ) -> Issued {
        let ttl_ms = self.cfg.ttl_secs.saturating_mul(1000);
        let id = self.tickets.number(source, exempt, now_ms, now_ms.saturating_add(ttl_ms))?;
        let no_random = |_| IssueError::NoRandomness;
        let scored = (!exempt).then_some(source);
        // A login from a known place is not stepped up by failures elsewhere; the ticket is
        // a captcha if either kind of place needs one (the check takes more than needed).
        let step_up = captcha
            || self.needed_at(scored, account, Place::Elsewhere, now_ms)
            || self.needed_at(scored, account, Place::Known, now_ms);
        let suggested = lock(&self.effort).suggested(&self.cfg.effort(), now_ms);
        let excess = lock(&self.step_up).excess(&self.cfg, scored, account, now_ms);
        let fast = lock(&self.too_fast).get(&prefix_of(source)).map_or(0, |e| e.0);
        let fast = fast.saturating_add(self.regularity(source));
        let window = self.cfg.window_secs.saturating_mul(1000);
        let scored_points = {
            let sc = lock(&self.scores);
            let fresh =
                |e: Option<&(f64, u64)>| e.filter(|(_, at)| now_ms.saturating_sub(*at) < window).map_or(0.0, |e| e.0);
            let from_source = scored.map_or(0.0, |ip| fresh(sc.sources.get(&source_key(ip))));
            from_source.max(fresh(sc.accounts.get(account)))
        };
        let mut bits = bits_for(&self.cfg.effort(), suggested, f64::from(excess) + scored_points, fast);
        // A registration always gets a captcha, even where logins get work alone.
        let text = if captcha || (step_up && self.cfg.captcha) {
            // The text from the system's generator; the distortion from a seed of its own.
            Some(captcha::random_text(&mut Rng::new(u64::from_le_bytes(random::<8>().map_err(no_random)?))))
        } else {
            if step_up {
                bits = self.cfg.max_bits;
            }
            None
        };
        let kind = if text.is_some() { ChallengeKind::Captcha } else { ChallengeKind::Work };
        let ticket = self.key.issue(&Issue {
            account,
            kind,
            bits,
            prefix: prefix_of(source),
            now_ms,
            ttl_ms,
            nonce: id.nonce(random::<8>().map_err(no_random)?),
            answer: text.as_deref(),
        });
        let picture = match &text {
            Some(t) => {
                let bm = captcha::draw(t, cells, &mut Rng::new(u64::from_le_bytes(random::<8>().map_err(no_random)?)));
                Some(Picture { width: bm.width(), height: bm.height(), bits: bm.bits().to_vec() })
            }
            None => None,
        };
        Ok((ticket, picture, text))
    }

    /// Check a solution from `source` for a login as `account`: the ticket's signature
    /// (which covers the account, and its number), network and time; that it is the kind the
    /// step-up asks for when `stepped_up` (a captcha, or the capped work with `captcha =
    /// false`); the work (one hash); that it is unspent; then for a captcha, its time (under
    /// the floor a person needs it is refused unread, [`TicketError::TooFast`]) and its text,
    /// one look-alike character forgiven ([`crate::challenge::captcha::tolerance`]).
    /// A captcha refused spends the ticket (no second guess on one picture); a right one is
    /// spent by [`Challenges::spend`] once the login is served, so a busy listener does not
    /// throw a person's solved captcha away.
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
        if stepped_up && !self.enough_for_step_up(t.kind, t.bits) {
            return Err(TicketError::NotEnough);
        }
        if !pow::verify(&t.nonce, t.bits, s.counter) {
            return Err(TicketError::WrongWork);
        }
        let id = TicketId::of(&t.nonce);
        self.tickets.unspent(id)?;
        if t.kind == ChallengeKind::Captcha {
            let answer = s.answer.as_deref().unwrap_or_default();
            let typed = crate::challenge::normalise_answer(answer).chars().count();
            // Timed before the text is compared: the refusal says nothing of whether it was right.
            if self.cfg.timing().too_fast(t.issued_ms, now_ms, typed) {
                self.tickets.spend(id, now_ms)?;
                return Err(TicketError::TooFast);
            }
            if !self.key.answer_accepted(t, answer) {
                self.tickets.spend(id, now_ms)?;
                return Err(TicketError::WrongAnswer);
            }
        }
        Ok(Solved { kind: t.kind, bits: t.bits, took_ms: now_ms.saturating_sub(t.issued_ms) })
    }

    /// A captcha from `source` was refused as faster than a person: its address's next
    /// challenges ask more work (its network's only when it shares its addresses' signals,
    /// as for timing), and the answer is whether `source` did so before within the step-up
    /// window (only a repeat is scored).
    pub fn too_fast(&self, source: IpAddr, now_ms: u64) -> bool {
        self.suspicious(crate::policy::neighbours::address_of(source), now_ms);
        self.tickets.too_fast_again(source, now_ms, self.cfg.window_secs.saturating_mul(1000))
    }

    /// Whether a solution of `kind` and `bits` satisfies the step-up: a captcha, or with
    /// `captcha = false` the capped work.
    pub fn enough_for_step_up(&self, kind: ChallengeKind, bits: u8) -> bool {
        match (self.cfg.captcha, kind) {
            (true, ChallengeKind::Captcha) => true,
            (true, ChallengeKind::Work) => false,
            (false, _) => bits >= self.cfg.max_bits,
        }
    }

    /// Spend a checked solution as its login is served.
    pub fn spend(&self, s: &Solution, now_ms: u64) -> Result<(), TicketError> {
        self.tickets.spend(TicketId::of(&s.ticket.nonce), now_ms)?;
        lock(&self.effort).solved(&self.cfg.effort(), s.ticket.bits, now_ms);
        Ok(())
    }

    /// Behaviour too regular to be human came from `whose` (an address, or a network that
    /// shares its addresses' signals): its next challenges are harder, as after an answer
    /// faster than a person.
    pub fn suspicious(&self, whose: ipnet::IpNet, now_ms: u64) {
        let mut m = lock(&self.regular);
        if m.len() < MAX_TRACKED || m.contains_key(&whose) {
            let e = m.entry(whose).or_insert((0, now_ms));
            *e = (e.0.saturating_add(1), e.1.max(now_ms));
        }
    }

    /// Signals too regular to be human against `source`: its address's, and its
    /// network's when that shares them (`policy::neighbours`).
    fn regularity(&self, source: IpAddr) -> u32 {
        use crate::policy::neighbours::{address_of, network_of};
        let m = lock(&self.regular);
        let of = |net| m.get(&net).map_or(0, |e| e.0);
        of(address_of(source)).saturating_add(of(network_of(source)))
    }

    /// The activity log scored an offence: remember the source's and the account's score,
    /// for the effort of their next challenge.
    pub fn scored(&self, source: IpAddr, source_points: f64, account: Option<(&str, f64)>, now_ms: u64) {
        let mut sc = lock(&self.scores);
        note(&mut sc.sources, source_key(source), source_points, now_ms);
        if let Some((name, points)) = account {
            note(&mut sc.accounts, name.to_owned(), points, now_ms);
        }
    }

    /// Upkeep: forget what is past its window.
    pub fn prune(&self, now_ms: u64) {
        let window = self.cfg.window_secs.saturating_mul(1000);
        self.tickets.prune(now_ms, window);
        lock(&self.step_up).prune(&self.cfg, now_ms);
        lock(&self.lockout).prune(now_ms);
        // Fast answers count against a network for one step-up window.
        lock(&self.too_fast).retain(|_, (_, last)| now_ms.saturating_sub(*last) < window);
        lock(&self.regular).retain(|_, (_, last)| now_ms.saturating_sub(*last) < window);
        let mut sc = lock(&self.scores);
        sc.sources.retain(|_, (_, at)| now_ms.saturating_sub(*at) < window);
        sc.accounts.retain(|_, (_, at)| now_ms.saturating_sub(*at) < window);
    }
}
