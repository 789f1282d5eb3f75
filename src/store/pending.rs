//! Unfinished deliveries that end other than by a commit: a sender's own list of them and
//! dropping one (`qxfer pending`), expiry `spool_expiry_secs` after their last resume, an
//! account removed, a recipient gone; each releases what the delivery reserved, and its
//! caller removes its files. Also forgetting committed sends as old as expired ones.

use std::collections::HashSet;

use redb::ReadableTable;

use super::db::{Store, Tx, View};
use super::deliveries::{open_key, DeliveriesView};
use super::error::StoreError;
use super::holds::HoldsView;
use super::records::{decode, OpenMeta, OpenRecord};
use super::tables::{COMMITTED, OPEN, OPEN_META, SPOOL_OF};
use crate::wire::{Hash, PendingSend};

impl Tx {
    /// Drop the unfinished deliveries from or to `name` and its spool (inside
    /// `remove_user`'s transaction); returns their ids, so their files can be removed.
    pub(super) fn drop_deliveries_of(&self, name: &str) -> Result<Vec<u64>, StoreError> {
        let mut keys = Vec::new();
        for row in self.open(OPEN_META)?.iter()? {
            let (k, v) = row?;
            let meta: OpenMeta = decode(v.value(), "open meta")?;
            if meta.sender == name || meta.to == name {
                keys.push(k.value().to_vec());
            }
        }
        let mut dropped = Vec::new();
        for key in keys {
            if let Some(id) = self.drop_open(&key)? {
                dropped.push(id);
            }
        }
        Ok(dropped)
    }

    /// Forget what `name`'s unfinished deliveries hold in the spool.
    pub(super) fn forget_spool(&self, name: &str) -> Result<(), StoreError> {
        self.open(SPOOL_OF)?.remove(name)?;
        Ok(())
    }
}

impl Store {
    /// A page of `sender`'s unfinished deliveries with ids above `after`, in id order (each
    /// expiring `expiry` seconds after its last begin or resume), and whether more follow.
    pub fn pending_of(
        &self,
        sender: &str,
        after: u64,
        limit: usize,
        expiry: u64,
    ) -> Result<(Vec<PendingSend>, bool), StoreError> {
        self.read(|rx| {
            let mut all = Vec::new();
            for key in rx.keys_of(sender)? {
                let (Some(rec), Some(meta)) = (rx.open_record(&key)?, rx.open_meta(&key)?) else { continue };
                if rec.id <= after {
                    continue;
                }
                let (since, until) = rx.since(&key)?.unwrap_or((rec.created, 0));
                all.push(PendingSend {
                    id: rec.id,
                    to: meta.to,
                    bytes: meta.bytes,
                    files: meta.files,
                    since,
                    last: rec.created,
                    held_until: (until != 0).then_some(until),
                    expires: rec.created.saturating_add(expiry),
                });
            }
            all.sort_by_key(|p| p.id);
            let more = all.len() > limit;
            all.truncate(limit);
            Ok((all, more))
        })
    }

    /// Drop `sender`'s unfinished delivery `id`: only one of its own sends (found under
    /// its own name and resume keys) is dropped, and what it reserved is released. Returns
    /// whether there was one.
    pub fn drop_pending(&self, sender: &str, id: u64) -> Result<bool, StoreError> {
        self.write(|tx| {
            for key in tx.keys_of(sender)? {
                if tx.open_record(&key)?.is_some_and(|rec| rec.id == id) {
                    return Ok(tx.drop_open(&key)?.is_some());
                }
            }
            Ok(false)
        })
    }

    /// Drop the unfinished delivery this send opened (its recipient is gone): its
    /// reservation is released. Returns its id, if it was open.
    pub fn abandon(&self, sender: &str, resume_key: &Hash) -> Result<Option<u64>, StoreError> {
        let key = open_key(sender, resume_key);
        self.write(|tx| tx.drop_open(&key))
    }

    /// Ids of the unfinished deliveries.
    pub fn open_ids(&self) -> Result<HashSet<u64>, StoreError> {
        self.read(|rx| {
            let mut ids = HashSet::new();
            for row in rx.table(OPEN)?.iter()? {
                ids.insert(decode::<OpenRecord>(row?.1.value(), "open deliveries")?.id);
            }
            Ok(ids)
        })
    }

    /// Forget unfinished deliveries last opened or resumed before `before` and not being
    /// written now (`active`): their reservations are released and their ids returned, so
    /// their files can be removed.
    pub fn expire_open(&self, before: u64, active: &HashSet<u64>) -> Result<Vec<u64>, StoreError> {
        // Looked for in a read transaction: most of the time there is nothing to write.
        let keys = self.read(|rx| {
            let mut keys = Vec::new();
            for row in rx.table(OPEN)?.iter()? {
                let (k, v) = row?;
                let rec: OpenRecord = decode(v.value(), "open deliveries")?;
                if rec.created < before && !active.contains(&rec.id) {
                    keys.push(k.value().to_vec());
                }
            }
            Ok(keys)
        })?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.write(|tx| {
            let mut expired = Vec::new();
            for key in keys {
                // Still there and still old (not committed, nor resumed, meanwhile)?
                let still = tx.open_record(&key)?.is_some_and(|rec| rec.created < before);
                if still {
                    if let Some(id) = tx.drop_open(&key)? {
                        expired.push(id);
                    }
                }
            }
            Ok(expired)
        })
    }

    /// Forget sends committed before `before` (they can no longer be retried as such).
    pub fn forget_committed(&self, before: u64) -> Result<(), StoreError> {
        let any = self.read(|rx| {
            for row in rx.table(COMMITTED)?.iter()? {
                if row?.1.value().1 < before {
                    return Ok(true);
                }
            }
            Ok(false)
        })?;
        if !any {
            return Ok(());
        }
        self.write(|tx| {
            tx.open(COMMITTED)?.retain(|_, (_, time)| time >= before)?;
            Ok(())
        })
    }
}
