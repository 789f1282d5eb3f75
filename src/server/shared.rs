//! What every connection task shares, behind methods: the database and data directory, the
//! limits, the clock, admission and rate limits, the connections alive, the IP rules and
//! bans in force, and the activity recorder. Locks are held for a few instructions and
//! never across an await; a poisoned lock is taken over (the data are plain tables).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use ipnet::IpNet;
use quinn::Connection;
use tracing::info;

use super::account_guard::AccountGuard;
use super::bans::{self, Bans};
use super::challenges::{Challenges, NoRandomness};
use super::counters::{bump, Counters};
use super::error::ServerError;
use super::hash_queue::{HashSlot, HashSlots, MAX_HASH_WAITERS, MAX_HASH_WAITERS_PER_NETWORK};
use super::listener_config::ListenerConfig;
use super::recorder::Recorder;
use super::upload_slots::{SlotRefused, SlotStop, UploadSlot, UploadSlots};
use crate::clock::Clock;
use crate::files::Layout;
use crate::policy::activity::{Activity, Kind};
use crate::policy::{canonical, Admission, Ban, BanNotices, IpList, Limits, Rule, Verdict};
use crate::store::Store;
use crate::transport::close;

type KeyedLimiter<K> = governor::DefaultKeyedRateLimiter<K>;

/// Sources with per-source rate state at most; beyond, unvalidated sources get a Retry.
pub const MAX_TRACKED_SOURCES: usize = 65_536;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn rate_limiter<K: std::hash::Hash + Eq + Clone>(per_second: u32, burst: u32) -> KeyedLimiter<K> {
    use std::num::NonZeroU32;
    let rate = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    governor::RateLimiter::keyed(governor::Quota::per_second(rate).allow_burst(burst))
}

pub(crate) struct Shared {
    store: Store,
    layout: Layout,
    config: ListenerConfig,
    counters: Counters,
    clock: Clock,
    recorder: Recorder,
    /// Memory-hard hashes running at once, at most; waiters served fairly by network, then
    /// by account.
    hash_slots: HashSlots,
    /// Uploads writing to disk at once (each holds a blocking thread), shared fairly by
    /// network and account.
    upload_slots: Arc<UploadSlots>,
    /// The live connection writing each unfinished delivery; a resumed `Begin` takes over.
    open_deliveries: Mutex<HashMap<u64, Connection>>,
    /// One writer per partial file at a time (a dead client's connection may linger).
    part_locks: Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>,
    /// One commit or resume repair per delivery at a time.
    delivery_locks: Mutex<HashMap<u64, Arc<tokio::sync::Mutex<()>>>>,
    /// Open connections by source, for admission decisions.
    admission: Mutex<Admission>,
    /// Live connections, so a new block rule or ban can close them.
    live: Mutex<HashMap<usize, Connection>>,
    /// The account each logged-in connection belongs to, so removing the account or
    /// changing its password can end its sessions.
    sessions: Mutex<HashMap<usize, String>>,
    /// The IP allow/block rules in force.
    ip_list: RwLock<IpList>,
    /// Control requests per source address and per account.
    ip_rate: KeyedLimiter<IpAddr>,
    account_rate: KeyedLimiter<String>,
    /// New connections per source address.
    handshake_rate: KeyedLimiter<IpAddr>,
    bans: Bans,
    /// Banned addresses already told of their ban (bounded).
    notices: Mutex<BanNotices>,
    /// Challenge tickets, spent nonces, the suggested effort and the step-up's failures.
    challenges: Challenges,
    /// Account recovery and protected changes: the recovery key, texts, places.
    guard: AccountGuard,
    /// Cadences of networks and accounts: behaviour too regular to be human.
    humans: super::humans::Humans,
}

/// What a change to an account taking effect needs of the listener (`account_guard::apply`).
impl super::account_guard::apply::Listener for Shared {
    fn database(&self) -> &Store {
        &self.store
    }

    fn record_activity(&self, a: Activity) {
        self.recorder.record(a);
    }

    fn end_sessions_but(&self, account: &str, reason: &'static str, except: Option<usize>) {
        self.end_sessions_except(account, reason, except);
    }
}

