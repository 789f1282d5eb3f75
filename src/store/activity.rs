//! The activity log: events appended in batches (durable or not), read newest first,
//! pseudonymised when an account is removed, and bounded by retention (removed events are
//! kept as per-source daily counts).

use redb::{ReadableTable, ReadableTableMetadata};

use super::db::{Store, View};
use super::error::StoreError;
use super::records::{decode, encode};
use super::tables::{ACTIVITY, DAILY};
use crate::policy::activity::Activity;

impl Store {
    /// Append a batch of events in one transaction. A non-`durable` batch is made durable by
    /// the next durable commit of this database (the recorder makes one at least every second).
    pub fn append_activity(&self, events: &[Activity], durable: bool) -> Result<(), StoreError> {
        self.write(|tx| {
            if !durable {
                tx.not_durable()?;
            }
            let first = tx.next_event_keys(events.len() as u64)?;
            let mut table = tx.open(ACTIVITY)?;
            for (key, e) in (first..).zip(events) {
                let rec = encode(e, "activity")?;
                table.insert(key, rec.as_slice())?;
            }
            Ok(())
        })
    }

    /// Rename `name` to `alias` in every stored event (a removed account). The log is
    /// bounded by retention, so this reads at most `max_events` records. Returns how many.
    pub fn pseudonymise_activity(&self, name: &str, alias: &str) -> Result<u64, StoreError> {
        self.write(|tx| {
            let mut n = 0;
            let mut table = tx.open(ACTIVITY)?;
            let mut renamed = Vec::new();
            for row in table.iter()? {
                let (k, v) = row?;
                let mut e: Activity = decode(v.value(), "activity")?;
                if e.account.as_deref() == Some(name) {
                    e.account = Some(alias.to_owned());
                    renamed.push((k.value(), encode(&e, "activity")?));
                }
            }
            for (k, rec) in renamed {
                table.insert(k, rec.as_slice())?;
                n += 1;
            }
            Ok(n)
        })
    }

    /// Keep at most `max_events`, none older than `min_time_ms`; removed events are added
    /// to per-source daily counts. Returns how many were removed.
    pub fn enforce_retention(&self, max_events: u64, min_time_ms: u64) -> Result<u64, StoreError> {
        self.write(|tx| {
            let mut table = tx.open(ACTIVITY)?;
            let mut daily = tx.open(DAILY)?;
            let len = table.len()?;
            let excess = len.saturating_sub(max_events);
            let mut doomed = Vec::new();
            for row in table.iter()? {
                let (k, v) = row?;
                let e: Activity = decode(v.value(), "activity")?;
                if (doomed.len() as u64) < excess || e.time_ms < min_time_ms {
                    doomed.push((k.value(), e));
                } else {
                    break;
                }
                // Bounded work per call; the next call continues.
                if doomed.len() >= 100_000 {
                    break;
                }
            }
            for (k, e) in &doomed {
                table.remove(*k)?;
                let src = e.source.to_string();
                let key = (src.as_str(), e.time_ms / 86_400_000, e.kind.name());
                let n = daily.get(key)?.map(|v| v.value()).unwrap_or(0);
                daily.insert(key, n + 1)?;
            }
            Ok(doomed.len() as u64)
        })
    }

    /// Events newest first, those matching `keep`, at most `limit`, none older than `since_ms`.
    pub fn activity(
        &self,
        since_ms: u64,
        limit: usize,
        keep: impl Fn(&Activity) -> bool,
    ) -> Result<Vec<Activity>, StoreError> {
        self.read(|rx| {
            let table = rx.table(ACTIVITY)?;
            let mut out = Vec::new();
            for row in table.iter()?.rev() {
                let (_, v) = row?;
                let e: Activity = decode(v.value(), "activity")?;
                if e.time_ms < since_ms {
                    break;
                }
                if keep(&e) {
                    out.push(e);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
            Ok(out)
        })
    }

    pub fn activity_count(&self) -> Result<u64, StoreError> {
        self.read(|rx| Ok(rx.table(ACTIVITY)?.len()?))
    }
}
