//! Fair shares of a few slots among many waiters: the listener's password hashes. The
//! outer level is a round robin of source networks (/24, /64); inside a network, a round
//! robin of owners: each existing account, and every name no account has together as one
//! owner of its own ([`Owner::MadeUp`]). Inside one (network, owner) queue, waiters from the
//! account's known places go first, then more proof of work, then the earlier arrival; and
//! among one account's waiters anywhere, those from its known places go first.
//!
//! A network's turn serves only waiters that arrived before the turn began (when the
//! network joined the back of the round): a waiter that arrives later waits for the
//! network's next turn, whatever its work. So a newcomer is served before every waiter of
//! other networks that arrived after it (save the same account's from its known places).
//!
//! No network and no owner holds more than its share of the slots: `⌈slots / n⌉`, `n`
//! the networks (owners) holding or waiting for a slot. A slot that no waiter may take
//! within its shares stays free until one may (a slot comes back, or a holder's network
//! stops waiting).
//!
//! Bounded: at most `max_waiting` waiters, at most `max_per_network` from one network. When
//! full, a newcomer from a network with fewer waiters than the fullest one takes the place
//! of that network's lowest waiter (which is told "busy"); otherwise the newcomer is.

use std::collections::{HashMap, VecDeque};

use ipnet::IpNet;

/// Whom a waiter is for: an existing account, or any name no account has.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Owner {
    Account(String),
    MadeUp,
}

/// What one waiter asks for a slot as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    /// The source network (`prefix_of` the address).
    pub net: IpNet,
    pub owner: Owner,
    /// From one of the account's known places.
    pub known: bool,
    /// The proof-of-work bits the request carries (0 without).
    pub effort: u8,
}

/// A slot given: hand it back with [`FairQueue::release`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub net: IpNet,
    pub owner: Owner,
}

/// A waiter's place, to leave the queue by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Place(u64);

/// The queue was full: the newcomer is turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full;

#[derive(Debug, Default, Clone, Copy)]
struct Count {
    held: usize,
    waiting: usize,
    known_waiting: usize,
}

impl Count {
    fn idle(&self) -> bool {
        self.held == 0 && self.waiting == 0
    }
}

#[derive(Debug)]
struct Waiter<T> {
    want: Want,
    seq: u64,
    item: T,
}

impl<T> Waiter<T> {
    /// Rank inside one queue: known places, then effort, then arrival (earlier first).
    fn rank(&self) -> (bool, u8, std::cmp::Reverse<u64>) {
        (self.want.known, self.want.effort, std::cmp::Reverse(self.seq))
    }
}

/// The fair queue; `T` is what the caller keeps with each waiter (the way to wake it).
#[derive(Debug)]
pub struct FairQueue<T> {
    slots: usize,
    held: usize,
    max_waiting: usize,
    max_per_network: usize,
    seq: u64,
    nets: HashMap<IpNet, Count>,
    owners: HashMap<Owner, Count>,
    /// Waiters by (network, owner); each queue unordered (ranked when served).
    queues: HashMap<(IpNet, Owner), Vec<Waiter<T>>>,
    /// Networks with waiters, in turn order, each with the last arrival its turn serves.
    ring: VecDeque<IpNet>,
    since: HashMap<IpNet, u64>,
    /// Per network, its owners with waiters, in turn order.
    turns: HashMap<IpNet, VecDeque<Owner>>,
    waiting: usize,
}

fn share(slots: usize, active: usize) -> usize {
    slots.div_ceil(active.max(1)).max(1)
}

impl<T> FairQueue<T> {
    pub fn new(slots: usize, max_waiting: usize, max_per_network: usize) -> Self {
        FairQueue {
            slots: slots.max(1),
            held: 0,
            max_waiting,
            max_per_network,
            seq: 0,
            nets: HashMap::new(),
            owners: HashMap::new(),
            queues: HashMap::new(),
            ring: VecDeque::new(),
            since: HashMap::new(),
            turns: HashMap::new(),
            waiting: 0,
        }
    }

    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Waiters now.
    pub fn waiting(&self) -> usize {
        self.waiting
    }

    /// Slots held now.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Slots `net` holds now, and what one network may hold now.
    pub fn held_by(&self, net: &IpNet) -> (usize, usize) {
        (self.nets.get(net).map_or(0, |c| c.held), share(self.slots, self.nets.len()))
    }

