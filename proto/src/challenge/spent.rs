//! The spent set: which of the tickets issued in the live epochs were answered. Tickets are
//! numbered as they are issued, a sequence number per epoch (a span of `ttl / 4`), carried in
//! the ticket's nonce under its MAC ([`TicketId`]); each live epoch keeps one bit per ticket
//! it issued. So the set is exact (no false positives: a bit is a ticket, and no ticket is
//! ever admitted twice: an epoch is forgotten only when every ticket it issued has expired,
//! and a ticket of a forgotten epoch is refused as expired), it is never full (it grows with
//! what is issued: one bit a ticket), and its memory is the issue rate times the tickets'
//! lifetime (plus one epoch) over 8 bytes, in 1 KiB chunks.
//!
//! [`SpentTickets`] is the interface a fleet's shared store (a table keyed by epoch, a
//! bitmap per row) can implement; [`SpentBitmap`] is the listener's own, in memory.

use std::collections::VecDeque;

use super::ticket::TicketError;

/// Epochs in one ticket lifetime: tickets of an epoch outlive it by at most `ttl`, so at most
/// `EPOCHS_PER_TTL + 1` epochs are live at once and the set spans `ttl × (1 + 1/4)`.
pub const EPOCHS_PER_TTL: u64 = 4;

/// Bits in one chunk of an epoch's bitmap (1 KiB).
const CHUNK_BITS: u32 = 8192;
const CHUNK_WORDS: usize = (CHUNK_BITS / 64) as usize;

/// A ticket's number: its epoch and its place in it. Carried in the first 8 bytes of the
/// nonce (the other 8 are random, so the proof of work cannot be computed ahead).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TicketId {
    pub epoch: u32,
    pub seq: u32,
}

impl TicketId {
    /// The nonce of the ticket with this number, with `random` bytes after it.
    pub fn nonce(self, random: [u8; 8]) -> [u8; 16] {
        let mut n = [0u8; 16];
        n[..4].copy_from_slice(&self.epoch.to_le_bytes());
        n[4..8].copy_from_slice(&self.seq.to_le_bytes());
        n[8..].copy_from_slice(&random);
        n
    }

    /// The number a nonce carries (any 16 bytes parse; only the MAC makes them mean it).
    pub fn of(nonce: &[u8; 16]) -> TicketId {
        let [e0, e1, e2, e3, s0, s1, s2, s3, ..] = *nonce;
        TicketId { epoch: u32::from_le_bytes([e0, e1, e2, e3]), seq: u32::from_le_bytes([s0, s1, s2, s3]) }
    }
}

/// What a spent-ticket store does. A ticket is numbered when it is issued, looked up when
/// its answer comes back, and spent once: [`SpentTickets::spend`] is the one atomic
/// test-and-set, so two answers of one ticket racing each other admit one.
pub trait SpentTickets: Send + std::fmt::Debug {
    /// Number a new ticket issued at `now_ms`, good until `expires_ms`. [`TicketError::Busy`]
    /// only past the store's fuse (see [`SpentBitmap::new`]).
    fn issue(&mut self, now_ms: u64, expires_ms: u64) -> Result<TicketId, TicketError>;
    /// `Ok` when `id` was issued here and not spent; [`TicketError::Spent`] when it was;
    /// [`TicketError::Expired`] when its epoch is gone (all of its tickets expired).
    fn unspent(&self, id: TicketId) -> Result<(), TicketError>;
    /// Spend `id`: `Ok` once, then [`TicketError::Spent`].
    fn spend(&mut self, id: TicketId, now_ms: u64) -> Result<(), TicketError>;
    /// Forget epochs whose tickets have all expired.
    fn prune(&mut self, now_ms: u64);
    /// Bytes held for the bitmaps.
    fn bytes(&self) -> usize;
    /// Tickets numbered in the live epochs.
    fn issued(&self) -> u64;
}

#[derive(Debug)]
struct Epoch {
    id: u32,
    started_ms: u64,
    /// The latest expiry of a ticket it issued: it is forgotten after that.
    last_expiry_ms: u64,
    issued: u32,
    chunks: Vec<Box<[u64]>>,
}

impl Epoch {
    fn word(&self, seq: u32) -> Option<(&u64, u64)> {
        let chunk = self.chunks.get((seq / CHUNK_BITS) as usize)?;
        let bit = seq % CHUNK_BITS;
        Some((chunk.get((bit / 64) as usize)?, 1u64 << (bit % 64)))
    }
}

/// The listener's spent set: a bitmap per live epoch (see the module).
#[derive(Debug)]
pub struct SpentBitmap {
    epoch_ms: u64,
    max_per_epoch: u32,
    next_epoch: u32,
    epochs: VecDeque<Epoch>,
}

