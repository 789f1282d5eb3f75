//! The activity queue every task records into: bounded, and a full queue never blocks the
//! network path (what it drops is counted, and the writer records the count). The writer,
//! `activity_log`, drains it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::policy::activity::Activity;

/// Events waiting to be written, at most.
pub const QUEUE: usize = 16_384;

/// A handle on the queue; clones share it (the text outbox records through one).
#[derive(Clone)]
pub struct Recorder {
    enabled: bool,
    tx: mpsc::Sender<Activity>,
    dropped: Arc<AtomicU64>,
}

impl Recorder {
    pub fn new(enabled: bool) -> (Self, mpsc::Receiver<Activity>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        (Self { enabled, tx, dropped: Arc::new(AtomicU64::new(0)) }, rx)
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
