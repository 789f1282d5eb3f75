//! Ban records by network: those in force, and expired ones remembered for their offence
//! level (escalation).

use redb::ReadableTable;

use super::db::{Store, View};
use super::error::StoreError;
use super::records::{decode, encode};
use super::tables::BANS;
use crate::policy::Ban;

impl Store {
    pub fn put_ban(&self, ban: &Ban) -> Result<(), StoreError> {
        self.write(|tx| {
            let rec = encode(ban, "bans")?;
            tx.open(BANS)?.insert(ban.net.to_string().as_str(), rec.as_slice())?;
            Ok(())
        })
    }

    /// Lift a ban now, keeping its level for escalation. False if there was none.
    pub fn lift_ban(&self, net: &str, now: u64) -> Result<bool, StoreError> {
        self.write(|tx| {
            let mut bans = tx.open(BANS)?;
            let existing = match bans.get(net)? {
                Some(v) => Some(decode::<Ban>(v.value(), "bans")?),
                None => None,
            };
            let found = existing.as_ref().is_some_and(|b| b.until > now);
            if let Some(mut b) = existing {
                b.until = b.until.min(now);
                let rec = encode(&b, "bans")?;
                bans.insert(net, rec.as_slice())?;
            }
            Ok(found)
        })
    }

    /// Every ban record (expired ones too: they carry the offence level).
    pub fn bans(&self) -> Result<Vec<Ban>, StoreError> {
        self.read(|rx| {
            let mut out = Vec::new();
            for row in rx.table(BANS)?.iter()? {
                let (_, v) = row?;
                out.push(decode(v.value(), "bans")?);
            }
            Ok(out)
        })
    }
}