impl SpentBitmap {
    /// For tickets living `ttl_ms`; at most `max_per_epoch` numbered in one epoch (a fuse
    /// against memory, set far above what a listener can hand out: past it, new tickets are
    /// refused as busy until the next epoch).
    pub fn new(ttl_ms: u64, max_per_epoch: u32) -> SpentBitmap {
        SpentBitmap {
            epoch_ms: (ttl_ms / EPOCHS_PER_TTL).max(1),
            max_per_epoch,
            next_epoch: 0,
            epochs: VecDeque::new(),
        }
    }

    /// Epoch length in ms.
    pub fn epoch_ms(&self) -> u64 {
        self.epoch_ms
    }

    /// Epochs kept.
    pub fn live_epochs(&self) -> usize {
        self.epochs.len()
    }

    fn find(&self, id: TicketId) -> Result<&Epoch, TicketError> {
        let e = self.epochs.iter().find(|e| e.id == id.epoch).ok_or(TicketError::Expired)?;
        if id.seq >= e.issued {
            // Never numbered here: only a forger (or another listener's key) says so.
            return Err(TicketError::Forged);
        }
        Ok(e)
    }
}

impl SpentTickets for SpentBitmap {
    fn issue(&mut self, now_ms: u64, expires_ms: u64) -> Result<TicketId, TicketError> {
        let roll = self.epochs.back().is_none_or(|e| now_ms >= e.started_ms.saturating_add(self.epoch_ms));
        if roll {
            let id = self.next_epoch;
            self.next_epoch = self.next_epoch.wrapping_add(1);
            self.epochs.push_back(Epoch { id, started_ms: now_ms, last_expiry_ms: 0, issued: 0, chunks: Vec::new() });
            self.prune(now_ms);
        }
        let e = self.epochs.back_mut().ok_or(TicketError::Busy)?;
        if e.issued >= self.max_per_epoch {
            return Err(TicketError::Busy);
        }
        let seq = e.issued;
        if seq % CHUNK_BITS == 0 {
            e.chunks.push(vec![0; CHUNK_WORDS].into_boxed_slice());
        }
        e.issued += 1;
        e.last_expiry_ms = e.last_expiry_ms.max(expires_ms);
        Ok(TicketId { epoch: e.id, seq })
    }

    fn unspent(&self, id: TicketId) -> Result<(), TicketError> {
        let e = self.find(id)?;
        match e.word(id.seq) {
            Some((w, mask)) if w & mask == 0 => Ok(()),
            Some(_) => Err(TicketError::Spent),
            None => Err(TicketError::Forged),
        }
    }

    fn spend(&mut self, id: TicketId, _now_ms: u64) -> Result<(), TicketError> {
        self.unspent(id)?;
        let e = self.epochs.iter_mut().find(|e| e.id == id.epoch).ok_or(TicketError::Expired)?;
        let bit = id.seq % CHUNK_BITS;
        let w = e
            .chunks
            .get_mut((id.seq / CHUNK_BITS) as usize)
            .and_then(|c| c.get_mut((bit / 64) as usize))
            .ok_or(TicketError::Forged)?;
        *w |= 1u64 << (bit % 64);
        Ok(())
    }

    fn prune(&mut self, now_ms: u64) {
        // The newest epoch stays while it can still number tickets; the others go once every
        // ticket they numbered has expired (refused as expired anyway).
        let newest = self.epochs.back().map(|e| e.id);
        self.epochs.retain(|e| Some(e.id) == newest || e.last_expiry_ms > now_ms);
    }

    fn bytes(&self) -> usize {
        self.epochs.iter().map(|e| e.chunks.len() * CHUNK_WORDS * 8).sum()
    }