/// Banned addresses remembered as told, at most.
pub const MAX_BAN_NOTICES: usize = 4096;

impl Shared {
    pub fn new(
        store: Store,
        layout: Layout,
        config: ListenerConfig,
        ip_list: IpList,
        bans: Vec<Ban>,
        recorder: Recorder,
        guard: AccountGuard,
    ) -> Result<Self, NoRandomness> {
        let l = &config.limits;
        let clock = Clock::default();
        // Debug builds only: a restart in a test keeps the clock where the test moved it.
        #[cfg(debug_assertions)]
        if let Some(secs) = std::env::var("QXFER_TEST_CLOCK_OFFSET_SECS").ok().and_then(|s| s.parse().ok()) {
            clock.advance(secs);
        }
        let humans = super::humans::Humans::new(config.regularity);
        // Hashes run in a fixed pool of buffers, one per hash slot.
        crate::accounts::memory::set_size(l.max_concurrent_hashes.max(1) as usize);
        Ok(Self {
            challenges: Challenges::new(config.challenges.clone(), clock.now_ms())?,
            hash_slots: HashSlots::new(
                l.max_concurrent_hashes.max(1) as usize,
                MAX_HASH_WAITERS,
                MAX_HASH_WAITERS_PER_NETWORK,
            ),
            upload_slots: Arc::new(UploadSlots::new(
                l.max_upload_threads.max(1) as usize,
                l.max_uploads_per_account.max(1) as usize,
            )),
            ip_rate: rate_limiter(l.requests_per_second_per_ip, l.request_burst),
            account_rate: rate_limiter(l.requests_per_second_per_account, l.request_burst),
            handshake_rate: rate_limiter(l.connections_per_second_per_ip, l.connection_burst_per_ip),
            store,
            layout,
            config,
            counters: Counters::default(),
            clock,
            recorder,
            open_deliveries: Default::default(),
            part_locks: Default::default(),
            delivery_locks: Default::default(),
            admission: Default::default(),
            live: Default::default(),
            sessions: Default::default(),
            ip_list: RwLock::new(ip_list),
            bans: Bans::new(bans),
            notices: Mutex::new(BanNotices::new(MAX_BAN_NOTICES)),
            guard,
            humans,
        })
    }

    pub fn guard(&self) -> &AccountGuard {
        &self.guard
    }

    pub fn humans(&self) -> &super::humans::Humans {
        &self.humans
    }

