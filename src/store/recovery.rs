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

use super::db::{Finish, Store, Tx, View};
use super::error::StoreError;
use super::records::{decode, encode};
use super::recovery_records::RecordV1;
pub use super::recovery_records::{
    token_id, Change, Pending, PhoneRec, PlaceRec, QuestionRec, Recent, RecentKind, RecoveryRecord, SentCode, UsedCode,
};
use super::tables::{CANCELS, DUE, RECOVERY, RECOVERY_V1};
use super::users::UsersView;

impl Store {
    /// The account's recovery record (empty when it has none yet); `None` when there is no
    /// such account.
    pub fn recovery(&self, user: &str) -> Result<Option<RecoveryRecord>, StoreError> {
        self.read(|rx| {
            if !rx.user_exists(user)? {
                return Ok(None);
            }
            load(rx, user).map(Some)
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
            let mut rec = load(&*tx, user)?;
            let before = rec.clone();
            let (result, write) = f(&mut rec);
            if !write {
                return Ok(Finish::RollBack(Some(result)));
            }
            tx.open(RECOVERY)?.insert(user, encode(&rec, "recovery")?.as_slice())?;
            tx.open(RECOVERY_V1)?.remove(user)?;
            tx.unindex(user, &before)?;
            let mut cancels = tx.open(CANCELS)?;
            let mut due = tx.open(DUE)?;
            for p in &rec.pending {
                due.insert((p.at, user), ())?;
            }
            for c in codes_of(&rec) {
                cancels.insert(c.as_slice(), user)?;
            }
            Ok(Finish::Commit(Some(result)))
        })
    }

    /// The account a cancel or disown code (its keyed hash) belongs to.
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
        let rec = load(self, name)?;
        self.open(RECOVERY)?.remove(name)?;
        self.open(RECOVERY_V1)?.remove(name)?;
        self.unindex(name, &rec)
    }

    /// Take a record's pending changes and codes out of the due and cancel indexes.
    fn unindex(&self, name: &str, rec: &RecoveryRecord) -> Result<(), StoreError> {
        let mut cancels = self.open(CANCELS)?;
        let mut due = self.open(DUE)?;
        for p in &rec.pending {
            due.remove((p.at, name))?;
        }
        for c in codes_of(rec) {
            cancels.remove(c.as_slice())?;
        }
        Ok(())
    }
}

/// The account's record: schema 2's, or schema 1's carried over (written as schema 2 with
/// its next change), or an empty one.
fn load(v: &impl View, user: &str) -> Result<RecoveryRecord, StoreError> {
    if let Some(row) = v.table(RECOVERY)?.get(user)? {
        return decode(row.value(), "recovery");
    }
    match v.table(RECOVERY_V1)?.get(user)? {
        Some(row) => Ok(RecoveryRecord::from(decode::<RecordV1>(row.value(), "recovery_v1")?)),
        None => Ok(RecoveryRecord::default()),
    }
}

/// The keyed hashes that find the account by code: the cancel codes of its pending changes
/// and the codes texted to disown its places.
fn codes_of(rec: &RecoveryRecord) -> impl Iterator<Item = &[u8; 32]> {
    rec.pending.iter().flat_map(|p| p.cancels.iter()).chain(rec.places.iter().filter_map(|p| p.disown_code.as_ref()))
}
