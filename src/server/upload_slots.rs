//! The upload disk slots (each an upload writing on a blocking thread), shared fairly
//! (`policy::disk_slots`): a free slot to whoever asks within its account's cap; an account
//! at its cap is refused at once; with none free, an asker within its shares has the
//! stalest upload of whoever is furthest over theirs stopped and gets its slot; otherwise
//! it waits, at most its deadline, and slots given back go first to the waiters whose
//! accounts hold the fewest. The state sits behind a lock held for a few instructions.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::policy::disk_slots::{Asker, Decision, DiskSlots, SlotId};
use crate::policy::prefix_of;

/// Uploads waiting for a slot, at most (past it, "busy" at once).
pub const MAX_SLOT_WAITERS: usize = 4096;

/// Why no slot was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotRefused {
    /// The account holds its `max_uploads_per_account` already.
    AccountFull,
    /// None came free within the wait (or too many wait).
    Busy,
}

/// A held slot's stop signal and progress clock, for the upload that holds it.
#[derive(Debug)]
pub struct SlotStop {
    stop: oneshot::Receiver<()>,
    progress: Progress,
}

/// Where an upload notes its progress (the stalest is the one stopped for another).
#[derive(Debug, Clone)]
pub struct Progress {
    at: Arc<AtomicU64>,
    base: Instant,
}

impl Progress {
    /// The upload made progress now.
    pub fn now(&self) {
        self.at.store(ms_since(self.base), Ordering::Relaxed);
    }
}

impl SlotStop {
    /// Resolves when the slot is taken for another (never, while it is not).
    pub async fn stopped(&mut self) {
        if (&mut self.stop).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    pub fn progress(&self) -> Progress {
        self.progress.clone()
    }
}

impl SlotRefused {
    /// What the client is told (an account holds at most `per_account`).
    pub fn words(self, per_account: u32) -> String {
        match self {
            SlotRefused::AccountFull => format!(
                "this account has {per_account} uploads writing to disk at once (the listener's \
                 max_uploads_per_account); when they finish, run the same command again to resume"
            ),
            SlotRefused::Busy => "the listener's disk slots are all in use; run the same command again in a moment \
                                  to resume"
                .into(),
        }
    }
}

fn ms_since(base: Instant) -> u64 {
    u64::try_from(base.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A slot, given back on drop (to a waiter, first to the one it was taken for).
#[derive(Debug)]
pub struct UploadSlot {
    slots: Arc<UploadSlots>,
    id: SlotId,
}

impl Drop for UploadSlot {
    fn drop(&mut self) {
        self.slots.release(self.id);
    }
}

#[derive(Debug)]
struct Live {
    stop: Option<oneshot::Sender<()>>,
    progress: Arc<AtomicU64>,
    /// The waiter this slot was taken for.
    promised: Option<u64>,
}

#[derive(Debug)]
struct Waiter {
    seq: u64,
    net: ipnet::IpNet,
    account: String,
    stoppable: bool,
    tx: oneshot::Sender<(SlotId, SlotStop)>,
}

#[derive(Debug)]
struct State {
    policy: DiskSlots,
    live: HashMap<SlotId, Live>,
    waiters: Vec<Waiter>,
    seq: u64,
}

#[derive(Debug)]
pub struct UploadSlots {
    state: Mutex<State>,
    base: Instant,
}

impl UploadSlots {
    pub fn new(slots: usize, per_account: usize) -> UploadSlots {
        let state =
            State { policy: DiskSlots::new(slots, per_account), live: HashMap::new(), waiters: Vec::new(), seq: 0 };
        UploadSlots { state: Mutex::new(state), base: Instant::now() }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Record `id` as held; the upload's side of it.
    fn hold(&self, s: &mut State, id: SlotId) -> SlotStop {
        let (tx, stop) = oneshot::channel();
        let progress = Arc::new(AtomicU64::new(ms_since(self.base)));
        s.live.insert(id, Live { stop: Some(tx), progress: progress.clone(), promised: None });
        SlotStop { stop, progress: Progress { at: progress, base: self.base } }
    }

    /// A slot for an upload (`stoppable`) or other disk work of `account` from `ip`, waiting
    /// at most `wait` when none is free.
    pub async fn acquire(
        self: &Arc<Self>,
        ip: IpAddr,
        account: &str,
        stoppable: bool,
        wait: Duration,
    ) -> Result<(UploadSlot, SlotStop), SlotRefused> {
        let net = prefix_of(ip);
        let rx = {
            let mut guard = self.lock();
            let s = &mut *guard;
            let who = Asker { net, account };
            let since = |id: SlotId| s.live.get(&id).map_or(0, |l| l.progress.load(Ordering::Relaxed));
            let taken = match s.policy.ask(&who, stoppable, since) {
                Decision::Granted(id) => {
                    let stop = self.hold(s, id);
                    return Ok((UploadSlot { slots: self.clone(), id }, stop));
                }
                Decision::AccountFull => return Err(SlotRefused::AccountFull),
                Decision::Take(victim) => Some(victim),
                Decision::Wait => None,
            };
            s.waiters.retain(|w| !w.tx.is_closed());
            if s.waiters.len() >= MAX_SLOT_WAITERS {
                return Err(SlotRefused::Busy);
            }
            s.seq += 1;
            let seq = s.seq;
            if let Some(l) = taken.and_then(|victim| s.live.get_mut(&victim)) {
                l.promised = Some(seq);
                if let Some(stop) = l.stop.take() {
                    let _ = stop.send(());
                }
            }
            let (tx, rx) = oneshot::channel();
            s.waiters.push(Waiter { seq, net, account: account.to_owned(), stoppable, tx });
            rx
        };
        match tokio::time::timeout(wait, rx).await {
            Ok(Ok((id, stop))) => Ok((UploadSlot { slots: self.clone(), id }, stop)),
            _ => Err(SlotRefused::Busy),
        }
    }

    /// A slot given back: to the waiter it was taken for, then to the waiters whose
    /// accounts hold the fewest (earlier first), while slots are free.
    fn release(&self, id: SlotId) {
        let mut guard = self.lock();
        let s = &mut *guard;
        s.policy.release(id);
        let promised = s.live.remove(&id).and_then(|l| l.promised);
        s.waiters.retain(|w| !w.tx.is_closed());
        while s.policy.held() < s.policy.slots() {
            // One pass: the promised waiter, else the fewest held, else the earliest, among
            // those whose account may take a slot now.
            let policy = &s.policy;
            let next = s
                .waiters
                .iter()
                .enumerate()
                .filter(|(_, w)| policy.held_by(&w.account) < policy.per_account())
                .min_by_key(|(_, w)| (Some(w.seq) != promised, policy.held_by(&w.account), w.seq))
                .map(|(i, _)| i);
            let Some(i) = next else { break };
            let w = s.waiters.swap_remove(i);
            let Some(slot) = s.policy.free_slot(&Asker { net: w.net, account: &w.account }, w.stoppable) else { break };
            let stop = self.hold(s, slot);
            if w.tx.send((slot, stop)).is_err() {
                s.policy.release(slot);
                s.live.remove(&slot);
            }
        }
    }
}