    /// Apply the pending account changes whose delay ended (a hundred accounts a round;
    /// logins apply their own at once). Returns how many changes were applied.
    pub fn apply_due_changes(&self) -> Result<usize, crate::store::StoreError> {
        let now_ms = self.clock.now_ms();
        let mut n = 0;
        for user in self.store.due_accounts(now_ms / 1000, 100)? {
            n += self.guard.apply_due_changes(self, &user, now_ms)?;
        }
        Ok(n)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    pub fn config(&self) -> &ListenerConfig {
        &self.config
    }

    pub fn limits(&self) -> &Limits {
        &self.config.limits
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Seconds since the epoch, on the listener's clock.
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    pub fn challenges(&self) -> &Challenges {
        &self.challenges
    }

    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// Queue an activity event (never waits).
    pub fn record(&self, a: Activity) {
        self.recorder.record(a);
    }

    /// A new activity event about `source`, stamped now.
    pub fn activity(&self, source: IpAddr, kind: Kind) -> Activity {
        Activity::new(self.clock.now_ms(), source, kind)
    }

    /// Run disk or database work on the blocking pool.
    pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, ServerError> {
        Ok(tokio::task::spawn_blocking(f).await?)
    }

    /// The password-hash slots (a login asks for one as its network and account).
    pub fn hash_slots(&self) -> &HashSlots {
        &self.hash_slots
    }

    /// A slot for one memory-hard hash other than a login's, waiting as `want` says (like a
    /// login: its network, its account or the network's made-up names) until `deadline`;
    /// `None` when the queue is full or the deadline passes (the listener's load).
    pub async fn hash_slot(
        &self,
        peer: SocketAddr,
        want: crate::policy::fair_queue::Want,
        deadline: tokio::time::Instant,
    ) -> Option<HashSlot<'_>> {
        tokio::time::timeout_at(deadline, self.hash_slots.acquire(peer, want)).await.ok()?.ok()
    }

    /// A disk slot for an upload (`stoppable`: it may be stopped for a fairer asker) or a
    /// resume's hashing of `account` from `ip`, waiting at most `wait` when none is free
    /// (`upload_slots`). The slot lives as long as the disk thread, so one account's uploads
    /// can never take every blocking thread.
    pub async fn upload_slot(
        &self,
        ip: IpAddr,
        account: &str,
        stoppable: bool,
        wait: Duration,
    ) -> Result<(UploadSlot, SlotStop), SlotRefused> {
        self.upload_slots.acquire(ip, account, stoppable, wait).await
    }

    fn allowed(&self, ip: IpAddr) -> bool {
        self.ip_list.read().unwrap_or_else(|p| p.into_inner()).lookup(ip) == Some(Rule::Allow)
    }

    /// Whether offences of `ip` may be scored (allow-listed and exempt sources never are).
    pub fn scorable(&self, ip: IpAddr) -> bool {
        !self.allowed(ip) && !self.config.scoring.is_exempt(ip)
    }

    /// Admit or refuse a connection attempt before any handshake work.
    pub fn admit(&self, ip: IpAddr, validated: bool) -> Verdict {
        let allowed = self.allowed(ip);
        // Exempt addresses (the listener's own host by default) are never kept out by a ban,
        // even one of a whole prefix around them; a block rule still applies.
        if !allowed && !self.config.scoring.is_exempt(ip) {
            let now = self.now();
            if let Some((net, until)) = self.bans.covering(ip, now) {
                // Told once per ban, in words, and only once QUIC has validated the address
                // (a stateless Retry first), so spoofed sources buy no handshake; dropped
                // before the handshake after that.
                if !validated && lock(&self.notices).might_tell(ip, net, until) {
                    return Verdict::Retry;
                }
                if validated && lock(&self.notices).tell(ip, net, until) {
                    return Verdict::Banned { net, until };
                }
                return Verdict::Drop("address is banned");
            }
        }
        // Per-source state is kept for at most MAX_TRACKED_SOURCES addresses: past that, an
        // address must prove it is real (QUIC Retry) before it gets any, so spoofed sources
        // cannot fill the table.
        if !validated && self.handshake_rate.len() >= MAX_TRACKED_SOURCES {
            return Verdict::Retry;
        }
        // A source that opens connections faster than the limit is refused before the
        // handshake costs anything (handshake floods).
        if !allowed && self.handshake_rate.check_key(&canonical(ip)).is_err() {
            return Verdict::Drop("connection attempts too frequent from this address");
        }
        let list = self.ip_list.read().unwrap_or_else(|p| p.into_inner());
        let mut adm = lock(&self.admission);
        let v = adm.decide(ip, validated, &list, &self.config.limits);
        if v == Verdict::Accept {
            adm.opened(ip);
        }
        v
    }

    /// Forget what no longer matters: rate-limiter state of quiet sources and accounts,
    /// bans long over, deliveries whose writer's connection is gone. Run periodically.
    pub fn prune(&self) {
        for limiter in [&self.ip_rate, &self.handshake_rate] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        self.account_rate.retain_recent();
        self.account_rate.shrink_to_fit();
        self.bans.prune(self.now(), crate::policy::ESCALATION_MEMORY_SECS);
        lock(&self.notices).prune(self.now());
        lock(&self.open_deliveries).retain(|_, c| c.close_reason().is_none());
        self.challenges.prune(self.clock.now_ms());
        self.humans.prune(self.clock.now_ms(), self.config.challenges.window_secs.saturating_mul(1000));
        self.guard.prune_phantoms(self.now());
        self.record_text_alerts();
    }

    /// Record the text pools that went low (logged already when it happened) as activity
    /// events for the operator's audit.
    fn record_text_alerts(&self) {
        for low in self.guard.texts().take_alerts() {
            self.record(
                Activity::new(self.clock.now_ms(), IpAddr::from([0, 0, 0, 0]), Kind::TextBudgetLow).detail(format!(
                    "{} pool: {} of {} texts used today",
                    low.pool.name(),
                    low.used,
                    low.of
                )),
            );
        }
    }

    /// Make the copies still owed to further recipients (a crash, or a commit whose fan-out
    /// failed part way), skipping deliveries a commit is working on now. Blocking; run at
    /// start and in upkeep.
    pub fn finish_copies(&self) -> Result<usize, crate::store::StoreError> {
        let mut made = 0;
        for of in self.store.pending_fanouts()? {
            let lock = self.delivery_lock(of);
            let Ok(_guard) = lock.try_lock() else { continue };
            let (copies, missed) =
                super::fanout::fan_out(&self.store, &self.layout, &self.config.limits, of, self.now())?;
            info!(
                event = "recovered",
                of,
                made = copies.len(),
                missed = missed.len(),
                "finished the copies of a delivery"
            );
            made += copies.len();
        }
        Ok(made)
    }

    /// Expire unfinished deliveries older than `spool_expiry_secs` (their files removed,
    /// their reservations released) and forget committed sends as old. Blocking: database
    /// and disk work.
    pub fn expire(&self) -> Result<usize, crate::store::StoreError> {
        let before = self.now().saturating_sub(self.config.limits.spool_expiry_secs);
        // A delivery some live connection is writing is never expired under it.
        let active: std::collections::HashSet<u64> =
            lock(&self.open_deliveries).iter().filter(|(_, c)| c.close_reason().is_none()).map(|(id, _)| *id).collect();
        let expired = self.store.expire_open(before, &active)?;
        for id in &expired {
            let _ = std::fs::remove_dir_all(self.layout.spool(*id));
            info!(id, event = "delivery_expired", "an unfinished delivery expired; its files were removed");
        }
        self.store.forget_committed(before)?;
        let renew = self.config.limits.recipient_hold_renew_secs;
        self.store.forget_hold_windows(self.now().saturating_sub(renew))?;
        Ok(expired.len())
    }

    /// Sources, accounts and deliveries with state kept now (for the tests of the bounds).
    #[cfg(test)]
    pub fn tracked(&self) -> [usize; 4] {
        [self.handshake_rate.len(), self.ip_rate.len(), self.account_rate.len(), lock(&self.open_deliveries).len()]
    }

    /// An admitted connection ended (however it ended).
    pub fn connection_closed(&self, ip: IpAddr) {
        lock(&self.admission).closed(ip);
    }

    /// A connection finished its handshake: it can be closed by a later ban or block.
    pub fn track(&self, connection: &Connection) {
        lock(&self.live).insert(connection.stable_id(), connection.clone());
    }

    pub fn untrack(&self, connection: &Connection) {
        lock(&self.live).remove(&connection.stable_id());
        lock(&self.sessions).remove(&connection.stable_id());
    }

    /// `connection` logged in as `account`.
    pub fn logged_in(&self, connection: &Connection, account: &str) {
        lock(&self.sessions).insert(connection.stable_id(), account.to_owned());
    }

    /// Close every connection logged in as `account`; returns how many.
    pub fn end_sessions(&self, account: &str, reason: &'static str) -> usize {
        self.end_sessions_except(account, reason, None)
    }

    /// Close every connection logged in as `account` but `except` (the connection that
    /// changed the password: it gets its reply); returns how many.
    pub fn end_sessions_except(&self, account: &str, reason: &'static str, except: Option<usize>) -> usize {
        let ids: Vec<usize> = lock(&self.sessions)
            .iter()
            .filter(|(id, a)| a.as_str() == account && Some(**id) != except)
            .map(|(id, _)| *id)
            .collect();
        let doomed: Vec<Connection> = {
            let live = lock(&self.live);
            ids.iter().filter_map(|id| live.get(id).cloned()).collect()
        };
        for c in &doomed {
            info!(peer = %c.remote_address(), account, event = "session_ended", "closing a session: {reason}");
            c.close(close::AUTH.into(), reason.as_bytes());
        }
        doomed.len()
    }

    /// Close every live connection whose source `covered` says yes to; returns how many.
    fn close_sources(&self, covered: impl Fn(IpAddr) -> bool, code: u32, reason: &str) -> Vec<Connection> {
        let doomed: Vec<Connection> =
            lock(&self.live).values().filter(|c| covered(canonical(c.remote_address().ip()))).cloned().collect();
        for c in &doomed {
            info!(peer = %c.remote_address(), event = "closed_live", "closing a live connection: {reason}");
            c.close(code.into(), reason.as_bytes());
        }
        doomed
    }

    /// Install new IP rules and close the live connections they now block.
    pub fn install_rules(&self, list: IpList) {
        let blocks = list.clone();
        *self.ip_list.write().unwrap_or_else(|p| p.into_inner()) = list;
        self.close_sources(|ip| blocks.lookup(ip) == Some(Rule::Block), close::LIMIT, "address blocked");
    }

    /// Put a ban in force: refuse its network from now on, close its live connections,
    /// record it, and log the one structured line other tools consume.
    pub fn ban(&self, ban: Ban) {
        bans::log_ban(&ban, self.now());
        let net = ban.net;
        let detail =
            format!("{} level {} until {}: {}", ban.net, ban.level, crate::clock::format_time(ban.until), ban.reason);
        let until = ban.until;
        self.bans.install(ban);
        let scoring = &self.config.scoring;
        // Live connections are told of the ban as a new attempt would be, and count as told.
        let now = self.now();
        let notice = crate::wire::BanNotice { secs: until.saturating_sub(now), net }.encode();
        let closed = self.close_sources(|ip| net.contains(&ip) && !scoring.is_exempt(ip), close::BANNED, &notice);
        let mut notices = lock(&self.notices);
        for c in closed {
            notices.tell(c.remote_address().ip(), net, until);
        }
        drop(notices);
        self.record(self.activity(network_address(net), Kind::Ban).detail(detail));
    }

    /// Lift a ban of exactly `net` now. Returns whether one was in force.
    pub fn unban(&self, net: IpNet) -> bool {
        let found = self.bans.lift(net, self.now());
        bans::log_unban(net);
        self.record(self.activity(network_address(net), Kind::Unban).detail(net));
        found
    }

    /// Per-address and per-account request limits: whether this request may go on.
    pub fn request_allowed(&self, ip: IpAddr, account: Option<&str>) -> bool {
        let ip_ok = self.ip_rate.check_key(&ip).is_ok();
        let account_ok = account.is_none_or(|a| self.account_rate.check_key(&a.to_owned()).is_ok());
        if ip_ok && account_ok {
            return true;
        }
        bump(&self.counters.rate_limited);
        false
    }

    /// Record that `connection` now writes delivery `id`. A connection that held it before
    /// (a killed client's, lingering until its idle timeout) is closed, so its writers stop.
    pub fn take_over(&self, id: u64, connection: &Connection, peer: SocketAddr) {
        let previous = lock(&self.open_deliveries).insert(id, connection.clone());
        if let Some(old) = previous.filter(|old| old.stable_id() != connection.stable_id()) {
            info!(%peer, id, event = "superseded", "a resumed send took over delivery {id}");
            old.close(close::SUPERSEDED.into(), b"delivery resumed on another connection");
        }
    }

    /// `connection` no longer writes delivery `id`.
    pub fn release(&self, id: u64, connection: &Connection) {
        let mut map = lock(&self.open_deliveries);
        if map.get(&id).is_some_and(|c| c.stable_id() == connection.stable_id()) {
            map.remove(&id);
        }
    }

    /// The lock that keeps a single commit (or resume repair) on delivery `id`.
    pub fn delivery_lock(&self, id: u64) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = lock(&self.delivery_locks);
        map.retain(|_, l| Arc::strong_count(l) > 1);
        map.entry(id).or_default().clone()
    }

