//! Listener-signed challenge tickets: what a challenge asks (its kind, the proof-of-work
//! difficulty, the captcha answer as a keyed hash), for whom (a source prefix) and until
//! when, under a keyed BLAKE3 MAC. The listener keeps no state per challenge it hands out:
//! a ticket comes back with its answer, across reconnects, and is checked against the key.
//! Which tickets were spent is kept by number, in `spent` (the number travels in the nonce).

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::captcha::tolerance;

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
    /// The ticket's number (its epoch and place in it, `spent::TicketId`: the spent-set
    /// key, a ticket is good once) and 8 random bytes. Opaque to clients.
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
    /// The spent set could not take it (its fuse, or a shared store that cannot answer):
    /// the listener's load, never scored.
    #[error("the listener is too busy with challenges to take this one; try again in a minute")]
    Busy,
    #[error("the proof of work is wrong")]
    WrongWork,
    #[error("the answer is wrong")]
    WrongAnswer,
    #[error("after failed logins this login needs a captcha (or the full proof of work): ask for a new challenge")]
    NotEnough,
    /// Under `policy::challenges::HumanTiming`'s floor; says nothing of whether it was right.
    #[error(
        "the captcha was answered faster than a person can read and type it, so it was not checked and is used up: \
         ask for a new one (run the command again), and if the answer was pasted, wait a few seconds before sending it"
    )]
    TooFast,
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

    /// Whether `answer` (as typed; normalised here) is accepted for the captcha under the
    /// tolerant check ([`tolerance`]): its text, or its text with one look-alike typed in
    /// one place. The ticket holds only a keyed hash of the text, so each text the answer
    /// may stand for ([`tolerance::candidates`], at most 21) is hashed and compared; all are
    /// compared, whichever matches (the time does not say which position was forgiven).
    pub fn answer_accepted(&self, t: &Ticket, answer: &str) -> bool {
        if t.kind != ChallengeKind::Captcha {
            return false;
        }
        let mine = blake3::Hash::from(t.answer);
        let mut any = false;
        for candidate in tolerance::candidates(&normalise_answer(answer)) {
            any |= blake3::Hash::from(self.answer_hash(&t.nonce, &candidate)) == mine;
        }
        any
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

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TicketKey {
        TicketKey::new(&[7; 32])
    }

    fn captcha(now: u64) -> Ticket {
        key().issue(&Issue { answer: Some("K7WXP"), ..issue_of(now) })
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

    /// A captcha ticket for `text`, as the listener issues it (only the keyed hash inside).
    fn captcha_of(text: &str) -> Ticket {
        key().issue(&Issue { answer: Some(text), ..issue_of(0) })
    }

    fn issue_of(now: u64) -> Issue<'static> {
        Issue {
            account: "alice",
            kind: ChallengeKind::Captcha,
            bits: 8,
            prefix: "127.0.0.0/24".parse().expect("net"),
            now_ms: now,
            ttl_ms: 120_000,
            nonce: [3; 16],
            answer: None,
        }
    }

    #[test]
    fn the_tolerant_check_accepts_the_exact_answer() {
        let t = captcha_of("LWRHK");
        assert!(key().answer_accepted(&t, "LWRHK"));
        assert!(key().answer_accepted(&t, " lwr hk\n"));
        // Keyed: another listener's key accepts nothing.
        assert!(!TicketKey::new(&[8; 32]).answer_accepted(&t, "LWRHK"));
    }

    #[test]
    fn the_tolerant_check_accepts_one_look_alike() {
        let t = captcha_of("LWRHK");
        // An L read as an E (the clutter arc as its bar), an H as a T, a W as an X.
        for typed in ["EWRHK", "LWRTK", "LXRHK", "lwrtk"] {
            assert!(key().answer_accepted(&t, typed), "{typed}");
        }
    }

    #[test]
    fn the_tolerant_check_refuses_two_look_alikes() {
        let t = captcha_of("LWRHK");
        assert!(!key().answer_accepted(&t, "EWRTK"));
        assert!(!key().answer_accepted(&t, "LXRTK"));
    }

    #[test]
    fn the_tolerant_check_refuses_a_character_that_is_no_look_alike() {
        let t = captcha_of("LWRHK");
        // A 9 for an L; an H for a W (seen once, in round 6, not in the table); a K for an R.
        for typed in ["9WRHK", "LHRHK", "LWKHK"] {
            assert!(!key().answer_accepted(&t, typed), "{typed}");
        }
        // Nor a right answer on a work ticket, which has no text.
        let work = key().issue(&Issue { kind: ChallengeKind::Work, ..issue_of(0) });
        assert!(!key().answer_accepted(&work, ""));
    }

    #[test]
    fn the_tolerant_check_refuses_a_wrong_length() {
        let t = captcha_of("LWRHK");
        for typed in ["LWRH", "LWRHKK", "EWRH", "", "LWRHKLWRHK"] {
            assert!(!key().answer_accepted(&t, typed), "{typed}");
        }
    }

    #[test]
    fn host_bits_in_the_prefix_are_a_forgery() {
        let t = captcha(0);
        let moved = Ticket { prefix: "127.0.0.77/24".parse().expect("net"), ..t.clone() };
        assert_eq!(key().check(&moved, "alice", "127.0.0.9".parse().expect("ip"), 1), Err(TicketError::Forged));
        assert_eq!(key().check(&t, "alice", "127.0.0.9".parse().expect("ip"), 1), Ok(()));
    }
}
