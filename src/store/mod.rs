//! The embedded database (redb): accounts, session tokens, deliveries and mailboxes. Only
//! this module touches redb. Table names carry a version so a schema change is a new table.
//! Every method is synchronous and short; async callers run them on the blocking pool.
//! A value is a postcard record; records written here are trusted, but a corrupt one is an
//! error, never a panic.

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::policy::activity::Activity;
use crate::policy::Ban;
use crate::wire::{Attachment, Envelope, Hash, Summary};

const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users_v1");
const TOKENS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("tokens_v1");
const DELIVERIES: TableDefinition<u64, &[u8]> = TableDefinition::new("deliveries_v1");
const MAILBOX: TableDefinition<(&str, u64), ()> = TableDefinition::new("mailbox_v1");
const OPEN: TableDefinition<&[u8], &[u8]> = TableDefinition::new("open_deliveries_v1");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta_v1");
/// Activity events in arrival order (key: a sequence number).
const ACTIVITY: TableDefinition<u64, &[u8]> = TableDefinition::new("activity_v1");
/// Events removed by retention, counted per (source, day, kind).
const DAILY: TableDefinition<(&str, u64, &str), u64> = TableDefinition::new("activity_daily_v1");
/// Bans in force or remembered for escalation: network -> record.
const BANS: TableDefinition<&str, &[u8]> = TableDefinition::new("bans_v1");
/// Bytes of delivered files per mailbox, kept with every commit (quota checks read one row).
const USAGE: TableDefinition<&str, u64> = TableDefinition::new("mailbox_usage_v1");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] redb::Error),
    #[error("corrupt record in {0}")]
    Corrupt(&'static str),
    #[error("account {0} already exists")]
    Exists(String),
    #[error("no account named {0}")]
    NoSuchUser(String),
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self { StoreError::Db(e.into()) }
        }
    )*};
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct UserRecord {
    phc: String,
    created: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TokenRecord {
    user: String,
    expires: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct OpenRecord {
    id: u64,
    created: u64,
}

/// A committed delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stored {
    pub envelope: Envelope,
    pub attachments: Vec<Attachment>,
}

/// An account as listed by `qxfer user list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    pub name: String,
    pub created: u64,
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], table: &'static str) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|_| StoreError::Corrupt(table))
}

fn encode<T: Serialize>(value: &T, table: &'static str) -> Result<Vec<u8>, StoreError> {
    postcard::to_stdvec(value).map_err(|_| StoreError::Corrupt(table))
}

fn open_key(sender: &str, resume_key: &Hash) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(sender.as_bytes());
    h.update(&[0]);
    h.update(resume_key);
    *h.finalize().as_bytes()
}

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
}

