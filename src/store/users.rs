//! The account rows every domain asks about: whether an account exists, its record
//! (password hash, when made), and when a name was last removed (so what was begun for a
//! removed account never passes to a new one of the same name). The operations on
//! accounts (adding, removing, passwords, tokens) are `accounts.rs`; registration, recovery,
//! mailboxes and deliveries check accounts here, inside their own transactions.

use redb::ReadableTable;

use super::db::{Tx, View};
use super::error::StoreError;
use super::records::{decode, encode, UserRecord};
use super::tables::{REMOVED, USERS};

/// What the accounts' rows answer, in either transaction.
pub(super) trait UsersView: View {
    fn user_exists(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.table(USERS)?.get(name)?.is_some())
    }

    /// The account's record, if there is such an account.
    fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        match self.table(USERS)?.get(name)? {
            Some(v) => Ok(Some(decode(v.value(), "users")?)),
            None => Ok(None),
        }
    }

    /// When `name` was last removed, as a step of the event sequence.
    fn removed_at(&self, name: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.table(REMOVED)?.get(name)?.map(|v| v.value()))
    }
}

impl<T: View + ?Sized> UsersView for T {}

impl Tx {
    /// Write the account's record (a new account, or a new password hash).
    pub(super) fn put_user(&self, name: &str, rec: &UserRecord) -> Result<(), StoreError> {
        let rec = encode(rec, "users")?;
        self.open(USERS)?.insert(name, rec.as_slice())?;
        Ok(())
    }

    /// Remove the account's row; false if there was no such account.
    pub(super) fn remove_user_row(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.open(USERS)?.remove(name)?.is_some())
    }

    /// Record that `name` was removed at step `seq` of the event sequence.
    pub(super) fn mark_removed(&self, name: &str, seq: u64) -> Result<(), StoreError> {
        self.open(REMOVED)?.insert(name, seq)?;
        Ok(())
    }
}
