//! Listener-signed challenge tickets: what a challenge asks (its kind, the proof-of-work
//! difficulty, the captcha answer as a keyed hash), for whom (a source prefix) and until
//! when, under a keyed BLAKE3 MAC. The listener keeps no state per challenge it hands out:
//! a ticket comes back with its answer, across reconnects, and is checked against the key.
//! Only the nonces of tickets already spent are kept, in a bounded [`Spent`] set, until the
//! tickets expire.

use std::collections::HashMap;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// What a challenge asks for.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChallengeKind {
    /// A proof of work only.
    Work,
    /// Distorted text to read and type back, with a proof of work.
    Captcha,
}

/// A challenge as handed out and handed back. Every field is covered by `mac`, and so is
/// the account it was issued for (not carried: the login names it), so a ticket solved
/// for one account does nothing for another.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub kind: ChallengeKind,
    /// Leading zero bits the proof of work must have (0: none).
    pub bits: u8,
    /// The source network the ticket was issued to (a /24 or a /64); it is good only there.
    pub prefix: IpNet,
    /// When it was issued and until when it is good, in ms on the listener's clock.
    pub issued_ms: u64,
    pub expires_ms: u64,
    /// Random, and the spent-set key: a ticket is good once.
    pub nonce: [u8; 16],
    /// The captcha answer as a keyed hash (all zero for [`ChallengeKind::Work`]); the key
    /// stays on the listener, so the client learns nothing of the answer from it.
    pub answer: [u8; 32],
    pub mac: [u8; 32],
}

/// Why a ticket was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    #[error("the challenge was not issued by this listener for this account")]
    Forged,
    #[error("the challenge was issued to another network")]
    OtherSource,
    #[error("the challenge expired")]
    Expired,
    #[error("the challenge was already answered")]
    Spent,
    #[error("too many challenges are being answered; try again in a minute")]
    Busy,
    #[error("the proof of work is wrong")]
    WrongWork,
    #[error("the answer is wrong")]
    WrongAnswer,
    #[error("after failed logins this login needs a captcha (or the full proof of work): ask for a new challenge")]
    NotEnough,
}

/// The listener's ticket key (32 random bytes, drawn at start and kept in memory); two keys
/// are derived from it, one for MACs and one for answer hashes.
#[derive(Clone)]
pub struct TicketKey {
    mac: [u8; 32],
    answer: [u8; 32],
}

impl std::fmt::Debug for TicketKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TicketKey(..)")
    }
}

/// What a new ticket says; [`TicketKey::issue`] signs it.
#[derive(Debug, Clone)]
pub struct Issue<'a> {
    /// The account the challenge is for.
    pub account: &'a str,
    pub kind: ChallengeKind,
    pub bits: u8,
    pub prefix: IpNet,
    pub now_ms: u64,
    pub ttl_ms: u64,
    pub nonce: [u8; 16],
    /// The captcha's text, for [`ChallengeKind::Captcha`].
    pub answer: Option<&'a str>,
}

impl TicketKey {
    pub fn new(secret: &[u8; 32]) -> TicketKey {
        TicketKey {
            mac: blake3::derive_key("qxfer 2026-11 challenge ticket mac", secret),
            answer: blake3::derive_key("qxfer 2026-11 captcha answer", secret),
        }
    }

    pub fn issue(&self, i: &Issue<'_>) -> Ticket {
        let answer = i.answer.map_or([0; 32], |a| self.answer_hash(&i.nonce, a));
        let mut t = Ticket {
            kind: i.kind,
            bits: i.bits,
            prefix: i.prefix,
            issued_ms: i.now_ms,
            expires_ms: i.now_ms.saturating_add(i.ttl_ms),
            nonce: i.nonce,
            answer,
            mac: [0; 32],
        };
        t.mac = self.mac_of(&t, i.account);
        t
    }

    /// Whether `t` is this listener's, for `account`, for the network `source` is in, and
    /// not expired. Constant time in the MAC comparison. The caller still checks the work
    /// and the answer, then spends the nonce.
    pub fn check(&self, t: &Ticket, account: &str, source: std::net::IpAddr, now_ms: u64) -> Result<(), TicketError> {
        // The MAC covers the network, not host bits: only the canonical form is ours.
        if t.prefix != t.prefix.trunc() || blake3::Hash::from(self.mac_of(t, account)) != blake3::Hash::from(t.mac) {
            return Err(TicketError::Forged);
        }
        if !t.prefix.contains(&source) {
            return Err(TicketError::OtherSource);
        }
        if now_ms >= t.expires_ms {
            return Err(TicketError::Expired);
        }
        Ok(())
    }

