//! The activity queue every task records into: bounded, and a full queue never blocks the
//! network path (what it drops is counted, and the writer records the count). The writer,
//! `activity_log`, drains it and says how far it has scored, so a request can wait until
//! the offences recorded before it were scored (a ban they earned is then in force).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ipnet::IpNet;
use tokio::sync::{mpsc, watch};

use crate::policy::activity::Activity;
use crate::policy::prefix_of;

/// Events waiting to be written, at most.
pub const QUEUE: usize = 16_384;
/// Networks with offences queued and not yet scored, remembered at most (past it, a request
/// from any network waits for the last such offence: slower, never wrong).
pub const MAX_PENDING_NETWORKS: usize = 65_536;

/// Where the queue is: events queued so far, and for each network (/24, /64) the position
/// of its last offence not yet scored.
#[derive(Default)]
struct Queued {
    count: u64,
    offences: HashMap<IpNet, u64>,
    /// The last offence of a network the map had no room for.
    overflow: u64,
}

/// A handle on the queue; clones share it (the text outbox records through one).
#[derive(Clone)]
pub struct Recorder {
    enabled: bool,
    tx: mpsc::Sender<Activity>,
    dropped: Arc<AtomicU64>,
    /// Events queued so far (counted under the lock, in the queue's order), and offences.
    queued: Arc<Mutex<Queued>>,
    /// Events the writer has scored so far.
    scored: Arc<watch::Sender<u64>>,
}

impl Recorder {
    pub fn new(enabled: bool) -> (Self, mpsc::Receiver<Activity>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let scored = Arc::new(watch::Sender::new(0));
        (Self { enabled, tx, dropped: Arc::new(AtomicU64::new(0)), queued: Arc::default(), scored }, rx)
    }

    /// Queue an event; never waits.
    pub fn record(&self, a: Activity) {
        if !self.enabled {
            return;
        }
        let offence = a.kind.offence().is_some().then(|| prefix_of(a.source));
        let mut q = self.queued();
        if self.tx.try_send(a).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        q.count += 1;
        let at = q.count;
        if let Some(net) = offence {
            if q.offences.len() < MAX_PENDING_NETWORKS || q.offences.contains_key(&net) {
                q.offences.insert(net, at);
            } else {
                q.overflow = at;
            }
        }
    }

    fn queued(&self) -> std::sync::MutexGuard<'_, Queued> {
        self.queued.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The writer scored `n` more events from the queue (and put in force the bans they
    /// earned).
    pub fn scored(&self, n: usize) {
        let mut now = 0;
        self.scored.send_modify(|s| {
            *s += n as u64;
            now = *s;
        });
        let mut q = self.queued();
        q.offences.retain(|_, at| *at > now);
        if q.overflow <= now {
            q.overflow = 0;
        }
    }

    /// Wait (at most `deadline`) until the offences of `ip`'s network queued before now
    /// have been scored (at once when there are none); false when the deadline passed first.
    pub async fn caught_up(&self, ip: IpAddr, deadline: std::time::Duration) -> bool {
        let target = {
            let q = self.queued();
            q.offences.get(&prefix_of(ip)).copied().unwrap_or(0).max(q.overflow)
        };
        if target == 0 {
            return true;
        }
        let mut rx = self.scored.subscribe();
        let waited = tokio::time::timeout(deadline, rx.wait_for(|s| *s >= target)).await;
        matches!(waited, Ok(Ok(_)))
    }

    /// Nothing is waiting to be written.
    pub fn is_idle(&self) -> bool {
        self.tx.capacity() == self.tx.max_capacity()
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}