    /// Queue a waiter. Returns its place, and the waiter it displaced (to be told "busy"),
    /// if any; or [`Full`].
    pub fn push(&mut self, want: Want, item: T) -> Result<(Place, Option<T>), (Full, T)> {
        let mine = self.nets.get(&want.net).map_or(0, |c| c.waiting);
        if mine >= self.max_per_network {
            return Err((Full, item));
        }
        let mut evicted = None;
        if self.waiting >= self.max_waiting {
            let fullest = self.nets.iter().filter(|(_, c)| c.waiting > 0).max_by_key(|(_, c)| c.waiting);
            match fullest {
                Some((net, c)) if c.waiting > mine + 1 => {
                    let net = *net;
                    evicted = self.evict_lowest(net);
                }
                _ => return Err((Full, item)),
            }
            if evicted.is_none() {
                return Err((Full, item));
            }
        }
        self.seq += 1;
        let seq = self.seq;
        let (net, owner, known) = (want.net, want.owner.clone(), want.known);
        let key = (net, owner.clone());
        let queue = self.queues.entry(key).or_default();
        if queue.is_empty() {
            let turns = self.turns.entry(net).or_default();
            if turns.is_empty() {
                self.ring.push_back(net);
                self.since.insert(net, seq);
            }
            turns.push_back(owner.clone());
        }
        queue.push(Waiter { want, seq, item });
        self.waiting += 1;
        let n = self.nets.entry(net).or_default();
        n.waiting += 1;
        let o = self.owners.entry(owner).or_default();
        o.waiting += 1;
        o.known_waiting += usize::from(known);
        Ok((Place(seq), evicted))
    }

    /// Take the waiter at `place` out (it gave up); its item, if it was still waiting.
    pub fn leave(&mut self, place: Place) -> Option<T> {
        let key = self.queues.iter().find(|(_, q)| q.iter().any(|w| w.seq == place.0)).map(|(k, _)| k.clone())?;
        let i = self.queues.get(&key)?.iter().position(|w| w.seq == place.0)?;
        Some(self.take(&key, i)?.item)
    }

    /// The next waiter to be given a slot, if any slot is free and any waiter may take it
    /// within its shares; its slot is counted as held.
    pub fn grant(&mut self) -> Option<(Grant, T)> {
        if self.held >= self.slots {
            return None;
        }
        self.pass_empty_turns();
        let (key, i) = self.choose()?;
        let w = self.take(&key, i)?;
        self.held += 1;
        self.nets.entry(w.want.net).or_default().held += 1;
        self.owners.entry(w.want.owner.clone()).or_default().held += 1;
        // The network and the owner served go to the back of their rounds.
        if let Some(pos) = self.ring.iter().position(|n| *n == w.want.net) {
            if let Some(n) = self.ring.remove(pos) {
                if self.turns.get(&n).is_some_and(|t| !t.is_empty()) {
                    self.ring.push_back(n);
                    self.since.insert(n, self.seq);
                }
            }
        }
        if let Some(turns) = self.turns.get_mut(&w.want.net) {
            if let Some(pos) = turns.iter().position(|o| *o == w.want.owner) {
                if let Some(o) = turns.remove(pos) {
                    if self.queues.contains_key(&(w.want.net, o.clone())) {
                        turns.push_back(o);
                    }
                }
            }
        }
        Some((Grant { net: w.want.net, owner: w.want.owner }, w.item))
    }

    /// A slot given back.
    pub fn release(&mut self, grant: &Grant) {
        self.held = self.held.saturating_sub(1);
        if let Some(c) = self.nets.get_mut(&grant.net) {
            c.held = c.held.saturating_sub(1);
            if c.idle() {
                self.nets.remove(&grant.net);
            }
        }
        if let Some(c) = self.owners.get_mut(&grant.owner) {
            c.held = c.held.saturating_sub(1);
            if c.idle() {
                self.owners.remove(&grant.owner);
            }
        }
    }

    /// Networks whose turn has no waiter left that arrived before it began go to the back
    /// of the round, with a new turn.
    fn pass_empty_turns(&mut self) {
        let empty: Vec<IpNet> = self
            .ring
            .iter()
            .filter(|n| {
                let since = self.since.get(n).copied().unwrap_or(0);
                let owners = self.turns.get(n).into_iter().flatten();
                !owners.filter_map(|o| self.queues.get(&(**n, o.clone()))).any(|q| q.iter().any(|w| w.seq <= since))
            })
            .copied()
            .collect();
        for n in empty {
            self.ring.retain(|r| *r != n);
            self.ring.push_back(n);
            self.since.insert(n, self.seq);
        }
    }

