//! The password-hash slots, shared fairly (`policy::fair_queue`: round robin by network,
//! then by account, every made-up name in one queue; no network or account past its
//! share): the queue behind a lock held for a few instructions, each waiter woken by a
//! oneshot channel. A slot given back goes to the next fair waiter; a waiter that gives up
//! (its connection closed, its deadline passed) leaves the queue, and a slot handed to it in
//! that instant is passed on, never lost.
//!
//! Debug logs (`hash_queued`, `hash_granted`) are written under the lock, in the queue's own
//! order: the tests read them to check who was served before whom.

use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::oneshot;
use tracing::debug;

use crate::policy::fair_queue::{FairQueue, Grant, Place, Want};

/// Waiting logins, at most, in all and from one network (each holds a connection's login;
/// admission allows `max_connections_per_prefix`, 64 by default, connections a network).
pub const MAX_HASH_WAITERS: usize = 1024;
pub const MAX_HASH_WAITERS_PER_NETWORK: usize = 256;

/// No slot: the queue was full, or a fairer newcomer took this waiter's place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// What a waiter keeps in the queue: who it is (for the log) and how to wake it.
#[derive(Debug)]
struct Waiter {
    peer: SocketAddr,
    wake: oneshot::Sender<Grant>,
}

#[derive(Debug)]
pub struct HashSlots {
    queue: Mutex<FairQueue<Waiter>>,
}

/// A hash slot, given back (to the next fair waiter) on drop.
#[derive(Debug)]
pub struct HashSlot<'a> {
    slots: &'a HashSlots,
    grant: Option<Grant>,
}

impl Drop for HashSlot<'_> {
    fn drop(&mut self) {
        if let Some(g) = self.grant.take() {
            let mut q = self.slots.lock();
            q.release(&g);
            dispatch(&mut q);
        }
    }
}

/// A place in the queue; leaving it (the future dropped) hands on a slot it was given.
struct Waiting<'a> {
    slots: &'a HashSlots,
    place: Place,
    rx: Option<oneshot::Receiver<Grant>>,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let Some(mut rx) = self.rx.take() else { return };
        let mut q = self.slots.lock();
        if q.leave(self.place).is_some() {
            return;
        }
        rx.close();
        if let Ok(g) = rx.try_recv() {
            q.release(&g);
            dispatch(&mut q);
        }
    }
}

/// Give every slot that may be given to its waiter; a waiter gone meanwhile hands it on.
fn dispatch(q: &mut FairQueue<Waiter>) {
    while let Some((g, w)) = q.grant() {
        let (net, owner) = (g.net, g.owner.clone());
        if let Err(g) = w.wake.send(g) {
            q.release(&g);
            continue;
        }
        debug!(peer = %w.peer, %net, ?owner, event = "hash_granted", "a password hash starts");
    }
}

impl HashSlots {
    pub fn new(slots: usize, max_waiting: usize, max_per_network: usize) -> HashSlots {
        HashSlots { queue: Mutex::new(FairQueue::new(slots, max_waiting, max_per_network)) }
    }

    fn lock(&self) -> MutexGuard<'_, FairQueue<Waiter>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the listener is under load: more logins wait for a hash than there are
    /// slots, so a newcomer waits at least a whole round of hashes.
    pub fn loaded(&self) -> bool {
        let q = self.lock();
        q.waiting() >= q.slots()
    }

    /// Waiters now.
    #[cfg(test)]
    pub fn waiting(&self) -> usize {
        self.lock().waiting()
    }

    /// Wait for a slot as `want` says (from `peer`, for the log).
    pub async fn acquire(&self, peer: SocketAddr, want: Want) -> Result<HashSlot<'_>, Busy> {
        let (tx, rx) = oneshot::channel();
        let place = {
            let mut q = self.lock();
            let (net, owner, effort, known) = (want.net, want.owner.clone(), want.effort, want.known);
            let (place, evicted) = q.push(want, Waiter { peer, wake: tx }).map_err(|_| Busy)?;
            if let Some(w) = evicted {
                debug!(peer = %w.peer, event = "hash_displaced", "a waiting password hash gave its place to a fairer one");
            }
            let waiting = q.waiting();
            debug!(peer = %peer, %net, ?owner, effort, known, waiting, event = "hash_queued", "a password hash waits");
            dispatch(&mut q);
            place
        };
        let mut waiting = Waiting { slots: self, place, rx: Some(rx) };
        let granted = match waiting.rx.as_mut() {
            Some(rx) => rx.await.ok(),
            None => None,
        };
        waiting.rx = None;
        granted.map(|g| HashSlot { slots: self, grant: Some(g) }).ok_or(Busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::fair_queue::Owner;
    use std::future::Future;
    use std::net::IpAddr;

    fn want(net: [u8; 4], owner: &str) -> Want {
        let net = crate::policy::prefix_of(IpAddr::from(net));
        Want { net, owner: Owner::Account(owner.into()), known: false, effort: 0 }
    }

    const PEER: SocketAddr = SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 1);

    #[tokio::test]
    async fn a_slot_goes_to_the_next_network_and_none_is_lost() {
        let slots = std::sync::Arc::new(HashSlots::new(1, 8, 8));
        let held = slots.acquire(PEER, want([10, 0, 1, 1], "a")).await.expect("free slot");
        let order = std::sync::Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (name, net) in [("a2", [10, 0, 1, 2]), ("a3", [10, 0, 1, 3]), ("b", [10, 0, 2, 1])] {
            let (s, order) = (slots.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _slot = s.acquire(PEER, want(net, name)).await.expect("slot");
                order.lock().expect("order").push(name);
                tokio::task::yield_now().await;
            }));
            while slots.waiting() < tasks.len() {
                tokio::task::yield_now().await;
            }
        }
        assert!(slots.loaded());
        drop(held);
        for t in tasks {
            t.await.expect("task");
        }
        // The other network's login goes before the first network's second.
        assert_eq!(*order.lock().expect("order"), ["a2", "b", "a3"]);
        let _again = slots.acquire(PEER, want([10, 0, 1, 1], "a")).await.expect("free again");
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_loses_no_slot() {
        let slots = HashSlots::new(1, 8, 8);
        let held = slots.acquire(PEER, want([10, 0, 1, 1], "a")).await.expect("slot");
        {
            let waiting = slots.acquire(PEER, want([10, 0, 2, 1], "b"));
            tokio::pin!(waiting);
            let polled = std::future::poll_fn(|cx| match waiting.as_mut().poll(cx) {
                std::task::Poll::Ready(_) => std::task::Poll::Ready(true),
                std::task::Poll::Pending => std::task::Poll::Ready(false),
            })
            .await;
            assert!(!polled, "queued");
        }
        drop(held);
        assert_eq!(slots.waiting(), 0);
        let again =
            tokio::time::timeout(std::time::Duration::from_secs(1), slots.acquire(PEER, want([10, 0, 3, 1], "c")));
        assert!(matches!(again.await, Ok(Ok(_))), "the slot was lost");
    }
}
