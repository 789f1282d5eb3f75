//! Copies a send to several recipients still owes: the first recipient's delivery is
//! committed with the list of further recipients (in the commit's transaction), and each
//! copy is then recorded, or refused, and struck from the list, in one transaction each.
//! A list left by a crash is finished at the next start.

use redb::ReadableTable;

use super::db::{Store, Tx, View};
use super::error::StoreError;
use super::mailbox::MailboxView;
use super::records::{decode, encode, stored_bytes};
use super::registration::RegistrationView;
use super::tables::FANOUT;
use super::users::UsersView;
use crate::wire::Envelope;

impl Tx {
    /// Delivery `of` owes a copy to each of `also`, whose send began at step `opened` of
    /// the event sequence.
    pub(super) fn owe(&self, of: u64, also: &[String], opened: u64) -> Result<(), StoreError> {
        let owed: Vec<(String, u64)> = also.iter().map(|t| (t.clone(), opened)).collect();
        self.open(FANOUT)?.insert(of, encode(&owed, "fan-out")?.as_slice())?;
        Ok(())
    }

    /// Strike `to` from what delivery `of` owes; returns when its send began (the sequence
    /// number), if a copy was owed.
    pub(super) fn strike(&self, of: u64, to: &str) -> Result<Option<u64>, StoreError> {
        let mut fanout = self.open(FANOUT)?;
        let owed: Vec<(String, u64)> = match fanout.get(of)? {
            Some(v) => decode(v.value(), "fan-out")?,
            None => return Ok(None),
        };
        let opened = owed.iter().find(|(t, _)| t == to).map(|(_, seq)| *seq);
        let rest: Vec<(String, u64)> = owed.into_iter().filter(|(t, _)| t != to).collect();
        if rest.is_empty() {
            fanout.remove(of)?;
        } else {
            fanout.insert(of, encode(&rest, "fan-out")?.as_slice())?;
        }
        Ok(opened)
    }
}

impl Store {
    /// The further recipients committed delivery `of` still owes a copy to.
    pub fn owed(&self, of: u64) -> Result<Vec<String>, StoreError> {
        self.read(|rx| match rx.table(FANOUT)?.get(of)? {
            Some(v) => Ok(decode::<Vec<(String, u64)>>(v.value(), "fan-out")?.into_iter().map(|(t, _)| t).collect()),
            None => Ok(Vec::new()),
        })
    }

    /// Strike `to` from what `of` owes, without a copy (its files could not be placed).
    pub fn strike_copy(&self, of: u64, to: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.strike(of, to)?;
            Ok(())
        })
    }

    /// Deliveries that still owe copies to further recipients, and to whom.
    pub fn pending_fanouts(&self) -> Result<Vec<u64>, StoreError> {
        self.read(|rx| {
            let mut out = Vec::new();
            for row in rx.table(FANOUT)?.iter()? {
                out.push(row?.0.value());
            }
            Ok(out)
        })
    }

    /// Record delivery `copy` to `to` as a copy of committed delivery `of` (its files are
    /// in place already), charged to `to`'s quota (holds on it that ended by `now`
    /// released first); `to` is struck from `of`'s fan-out either way. Returns why no copy
    /// was recorded, if none was.
    pub fn record_copy(
        &self,
        of: u64,
        copy: u64,
        to: &str,
        quota: (u64, u64),
        now: u64,
    ) -> Result<Option<&'static str>, StoreError> {
        self.write(|tx| {
            tx.lapse_holds(to, now)?;
            let Some(opened) = tx.strike(of, to)? else {
                return Ok(Some("no copy is owed"));
            };
            // The account that existed when the send began, not a new one of the same name.
            if tx.removed_at(to)?.is_some_and(|r| opened < r) {
                return Ok(Some("no such recipient"));
            }
            let Some(original) = tx.envelope(of)? else {
                return Ok(Some("the delivery is gone"));
            };
            if !tx.user_exists(to)? {
                return Ok(Some("no such recipient"));
            }
            let want = (stored_bytes(&original), u64::from(original.files));
            let (bytes, files) = tx.room_after(to, want)?;
            let quota_bytes = tx.quota_of(to, quota.0)?;
            if bytes > quota_bytes || files > quota.1 {
                return Ok(Some("the recipient's mailbox has no room"));
            }
            let envelope = Envelope { id: copy, to: to.to_owned(), ..original };
            tx.deliver(&envelope)?;
            tx.copy_files(of, copy)?;
            Ok(None)
        })
    }
}
