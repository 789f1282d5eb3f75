//! When a connection must answer a challenge, and how hard it is: the suggested proof-of-work
//! effort under load ([`Effort`]), the effort for one source or account ([`bits_for`]), and
//! answers faster than a person ([`HumanTiming`]). Pure: the clock comes in as ms.
//!
//! # Why the suggested effort cannot be pumped
//! Tor's first control loop (proposal 327) raised the suggested effort from the efforts of
//! the requests it served, so attackers who sent high-effort solutions pushed it up for
//! everyone, turning the defence into a denial of service (proposal 362). Here the effort
//! depends only on how many requests carrying a valid solution *at the current effort*
//! arrived per interval against the capacity the operator set: an attacker raises it only
//! by paying the current price for each request, extra effort buys nothing, and invalid or
//! unsolved requests (one hash each to refuse) do not count. It moves one bit per interval
//! (doubling or halving the work), between `min_bits` and the documented cap `max_bits`.

use super::lockout::{LockoutConfig, MAX_LOCKOUT_SECS};

/// The knobs (`[challenges]` in the config).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EffortConfig {
    /// The effort asked of anyone when nothing is wrong, in leading zero bits. Measured on
    /// the 2-core development machine (`bench --pow`, one core, ~100 ns a hash): 16 bits
    /// take 6 ms on average, 20 bits 0.15 s, 24 bits (the default cap) 1.8 s.
    pub min_bits: u8,
    /// The cap: no one is ever asked for more.
    pub max_bits: u8,
    /// How often the suggested effort is reconsidered.
    pub interval_ms: u64,
    /// Challenged requests per interval the listener serves comfortably; above it the
    /// effort rises, below half of it the effort falls.
    pub capacity: u32,
    /// Extra bits per point of the source's or account's suspicion score.
    pub bits_per_point: u8,
}

impl Default for EffortConfig {
    fn default() -> Self {
        EffortConfig { min_bits: 16, max_bits: 24, interval_ms: 10_000, capacity: 100, bits_per_point: 1 }
    }
}

/// The suggested effort, a control loop driven by valid challenged requests only.
#[derive(Debug, Clone)]
pub struct Effort {
    bits: u8,
    interval_start: u64,
    valid: u32,
}

impl Effort {
    pub fn new(cfg: &EffortConfig, now_ms: u64) -> Effort {
        Effort { bits: cfg.min_bits.min(cfg.max_bits), interval_start: now_ms, valid: 0 }
    }

    /// The effort to ask of a new challenge now.
    pub fn suggested(&mut self, cfg: &EffortConfig, now_ms: u64) -> u8 {
        self.roll(cfg, now_ms);
        self.bits
    }

    /// A request arrived with a valid solution of `bits`; only those at or above the
    /// current effort count as load (lower ones were issued before a rise and are served,
    /// but are not evidence of load at this price).
    pub fn solved(&mut self, cfg: &EffortConfig, bits: u8, now_ms: u64) {
        self.roll(cfg, now_ms);
        if bits >= self.bits {
            self.valid = self.valid.saturating_add(1);
        }
    }

    fn roll(&mut self, cfg: &EffortConfig, now_ms: u64) {
        let interval = cfg.interval_ms.max(1);
        while now_ms.saturating_sub(self.interval_start) >= interval {
            if self.valid > cfg.capacity {
                self.bits = self.bits.saturating_add(1).min(cfg.max_bits);
            } else if self.valid < cfg.capacity / 2 {
                self.bits = self.bits.saturating_sub(1).max(cfg.min_bits.min(cfg.max_bits));
            }
            self.valid = 0;
            self.interval_start += interval;
            // A long quiet spell: drop straight to the floor instead of looping per interval.
            if now_ms.saturating_sub(self.interval_start) >= interval * 64 {
                self.bits = cfg.min_bits.min(cfg.max_bits);
                self.interval_start = now_ms;
            }
        }
    }
}

/// The effort for one challenge: the suggested effort, raised by the source's and the
/// account's suspicion scores (points) and by answers faster than a person, capped.
pub fn bits_for(cfg: &EffortConfig, suggested: u8, score_points: f64, too_fast: u32) -> u8 {
    let from_score = (score_points.clamp(0.0, 64.0) as u32).saturating_mul(u32::from(cfg.bits_per_point));
    let extra = from_score.saturating_add(too_fast.saturating_mul(2)).min(64);
    (u32::from(suggested) + extra).min(u32::from(cfg.max_bits)) as u8
}

