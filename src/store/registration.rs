//! What self-registration keeps: every account name's skeleton (what it looks like, so a
//! look-alike of a taken name is refused with one lookup), the caps of accounts that
//! registered themselves (a small quota, deliveries a day), the deliveries each such
//! account sent per day, and automation tokens (exempt from the human-timing signals).
//! The caps are read by the quota checks of deliveries and copies, in their transactions.

use redb::ReadableTable;

use super::db::{Finish, Store, Tx, View};
use super::error::StoreError;
use super::records::UserRecord;
use super::tables::{AUTOMATION, CAPS, SENT_DAY, SKELETONS};
use super::users::UsersView;
use crate::policy::registration::skeleton;

/// Why a registration did not create the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registered {
    Created,
    /// The name is taken.
    Taken,
    /// The name looks like this existing account's.
    LookAlike,
}

/// What registration's tables answer, in either transaction.
pub(super) trait RegistrationView: View {
    /// Whether `name` (whose skeleton is `s`) is free: `Created` when it is.
    fn name_check(&self, name: &str, s: &str) -> Result<Registered, StoreError> {
        if self.user_exists(name)? {
            return Ok(Registered::Taken);
        }
        let skeletons = self.table(SKELETONS)?;
        if skeletons.range((s, "")..)?.next().transpose()?.is_some_and(|(k, _)| k.value().0 == s) {
            return Ok(Registered::LookAlike);
        }
        Ok(Registered::Created)
    }

    /// A self-registered account's caps: (quota bytes, deliveries a day).
    fn caps(&self, name: &str) -> Result<Option<(u64, u32)>, StoreError> {
        Ok(self.table(CAPS)?.get(name)?.map(|v| v.value()))
    }

    /// The mailbox quota of `to`: the listener's, or its own cap when lower.
    fn quota_of(&self, to: &str, quota: u64) -> Result<u64, StoreError> {
        Ok(self.caps(to)?.map_or(quota, |c| c.0.min(quota)))
    }
}

impl<T: View + ?Sized> RegistrationView for T {}

impl Store {
    /// Create a self-registered account, if its name is free and looks like no existing
    /// name, with its caps; all in one transaction (two registrations of look-alike names
    /// at once cannot both pass).
    pub fn register_user(&self, name: &str, phc: &str, now: u64, caps: (u64, u32)) -> Result<Registered, StoreError> {
        let s = skeleton(name);
        self.write_or_roll_back(|tx| {
            let free = tx.name_check(name, &s)?;
            if free != Registered::Created {
                return Ok(Finish::RollBack(free));
            }
            tx.put_user(name, &UserRecord { phc: phc.to_owned(), created: now })?;
            tx.open(SKELETONS)?.insert((s.as_str(), name), ())?;
            tx.open(CAPS)?.insert(name, caps)?;
            Ok(Finish::Commit(Registered::Created))
        })
    }

    /// Whether `name` could be registered now (the same checks as `register_user`, which
    /// makes them again in its own transaction): asked before a password is hashed.
    pub fn name_free(&self, name: &str) -> Result<Registered, StoreError> {
        let s = skeleton(name);
        self.read(|rx| rx.name_check(name, &s))
    }

    /// A self-registered account's caps: (quota bytes, deliveries a day).
    pub fn account_caps(&self, name: &str) -> Result<Option<(u64, u32)>, StoreError> {
        self.read(|rx| rx.caps(name))
    }

    /// Mark a stored token key as an automation token's.
    pub fn mark_automation(&self, key: &[u8; 32]) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.open(AUTOMATION)?.insert(key.as_slice(), ())?;
            Ok(())
        })
    }

    /// Whether a stored token key is an automation token's.
    pub fn is_automation(&self, key: &[u8; 32]) -> Result<bool, StoreError> {
        self.read(|rx| Ok(rx.table(AUTOMATION)?.get(key.as_slice())?.is_some()))
    }
}

impl Tx {
    /// Tokens were removed: their automation marks go too.
    pub(super) fn forget_automation(&self, keys: &[&[u8]]) -> Result<(), StoreError> {
        let mut automation = self.open(AUTOMATION)?;
        for k in keys {
            automation.remove(*k)?;
        }
        Ok(())
    }

    /// An account was added (by the operator): its skeleton joins the index.
    pub(super) fn add_skeleton(&self, name: &str) -> Result<(), StoreError> {
        let s = skeleton(name);
        self.open(SKELETONS)?.insert((s.as_str(), name), ())?;
        Ok(())
    }

    /// An account was removed: its skeleton, caps and counts go.
    pub(super) fn purge_registration(&self, name: &str) -> Result<(), StoreError> {
        let s = skeleton(name);
        self.open(SKELETONS)?.remove((s.as_str(), name))?;
        self.open(CAPS)?.remove(name)?;
        self.open(SENT_DAY)?.retain_in((name, 0)..=(name, u64::MAX), |_, _| false)?;
        Ok(())
    }

    /// Within `open_delivery`'s transaction: the recipient's quota (the lower of the
    /// listener's and its own cap), and whether a capped sender may open a send making
    /// `deliveries` deliveries today (counted if so: a send to several recipients counts
    /// one for each).
    pub(super) fn caps_at_open(
        &self,
        sender: &str,
        to: &str,
        quota: u64,
        deliveries: u32,
        now: u64,
    ) -> Result<(u64, u64, bool), StoreError> {
        let to_quota = self.quota_of(to, quota)?;
        let Some((sender_quota, per_day)) = self.caps(sender)? else { return Ok((to_quota, quota, true)) };
        let day = now / 86_400;
        let mut sent = self.open(SENT_DAY)?;
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
}
