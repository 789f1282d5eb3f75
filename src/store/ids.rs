//! The database's counters (`meta_v1`): delivery ids, the event sequence that orders the
//! opening of deliveries against the removal of accounts, and the activity log's next key.

use redb::ReadableTable;

use super::db::{Store, Tx};
use super::error::StoreError;
use super::tables::META;

impl Tx {
    /// A new delivery id.
    pub(super) fn next_id(&self) -> Result<u64, StoreError> {
        let mut meta = self.open(META)?;
        let next = meta.get("next_id")?.map(|v| v.value()).unwrap_or(1);
        meta.insert("next_id", next.saturating_add(1))?;
        Ok(next)
    }

    /// The next step of the database's event sequence.
    pub(super) fn next_seq(&self) -> Result<u64, StoreError> {
        let mut meta = self.open(META)?;
        let seq = meta.get("seq")?.map(|v| v.value()).unwrap_or(1);
        meta.insert("seq", seq.saturating_add(1))?;
        Ok(seq)
    }

    /// Keys for `count` new activity events: the first of them (the rest follow it).
    pub(super) fn next_event_keys(&self, count: u64) -> Result<u64, StoreError> {
        let mut meta = self.open(META)?;
        let next = meta.get("next_event")?.map(|v| v.value()).unwrap_or(0);
        meta.insert("next_event", next + count)?;
        Ok(next)
    }
}

impl Store {
    /// A new delivery id, for a copy of a delivery to a further recipient (made before its
    /// files are linked, so a listed delivery always has its files).
    pub fn allocate_id(&self) -> Result<u64, StoreError> {
        self.write(|tx| tx.next_id())
    }
}
