//! A counting gate whose waiters are served by priority, then in arrival order: under load,
//! the memory-hard password hashes of logins that carry more proof of work go first (the
//! priority queue of Tor's onion-service defence, proposal 327). Bounded: at most
//! `max_waiting` waiters; when full, a newcomer that ranks above the lowest waiter takes its
//! place (that one is told "busy"), otherwise the newcomer is. A waiter that gives up (its
//! connection closed) leaves the queue, and a slot handed to it in that instant is passed
//! on, never lost.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::Mutex;

use tokio::sync::oneshot;

#[derive(Debug)]
pub struct PriorityGate {
    max_waiting: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    free: usize,
    seq: u64,
    waiting: BinaryHeap<Waiter>,
}

#[derive(Debug)]
struct Waiter {
    priority: u8,
    seq: u64,
    tx: oneshot::Sender<()>,
}

impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Waiter {}

impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Waiter {
    /// Higher priority first; among equals, the earlier arrival.
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority.cmp(&other.priority).then_with(|| other.seq.cmp(&self.seq))
    }
}

/// The queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// A slot, given back on drop.
#[derive(Debug)]
pub struct Slot<'a> {
    gate: &'a PriorityGate,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.gate.release();
    }
}

/// A place in the queue; leaving it (the future dropped) hands on a slot it was given.
struct Place<'a> {
    gate: &'a PriorityGate,
    rx: Option<oneshot::Receiver<()>>,
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        if let Some(mut rx) = self.rx.take() {
            rx.close();
            if rx.try_recv().is_ok() {
                self.gate.release();
            }
        }
    }
}

impl PriorityGate {
    pub fn new(slots: usize, max_waiting: usize) -> PriorityGate {
        PriorityGate {
            max_waiting,
            inner: Mutex::new(Inner { free: slots.max(1), seq: 0, waiting: BinaryHeap::new() }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wait for a slot, served by `priority` (higher first), then by arrival.
    pub async fn acquire(&self, priority: u8) -> Result<Slot<'_>, Busy> {
        let rx = {
            let mut inner = self.lock();
            if inner.free > 0 && inner.waiting.is_empty() {
                inner.free -= 1;
                return Ok(Slot { gate: self });
            }
            if inner.waiting.len() >= self.max_waiting {
                // Full: forget waiters that gave up, then make room by turning away the
                // lowest-priority waiter if this one ranks above it (it is told "busy").
                let mut all = std::mem::take(&mut inner.waiting).into_vec();
                all.retain(|w| !w.tx.is_closed());
                if all.len() >= self.max_waiting {
                    let lowest = all.iter().enumerate().min_by(|a, b| a.1.cmp(b.1)).map(|(i, w)| (i, w.priority));
                    match lowest {
                        Some((i, p)) if p < priority => {
                            all.swap_remove(i);
                        }
                        _ => {
                            inner.waiting = all.into();
                            return Err(Busy);
                        }
                    }
                }
                inner.waiting = all.into();
            }
            let (tx, rx) = oneshot::channel();
            inner.seq += 1;
            let seq = inner.seq;
            inner.waiting.push(Waiter { priority, seq, tx });
            rx
        };
        let mut place = Place { gate: self, rx: Some(rx) };
        let given = match place.rx.as_mut() {
            Some(rx) => rx.await.is_ok(),
            None => false,
        };
        place.rx = None;
        if given {
            Ok(Slot { gate: self })
        } else {
            Err(Busy)
        }
    }

    /// Hand a slot to the best live waiter, or free it.
    fn release(&self) {
        let mut inner = self.lock();
        while let Some(w) = inner.waiting.pop() {
            if w.tx.send(()).is_ok() {
                return;
            }
        }
        inner.free += 1;
    }

    /// Waiters now.
    #[cfg(test)]
    pub fn waiting(&self) -> usize {
        self.lock().waiting.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_are_served_by_priority_then_arrival_and_the_queue_is_bounded() {
        let gate = std::sync::Arc::new(PriorityGate::new(1, 3));
        let first = gate.acquire(0).await.expect("free slot");
        let order = std::sync::Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for (name, prio) in [("low", 1u8), ("high", 20), ("mid", 10)] {
            let (g, order) = (gate.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _slot = g.acquire(prio).await.expect("slot");
                order.lock().expect("order").push(name);
                tokio::task::yield_now().await;
            }));
            while gate.waiting() < tasks.len() {
                tokio::task::yield_now().await;
            }
        }
        // A fourth waiter that ranks no higher than the lowest does not fit.
        assert_eq!(gate.acquire(1).await.err(), Some(Busy));
        drop(first);
        for t in tasks {
            t.await.expect("task");
        }
        assert_eq!(*order.lock().expect("order"), ["high", "mid", "low"]);
        // Every slot came back.
        let _a = gate.acquire(0).await.expect("free again");
    }

    #[tokio::test]
    async fn a_full_queue_turns_away_its_lowest_for_a_higher_newcomer() {
        let gate = std::sync::Arc::new(PriorityGate::new(1, 2));
        let held = gate.acquire(0).await.expect("slot");
        let low = tokio::spawn({
            let g = gate.clone();
            async move { g.acquire(0).await.map(|_| ()) }
        });
        let mid = tokio::spawn({
            let g = gate.clone();
            async move { g.acquire(10).await.map(|_| ()) }
        });
        while gate.waiting() < 2 {
            tokio::task::yield_now().await;
        }
        let high = tokio::spawn({
            let g = gate.clone();
            async move { g.acquire(24).await.map(|_| ()) }
        });
        assert_eq!(low.await.expect("task"), Err(Busy), "the lowest waiter gives way");
        drop(held);
        assert_eq!(high.await.expect("task"), Ok(()));
        assert_eq!(mid.await.expect("task"), Ok(()));
    }

    #[tokio::test]
    async fn a_waiter_that_gives_up_loses_no_slot() {
        let gate = PriorityGate::new(1, 8);
        let held = gate.acquire(0).await.expect("slot");
        {
            let waiting = gate.acquire(5);
            tokio::pin!(waiting);
            // Poll once to queue, then give up.
            assert!(futures_poll_once(waiting.as_mut()).await.is_none());
        }
        drop(held);
        assert_eq!(gate.waiting(), 0);
        let again = tokio::time::timeout(std::time::Duration::from_secs(1), gate.acquire(0)).await;
        assert!(matches!(again, Ok(Ok(_))), "the slot was lost");
    }

    async fn futures_poll_once<F: std::future::Future + Unpin>(f: F) -> Option<F::Output> {
        let mut f = f;
        std::future::poll_fn(|cx| match std::pin::Pin::new(&mut f).poll(cx) {
            std::task::Poll::Ready(v) => std::task::Poll::Ready(Some(v)),
            std::task::Poll::Pending => std::task::Poll::Ready(None),
        })
        .await
    }
}
