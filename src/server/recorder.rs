//! The activity log's one writer: every task hands it events through a bounded queue (a
//! full queue never blocks the network path; what it drops is counted and recorded), and it
//! writes them to redb in batches, scores the offences, and turns scores into bans. It also
//! enforces retention: at most `limits.activity_max_events` events, none older than
//! `limits.activity_retention_days`, older ones folded into per-source daily counts.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;
use tracing::{info, warn};

use super::Shared;
use crate::policy::activity::{Activity, Kind};
use crate::policy::{Ban, Rule, Scorer};
use crate::transport::close;

/// Events waiting to be written, at most.
pub const QUEUE: usize = 16_384;
/// Events per database transaction, at most.
pub const BATCH: usize = 1024;
/// Retention is checked every this many batches.
const RETENTION_EVERY: u64 = 64;
/// After the first event of a batch, wait this long for more (fewer, larger transactions).
const BATCH_DELAY: std::time::Duration = std::time::Duration::from_millis(20);
/// Batches are written without an fsync of their own; one is made at least this often (and
/// every delivery's durable commit persists them too), so a crash loses at most this much.
const DURABLE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

pub struct Recorder {
    enabled: bool,
    tx: mpsc::Sender<Activity>,
    dropped: AtomicU64,
}

impl Recorder {
    pub fn new(enabled: bool) -> (Self, mpsc::Receiver<Activity>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (Self { enabled, tx, dropped: AtomicU64::new(0) }, rx)
    }

    /// Queue an event; never waits.
    pub fn record(&self, a: Activity) {
        if !self.enabled {
            return;
        }
        if self.tx.try_send(a).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Nothing is waiting to be written.
    pub fn is_idle(&self) -> bool {
        self.tx.capacity() == self.tx.max_capacity()
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn allowed(shared: &Shared, ip: IpAddr) -> bool {
    shared.ip_list.read().map(|l| l.lookup(ip) == Some(Rule::Allow)).unwrap_or(false)
}

pub(crate) async fn run(shared: Arc<Shared>, mut rx: mpsc::Receiver<Activity>) {
    let mut scorer = Scorer::default();
    if let Ok(bans) = shared.store.bans() {
        for b in bans {
            scorer.set_level(b.net, b.level);
        }
    }
    let cfg = shared.config.scoring.clone();
    let mut batches = 0u64;
    let mut reported_dropped = 0u64;
    let mut last_durable = tokio::time::Instant::now();
    while let Some(first) = rx.recv().await {
        tokio::time::sleep(BATCH_DELAY).await;
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(a) => batch.push(a),
                Err(_) => break,
            }
        }
        let dropped = shared.recorder.dropped();
        if dropped > reported_dropped {
            let a =
                Activity::new(now_ms(), IpAddr::from([0, 0, 0, 0]), Kind::Dropped).bytes(dropped - reported_dropped);
            batch.push(a.detail("activity queue full; events dropped"));
            reported_dropped = dropped;
        }
        let mut bans = Vec::new();
        for a in &batch {
            let Some(offence) = a.kind.offence() else { continue };
            if allowed(&shared, a.source) {
                continue;
            }
            if let Some(ban) = scorer.strike(&cfg, a.source, a.account.as_deref(), offence, a.time_ms / 1000) {
                bans.push(ban);
            }
        }
        for ban in &bans {
            batch.push(install_ban(&shared, ban.clone()));
        }
        let sh = shared.clone();
        let check_retention = batches % RETENTION_EVERY == 0;
        let durable = !bans.is_empty() || last_durable.elapsed() >= DURABLE_EVERY;
        if durable {
            last_durable = tokio::time::Instant::now();
        }
        let result = tokio::task::spawn_blocking(move || -> Result<(), crate::store::StoreError> {
            for ban in &bans {
                sh.store.put_ban(ban)?;
            }
            sh.store.append_activity(&batch, durable)?;
            if check_retention {
                let limits = &sh.config.limits;
                let min_time = now_ms().saturating_sub(limits.activity_retention_days.saturating_mul(86_400_000));
                sh.store.enforce_retention(limits.activity_max_events, min_time)?;
            }
            Ok(())
        })
        .await;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!(event = "activity_write_failed", "{e}"),
            Err(e) => warn!(event = "activity_write_failed", "{e}"),
        }
        if check_retention {
            scorer.forget_old(&cfg, now_ms() / 1000);
        }
        batches += 1;
    }
}

/// Put a ban in force: refuse its network from now on, close its live connections, and log
/// the one structured line other tools consume. Returns the activity event to record.
pub(crate) fn install_ban(shared: &Shared, ban: Ban) -> Activity {
    info!(
        event = "ban",
        net = %ban.net,
        until = ban.until,
        until_utc = %crate::cli::format_time(ban.until),
        level = ban.level,
        reason = ?ban.reason,
        "qxfer ban {} for {} s (level {})",
        ban.net,
        ban.until.saturating_sub(now_ms() / 1000),
        ban.level
    );
    if let Ok(mut bans) = shared.bans.write() {
        bans.retain(|b| b.net != ban.net);
        bans.push(ban.clone());
    }
    let doomed: Vec<quinn::Connection> = match shared.live.lock() {
        Ok(live) => live
            .values()
            .filter(|c| ban.net.contains(&crate::policy::canonical(c.remote_address().ip())))
            .cloned()
            .collect(),
        Err(_) => Vec::new(),
    };
    for c in doomed {
        c.close(close::LIMIT.into(), b"address banned");
    }
    let source = match ban.net {
        ipnet::IpNet::V4(n) => IpAddr::V4(n.network()),
        ipnet::IpNet::V6(n) => IpAddr::V6(n.network()),
    };
    Activity::new(now_ms(), source, Kind::Ban)
        .detail(format_args!("{} level {} until {}: {}", ban.net, ban.level, ban.until, ban.reason))
}

/// Lift a ban by hand. Returns whether one was in force.
pub(crate) fn lift_ban(shared: &Shared, net: ipnet::IpNet) -> bool {
    let now = now_ms() / 1000;
    let mut found = false;
    if let Ok(mut bans) = shared.bans.write() {
        for b in bans.iter_mut().filter(|b| b.net == net && b.until > now) {
            b.until = now;
            found = true;
        }
    }
    info!(event = "unban", net = %net, "qxfer unban {net}");
    let source = match net {
        ipnet::IpNet::V4(n) => IpAddr::V4(n.network()),
        ipnet::IpNet::V6(n) => IpAddr::V6(n.network()),
    };
    shared.recorder.record(Activity::new(now_ms(), source, Kind::Unban).detail(net));
    found
}

/// Whether `ip` is under a ban now.
pub(crate) fn banned(shared: &Shared, ip: IpAddr) -> bool {
    let now = now_ms() / 1000;
    let ip = crate::policy::canonical(ip);
    shared.bans.read().map(|bans| bans.iter().any(|b| b.until > now && b.net.contains(&ip))).unwrap_or(false)
}
