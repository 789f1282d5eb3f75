//! What self-registration keeps: every account name's skeleton (what it looks like, so a
//! look-alike of a taken name is refused with one lookup), the caps of accounts that
//! registered themselves (a small quota, deliveries a day), the deliveries each such
//! account sent per day, and automation tokens (exempt from the human-timing signals).

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use super::{encode, Store, StoreError, UserRecord, USERS};
use crate::policy::registration::skeleton;

/// Every account name by its skeleton: (skeleton, name).
pub(super) const SKELETONS: TableDefinition<(&str, &str), ()> = TableDefinition::new("name_skeletons_v1");
/// Caps of self-registered accounts: name → (quota bytes, deliveries a day).
pub(super) const CAPS: TableDefinition<&str, (u64, u32)> = TableDefinition::new("account_caps_v1");
/// Deliveries sent by capped accounts: (name, day) → count.
pub(super) const SENT_DAY: TableDefinition<(&str, u64), u32> = TableDefinition::new("sent_per_day_v1");
/// Automation tokens (their stored keys): exempt from the human-timing signals only.
pub(super) const AUTOMATION: TableDefinition<&[u8], ()> = TableDefinition::new("automation_tokens_v1");

/// Why a registration did not create the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registered {
    Created,
    /// The name is taken.
    Taken,
    /// The name looks like this existing account's.
    LookAlike,
}

impl Store {
    /// Create a self-registered account, if its name is free and looks like no existing
    /// name, with its caps; all in one transaction (two registrations of look-alike names
    /// at once cannot both pass).
    pub fn register_user(&self, name: &str, phc: &str, now: u64, caps: (u64, u32)) -> Result<Registered, StoreError> {
        let s = skeleton(name);
        let tx = self.db.begin_write()?;
        {
            let mut users = tx.open_table(USERS)?;
            if users.get(name)?.is_some() {
                return Ok(Registered::Taken);
            }
            let mut skeletons = tx.open_table(SKELETONS)?;
            if skeletons.range((s.as_str(), "")..)?.next().transpose()?.is_some_and(|(k, _)| k.value().0 == s) {
                return Ok(Registered::LookAlike);
            }
            let rec = encode(&UserRecord { phc: phc.to_owned(), created: now }, "users")?;
            users.insert(name, rec.as_slice())?;
            skeletons.insert((s.as_str(), name), ())?;
            tx.open_table(CAPS)?.insert(name, caps)?;
        }
        tx.commit()?;
        Ok(Registered::Created)
    }

    /// Whether `name` could be registered now (the same checks as `register_user`, which
    /// makes them again in its own transaction): asked before a password is hashed.
    pub fn name_free(&self, name: &str) -> Result<Registered, StoreError> {
        let s = skeleton(name);
        let tx = self.db.begin_read()?;
        if tx.open_table(USERS)?.get(name)?.is_some() {
            return Ok(Registered::Taken);
        }
        let skeletons = tx.open_table(SKELETONS)?;
        if skeletons.range((s.as_str(), "")..)?.next().transpose()?.is_some_and(|(k, _)| k.value().0 == s) {
            return Ok(Registered::LookAlike);
        }
        Ok(Registered::Created)
    }

    /// A self-registered account's caps: (quota bytes, deliveries a day).
    pub fn account_caps(&self, name: &str) -> Result<Option<(u64, u32)>, StoreError> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(CAPS)?.get(name)?.map(|v| v.value()))
    }

    /// Mark a stored token key as an automation token's.
    pub fn mark_automation(&self, key: &[u8; 32]) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        tx.open_table(AUTOMATION)?.insert(key.as_slice(), ())?;
        tx.commit()?;
        Ok(())
    }

    /// Whether a stored token key is an automation token's.
    pub fn is_automation(&self, key: &[u8; 32]) -> Result<bool, StoreError> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(AUTOMATION)?.get(key.as_slice())?.is_some())
    }
}

/// Tokens were removed: their automation marks go too.
pub(super) fn forget_tokens(tx: &redb::WriteTransaction, keys: &[&[u8]]) -> Result<(), StoreError> {
    let mut automation = tx.open_table(AUTOMATION)?;
    for k in keys {
        automation.remove(*k)?;
    }
    Ok(())
}

/// Keep the skeleton index in step with the accounts (at every start: accounts made
/// before the index existed are added).
pub(super) fn index_skeletons(tx: &redb::WriteTransaction) -> Result<(), StoreError> {
    let mut skeletons = tx.open_table(SKELETONS)?;
    for row in tx.open_table(USERS)?.iter()? {
        let (k, _) = row?;
        let name = k.value();
        let s = skeleton(name);
        if skeletons.get((s.as_str(), name))?.is_none() {
            skeletons.insert((s.as_str(), name), ())?;
        }
    }
    Ok(())
}

/// An account was added (by the operator): its skeleton joins the index.
pub(super) fn add_skeleton(tx: &redb::WriteTransaction, name: &str) -> Result<(), StoreError> {
    let s = skeleton(name);
    tx.open_table(SKELETONS)?.insert((s.as_str(), name), ())?;
    Ok(())
}

/// An account was removed: its skeleton, caps and counts go.
pub(super) fn purge(tx: &redb::WriteTransaction, name: &str) -> Result<(), StoreError> {
    let s = skeleton(name);
    tx.open_table(SKELETONS)?.remove((s.as_str(), name))?;
    tx.open_table(CAPS)?.remove(name)?;
    tx.open_table(SENT_DAY)?.retain_in((name, 0)..=(name, u64::MAX), |_, _| false)?;
    Ok(())
}

/// The mailbox quota of `to`: the listener's, or its own cap when lower.
pub(super) fn quota_of(
    caps: &impl ReadableTable<&'static str, (u64, u32)>,
    to: &str,
    quota: u64,
) -> Result<u64, StoreError> {
    Ok(caps.get(to)?.map_or(quota, |v| v.value().0.min(quota)))
}

/// Within `open_delivery`'s transaction: the recipient's quota (the lower of the
/// listener's and its own cap), and whether a capped sender may open a send making
/// `deliveries` deliveries today (counted if so: a send to several recipients counts one
/// for each).
pub(super) fn caps_at_open(
    tx: &redb::WriteTransaction,
    sender: &str,
    to: &str,
    quota: u64,
    deliveries: u32,
    now: u64,
) -> Result<(u64, u64, bool), StoreError> {
    let caps = tx.open_table(CAPS)?;
    let to_quota = quota_of(&caps, to, quota)?;
    let sender_caps = caps.get(sender)?.map(|v| v.value());
    drop(caps);
    let Some((sender_quota, per_day)) = sender_caps else { return Ok((to_quota, quota, true)) };
    let day = now / 86_400;
    let mut sent = tx.open_table(SENT_DAY)?;
    let count = sent.get((sender, day))?.map_or(0, |v| v.value());
    let after = count.saturating_add(deliveries.max(1));
    if after > per_day {
        return Ok((to_quota, sender_quota.min(quota), false));
    }
    sent.insert((sender, day), after)?;
    // Earlier days are not needed any more.
    if day > 0 {
        sent.retain_in((sender, 0)..=(sender, day - 1), |_, _| false)?;
    }
    Ok((to_quota, sender_quota.min(quota), true))
}