impl Store {
    /// Open or create the database file and its tables.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path)?;
        let tx = db.begin_write()?;
        {
            tx.open_table(USERS)?;
            tx.open_table(TOKENS)?;
            tx.open_table(DELIVERIES)?;
            tx.open_table(MAILBOX)?;
            tx.open_table(OPEN)?;
            tx.open_table(META)?;
            tx.open_table(USAGE)?;
            tx.open_table(ACTIVITY)?;
            tx.open_table(DAILY)?;
            tx.open_table(BANS)?;
        }
        tx.commit()?;
        Ok(Self { db: Arc::new(db) })
    }

    pub fn add_user(&self, name: &str, phc: &str, now: u64) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        {
            let mut users = tx.open_table(USERS)?;
            if users.get(name)?.is_some() {
                return Err(StoreError::Exists(name.to_owned()));
            }
            let rec = encode(&UserRecord { phc: phc.to_owned(), created: now }, "users")?;
            users.insert(name, rec.as_slice())?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Replace a password hash and revoke the account's tokens.
    pub fn set_password(&self, name: &str, phc: &str) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        {
            let mut users = tx.open_table(USERS)?;
            let created = match users.get(name)? {
                Some(v) => decode::<UserRecord>(v.value(), "users")?.created,
                None => return Err(StoreError::NoSuchUser(name.to_owned())),
            };
            let rec = encode(&UserRecord { phc: phc.to_owned(), created }, "users")?;
            users.insert(name, rec.as_slice())?;
            revoke_tokens(&tx, name)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Delete an account, its tokens and its mailbox records.
    pub fn remove_user(&self, name: &str) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        {
            let mut users = tx.open_table(USERS)?;
            if users.remove(name)?.is_none() {
                return Err(StoreError::NoSuchUser(name.to_owned()));
            }
            revoke_tokens(&tx, name)?;
            let mut mailbox = tx.open_table(MAILBOX)?;
            let mut deliveries = tx.open_table(DELIVERIES)?;
            let ids: Vec<u64> =
                mailbox.range((name, 0)..=(name, u64::MAX))?.filter_map(|r| r.ok().map(|(k, _)| k.value().1)).collect();
            for id in ids {
                mailbox.remove((name, id))?;
                deliveries.remove(id)?;
            }
            tx.open_table(USAGE)?.remove(name)?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn list_users(&self) -> Result<Vec<UserInfo>, StoreError> {
        let tx = self.db.begin_read()?;
        let users = tx.open_table(USERS)?;
        let mut out = Vec::new();
        for row in users.iter()? {
            let (k, v) = row?;
            let rec: UserRecord = decode(v.value(), "users")?;
            out.push(UserInfo { name: k.value().to_owned(), created: rec.created });
        }
        Ok(out)
    }

    pub fn user_exists(&self, name: &str) -> Result<bool, StoreError> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(USERS)?.get(name)?.is_some())
    }

    pub fn password_hash(&self, name: &str) -> Result<Option<String>, StoreError> {
        let tx = self.db.begin_read()?;
        let users = tx.open_table(USERS)?;
        match users.get(name)? {
            Some(v) => Ok(Some(decode::<UserRecord>(v.value(), "users")?.phc)),
            None => Ok(None),
        }
    }

    pub fn add_token(&self, key: &[u8; 32], user: &str, expires: u64) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        {
            let mut tokens = tx.open_table(TOKENS)?;
            let rec = encode(&TokenRecord { user: user.to_owned(), expires }, "tokens")?;
            tokens.insert(key.as_slice(), rec.as_slice())?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The account a token belongs to, if it is known and unexpired.
    pub fn token_user(&self, key: &[u8; 32], now: u64) -> Result<Option<String>, StoreError> {
        let tx = self.db.begin_read()?;
        let tokens = tx.open_table(TOKENS)?;
        match tokens.get(key.as_slice())? {
            Some(v) => {
                let rec: TokenRecord = decode(v.value(), "tokens")?;
                Ok((rec.expires > now).then_some(rec.user))
            }
            None => Ok(None),
        }
    }

    /// Find the unfinished delivery this sender opened with `resume_key`, or create one.
    /// Returns the id and whether it was resumed.
    pub fn open_delivery(&self, sender: &str, resume_key: &Hash, now: u64) -> Result<(u64, bool), StoreError> {
        let key = open_key(sender, resume_key);
        let tx = self.db.begin_write()?;
        let found;
        {
            let mut open = tx.open_table(OPEN)?;
            let existing = match open.get(key.as_slice())? {
                Some(v) => Some(decode::<OpenRecord>(v.value(), "open deliveries")?.id),
                None => None,
            };
            found = match existing {
                Some(id) => (id, true),
                None => {
                    let mut meta = tx.open_table(META)?;
                    let next = meta.get("next_id")?.map(|v| v.value()).unwrap_or(1);
                    meta.insert("next_id", next.saturating_add(1))?;
                    let rec = encode(&OpenRecord { id: next, created: now }, "open deliveries")?;
                    open.insert(key.as_slice(), rec.as_slice())?;
                    (next, false)
                }
            };
        }
        tx.commit()?;
        Ok(found)
    }

    /// Record a finished delivery in the recipient's mailbox and forget its resume key.
    pub fn commit_delivery(&self, stored: &Stored, resume_key: &Hash) -> Result<(), StoreError> {
        let key = open_key(&stored.envelope.from, resume_key);
        let tx = self.db.begin_write()?;
        {
            let rec = encode(stored, "deliveries")?;
            tx.open_table(DELIVERIES)?.insert(stored.envelope.id, rec.as_slice())?;
            tx.open_table(MAILBOX)?.insert((stored.envelope.to.as_str(), stored.envelope.id), ())?;
            tx.open_table(OPEN)?.remove(key.as_slice())?;
            let mut usage = tx.open_table(USAGE)?;
            let to = stored.envelope.to.as_str();
            let used = usage.get(to)?.map(|v| v.value()).unwrap_or(0);
            usage.insert(to, used.saturating_add(stored.envelope.bytes))?;
        }
        tx.commit()?;
        Ok(())
    }

    /// A page of `user`'s mailbox with ids above `after`.
    pub fn inbox(&self, user: &str, after: u64, limit: usize) -> Result<(Vec<Summary>, bool), StoreError> {
        let tx = self.db.begin_read()?;
        let mailbox = tx.open_table(MAILBOX)?;
        let deliveries = tx.open_table(DELIVERIES)?;
        let mut items = Vec::new();
        let start = after.saturating_add(1);
        for row in mailbox.range((user, start)..=(user, u64::MAX))? {
            let (k, _) = row?;
            if items.len() == limit {
                return Ok((items, true));
            }
            let id = k.value().1;
            if let Some(v) = deliveries.get(id)? {
                let s: Stored = decode(v.value(), "deliveries")?;
                let e = s.envelope;
                items.push(Summary {
                    id,
                    from: e.from,
                    time: e.time,
                    subject: e.subject,
                    files: e.files,
                    bytes: e.bytes,
                });
            }
        }
        Ok((items, false))
    }

    /// Bytes of delivered files in `user`'s mailbox.
    pub fn mailbox_bytes(&self, user: &str) -> Result<u64, StoreError> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(USAGE)?.get(user)?.map(|v| v.value()).unwrap_or(0))
    }

    /// A delivery, only if it is in `user`'s mailbox.
    pub fn delivery_for(&self, user: &str, id: u64) -> Result<Option<Stored>, StoreError> {
        let tx = self.db.begin_read()?;
        if tx.open_table(MAILBOX)?.get((user, id))?.is_none() {
            return Ok(None);
        }
        match tx.open_table(DELIVERIES)?.get(id)? {
            Some(v) => Ok(Some(decode(v.value(), "deliveries")?)),
            None => Ok(None),
        }
    }
}