    /// The (queue, index) of the waiter to serve next.
    fn choose(&self) -> Option<((IpNet, Owner), usize)> {
        let net_share = share(self.slots, self.nets.len());
        let owner_share = share(self.slots, self.owners.len());
        let net_ok = |n: &IpNet| self.nets.get(n).map_or(0, |c| c.held) < net_share;
        for net in self.ring.iter().filter(|n| net_ok(n)) {
            let Some(turns) = self.turns.get(net) else { continue };
            for owner in turns {
                let count = self.owners.get(owner).copied().unwrap_or_default();
                if count.held >= owner_share {
                    continue;
                }
                let key = (*net, owner.clone());
                let since = self.since.get(net).copied().unwrap_or(u64::MAX);
                let Some(i) = self.best(&key, since) else { continue };
                let known = self.queues.get(&key).and_then(|q| q.get(i)).is_some_and(|w| w.want.known);
                // An account's waiters from its known places go before its others.
                if !known && count.known_waiting > 0 && matches!(owner, Owner::Account(_)) {
                    let elsewhere = self.ring.iter().filter(|n| net_ok(n)).find_map(|n| {
                        let key = (*n, owner.clone());
                        let i = self.best(&key, u64::MAX)?;
                        self.queues.get(&key)?.get(i)?.want.known.then_some((key, i))
                    });
                    if elsewhere.is_some() {
                        return elsewhere;
                    }
                }
                return Some((key, i));
            }
        }
        None
    }

    /// The best-ranked waiter of queue `key` that arrived no later than `since`.
    fn best(&self, key: &(IpNet, Owner), since: u64) -> Option<usize> {
        let q = self.queues.get(key)?;
        q.iter().enumerate().filter(|(_, w)| w.seq <= since).max_by_key(|(_, w)| w.rank()).map(|(i, _)| i)
    }

    /// Remove waiter `i` of queue `key`, keeping the counts and rounds.
    fn take(&mut self, key: &(IpNet, Owner), i: usize) -> Option<Waiter<T>> {
        let q = self.queues.get_mut(key)?;
        if i >= q.len() {
            return None;
        }
        let w = q.swap_remove(i);
        if q.is_empty() {
            self.queues.remove(key);
            if let Some(turns) = self.turns.get_mut(&key.0) {
                turns.retain(|o| *o != key.1);
                if turns.is_empty() {
                    self.turns.remove(&key.0);
                    self.ring.retain(|n| *n != key.0);
                    self.since.remove(&key.0);
                }
            }
        }
        self.waiting -= 1;
        if let Some(c) = self.nets.get_mut(&key.0) {
            c.waiting = c.waiting.saturating_sub(1);
            if c.idle() {
                self.nets.remove(&key.0);
            }
        }
        if let Some(c) = self.owners.get_mut(&key.1) {
            c.waiting = c.waiting.saturating_sub(1);
            c.known_waiting = c.known_waiting.saturating_sub(usize::from(w.want.known));
            if c.idle() {
                self.owners.remove(&key.1);
            }
        }
        Some(w)
    }