/// How fast a person can read a challenge and type the answer (`[challenges]`
/// `min_human_ms`, `per_char_ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanTiming {
    /// Reading the challenge and starting to answer.
    pub min_human_ms: u64,
    /// Typing one character of the answer.
    pub per_char_ms: u64,
}

impl Default for HumanTiming {
    /// From the keystroke-level model (Card, Moran and Newell, CACM 1980): a mental
    /// preparation takes 1.35 s on average and a key press 0.08 s for the best typists
    /// (135 words a minute, prose; random letters take 0.5 s for an average typist). The
    /// floor is below the fastest person: 1 s to see and read the picture, 80 ms a character,
    /// so a five-character captcha answered in under 1.4 s was not typed by a person (the
    /// bots measured in issue 21 answered in 14-198 ms). The real client never sends an
    /// answer sooner than this floor after the picture came.
    fn default() -> Self {
        HumanTiming { min_human_ms: 1_000, per_char_ms: 80 }
    }
}

impl HumanTiming {
    /// The shortest time a person takes to answer with `chars` characters.
    pub fn floor_ms(&self, chars: usize) -> u64 {
        self.min_human_ms.saturating_add(self.per_char_ms.saturating_mul(chars as u64))
    }

    /// Whether an answer of `chars` characters, arriving at `answered_ms` for a challenge
    /// issued at `issued_ms` (both on the listener's clock), came faster than a person: it
    /// is refused unread (the ticket spent), and only a repeat is scored.
    pub fn too_fast(&self, issued_ms: u64, answered_ms: u64, chars: usize) -> bool {
        answered_ms.saturating_sub(issued_ms) < self.floor_ms(chars)
    }
}

/// The most work a listener may ask for, and a client does: 2^28 hashes, about half a
/// minute of one core.
pub const MAX_LISTENER_BITS: u8 = 28;

/// `[challenges]` in the listener's config.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChallengeConfig {
    /// Failed logins (per source address, or per account) after which a login must carry a
    /// solved challenge.
    pub challenge_after: u32,
    /// Failures further apart than this are not counted together.
    pub window_secs: u64,
    /// How long a challenge stays good (a person may take minutes to read it).
    pub ttl_secs: u64,
    /// Show a captcha at the step-up; `false` asks for a proof of work at `max_bits`
    /// instead, for users who cannot read one (see docs/challenges.md).
    pub captcha: bool,
    pub min_bits: u8,
    pub max_bits: u8,
    pub interval_secs: u64,
    pub capacity: u32,
    pub bits_per_point: u8,
    pub min_human_ms: u64,
    pub per_char_ms: u64,
    /// Challenges one source (an address, an IPv6 /64) may be issued a minute, in bursts of
    /// as many (`challenge::IssueLimit`).
    pub tickets_per_minute_per_source: u32,
    /// A fuse on the spent set's memory, far above what a listener can hand out: past this
    /// many tickets a second (counted per epoch of `ttl_secs / 4`), new ones are refused as
    /// busy (never scored) until the next epoch.
    pub max_tickets_per_sec: u32,
    /// Password failures for one account from places it does not know, within an hour,
    /// that lock it for those places (`policy::lockout`).
    pub lockout_after: u32,
    /// The first lockout, in seconds; doubled per repeat up to a day.
    pub lockout_secs: u64,
}

impl Default for ChallengeConfig {
    fn default() -> Self {
        let e = EffortConfig::default();
        let h = HumanTiming::default();
        let l = LockoutConfig::default();
        ChallengeConfig {
            challenge_after: 3,
            window_secs: 600,
            ttl_secs: 120,
            captcha: true,
            min_bits: e.min_bits,
            max_bits: e.max_bits,
            interval_secs: e.interval_ms / 1000,
            capacity: e.capacity,
            bits_per_point: e.bits_per_point,
            min_human_ms: h.min_human_ms,
            per_char_ms: h.per_char_ms,
            tickets_per_minute_per_source: 60,
            max_tickets_per_sec: 1_000_000,
            lockout_after: l.after,
            lockout_secs: l.secs,
        }
    }
}

