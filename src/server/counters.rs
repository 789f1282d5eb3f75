//! The listener's counters, reported by `qxfer status`.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::wire::Status;

/// What the listener counts; each is only ever increased (but `connections_open`).
#[derive(Debug, Default)]
pub struct Counters {
    pub connections_total: AtomicU64,
    pub connections_open: AtomicU64,
    pub bytes_received: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub deliveries: AtomicU64,
    pub protocol_violations: AtomicU64,
    pub auth_failures: AtomicU64,
    pub refused: AtomicU64,
    pub rate_limited: AtomicU64,
    pub timeouts: AtomicU64,
}

/// Add one; returns the count before.
pub fn bump(counter: &AtomicU64) -> u64 {
    counter.fetch_add(1, Ordering::Relaxed)
}

impl Counters {
    pub fn snapshot(&self) -> Status {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Status {
            connections_total: g(&self.connections_total),
            connections_open: g(&self.connections_open),
            bytes_received: g(&self.bytes_received),
            bytes_sent: g(&self.bytes_sent),
            deliveries: g(&self.deliveries),
            protocol_violations: g(&self.protocol_violations),
            auth_failures: g(&self.auth_failures),
            refused: g(&self.refused),
            rate_limited: g(&self.rate_limited),
            timeouts: g(&self.timeouts),
            ..Status::default()
        }
    }
}
