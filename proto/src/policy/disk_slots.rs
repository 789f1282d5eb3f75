//! Fair shares of the upload disk slots (each an upload writing to disk on a thread of its
//! own): `slots` in all, at most `per_account` for one account. A free slot goes to whoever
//! asks (within its account's cap). When none is free, one that asks within its shares
//! takes one from whoever holds more than theirs: the upload that made no progress for the
//! longest, of the network and account most over their shares, is stopped (its bytes kept
//! for a resume) and its slot handed over. A share is `⌊slots / n⌋` (at least 1), `n` the
//! networks (accounts) holding a slot or asking for one, the asker included: so a newcomer
//! always finds someone over a share until as many accounts, on as many networks, as there
//! are slots hold one each.
//!
//! Slots that must not be stopped (a resume's hashing of complete files, which ends by
//! itself) count toward the shares but are never taken.

use std::collections::HashMap;

use ipnet::IpNet;

/// A slot held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SlotId(pub u64);

/// Who asks for a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asker<'a> {
    /// The source network (`prefix_of` the address).
    pub net: IpNet,
    pub account: &'a str,
}

/// What asking decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// A free slot, now held.
    Granted(SlotId),
    /// The account holds `per_account` slots already.
    AccountFull,
    /// None free: stop this upload; its slot goes to the asker when it is given back.
    Take(SlotId),
    /// None free and nobody holds more than their share: wait for one to come back.
    Wait,
}

#[derive(Debug, Clone)]
struct Holder {
    net: IpNet,
    account: String,
    /// May be stopped for another (an upload), or not (a resume's hashing).
    stoppable: bool,
    /// Already chosen to be stopped (its slot promised to another).
    taken: bool,
}

#[derive(Debug)]
pub struct DiskSlots {
    slots: usize,
    per_account: usize,
    next: u64,
    held: HashMap<SlotId, Holder>,
    by_net: HashMap<IpNet, usize>,
    by_account: HashMap<String, usize>,
}

fn share(slots: usize, active: usize) -> usize {
    (slots / active.max(1)).max(1)
}

impl DiskSlots {
    pub fn new(slots: usize, per_account: usize) -> Self {
        DiskSlots {
            slots: slots.max(1),
            per_account: per_account.max(1),
            next: 0,
            held: HashMap::new(),
            by_net: HashMap::new(),
            by_account: HashMap::new(),
        }
    }

    /// Slots in all.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Slots one account may hold.
    pub fn per_account(&self) -> usize {
        self.per_account
    }

    /// Slots held now.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Slots `account` holds now.
    pub fn held_by(&self, account: &str) -> usize {
        self.by_account.get(account).copied().unwrap_or(0)
    }

    /// The shares now for one more asker like `who` (counted if it holds nothing yet):
    /// what one network and one account may hold.
    pub fn shares(&self, who: &Asker<'_>) -> (usize, usize) {
        let nets = self.by_net.len() + usize::from(!self.by_net.contains_key(&who.net));
        let accounts = self.by_account.len() + usize::from(!self.by_account.contains_key(who.account));
        (share(self.slots, nets), share(self.slots, accounts))
    }

    /// Ask for a slot. `since` gives, for a held slot, when its upload last made progress
    /// (any clock; smaller is longer ago), to choose which to stop.
    pub fn ask(&mut self, who: &Asker<'_>, stoppable: bool, since: impl Fn(SlotId) -> u64) -> Decision {
        if self.held_by(who.account) >= self.per_account {
            return Decision::AccountFull;
        }
        if self.held.len() < self.slots {
            return Decision::Granted(self.grant(who, stoppable));
        }
        let (net_share, account_share) = self.shares(who);
        let net_held = self.by_net.get(&who.net).copied().unwrap_or(0);
        if net_held >= net_share || self.held_by(who.account) >= account_share {
            return Decision::Wait;
        }
        // Whoever is furthest over a share (network first, then account) gives up the
        // upload that made no progress for the longest.
        let over = |h: &Holder| {
            let net = self.by_net.get(&h.net).copied().unwrap_or(0).saturating_sub(net_share);
            let account = self.by_account.get(&h.account).copied().unwrap_or(0).saturating_sub(account_share);
            (net, account)
        };
        let victim = self
            .held
            .iter()
            .filter(|(_, h)| h.stoppable && !h.taken)
            .map(|(id, h)| (over(h), *id))
            .filter(|((net, account), _)| *net > 0 || *account > 0)
            .max_by_key(|(over, id)| (*over, std::cmp::Reverse(since(*id)), std::cmp::Reverse(*id)))
            .map(|(_, id)| id);
        match victim {
            Some(id) => {
                if let Some(h) = self.held.get_mut(&id) {
                    h.taken = true;
                }
                Decision::Take(id)
            }
            None => Decision::Wait,
        }
    }

    /// A free slot for `who` within its account's cap, if there is one; nothing is taken.
    pub fn free_slot(&mut self, who: &Asker<'_>, stoppable: bool) -> Option<SlotId> {
        (self.held.len() < self.slots && self.held_by(who.account) < self.per_account)
            .then(|| self.grant(who, stoppable))
    }