    /// Whether `answer` (as typed; normalised here) is the captcha's text, in constant time.
    pub fn answer_matches(&self, t: &Ticket, answer: &str) -> bool {
        t.kind == ChallengeKind::Captcha
            && blake3::Hash::from(self.answer_hash(&t.nonce, answer)) == blake3::Hash::from(t.answer)
    }

    fn answer_hash(&self, nonce: &[u8; 16], answer: &str) -> [u8; 32] {
        let mut h = blake3::Hasher::new_keyed(&self.answer);
        h.update(nonce);
        h.update(normalise_answer(answer).as_bytes());
        *h.finalize().as_bytes()
    }

    fn mac_of(&self, t: &Ticket, account: &str) -> [u8; 32] {
        let mut h = blake3::Hasher::new_keyed(&self.mac);
        // Length-prefixed: the account cannot run into the fields after it.
        h.update(&(account.len() as u64).to_le_bytes());
        h.update(account.as_bytes());
        h.update(&[match t.kind {
            ChallengeKind::Work => 1,
            ChallengeKind::Captcha => 2,
        }]);
        h.update(&[t.bits]);
        match t.prefix {
            IpNet::V4(n) => {
                h.update(&[4, n.prefix_len()]);
                h.update(&n.network().octets());
            }
            IpNet::V6(n) => {
                h.update(&[6, n.prefix_len()]);
                h.update(&n.network().octets());
            }
        }
        h.update(&t.issued_ms.to_le_bytes());
        h.update(&t.expires_ms.to_le_bytes());
        h.update(&t.nonce);
        h.update(&t.answer);
        *h.finalize().as_bytes()
    }
}

/// A typed captcha answer as compared: letters upper-cased, spaces and dashes dropped.
pub fn normalise_answer(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace() && *c != '-').flat_map(char::to_uppercase).collect()
}

/// Nonces of tickets already answered, each kept until its ticket expires: at most `cap`
/// in all and `per_network` for one source network (a ticket's /24 or /64). An entry costs
/// a solved proof of work; a network that fills its share is refused as busy until its
/// tickets expire, and the others are not affected. Never is an entry evicted early, which
/// would let a ticket be used twice.
#[derive(Debug)]
pub struct Spent {
    cap: usize,
    per_network: u32,
    nonces: HashMap<[u8; 16], (u64, ipnet::IpNet)>,
    by_network: HashMap<ipnet::IpNet, u32>,
}

impl Spent {
    pub fn new(cap: usize, per_network: u32) -> Spent {
        Spent { cap, per_network, nonces: HashMap::new(), by_network: HashMap::new() }
    }

    /// Whether `t` was answered already.
    pub fn is_spent(&self, t: &Ticket, now_ms: u64) -> bool {
        self.nonces.get(&t.nonce).is_some_and(|&(exp, _)| exp > now_ms)
    }

    /// Whether one more of `t`'s network's tickets can be spent now (pruning if full).
    pub fn has_room(&mut self, t: &Ticket, now_ms: u64) -> bool {
        let full =
            |s: &Spent| s.nonces.len() >= s.cap || s.by_network.get(&t.prefix).is_some_and(|n| *n >= s.per_network);
        if full(self) {
            self.prune(now_ms);
        }
        !full(self)
    }

    /// Spend `t`'s nonce: an error if it was spent before or there is no room.
    pub fn spend(&mut self, t: &Ticket, now_ms: u64) -> Result<(), TicketError> {
        if self.is_spent(t, now_ms) {
            return Err(TicketError::Spent);
        }
        if !self.has_room(t, now_ms) {
            return Err(TicketError::Busy);
        }
        if let Some((_, net)) = self.nonces.insert(t.nonce, (t.expires_ms, t.prefix)) {
            self.release(net);
        }
        *self.by_network.entry(t.prefix).or_insert(0) += 1;
        Ok(())
    }

