//! What account recovery keeps per account, in one record read and written in one
//! transaction: phone numbers, known places, the secret question (its answer as an argon2id
//! hash), recovery codes and texted codes (keyed BLAKE3 hashes only), and changes waiting
//! for their time. Two indexes keep every lookup proportional to one account: cancel codes
//! (their keyed hash → the account) and due times ((time, account) → ()).
//!
//! Every list in a record is bounded by the code that fills it (`server::account_guard`
//! and `server::requests::account`): phones by `MAX_PHONES`, places by
//! `recovery.max_places`, texted codes by their purposes (one each), pending changes by
//! `MAX_PENDING` (and one recovery), recent requests by `recovery.max_per_day` per kind
//! (recovery starts also by two per network a day).

use redb::ReadableTable;
use serde::{Deserialize, Serialize};

use super::db::{Finish, Store, Tx, View};
use super::error::StoreError;
use super::records::{decode, encode};
use super::tables::{CANCELS, DUE, RECOVERY};
use super::users::UsersView;

/// A phone number of an account (E.164), when it was added and verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneRec {
    pub number: String,
    pub added: u64,
    pub verified: Option<u64>,
}

/// A network the account logged in from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceRec {
    pub net: String,
    pub first_seen: u64,
    pub last_seen: u64,
    pub country: Option<String>,
    pub asn: Option<u32>,
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
        }
    }
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
}

impl Store {
    /// The account's recovery record (empty when it has none yet); `None` when there is no
    /// such account.
    pub fn recovery(&self, user: &str) -> Result<Option<RecoveryRecord>, StoreError> {
        self.read(|rx| {
            if !rx.user_exists(user)? {
                return Ok(None);
            }
            match rx.table(RECOVERY)?.get(user)? {
                Some(v) => Ok(Some(decode(v.value(), "recovery")?)),
                None => Ok(Some(RecoveryRecord::default())),
            }
        })
    }

    /// Read, change and write the account's record in one transaction, keeping the cancel
    /// and due indexes in step. `None` (and nothing written) when there is no such account.
    /// `f` decides whether anything changed: `(result, write)`.
    pub fn update_recovery<R>(
        &self,
        user: &str,
        f: impl FnOnce(&mut RecoveryRecord) -> (R, bool),
    ) -> Result<Option<R>, StoreError> {
        self.update_recovery_as(user, None, f)
    }

    /// [`Store::update_recovery`], only while the account's password hash is still
    /// `phc` (the one just checked): `None` when it changed meanwhile, or there is no
    /// such account.
    pub fn update_recovery_as<R>(
        &self,
        user: &str,
        phc: Option<&str>,
        f: impl FnOnce(&mut RecoveryRecord) -> (R, bool),
    ) -> Result<Option<R>, StoreError> {
        self.write_or_roll_back(|tx| {
            let known = match phc {
                None => tx.user_exists(user)?,
                Some(expected) => tx.user(user)?.is_some_and(|rec| rec.phc == expected),
            };
            if !known {
                return Ok(Finish::RollBack(None));
            }
            let mut table = tx.open(RECOVERY)?;
            let mut rec: RecoveryRecord = match table.get(user)? {
                Some(v) => decode(v.value(), "recovery")?,
                None => RecoveryRecord::default(),
            };
            let before = rec.pending.clone();
            let (result, write) = f(&mut rec);
            if !write {
                return Ok(Finish::RollBack(Some(result)));
            }
            table.insert(user, encode(&rec, "recovery")?.as_slice())?;
            let mut cancels = tx.open(CANCELS)?;
            let mut due = tx.open(DUE)?;
            for p in &before {
                due.remove((p.at, user))?;
                for c in &p.cancels {
                    cancels.remove(c.as_slice())?;
                }
            }
            for p in &rec.pending {
                due.insert((p.at, user), ())?;
                for c in &p.cancels {
                    cancels.insert(c.as_slice(), user)?;
                }
            }
            Ok(Finish::Commit(Some(result)))
        })
    }

    /// The account a cancel code (its keyed hash) belongs to.
    pub fn cancel_owner(&self, hash: &[u8; 32]) -> Result<Option<String>, StoreError> {
        self.read(|rx| Ok(rx.table(CANCELS)?.get(hash.as_slice())?.map(|v| v.value().to_owned())))
    }

    /// Accounts with a pending change due at `now` or before, at most `limit`.
    pub fn due_accounts(&self, now: u64, limit: usize) -> Result<Vec<String>, StoreError> {
        self.read(|rx| {
            let due = rx.table(DUE)?;
            let mut out: Vec<String> = Vec::new();
            for row in due.range((0, "")..=(now, "\u{10ffff}"))? {
                let (k, _) = row?;
                let user = k.value().1.to_owned();
                if !out.contains(&user) {
                    out.push(user);
                }
                if out.len() >= limit {
                    break;
                }
            }
            Ok(out)
        })
    }
}

impl Tx {
    /// Remove everything recovery keeps for `name` (inside `remove_user`'s transaction).
    pub(super) fn purge_recovery(&self, name: &str) -> Result<(), StoreError> {
        let mut table = self.open(RECOVERY)?;
        let Some(v) = table.remove(name)? else { return Ok(()) };
        let rec: RecoveryRecord = decode(v.value(), "recovery")?;
        drop(v);
        let mut cancels = self.open(CANCELS)?;
        let mut due = self.open(DUE)?;
        for p in &rec.pending {
            due.remove((p.at, name))?;
            for c in &p.cancels {
                cancels.remove(c.as_slice())?;
            }
        }
        Ok(())
    }
}