    /// Close the connections writing deliveries `ids` (dropped: their account is gone).
    pub fn end_deliveries(&self, ids: &[u64]) {
        let doomed: Vec<Connection> = {
            let map = lock(&self.open_deliveries);
            ids.iter().filter_map(|id| map.get(id).cloned()).collect()
        };
        for c in doomed {
            c.close(close::AUTH.into(), b"delivery dropped: its account was removed");
        }
    }

    /// Close the connection writing delivery `id`, if any but `asking` (its sender dropped
    /// it from there).
    pub fn end_dropped(&self, id: u64, asking: &Connection) {
        let writer = lock(&self.open_deliveries).remove(&id);
        if let Some(c) = writer.filter(|c| c.stable_id() != asking.stable_id()) {
            c.close(close::SUPERSEDED.into(), b"delivery dropped by its sender (qxfer pending drop)");
        }
    }

    /// The lock that keeps a single writer on `part`.
    pub fn part_lock(&self, part: &Path) -> Arc<tokio::sync::Mutex<()>> {
        let mut map = lock(&self.part_locks);
        // Forget locks nobody holds or waits for, so the map stays small.
        map.retain(|_, l| Arc::strong_count(l) > 1);
        map.entry(part.to_owned()).or_default().clone()
    }
}

/// The first address of a network, as the source of an event about the whole network.
fn network_address(net: IpNet) -> IpAddr {
    match net {
        IpNet::V4(n) => IpAddr::V4(n.network()),
        IpNet::V6(n) => IpAddr::V6(n.network()),
    }
}