impl ChallengeConfig {
    pub fn effort(&self) -> EffortConfig {
        EffortConfig {
            min_bits: self.min_bits,
            max_bits: self.max_bits,
            interval_ms: self.interval_secs.saturating_mul(1000),
            capacity: self.capacity,
            bits_per_point: self.bits_per_point,
        }
    }

    pub fn timing(&self) -> HumanTiming {
        HumanTiming { min_human_ms: self.min_human_ms, per_char_ms: self.per_char_ms }
    }

    pub fn lockout(&self) -> LockoutConfig {
        LockoutConfig { after: self.lockout_after, secs: self.lockout_secs }
    }

    /// Values that would switch the defence off or ask the impossible.
    pub fn check(&self) -> Result<(), &'static str> {
        if self.challenge_after == 0 || self.window_secs == 0 || self.ttl_secs == 0 || self.interval_secs == 0 {
            return Err("challenges: challenge_after, window_secs, ttl_secs and interval_secs must be greater than 0");
        }
        if self.min_bits == 0 || self.min_bits > self.max_bits {
            return Err("challenges: min_bits must be at least 1 and at most max_bits");
        }
        if self.max_bits > MAX_LISTENER_BITS {
            return Err("challenges: max_bits is at most 28 (clients do no more work than that)");
        }
        if self.tickets_per_minute_per_source == 0 || self.max_tickets_per_sec == 0 {
            return Err("challenges: tickets_per_minute_per_source and max_tickets_per_sec must be greater than 0");
        }
        if self.lockout_after == 0 || self.lockout_secs == 0 || self.lockout_secs > MAX_LOCKOUT_SECS {
            return Err("challenges: lockout_after must be greater than 0, lockout_secs from 1 to 86400");
        }
        Ok(())
    }
}

/// What the step-up counts one source as: an IPv4 address, or an IPv6 /64 (one host's
/// share: rotating through it is free).
pub fn source_key(ip: std::net::IpAddr) -> ipnet::IpNet {
    match ip {
        std::net::IpAddr::V4(a) => ipnet::IpNet::from(std::net::IpAddr::V4(a)),
        std::net::IpAddr::V6(a) => {
            ipnet::Ipv6Net::new(a, 64).map(|n| ipnet::IpNet::V6(n.trunc())).unwrap_or(ipnet::IpNet::from(ip))
        }
    }
}

/// Where a login came from, as its account sees it. Failures at the account's known
/// places and elsewhere are counted apart, so someone else's failures never step up the
/// owner's logins at home (her own address has its own count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Known,
    Elsewhere,
}

/// Failed logins by source (address, or IPv6 /64) and by account (apart for its known
/// places and elsewhere), for the step-up: after `challenge_after` failures within
/// `window_secs` of each other, a login from that source, or for that account from that
/// kind of place, must carry a solved challenge. Bounded: at most `cap` entries per map
/// (see `bump` for what makes room).
#[derive(Debug)]
pub struct StepUp {
    cap: usize,
    by_source: std::collections::HashMap<ipnet::IpNet, (u32, u64)>,
    by_account: std::collections::HashMap<String, (u32, u64)>,
    by_account_at_home: std::collections::HashMap<String, (u32, u64)>,
}

impl StepUp {
    pub fn new(cap: usize) -> StepUp {
        StepUp {
            cap,
            by_source: Default::default(),
            by_account: Default::default(),
            by_account_at_home: Default::default(),
        }
    }

    fn accounts(&self, place: Place) -> &std::collections::HashMap<String, (u32, u64)> {
        match place {
            Place::Known => &self.by_account_at_home,
            Place::Elsewhere => &self.by_account,
        }
    }

