//! The activity queue every task records into: bounded, and a full queue never blocks the
//! network path (what it drops is counted, and the writer records the count). The writer,
//! `activity_log`, drains it and says how far it has scored, so a request can wait until
//! the offences recorded before it were scored (a ban they earned is then in force).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, watch};

use crate::policy::activity::Activity;

/// Events waiting to be written, at most.
pub const QUEUE: usize = 16_384;

/// A handle on the queue; clones share it (the text outbox records through one).
#[derive(Clone)]
pub struct Recorder {
    enabled: bool,
    tx: mpsc::Sender<Activity>,
    dropped: Arc<AtomicU64>,
    /// Events queued so far (counted under the lock, in the queue's order).
    queued: Arc<Mutex<u64>>,
    /// Events the writer has scored so far.
    scored: Arc<watch::Sender<u64>>,
}

impl Recorder {
    pub fn new(enabled: bool) -> (Self, mpsc::Receiver<Activity>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let scored = Arc::new(watch::Sender::new(0));
        (Self { enabled, tx, dropped: Arc::new(AtomicU64::new(0)), queued: Arc::new(Mutex::new(0)), scored }, rx)
    }

    /// Queue an event; never waits.
    pub fn record(&self, a: Activity) {
        if !self.enabled {
            return;
        }
        let mut queued = self.queued.lock().unwrap_or_else(|p| p.into_inner());
        if self.tx.try_send(a).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            *queued += 1;
        }
    }

    /// The writer scored `n` more events from the queue (and put in force the bans they
    /// earned).
    pub fn scored(&self, n: usize) {
        self.scored.send_modify(|s| *s += n as u64);
    }

    /// Wait (at most `deadline`) until every event queued before now has been scored;
    /// false when the deadline passed first.
    pub async fn caught_up(&self, deadline: std::time::Duration) -> bool {
        let target = *self.queued.lock().unwrap_or_else(|p| p.into_inner());
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