    fn grant(&mut self, who: &Asker<'_>, stoppable: bool) -> SlotId {
        self.next += 1;
        let id = SlotId(self.next);
        let holder = Holder { net: who.net, account: who.account.to_owned(), stoppable, taken: false };
        self.held.insert(id, holder);
        *self.by_net.entry(who.net).or_default() += 1;
        *self.by_account.entry(who.account.to_owned()).or_default() += 1;
        id
    }

    /// A slot given back.
    pub fn release(&mut self, id: SlotId) {
        let Some(h) = self.held.remove(&id) else { return };
        if let Some(n) = self.by_net.get_mut(&h.net) {
            *n -= 1;
            if *n == 0 {
                self.by_net.remove(&h.net);
            }
        }
        if let Some(n) = self.by_account.get_mut(&h.account) {
            *n -= 1;
            if *n == 0 {
                self.by_account.remove(&h.account);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(i: u32) -> IpNet {
        IpNet::V4(ipnet::Ipv4Net::new(std::net::Ipv4Addr::from(0x0a00_0000 | (i << 8)), 24).expect("net"))
    }

    /// `account` (on network `n`) asks until refused; a slot to take is taken at once (as
    /// the listener does: the stopped upload gives it back, the asker gets it). Returns the
    /// slots it got and how it was refused.
    fn fill(s: &mut DiskSlots, n: u32, account: &str, want: usize) -> (Vec<SlotId>, Option<Decision>) {
        let who = Asker { net: net(n), account };
        let mut got = Vec::new();
        while got.len() < want {
            match s.ask(&who, true, |id| id.0) {
                Decision::Granted(id) => got.push(id),
                Decision::Take(victim) => {
                    s.release(victim);
                    match s.ask(&who, true, |id| id.0) {
                        Decision::Granted(id) => got.push(id),
                        other => return (got, Some(other)),
                    }
                }
                refused => return (got, Some(refused)),
            }
        }
        (got, None)
    }

    #[test]
    fn an_account_at_its_cap_is_refused_at_once() {
        let mut s = DiskSlots::new(256, 64);
        let (got, refused) = fill(&mut s, 1, "a", 100);
        assert_eq!((got.len(), refused), (64, Some(Decision::AccountFull)));
    }

    #[test]
    fn a_newcomer_takes_a_slot_from_whoever_holds_most_whatever_the_attackers() {
        for (attackers, networks) in [(4u32, 1u32), (4, 4), (16, 1), (16, 16), (100, 100)] {
            let mut s = DiskSlots::new(256, 64);
            for a in 0..attackers {
                fill(&mut s, a % networks, &format!("m{a}"), 64);
            }
            assert_eq!(s.held(), 256, "{attackers} accounts on {networks} networks fill every slot");
            let who = Asker { net: net(999), account: "alice" };
            assert!(
                matches!(s.ask(&who, true, |id| id.0), Decision::Take(_)),
                "{attackers} accounts on {networks} networks: alice must take a slot"
            );
        }
    }

    #[test]
    fn the_stalest_upload_of_the_largest_holder_is_taken_and_never_an_unstoppable_one() {
        let mut s = DiskSlots::new(4, 4);
        let a = Asker { net: net(1), account: "a" };
        let b = Asker { net: net(2), account: "b" };
        let hashing = match s.ask(&a, false, |_| 0) {
            Decision::Granted(id) => id,
            d => panic!("{d:?}"),
        };
        let ids: Vec<SlotId> = (0..3)
            .map(|_| match s.ask(&a, true, |_| 0) {
                Decision::Granted(id) => id,
                d => panic!("{d:?}"),
            })
            .collect();
        // Progress: the second upload is the stalest.
        let since = |id: SlotId| if id == ids[1] { 1 } else { 100 };
        assert_eq!(s.ask(&b, true, since), Decision::Take(ids[1]));
        // Promised once: the next asker takes another, never the hashing slot.
        let c = Asker { net: net(3), account: "c" };
        let taken = s.ask(&c, true, since);
        assert!(matches!(taken, Decision::Take(id) if id != hashing && id != ids[1]), "{taken:?}");
    }

    #[test]
    fn filling_every_slot_takes_as_many_accounts_on_as_many_networks() {
        let mut s = DiskSlots::new(8, 64);
        for a in 0..8u32 {
            fill(&mut s, a, &format!("m{a}"), 1);
        }
        let who = Asker { net: net(99), account: "alice" };
        assert_eq!(s.ask(&who, true, |id| id.0), Decision::Wait);
        // Seven accounts cannot: one of them holds two, over its share.
        let mut s = DiskSlots::new(8, 64);
        for a in 0..7u32 {
            fill(&mut s, a, &format!("m{a}"), 1);
        }
        fill(&mut s, 0, "m0", 2);
        assert_eq!(s.held(), 8);
        assert!(matches!(s.ask(&who, true, |id| id.0), Decision::Take(_)));
    }
}
