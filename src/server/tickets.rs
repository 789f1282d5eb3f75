//! The listener's ticket bookkeeping: numbering tickets as they are issued within each
//! source's limit (`challenge::IssueLimit`), the spent set behind its interface
//! (`challenge::SpentTickets`: one bit a ticket, exact, never full), and the answers faster
//! than a person, by source, so that only a repeat is scored. Each piece bounded.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use ipnet::IpNet;

use crate::challenge::spent::EPOCHS_PER_TTL;
use crate::challenge::{IssueLimit, SpentBitmap, SpentTickets, TicketError, TicketId};
use crate::policy::challenges::{source_key, ChallengeConfig};
use crate::wire::ErrorCode;

/// Why no ticket was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IssueError {
    /// The system's random source failed (never seen; without it no ticket can be trusted).
    #[error("the system's random number generator failed")]
    NoRandomness,
    /// The source asked for more than its share (`tickets_per_minute_per_source`).
    #[error("too many challenges asked from this address (at most {0} a minute); wait a minute and try again")]
    TooMany(u32),
    /// The spent set's fuse (`max_tickets_per_sec`): the listener's load, not the asker's.
    #[error("the listener is handing out too many challenges; try again in a minute")]
    Busy,
}

impl IssueError {
    pub fn code(self) -> ErrorCode {
        match self {
            IssueError::NoRandomness => ErrorCode::Internal,
            IssueError::TooMany(_) | IssueError::Busy => ErrorCode::Limit,
        }
    }
}

/// The tickets' state (see the module).
pub(crate) struct Tickets {
    spent: Mutex<Box<dyn SpentTickets>>,
    issue: Mutex<IssueLimit>,
    per_minute: u32,
    /// Sources whose captcha answers came faster than a person: when the last did.
    fast: Mutex<HashMap<IpNet, u64>>,
    cap: usize,
}

fn lock<T: ?Sized>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl std::fmt::Debug for Tickets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tickets").field("per_minute", &self.per_minute).finish_non_exhaustive()
    }
}

impl Tickets {
    /// For `cfg`, tracking at most `cap` sources in each map.
    pub fn new(cfg: &ChallengeConfig, cap: usize) -> Tickets {
        let ttl_ms = cfg.ttl_secs.saturating_mul(1000);
        let epoch_ms = (ttl_ms / EPOCHS_PER_TTL).max(1);
        let fuse = u64::from(cfg.max_tickets_per_sec).saturating_mul(epoch_ms) / 1000;
        let fuse = u32::try_from(fuse.max(1)).unwrap_or(u32::MAX);
        Tickets {
            spent: Mutex::new(Box::new(SpentBitmap::new(ttl_ms, fuse))),
            issue: Mutex::new(IssueLimit::new(cfg.tickets_per_minute_per_source, cap)),
            per_minute: cfg.tickets_per_minute_per_source,
            fast: Mutex::new(HashMap::new()),
            cap,
        }
    }

    /// Number a ticket for `source` (`exempt`: not limited), good until `expires_ms`.
    pub fn number(&self, source: IpAddr, exempt: bool, now_ms: u64, expires_ms: u64) -> Result<TicketId, IssueError> {
        if !exempt && !lock(&self.issue).take(source_key(source), now_ms) {
            return Err(IssueError::TooMany(self.per_minute));
        }
        lock(&self.spent).issue(now_ms, expires_ms).map_err(|_| IssueError::Busy)
    }

    /// `Ok` when `id` is unspent (see `SpentTickets::unspent`).
    pub fn unspent(&self, id: TicketId) -> Result<(), TicketError> {
        lock(&self.spent).unspent(id)
    }

    /// Spend `id`: once.
    pub fn spend(&self, id: TicketId, now_ms: u64) -> Result<(), TicketError> {
        lock(&self.spent).spend(id, now_ms)
    }

    /// A captcha from `source` came faster than a person: whether one did before within
    /// `window_ms` (only a repeat is scored).
    pub fn too_fast_again(&self, source: IpAddr, now_ms: u64, window_ms: u64) -> bool {
        let mut m = lock(&self.fast);
        let key = source_key(source);
        let again = m.get(&key).is_some_and(|last| now_ms.saturating_sub(*last) < window_ms);
        if m.len() >= self.cap && !m.contains_key(&key) {
            m.retain(|_, last| now_ms.saturating_sub(*last) < window_ms);
        }
        if m.len() < self.cap || m.contains_key(&key) {
            m.insert(key, now_ms);
        }
        again
    }

    /// Upkeep: forget expired epochs, refilled buckets, and fast answers past `window_ms`.
    /// Logs the spent set's size (debug): its bytes and the tickets they number.
    pub fn prune(&self, now_ms: u64, window_ms: u64) {
        {
            let mut s = lock(&self.spent);
            s.prune(now_ms);
            tracing::debug!(event = "spent_set", bytes = s.bytes(), tickets = s.issued(), "the spent set");
        }
        lock(&self.issue).prune(now_ms);
        lock(&self.fast).retain(|_, last| now_ms.saturating_sub(*last) < window_ms);
    }
}
