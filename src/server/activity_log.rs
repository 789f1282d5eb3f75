//! The activity log's one writer: it drains the recorder's queue, writes the events to
//! redb in batches and scores the offences; a score past the threshold is handed to
//! `Shared::ban` to be enforced. It also enforces retention: at most
//! `limits.activity_max_events` events, none older than `limits.activity_retention_days`,
//! older ones folded into per-source daily counts.

use std::net::IpAddr;
use std::sync::Arc;

use tokio::sync::mpsc;
use tracing::warn;

use super::Shared;
use crate::clock::DAY_MS;
use crate::policy::activity::{Activity, Kind};
use crate::policy::Scorer;

/// Events per database transaction, at most.
pub const BATCH: usize = 1024;
/// Retention is checked every this many batches.
const RETENTION_EVERY: u64 = 64;
/// After the first event of a batch, wait this long for more (fewer, larger transactions).
const BATCH_DELAY: std::time::Duration = std::time::Duration::from_millis(20);
/// Batches are written without an fsync of their own; one is made at least this often (and
/// every delivery's durable commit persists them too), so a crash loses at most this much.
const DURABLE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

pub(crate) async fn run(shared: Arc<Shared>, mut rx: mpsc::Receiver<Activity>) {
    let mut scorer = Scorer::default();
    if let Ok(bans) = shared.store().bans() {
        for b in bans {
            scorer.set_level(b.net, b.level, b.until);
        }
    }
    let cfg = shared.config().scoring.clone();
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
        let from_queue = batch.len();
        let dropped = shared.recorder().dropped();
        if dropped > reported_dropped {
            let a = shared.activity(IpAddr::from([0, 0, 0, 0]), Kind::Dropped).bytes(dropped - reported_dropped);
            batch.push(a.detail("activity queue full; events dropped"));
            reported_dropped = dropped;
        }
        let mut bans = Vec::new();
        for a in &batch {
            let Some(offence) = a.kind.offence() else { continue };
            if !shared.scorable(a.source) {
                continue;
            }
            let now = a.time_ms / 1000;
            if let Some(ban) = scorer.strike(&cfg, a.source, a.account.as_deref(), offence, now) {
                bans.push(ban);
            }
            // The next challenge for this source or account asks more work.
            let account = a.account.as_deref().map(|name| (name, scorer.account_score(&cfg, name, now)));
            shared.challenges().scored(a.source, scorer.score(&cfg, a.source, now), account, a.time_ms);
        }
        for ban in &bans {
            shared.ban(ban.clone());
        }
        // Scored, and the bans earned in force: requests waiting for this may go on.
        shared.recorder().scored(from_queue);
        let sh = shared.clone();
        let check_retention = batches % RETENTION_EVERY == 0;
        let durable = !bans.is_empty() || last_durable.elapsed() >= DURABLE_EVERY;
        if durable {
            last_durable = tokio::time::Instant::now();
        }
        let result = tokio::task::spawn_blocking(move || -> Result<(), crate::store::StoreError> {
            for ban in &bans {
                sh.store().put_ban(ban)?;
            }
            sh.store().append_activity(&batch, durable)?;
            if check_retention {
                let limits = sh.limits();
                let now_ms = sh.clock().now_ms();
                let min_time = now_ms.saturating_sub(limits.activity_retention_days.saturating_mul(DAY_MS));
                sh.store().enforce_retention(limits.activity_max_events, min_time)?;
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
            scorer.forget_old(&cfg, shared.now());
        }
        batches += 1;
    }
}