    fn release(&mut self, net: ipnet::IpNet) {
        if let Some(n) = self.by_network.get_mut(&net) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.by_network.remove(&net);
            }
        }
    }

    /// Forget the nonces of expired tickets (they are refused as expired anyway).
    pub fn prune(&mut self, now_ms: u64) {
        let expired: Vec<([u8; 16], ipnet::IpNet)> =
            self.nonces.iter().filter(|(_, (exp, _))| *exp <= now_ms).map(|(k, (_, net))| (*k, *net)).collect();
        for (nonce, net) in expired {
            self.nonces.remove(&nonce);
            self.release(net);
        }
    }

    pub fn len(&self) -> usize {
        self.nonces.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nonces.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TicketKey {
        TicketKey::new(&[7; 32])
    }

    fn captcha(now: u64) -> Ticket {
        key().issue(&Issue {
            account: "alice",
            kind: ChallengeKind::Captcha,
            bits: 8,
            prefix: "127.0.0.0/24".parse().expect("net"),
            now_ms: now,
            ttl_ms: 120_000,
            nonce: [3; 16],
            answer: Some("K7WXP"),
        })
    }

    #[test]
    fn a_ticket_is_good_for_its_network_until_it_expires() {
        let t = captcha(1_000);
        let k = key();
        assert_eq!(k.check(&t, "alice", "127.0.0.9".parse().expect("ip"), 2_000), Ok(()));
        assert_eq!(k.check(&t, "alice", "127.0.1.9".parse().expect("ip"), 2_000), Err(TicketError::OtherSource));
        assert_eq!(k.check(&t, "alice", "127.0.0.9".parse().expect("ip"), 121_000), Err(TicketError::Expired));
    }

    #[test]
    fn any_changed_field_or_another_key_is_a_forgery() {
        let t = captcha(1_000);
        let ip = "127.0.0.9".parse().expect("ip");
        let forged = [
            Ticket { bits: 0, ..t.clone() },
            Ticket { kind: ChallengeKind::Work, ..t.clone() },
            Ticket { expires_ms: t.expires_ms + 1, ..t.clone() },
            Ticket { issued_ms: 0, ..t.clone() },
            Ticket { prefix: "127.0.0.0/16".parse().expect("net"), ..t.clone() },
            Ticket { nonce: [4; 16], ..t.clone() },
            Ticket { answer: [0; 32], ..t.clone() },
        ];
        for f in &forged {
            assert_eq!(key().check(f, "alice", ip, 2_000), Err(TicketError::Forged), "{f:?}");
        }
        assert_eq!(TicketKey::new(&[8; 32]).check(&t, "alice", ip, 2_000), Err(TicketError::Forged));
        // Good for the account it was issued for only.
        assert_eq!(key().check(&t, "alice", ip, 2_000), Ok(()));
        assert_eq!(key().check(&t, "alicf", ip, 2_000), Err(TicketError::Forged));
        assert_eq!(key().check(&t, "", ip, 2_000), Err(TicketError::Forged));
    }

    #[test]
    fn answers_are_compared_normalised() {
        let t = captcha(0);
        let k = key();
        assert!(k.answer_matches(&t, "K7WXP"));
        assert!(k.answer_matches(&t, " k7w xp\n"));
        assert!(!k.answer_matches(&t, "K7WXR"));
        assert!(!k.answer_matches(&t, ""));
        // The hash in the ticket is keyed: another key does not match it.
        assert!(!TicketKey::new(&[8; 32]).answer_matches(&t, "K7WXP"));
    }

    #[test]
    fn a_ticket_is_spent_once_and_the_set_is_bounded() {
        let mut spent = Spent::new(2, 10);
        let a = captcha(0);
        assert_eq!(spent.spend(&a, 10), Ok(()));
        assert_eq!(spent.spend(&a, 11), Err(TicketError::Spent));
        let b = Ticket { nonce: [5; 16], ..a.clone() };
        let c = Ticket { nonce: [6; 16], ..a.clone() };
        assert_eq!(spent.spend(&b, 12), Ok(()));
        // Full of unexpired nonces: busy, and nothing is evicted early.
        assert_eq!(spent.spend(&c, 13), Err(TicketError::Busy));
        assert_eq!(spent.spend(&a, 14), Err(TicketError::Spent));
        // Once they expire there is room again.
        assert_eq!(spent.spend(&c, a.expires_ms + 1), Ok(()));
        assert_eq!(spent.len(), 1);
    }

    #[test]
    fn one_network_cannot_fill_the_spent_set_for_the_others() {
        let mut spent = Spent::new(100, 2);
        let a = captcha(0);
        for i in 0..2u8 {
            assert_eq!(spent.spend(&Ticket { nonce: [i; 16], ..a.clone() }, 10), Ok(()));
        }
        assert_eq!(spent.spend(&Ticket { nonce: [9; 16], ..a.clone() }, 10), Err(TicketError::Busy));
        let other = Ticket { nonce: [9; 16], prefix: "10.0.0.0/24".parse().expect("net"), ..a.clone() };
        assert_eq!(spent.spend(&other, 10), Ok(()));
        // Room again once they expire.
        assert_eq!(spent.spend(&Ticket { nonce: [8; 16], ..a.clone() }, a.expires_ms + 1), Ok(()));
    }

    #[test]
    fn host_bits_in_the_prefix_are_a_forgery() {
        let t = captcha(0);
        let moved = Ticket { prefix: "127.0.0.77/24".parse().expect("net"), ..t.clone() };
        assert_eq!(key().check(&moved, "alice", "127.0.0.9".parse().expect("ip"), 1), Err(TicketError::Forged));
        assert_eq!(key().check(&t, "alice", "127.0.0.9".parse().expect("ip"), 1), Ok(()));
    }
}
