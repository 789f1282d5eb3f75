//! The records account recovery keeps (postcard, in `recovery_v2`), and the schema-1 shape
//! (`recovery_v1`) they are read from until an account's record is next written: schema 2
//! keeps, per known place, the distinct days it was logged in from with a password, when it
//! became known, whether its owner disowned it and the code texted to do so; and per
//! account the codes recently used (a retyped one is not an offence) and whether its owner
//! has been told how the places of schema 1 were carried over.

use serde::{Deserialize, Serialize};

/// A phone number of an account (E.164), when it was added and verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneRec {
    pub number: String,
    pub added: u64,
    pub verified: Option<u64>,
}

/// A network the account logged in from (its /24 or /64), and what it has earned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceRec {
    pub net: String,
    pub first_seen: u64,
    pub last_seen: u64,
    pub country: Option<String>,
    pub asn: Option<u32>,
    /// Distinct UTC days with a password login from here (counted up to what makes a place
    /// known), and the first and last of them (days since the epoch).
    pub days: u32,
    pub first_day: u64,
    pub last_day: u64,
    /// When the place became known (`None`: not yet, or no longer).
    pub known_since: Option<u64>,
    /// When its owner disowned it: never known again while it is remembered.
    pub disowned: Option<u64>,
    /// The keyed hash of the code texted to the owner to disown it (its first login).
    pub disown_code: Option<[u8; 32]>,
    /// The GeoIP network (same ASN, capped at /16 or /40) containing `net` that the place
    /// follows once known, when the operator has a GeoIP database.
    pub geo_net: Option<String>,
}

/// The secret question and its answer's argon2id hash (normalised before hashing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuestionRec {
    pub text: String,
    pub answer_phc: String,
    pub set: u64,
}

/// A texted code in force: what it is for (`recover`, `authorise`, `verify:+34...`), its
/// keyed hash, when it expires, the attempts left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentCode {
    pub purpose: String,
    pub hash: [u8; 32],
    pub expires: u64,
    pub attempts_left: u32,
}

/// A code that was used (accepted, or ended by a later step): typed again before `until`,
/// it is recognised as a retyped old code, not scored as a guess.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsedCode {
    pub purpose: String,
    pub hash: [u8; 32],
    pub until: u64,
}

/// A change that waits for its time (made from an unknown place, without a texted code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    /// A recovery: the new password's hash.
    Recover {
        phc: String,
    },
    /// A password change.
    Password {
        phc: String,
    },
    /// A verified number joins the account.
    AddPhone {
        number: String,
    },
    RemovePhone {
        number: String,
    },
    Question {
        text: String,
        answer_phc: String,
    },
    /// A new set of recovery codes (keyed hashes).
    Codes {
        hashes: Vec<[u8; 32]>,
    },
    /// A place disowned (its network, as the record keeps it).
    Disown {
        net: String,
    },
    /// A new automation token (appended: postcard numbers variants in order). The token was
    /// shown to whoever asked when the change was made, but exists only in this change
    /// until it applies: `key` is its stored hash, bound to the password hash `phc` it was
    /// asked for with (a changed password means no token), expiring at `expires`, issued
    /// to the network `net`. A pending change dropped for any reason (cancelled, voided by
    /// a new password or a recovery) leaves no token behind.
    AutomationToken {
        key: [u8; 32],
        phc: String,
        expires: u64,
        net: String,
    },
}

impl Change {
    /// What it is, in words (numbers masked).
    pub fn describe(&self) -> String {
        use crate::policy::recovery::mask_phone;
        match self {
            Change::Recover { .. } => "recovery: a new password".into(),
            Change::Password { .. } => "a new password".into(),
            Change::AddPhone { number } => format!("add phone {}", mask_phone(number)),
            Change::RemovePhone { number } => format!("remove phone {}", mask_phone(number)),
            Change::Question { .. } => "a new secret question".into(),
            Change::Codes { .. } => "new recovery codes".into(),
            Change::Disown { net } => format!("disown the network {net}"),
            Change::AutomationToken { key, .. } => format!("a new automation token {}", token_id(key)),
        }
    }

    /// What kind of protected change it is (`policy::recovery::known_place_suffices`).
    pub fn guarded(&self) -> crate::policy::recovery::Guarded {
        use crate::policy::recovery::Guarded;
        match self {
            Change::Recover { .. } => Guarded::Recovery,
            Change::Password { .. } => Guarded::Password,
            Change::AddPhone { .. }
            | Change::RemovePhone { .. }
            | Change::Question { .. }
            | Change::Codes { .. }
            | Change::Disown { .. }
            | Change::AutomationToken { .. } => Guarded::RootOfTrust,
        }
    }
}

/// How `qxfer account tokens` names a token: the first 12 hex digits of its stored hash.
pub fn token_id(key: &[u8; 32]) -> String {
    hex::encode(key.get(..6).unwrap_or_default())
}