    fn issued(&self) -> u64 {
        self.epochs.iter().map(|e| u64::from(e.issued)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: u64 = 120_000;

    #[test]
    fn a_ticket_is_admitted_once_and_no_other_is_ever_refused_as_spent() {
        let mut s = SpentBitmap::new(TTL, u32::MAX);
        let ids: Vec<TicketId> = (0..20_000u64).map(|i| s.issue(i, i + TTL).expect("issue")).collect();
        // Every other one spent: exactly those are refused, the rest are all still good.
        for id in ids.iter().step_by(2) {
            assert_eq!(s.spend(*id, 20_000), Ok(()));
        }
        for (i, id) in ids.iter().enumerate() {
            let want = if i % 2 == 0 { Err(TicketError::Spent) } else { Ok(()) };
            assert_eq!(s.unspent(*id), want, "{id:?}");
            assert_eq!(s.spend(*id, 20_001), if i % 2 == 0 { Err(TicketError::Spent) } else { Ok(()) });
        }
        assert!(ids.iter().all(|id| s.spend(*id, 20_002) == Err(TicketError::Spent)));
        // A number never handed out is a forgery, not a fresh ticket.
        assert_eq!(s.unspent(TicketId { epoch: 0, seq: 20_000 }), Err(TicketError::Forged));
        assert_eq!(s.unspent(TicketId { epoch: 77, seq: 0 }), Err(TicketError::Expired));
    }

    #[test]
    fn epochs_roll_and_are_forgotten_only_when_all_their_tickets_expired() {
        let mut s = SpentBitmap::new(TTL, u32::MAX);
        let epoch = s.epoch_ms();
        assert_eq!(epoch, TTL / EPOCHS_PER_TTL);
        let first = s.issue(0, TTL).expect("issue");
        let late = s.issue(epoch - 1, epoch - 1 + TTL).expect("issue");
        assert_eq!((first.epoch, late.epoch), (0, 0));
        let next = s.issue(epoch, epoch + TTL).expect("issue");
        assert_eq!((next.epoch, next.seq), (1, 0));
        assert_eq!(s.spend(late, epoch), Ok(()));
        // At most EPOCHS_PER_TTL + 1 epochs live, however long it runs.
        let mut now = epoch;
        while now < 20 * TTL {
            now += epoch;
            s.issue(now, now + TTL).expect("issue");
            s.prune(now);
            assert!(s.live_epochs() as u64 <= EPOCHS_PER_TTL + 1, "{} at {now}", s.live_epochs());
        }
        // The first epoch went only after its last ticket expired; its tickets are expired.
        assert_eq!(s.spend(late, now), Err(TicketError::Expired));
        // An epoch stays while any of its tickets is good, even one issued at its very end.
        let mut s = SpentBitmap::new(TTL, u32::MAX);
        let a = s.issue(0, TTL).expect("issue");
        let b = s.issue(epoch - 1, epoch - 1 + TTL).expect("issue");
        s.spend(a, 1).expect("spend");
        s.spend(b, 1).expect("spend");
        s.issue(TTL + 1, 2 * TTL + 1).expect("issue");
        assert_eq!(s.spend(b, TTL + 1), Err(TicketError::Spent), "kept while b is good");
        s.prune(epoch + TTL);
        assert_eq!(s.spend(b, epoch + TTL), Err(TicketError::Expired), "forgotten once b expired");
    }

    #[test]
    fn memory_is_one_bit_a_ticket_in_1_kib_chunks() {
        let mut s = SpentBitmap::new(TTL, u32::MAX);
        assert_eq!(s.bytes(), 0);
        s.issue(0, TTL).expect("issue");
        assert_eq!(s.bytes(), 1024);
        for i in 1..1_000_000u64 {
            s.issue(i / 100, i / 100 + TTL).expect("issue");
        }
        // 1,000,000 tickets in one epoch: 1,000,000 / 8 bytes, rounded up to a chunk.
        assert_eq!(s.issued(), 1_000_000);
        assert_eq!(s.bytes(), 1_000_000_usize.div_ceil(8192) * 1024);
        assert!(s.bytes() <= 1_000_000 / 8 + 1024);
        // All expired and a new epoch begun: back to one chunk.
        s.issue(10 * TTL, 11 * TTL).expect("issue");
        assert_eq!((s.bytes(), s.live_epochs()), (1024, 1));
    }

    #[test]
    fn the_fuse_refuses_new_tickets_until_the_next_epoch_and_keeps_the_old() {
        let mut s = SpentBitmap::new(TTL, 3);
        let ids: Vec<_> = (0..3).map(|_| s.issue(0, TTL).expect("issue")).collect();
        assert_eq!(s.issue(1, TTL), Err(TicketError::Busy));
        assert_eq!(s.spend(ids[0], 2), Ok(()));
        assert_eq!(s.spend(ids[0], 2), Err(TicketError::Spent));
        let next = s.issue(s.epoch_ms(), s.epoch_ms() + TTL).expect("a new epoch");
        assert_eq!(next.epoch, 1);
        assert_eq!(s.spend(ids[1], s.epoch_ms()), Ok(()));
    }

    #[test]
    fn the_number_travels_in_the_nonce() {
        let id = TicketId { epoch: 0xdead_beef, seq: 77 };
        let nonce = id.nonce([9; 8]);
        assert_eq!(TicketId::of(&nonce), id);
        assert_eq!(&nonce[8..], &[9; 8]);
    }
}