    /// Count one failure for `key`. When the map is full, expired entries go first, then
    /// the stalest one still under the threshold; one over it is never dropped to make room
    /// (a flood of failures under other names must not wipe an account's step-up), and if
    /// all are over it the new key is not tracked.
    fn bump<K: std::hash::Hash + Eq + Clone>(
        map: &mut std::collections::HashMap<K, (u32, u64)>,
        key: &K,
        window_ms: u64,
        (cap, threshold): (usize, u32),
        now_ms: u64,
    ) {
        if !map.contains_key(key) && map.len() >= cap {
            map.retain(|_, (_, last)| now_ms.saturating_sub(*last) < window_ms);
            if map.len() >= cap {
                let stalest = map
                    .iter()
                    .filter(|(_, (n, _))| *n < threshold)
                    .min_by_key(|(_, (_, last))| *last)
                    .map(|(k, _)| k.clone());
                match stalest {
                    Some(k) => {
                        map.remove(&k);
                    }
                    None => return,
                }
            }
        }
        let e = map.entry(key.clone()).or_insert((0, now_ms));
        if now_ms.saturating_sub(e.1) >= window_ms {
            e.0 = 0;
        }
        e.0 = e.0.saturating_add(1);
        e.1 = now_ms;
    }

    /// A failed login from `source` (only when it is not exempt), a `place` of `account`.
    pub fn failed(
        &mut self,
        cfg: &ChallengeConfig,
        source: Option<std::net::IpAddr>,
        account: &str,
        place: Place,
        now_ms: u64,
    ) {
        let window = cfg.window_secs.saturating_mul(1000);
        if let Some(ip) = source {
            Self::bump(&mut self.by_source, &source_key(ip), window, (self.cap, cfg.challenge_after), now_ms);
        }
        let map = match place {
            Place::Known => &mut self.by_account_at_home,
            Place::Elsewhere => &mut self.by_account,
        };
        Self::bump(map, &account.to_owned(), window, (self.cap, cfg.challenge_after), now_ms);
    }

    /// A login that succeeded with a solved challenge: its source and the account's count
    /// for that kind of place start over.
    pub fn cleared(&mut self, source: std::net::IpAddr, account: &str, place: Place) {
        self.by_source.remove(&source_key(source));
        match place {
            Place::Known => self.by_account_at_home.remove(account),
            Place::Elsewhere => self.by_account.remove(account),
        };
    }

    /// Failures past the step-up threshold, the larger of the source's and the account's:
    /// each adds to the next challenge's effort.
    pub fn excess(&self, cfg: &ChallengeConfig, source: Option<std::net::IpAddr>, account: &str, now_ms: u64) -> u32 {
        let window = cfg.window_secs.saturating_mul(1000);
        let n = |e: Option<&(u32, u64)>| {
            e.filter(|(_, last)| now_ms.saturating_sub(*last) < window)
                .map_or(0, |(n, _)| n.saturating_sub(cfg.challenge_after))
        };
        let accounts = n(self.by_account.get(account)).max(n(self.by_account_at_home.get(account)));
        n(source.and_then(|ip| self.by_source.get(&source_key(ip)))).max(accounts)
    }

    /// Whether a login from `source` (None: exempt), a `place` of `account`, needs a
    /// challenge now.
    pub fn needed(
        &self,
        cfg: &ChallengeConfig,
        source: Option<std::net::IpAddr>,
        account: &str,
        place: Place,
        now_ms: u64,
    ) -> bool {
        let window = cfg.window_secs.saturating_mul(1000);
        let over = |e: Option<&(u32, u64)>| {
            e.is_some_and(|(n, last)| *n >= cfg.challenge_after && now_ms.saturating_sub(*last) < window)
        };
        source.is_some_and(|ip| over(self.by_source.get(&source_key(ip)))) || over(self.accounts(place).get(account))
    }

    /// Entries kept: (sources, accounts elsewhere, accounts at their known places).
    pub fn len(&self) -> (usize, usize, usize) {
        (self.by_source.len(), self.by_account.len(), self.by_account_at_home.len())
    }