/// A pending change, with the keyed hashes of the cancel codes texted about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub id: u64,
    pub change: Change,
    pub requested: u64,
    pub at: u64,
    /// The network it was asked from.
    pub from: String,
    pub cancels: Vec<[u8; 32]>,
}

/// What a recent request was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecentKind {
    /// A recovery start that texted a code (anyone may ask).
    Start,
    /// A code the logged-in account asked for (authorisation, a new number).
    Code,
    /// A change put off and announced.
    Change,
    /// The account's first password login, whose network (`net`) a new account sets itself
    /// up from (`policy::account_setup`); one per account, kept past the day.
    FirstLogin,
    /// A request about a phone number (add, verify, remove), counted against
    /// `PHONE_REQUESTS_PER_DAY`.
    Phone,
    /// A session token made from a place that is not known, texted to the owner (appended:
    /// postcard numbers variants in order; at most one such text a day).
    TokenTold,
}

/// A recent request: when, what, and from which network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recent {
    pub at: u64,
    pub kind: RecentKind,
    pub net: String,
}

/// Everything recovery keeps for one account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryRecord {
    pub phones: Vec<PhoneRec>,
    pub places: Vec<PlaceRec>,
    pub question: Option<QuestionRec>,
    /// Unused recovery codes' keyed hashes.
    pub codes: Vec<[u8; 32]>,
    pub sent: Vec<SentCode>,
    pub pending: Vec<Pending>,
    /// Recent recovery starts, codes asked for and changes put off (the per-account and
    /// per-network rate limits), from the last day; and the first password login.
    pub recent: Vec<Recent>,
    pub next_id: u64,
    /// Codes used lately (bounded by the code that fills it).
    pub used: Vec<UsedCode>,
    /// The last UTC day a new place was texted about (at most one such text a day).
    pub new_place_texted_day: u64,
    /// The places carried over from schema 1, still to be listed to the owner in a notice.
    pub carried_over: bool,
}

/// A place as schema 1 kept it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PlaceV1 {
    net: String,
    first_seen: u64,
    last_seen: u64,
    country: Option<String>,
    asn: Option<u32>,
}

/// A record as schema 1 kept it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct RecordV1 {
    phones: Vec<PhoneRec>,
    places: Vec<PlaceV1>,
    question: Option<QuestionRec>,
    codes: Vec<[u8; 32]>,
    sent: Vec<SentCode>,
    pending: Vec<Pending>,
    recent: Vec<Recent>,
    next_id: u64,
}

const DAY: u64 = 86_400;

impl From<RecordV1> for RecoveryRecord {
    /// Schema 1's places become places not yet known: they count the days of their first
    /// and last sightings and earn the rest under today's rule; the owner is told once.
    fn from(v1: RecordV1) -> Self {
        let carried_over = !v1.places.is_empty();
        let places = v1
            .places
            .into_iter()
            .map(|p| {
                let (first_day, last_day) = (p.first_seen / DAY, p.last_seen / DAY);
                PlaceRec {
                    net: p.net,
                    first_seen: p.first_seen,
                    last_seen: p.last_seen,
                    country: p.country,
                    asn: p.asn,
                    days: if last_day > first_day { 2 } else { 1 },
                    first_day,
                    last_day,
                    ..PlaceRec::default()
                }
            })
            .collect();
        RecoveryRecord {
            phones: v1.phones,
            places,
            question: v1.question,
            codes: v1.codes,
            sent: v1.sent,
            pending: v1.pending,
            recent: v1.recent,
            next_id: v1.next_id,
            carried_over,
            ..RecoveryRecord::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_1_places_are_carried_over_as_not_yet_known() {
        let v1 = RecordV1 {
            phones: vec![PhoneRec { number: "+34600000001".into(), added: 5, verified: Some(6) }],
            places: vec![
                PlaceV1 { net: "10.0.0.0/24".into(), first_seen: 0, last_seen: 30 * DAY, country: None, asn: None },
                PlaceV1 { net: "10.0.1.0/24".into(), first_seen: DAY, last_seen: DAY + 5, country: None, asn: None },
            ],
            question: None,
            codes: vec![[1; 32]],
            sent: vec![],
            pending: vec![],
            recent: vec![],
            next_id: 4,
        };
        let bytes = postcard::to_stdvec(&v1).expect("encode");
        let back: RecordV1 = postcard::from_bytes(&bytes).expect("decode");
        let rec = RecoveryRecord::from(back);
        assert!(rec.carried_over);
        assert_eq!(rec.places.iter().map(|p| (p.days, p.known_since)).collect::<Vec<_>>(), vec![(2, None), (1, None)]);
        assert_eq!((rec.next_id, rec.codes.len(), rec.phones.len()), (4, 1, 1));
    }
}