impl crate::admin::Live for Shared {
    fn status(&self) -> crate::wire::Status {
        let [general, reserve] = self.guard.texts().usage(self.clock.now_ms());
        crate::wire::Status {
            texts_general_used: general.used,
            texts_general: general.of,
            texts_reserve_used: reserve.used,
            texts_reserve: reserve.of,
            ..self.counters.snapshot()
        }
    }

    fn clock(&self) -> &Clock {
        &self.clock
    }

    fn scoring(&self) -> &crate::policy::ScoreConfig {
        &self.config.scoring
    }

    fn rules_file(&self) -> &Path {
        &self.config.ip_rules
    }

    fn bans(&self) -> Vec<Ban> {
        self.bans.all()
    }

    fn ban(&self, ban: Ban) {
        Shared::ban(self, ban)
    }

    fn unban(&self, net: IpNet) -> bool {
        Shared::unban(self, net)
    }

    fn install_rules(&self, list: IpList) {
        Shared::install_rules(self, list)
    }

    fn end_sessions(&self, account: &str, reason: &'static str) {
        Shared::end_sessions(self, account, reason);
    }

    fn end_deliveries(&self, ids: &[u64]) {
        Shared::end_deliveries(self, ids);
    }

    fn upkeep(&self) {
        self.prune();
        if let Err(e) = self.expire() {
            tracing::warn!(event = "expiry_failed", "{e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(dir: &Path) -> Shared {
        let layout = Layout::new(dir.to_owned());
        let store = Store::open(&layout.database()).expect("store");
        let mut config = ListenerConfig::new(dir.to_owned());
        config.limits.connections_per_second_per_ip = 1000;
        config.limits.connection_burst_per_ip = 1;
        let (recorder, _rx) = Recorder::new(false);
        let gateway = crate::sms::Gateway::spool(dir.join("sms"));
        let texts = super::super::texts::Texts::start(gateway, Default::default(), recorder.clone()).expect("texts");
        let guard = AccountGuard::new(Default::default(), [0; 32], texts, None, "test".into());
        Shared::new(store, layout, config, IpList::default(), Vec::new(), recorder, guard).expect("randomness")
    }

    #[test]
    fn per_source_state_is_bounded_and_pruned() {
        let dir = tempfile::tempdir().expect("tempdir");
        let shared = shared(dir.path());
        let total = MAX_TRACKED_SOURCES + 5000;
        let mut retried = 0;
        for i in 0..total as u128 {
            let ip = IpAddr::V6(std::net::Ipv6Addr::from(0x2001_0db8_u128 << 96 | i << 64));
            if shared.admit(ip, false) == Verdict::Retry {
                retried += 1;
            }
        }
        // Spoofed sources past the cap get a Retry, never state.
        assert!(shared.tracked()[0] <= MAX_TRACKED_SOURCES, "{:?}", shared.tracked());
        assert!(retried >= 5000, "{retried}");
        // Once they are quiet, their state goes.
        std::thread::sleep(Duration::from_millis(50));
        shared.prune();
        assert_eq!(shared.tracked()[0], 0);
    }
}