    /// Turn away the lowest-ranked, latest waiter of `net`.
    fn evict_lowest(&mut self, net: IpNet) -> Option<T> {
        let (key, i) = self
            .queues
            .iter()
            .filter(|((n, _), _)| *n == net)
            .flat_map(|(k, q)| q.iter().enumerate().map(move |(i, w)| (k, i, w.rank())))
            .min_by_key(|(_, _, rank)| *rank)
            .map(|(k, i, _)| (k.clone(), i))?;
        Some(self.take(&key, i)?.item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(i: u32) -> IpNet {
        IpNet::V4(ipnet::Ipv4Net::new(std::net::Ipv4Addr::from(0x0a00_0000 | (i << 8)), 24).expect("net"))
    }

    fn want(n: u32, owner: &str, known: bool, effort: u8) -> Want {
        let owner = if owner.is_empty() { Owner::MadeUp } else { Owner::Account(owner.into()) };
        Want { net: net(n), owner, known, effort }
    }

    /// Grants until none is possible, releasing each at once; the items in order.
    fn drain(q: &mut FairQueue<&'static str>) -> Vec<&'static str> {
        let mut out = Vec::new();
        while let Some((g, item)) = q.grant() {
            out.push(item);
            q.release(&g);
        }
        out
    }

    #[test]
    fn networks_take_turns_then_owners_within_a_network() {
        let mut q = FairQueue::new(1, 100, 100);
        let (held, _) = {
            q.push(want(9, "z", false, 0), "held").expect("room");
            q.grant().expect("free slot")
        };
        for item in ["a1", "a2", "a3"] {
            q.push(want(1, "x", false, 0), item).expect("room");
        }
        q.push(want(1, "", false, 0), "a-madeup").expect("room");
        q.push(want(2, "y", false, 0), "b1").expect("room");
        q.release(&held);
        assert_eq!(drain(&mut q), ["a1", "b1", "a-madeup", "a2", "a3"]);
    }

    #[test]
    fn a_login_is_served_before_any_flood_login_that_arrives_after_it() {
        for flooders in [1u32, 120] {
            let mut q = FairQueue::new(2, 1024, 64);
            // Two held slots, two floods' worth waiting from each network, for one account.
            for n in 0..flooders {
                for _ in 0..2 {
                    q.push(want(n, "target", false, 16), "before").expect("room");
                }
            }
            let held: Vec<_> = (0..2).filter_map(|_| q.grant()).collect();
            q.push(want(500, "victim", false, 0), "victim").expect("room");
            // More work than the waiters before them, in networks whose turn comes first.
            for n in 0..flooders {
                q.push(want(n, "target", false, 24), "after").expect("room");
            }
            for (g, _) in &held {
                q.release(g);
            }
            let order = drain(&mut q);
            let victim = order.iter().position(|i| *i == "victim").expect("served");
            assert!(!order[..victim].contains(&"after"), "{flooders} networks: {order:?}");
        }
    }

    #[test]
    fn no_network_or_account_holds_more_than_its_share() {
        let mut q = FairQueue::new(4, 100, 100);
        for _ in 0..10 {
            q.push(want(1, "x", false, 0), "a").expect("room");
        }
        let mut held: Vec<_> = std::iter::from_fn(|| q.grant()).collect();
        assert_eq!(held.len(), 4, "alone, a network may use every slot");
        q.push(want(2, "y", false, 0), "b").expect("room");
        // Two networks: 2 slots each. A gets none back until it holds fewer than 2.
        let (g, _) = held.remove(0);
        q.release(&g);
        assert_eq!(q.grant().map(|(_, i)| i), Some("b"));
        let (g, _) = held.remove(0);
        q.release(&g);
        assert_eq!(q.grant().map(|(_, i)| i), None, "network 1 holds 2 of 4 while network 2 holds 1");
        assert_eq!(q.held_by(&net(1)), (2, 2));
        // One account from many networks is held to its share too.
        let mut q = FairQueue::new(2, 100, 100);
        for n in 0..10 {
            q.push(want(n, "x", false, 0), "x").expect("room");
        }
        q.push(want(50, "y", false, 0), "y").expect("room");
        let first: Vec<_> = std::iter::from_fn(|| q.grant()).map(|(_, i)| i).collect();
        assert_eq!(first, ["x", "y"]);
    }

    #[test]
    fn known_places_then_effort_then_arrival() {
        let mut q = FairQueue::new(1, 100, 100);
        let (held, _) = {
            q.push(want(9, "z", false, 0), "held").expect("room");
            q.grant().expect("free")
        };
        q.push(want(1, "x", false, 0), "plain").expect("room");
        q.push(want(1, "x", false, 20), "worked").expect("room");
        q.push(want(1, "x", false, 20), "worked-later").expect("room");
        q.push(want(2, "x", false, 24), "elsewhere").expect("room");
        q.push(want(3, "x", true, 0), "home").expect("room");
        q.release(&held);
        // The account's known place first, though its network's turn comes last; then
        // networks in turn: network 1's first turn serves only what came before it began
        // ("plain"), its next one the rest, by effort, then arrival.
        assert_eq!(drain(&mut q), ["home", "plain", "elsewhere", "worked", "worked-later"]);
    }

    #[test]
    fn the_queue_is_bounded_per_network_and_in_all() {
        let mut q = FairQueue::new(1, 4, 3);
        let _held = {
            q.push(want(9, "z", false, 0), "held").expect("room");
            q.grant().expect("free")
        };
        for _ in 0..3 {
            q.push(want(1, "x", false, 0), "a").expect("room");
        }
        assert!(q.push(want(1, "x", false, 0), "a4").is_err(), "past the network's bound");
        q.push(want(2, "y", false, 0), "b").expect("room");
        // Full in all: a network with fewer waiters than the fullest takes a place from it.
        let (_, evicted) = q.push(want(3, "w", false, 0), "c").expect("room");
        assert_eq!(evicted, Some("a"));
        assert!(q.push(want(2, "y", false, 0), "b2").is_err(), "no network has more waiters than this one's plus one");
        assert_eq!(q.waiting(), 4);
    }

    #[test]
    fn a_waiter_that_leaves_is_not_served() {
        let mut q = FairQueue::new(1, 10, 10);
        let held = {
            q.push(want(9, "z", false, 0), "held").expect("room");
            q.grant().expect("free").0
        };
        let (gone, _) = q.push(want(1, "x", false, 0), "gone").expect("room");
        q.push(want(2, "y", false, 0), "stays").expect("room");
        assert_eq!(q.leave(gone), Some("gone"));
        assert_eq!(q.leave(gone), None);
        q.release(&held);
        assert_eq!(drain(&mut q), ["stays"]);
        assert_eq!((q.waiting(), q.held()), (0, 0));
        assert!(q.nets.is_empty() && q.owners.is_empty() && q.ring.is_empty() && q.turns.is_empty());
        assert!(q.since.is_empty() && q.queues.is_empty());
    }
}