impl Store {
    /// Append a batch of events in one transaction. A non-`durable` batch is made durable by
    /// the next durable commit of this database (the recorder makes one at least every second).
    pub fn append_activity(&self, events: &[Activity], durable: bool) -> Result<(), StoreError> {
        let mut tx = self.db.begin_write()?;
        if !durable {
            tx.set_durability(redb::Durability::None)?;
        }
        {
            let mut meta = tx.open_table(META)?;
            let mut next = meta.get("next_event")?.map(|v| v.value()).unwrap_or(0);
            let mut table = tx.open_table(ACTIVITY)?;
            for e in events {
                let rec = encode(e, "activity")?;
                table.insert(next, rec.as_slice())?;
                next += 1;
            }
            meta.insert("next_event", next)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Keep at most `max_events`, none older than `min_time_ms`; removed events are added
    /// to per-source daily counts. Returns how many were removed.
    pub fn enforce_retention(&self, max_events: u64, min_time_ms: u64) -> Result<u64, StoreError> {
        let tx = self.db.begin_write()?;
        let removed;
        {
            let mut table = tx.open_table(ACTIVITY)?;
            let mut daily = tx.open_table(DAILY)?;
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
            removed = doomed.len() as u64;
        }
        tx.commit()?;
        Ok(removed)
    }

    /// Events newest first, those matching `keep`, at most `limit`, none older than `since_ms`.
    pub fn activity(
        &self,
        since_ms: u64,
        limit: usize,
        keep: impl Fn(&Activity) -> bool,
    ) -> Result<Vec<Activity>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(ACTIVITY)?;
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
    }

    pub fn activity_count(&self) -> Result<u64, StoreError> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(ACTIVITY)?.len()?)
    }

    pub fn put_ban(&self, ban: &Ban) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        {
            let rec = encode(ban, "bans")?;
            tx.open_table(BANS)?.insert(ban.net.to_string().as_str(), rec.as_slice())?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Lift a ban now, keeping its level for escalation. False if there was none.
    pub fn lift_ban(&self, net: &str, now: u64) -> Result<bool, StoreError> {
        let tx = self.db.begin_write()?;
        let found;
        {
            let mut bans = tx.open_table(BANS)?;
            let existing = match bans.get(net)? {
                Some(v) => Some(decode::<Ban>(v.value(), "bans")?),
                None => None,
            };
            found = existing.as_ref().is_some_and(|b| b.until > now);
            if let Some(mut b) = existing {
                b.until = b.until.min(now);
                let rec = encode(&b, "bans")?;
                bans.insert(net, rec.as_slice())?;
            }
        }
        tx.commit()?;
        Ok(found)
    }

    /// Every ban record (expired ones too: they carry the offence level).
    pub fn bans(&self) -> Result<Vec<Ban>, StoreError> {
        let tx = self.db.begin_read()?;
        let mut out = Vec::new();
        for row in tx.open_table(BANS)?.iter()? {
            let (_, v) = row?;
            out.push(decode(v.value(), "bans")?);
        }
        Ok(out)
    }
}

fn revoke_tokens(tx: &redb::WriteTransaction, name: &str) -> Result<(), StoreError> {
    let mut tokens = tx.open_table(TOKENS)?;
    let mut doomed = Vec::new();
    for row in tokens.iter()? {
        let (k, v) = row?;
        let rec: TokenRecord = decode(v.value(), "tokens")?;
        if rec.user == name {
            doomed.push(k.value().to_vec());
        }
    }
    for k in doomed {
        tokens.remove(k.as_slice())?;
    }
    Ok(())
}