    /// Forget entries quiet for a whole window.
    pub fn prune(&mut self, cfg: &ChallengeConfig, now_ms: u64) {
        let window = cfg.window_secs.saturating_mul(1000);
        self.by_source.retain(|_, (_, last)| now_ms.saturating_sub(*last) < window);
        self.by_account.retain(|_, (_, last)| now_ms.saturating_sub(*last) < window);
        self.by_account_at_home.retain(|_, (_, last)| now_ms.saturating_sub(*last) < window);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_at_the_current_price_raises_the_effort_and_quiet_lowers_it() {
        let cfg = EffortConfig { capacity: 10, ..EffortConfig::default() };
        let mut e = Effort::new(&cfg, 0);
        assert_eq!(e.suggested(&cfg, 0), 16);
        let mut now = 0;
        for _ in 0..5 {
            let bits = e.suggested(&cfg, now);
            for _ in 0..50 {
                e.solved(&cfg, bits, now);
            }
            now += cfg.interval_ms;
        }
        assert_eq!(e.suggested(&cfg, now), 21);
        // A flood keeps it at the cap, never past it.
        for _ in 0..20 {
            let bits = e.suggested(&cfg, now);
            for _ in 0..50 {
                e.solved(&cfg, bits, now);
            }
            now += cfg.interval_ms;
        }
        assert_eq!(e.suggested(&cfg, now), cfg.max_bits);
        // Quiet: one bit per interval down, then the floor after a long spell.
        now += cfg.interval_ms;
        assert_eq!(e.suggested(&cfg, now), cfg.max_bits - 1);
        now += 100 * cfg.interval_ms;
        assert_eq!(e.suggested(&cfg, now), cfg.min_bits);
    }

    #[test]
    fn extra_effort_and_invalid_requests_cannot_pump_it() {
        let cfg = EffortConfig { capacity: 10, ..EffortConfig::default() };
        let mut e = Effort::new(&cfg, 0);
        let mut now = 0;
        // Few requests, each with far more work than asked: no rise.
        for _ in 0..10 {
            for _ in 0..4 {
                e.solved(&cfg, cfg.max_bits, now);
            }
            now += cfg.interval_ms;
        }
        assert_eq!(e.suggested(&cfg, now), cfg.min_bits);
        // Many requests solved below the current price: no rise either.
        for _ in 0..10 {
            for _ in 0..1000 {
                e.solved(&cfg, cfg.min_bits - 1, now);
            }
            now += cfg.interval_ms;
        }
        assert_eq!(e.suggested(&cfg, now), cfg.min_bits);
    }

    #[test]
    fn scores_and_fast_answers_raise_one_challenge_up_to_the_cap() {
        let cfg = EffortConfig::default();
        assert_eq!(bits_for(&cfg, 12, 0.0, 0), 12);
        assert_eq!(bits_for(&cfg, 12, 3.5, 0), 15);
        assert_eq!(bits_for(&cfg, 12, 0.0, 2), 16);
        assert_eq!(bits_for(&cfg, 12, 1e9, 1000), cfg.max_bits);
        assert_eq!(bits_for(&cfg, 12, f64::NAN, 0), 12);
    }

    #[test]
    fn three_failures_within_the_window_step_up_the_source_and_the_account() {
        let cfg = ChallengeConfig::default();
        let mut up = StepUp::new(100);
        let ip = Some(crate::policy::test_ip::ip("192.0.2.7"));
        for i in 0..2 {
            up.failed(&cfg, ip, "alice", Place::Elsewhere, i * 1000);
        }
        assert!(!up.needed(&cfg, ip, "alice", Place::Elsewhere, 3000));
        up.failed(&cfg, ip, "alice", Place::Elsewhere, 3000);
        assert!(up.needed(&cfg, ip, "alice", Place::Elsewhere, 4000));
        // The same source for another account, and the same account from another source.
        assert!(up.needed(&cfg, ip, "bob", Place::Elsewhere, 4000));
        assert!(up.needed(&cfg, Some(crate::policy::test_ip::ip("198.51.100.1")), "alice", Place::Elsewhere, 4000));
        // An exempt source is judged by the account only.
        assert!(!up.needed(&cfg, None, "bob", Place::Elsewhere, 4000));
        // A window later it is forgotten; a solved login clears it at once.
        assert!(!up.needed(&cfg, ip, "alice", Place::Elsewhere, 3000 + cfg.window_secs * 1000));
        up.cleared(crate::policy::test_ip::ip("192.0.2.7"), "alice", Place::Elsewhere);
        assert!(!up.needed(&cfg, ip, "alice", Place::Elsewhere, 4000));
    }

    #[test]
    fn failures_elsewhere_never_step_up_the_account_at_its_known_places() {
        let cfg = ChallengeConfig::default();
        let mut up = StepUp::new(100);
        let (thief, home) = (crate::policy::test_ip::ip("198.51.100.1"), crate::policy::test_ip::ip("192.0.2.7"));
        for i in 0..20 {
            up.failed(&cfg, Some(thief), "alice", Place::Elsewhere, i);
        }
        assert!(up.needed(&cfg, Some(crate::policy::test_ip::ip("203.0.113.1")), "alice", Place::Elsewhere, 30));
        assert!(!up.needed(&cfg, Some(home), "alice", Place::Known, 30));
        // Her own failures at home step her address up, as before.
        for i in 0..3 {
            up.failed(&cfg, Some(home), "alice", Place::Known, 40 + i);
        }
        assert!(up.needed(&cfg, Some(home), "alice", Place::Known, 50));
        up.cleared(home, "alice", Place::Known);
        assert!(!up.needed(&cfg, Some(home), "alice", Place::Known, 60));
        assert!(up.needed(&cfg, Some(thief), "alice", Place::Elsewhere, 60));
    }

    #[test]
    fn an_ipv6_source_is_its_64() {
        let cfg = ChallengeConfig::default();
        let mut up = StepUp::new(100);
        for i in 1..=3u16 {
            let ip = std::net::IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 7, 0, 0, 0, i));
            up.failed(&cfg, Some(ip), &format!("user{i}"), Place::Elsewhere, 1000);
        }
        let next = std::net::IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 7, 9, 9, 9, 9));
        assert!(up.needed(&cfg, Some(next), "someone", Place::Elsewhere, 2000));
        let elsewhere = std::net::IpAddr::V6(std::net::Ipv6Addr::new(0x2001, 0xdb8, 0, 8, 0, 0, 0, 1));
        assert!(!up.needed(&cfg, Some(elsewhere), "someone", Place::Elsewhere, 2000));
    }

    #[test]
    fn the_step_up_maps_are_bounded() {
        let cfg = ChallengeConfig::default();
        let mut up = StepUp::new(10);
        for i in 0..1000u32 {
            let ip = std::net::IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            up.failed(&cfg, Some(ip), &format!("user{i}"), Place::Elsewhere, u64::from(i));
        }
        assert_eq!(up.len(), (10, 10, 0));
        up.prune(&cfg, 10_000_000);
        assert_eq!(up.len(), (0, 0, 0));
        // A stepped-up account is never dropped to make room for a flood of others.
        for t in 0..3 {
            up.failed(&cfg, None, "alice", Place::Elsewhere, 20_000_000 + t);
        }
        for i in 0..1000u64 {
            up.failed(&cfg, None, &format!("other{i}"), Place::Elsewhere, 20_000_100 + i);
        }
        assert!(up.needed(&cfg, None, "alice", Place::Elsewhere, 20_002_000));
        assert_eq!(up.len().1, 10);
    }

    #[test]
    fn config_refuses_values_that_switch_the_defence_off() {
        assert_eq!(ChallengeConfig::default().check(), Ok(()));
        for bad in [
            ChallengeConfig { challenge_after: 0, ..Default::default() },
            ChallengeConfig { min_bits: 30, max_bits: 20, ..Default::default() },
            ChallengeConfig { max_bits: 29, ..Default::default() },
            ChallengeConfig { min_bits: 0, ..Default::default() },
            ChallengeConfig { ttl_secs: 0, ..Default::default() },
            ChallengeConfig { lockout_after: 0, ..Default::default() },
            ChallengeConfig { lockout_secs: 0, ..Default::default() },
            ChallengeConfig { lockout_secs: 86_401, ..Default::default() },
            ChallengeConfig { tickets_per_minute_per_source: 0, ..Default::default() },
            ChallengeConfig { max_tickets_per_sec: 0, ..Default::default() },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn answers_faster_than_a_person_are_too_fast() {
        let t = HumanTiming::default();
        assert!(t.too_fast(1_000, 1_050, 5), "50 ms");
        assert!(t.too_fast(1_000, 2_399, 5), "1.399 s");
        assert!(!t.too_fast(1_000, 2_400, 5), "1.4 s");
        assert!(!t.too_fast(1_000, 7_000, 5), "6 s");
        assert_eq!(t.floor_ms(5), 1_400);
        assert!(t.too_fast(5_000, 1_000, 5), "an answer before its challenge");
    }
}
