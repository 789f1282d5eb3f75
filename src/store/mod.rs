//! The embedded database (redb): accounts, session tokens, deliveries and mailboxes. Only
//! this module touches redb. Table names carry a version so a schema change is a new table.
//! Every method is synchronous and short; async callers run them on the blocking pool.
//! A value is a postcard record; records written here are trusted, but a corrupt one is an
//! error, never a panic.

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, TableHandle};
use serde::{Deserialize, Serialize};

mod recovery;
mod registration;

pub use recovery::{Change, Pending, PhoneRec, PlaceRec, QuestionRec, Recent, RecentKind, RecoveryRecord, SentCode};
pub use registration::Registered;

use crate::policy::activity::Activity;
use crate::policy::Ban;
use crate::wire::{Attachment, Envelope, FileMeta, Hash, Summary};

const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users_v1");
const TOKENS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("tokens_v1");
/// A committed delivery's envelope: id -> Envelope. Its files are rows of ATTACHMENTS, so no
/// request ever decodes a whole delivery's file list.
const DELIVERIES: TableDefinition<u64, &[u8]> = TableDefinition::new("deliveries_v2");
/// A committed delivery's files: (id, index) -> Attachment.
const ATTACHMENTS: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("attachments_v1");
/// A mailbox: (account, id) -> Summary, so listing reads summaries only.
const MAILBOX: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("mailbox_v2");
/// Schema 1, migrated when the listener starts (then deleted): whole deliveries with their
/// attachment lists, a mailbox of bare keys, usage in bytes only.
const DELIVERIES_V1: TableDefinition<u64, &[u8]> = TableDefinition::new("deliveries_v1");
const MAILBOX_V1: TableDefinition<(&str, u64), ()> = TableDefinition::new("mailbox_v1");
const USAGE_V1: TableDefinition<&str, u64> = TableDefinition::new("mailbox_usage_v1");
const OPEN: TableDefinition<&[u8], &[u8]> = TableDefinition::new("open_deliveries_v1");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta_v1");
/// Sends recently committed: open key -> (id, time). A retry of the same send (the client
/// reuses its resume key until it hears "committed") learns it was delivered instead of
/// delivering it twice.
const COMMITTED: TableDefinition<&[u8], (u64, u64)> = TableDefinition::new("committed_v1");
/// When each unfinished delivery was opened, as a step of the database's event sequence.
const OPEN_SEQ: TableDefinition<&[u8], u64> = TableDefinition::new("open_seq_v1");
/// What each unfinished delivery holds in reserve: open key -> OpenMeta. Released when it
/// is committed or expires.
const OPEN_META: TableDefinition<&[u8], &[u8]> = TableDefinition::new("open_meta_v1");
/// Reserved by unfinished deliveries, per recipient (bytes, files) and per sender (bytes,
/// files, deliveries): quota checks read one row each.
const RESERVED_TO: TableDefinition<&str, (u64, u64)> = TableDefinition::new("reserved_to_v1");
const SPOOL_OF: TableDefinition<&str, (u64, u64, u64)> = TableDefinition::new("spool_of_v1");
/// When each account name was last removed, as a step of the same sequence: a delivery
/// opened before that belongs to the removed account, never to a new one of that name.
const REMOVED: TableDefinition<&str, u64> = TableDefinition::new("removed_v1");
/// Activity events in arrival order (key: a sequence number).
const ACTIVITY: TableDefinition<u64, &[u8]> = TableDefinition::new("activity_v1");
/// Events removed by retention, counted per (source, day, kind).
const DAILY: TableDefinition<(&str, u64, &str), u64> = TableDefinition::new("activity_daily_v1");
/// Bans in force or remembered for escalation: network -> record.
const BANS: TableDefinition<&str, &[u8]> = TableDefinition::new("bans_v1");
/// Bytes and files delivered to each mailbox, kept with every commit (quota checks read one
/// row).
const USAGE: TableDefinition<&str, (u64, u64)> = TableDefinition::new("mailbox_usage_v2");
/// Deliveries not yet fetched or read, by (recipient, id): a delivery is added at commit and
/// removed when marked seen or deleted, so listing what is new costs only what is new.
/// Deliveries committed before this table existed count as seen.
const UNSEEN: TableDefinition<(&str, u64), ()> = TableDefinition::new("unseen_v1");
/// Permission bits and modification time of a delivered file, by (id, index), when its
/// sender sent them.
const FILE_META: TableDefinition<(u64, u32), (u32, u64)> = TableDefinition::new("file_meta_v1");
/// Further recipients a committed delivery still owes a copy to (a send to several
/// recipients), by the first recipient's delivery id: written in the commit's transaction,
/// emptied as each copy is made or refused, finished at start after a crash.
const FANOUT: TableDefinition<u64, &[u8]> = TableDefinition::new("fanout_v1");
/// Session tokens by account: (account, token key) → expiry, so listing or revoking one
/// account's tokens never reads another's. Filled from `tokens_v1` when it is new.
const USER_TOKENS: TableDefinition<(&str, &[u8]), u64> = TableDefinition::new("user_tokens_v1");

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
    /// The delivery being committed was committed already (by an earlier connection).
    #[error("delivery {id} was committed already")]
    Committed { id: u64, time: u64 },
    /// The delivery being committed is no longer open (it expired or was dropped).
    #[error("the delivery is no longer open")]
    NotOpen,
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

/// What an unfinished delivery reserved: in its recipient's mailbox and its sender's spool.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct OpenMeta {
    sender: String,
    to: String,
    bytes: u64,
    files: u64,
}

/// What a new delivery asks for, and the caps it must fit.
#[derive(Debug, Clone, Copy)]
pub struct Reservation {
    /// Bytes it will add to the recipient's mailbox: its files, subject and body.
    pub bytes: u64,
    pub files: u64,
    /// Bytes and files one mailbox may hold; bytes one sender's unfinished deliveries may
    /// hold in the spool.
    pub quota_bytes: u64,
    pub quota_files: u64,
    /// Unfinished deliveries one sender may have at once.
    pub max_open: u64,
    /// Deliveries this send makes (one per recipient), for a capped sender's day.
    pub deliveries: u32,
}

fn add(a: (u64, u64), b: (u64, u64)) -> (u64, u64) {
    (a.0.saturating_add(b.0), a.1.saturating_add(b.1))
}

fn sub(a: (u64, u64), b: (u64, u64)) -> (u64, u64) {
    (a.0.saturating_sub(b.0), a.1.saturating_sub(b.1))
}

/// A committed delivery as schema 1 stored it (read only by the migration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredV1 {
    envelope: Envelope,
    attachments: Vec<Attachment>,
}

/// What asking to open a delivery came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opening {
    Opened(Opened),
    /// The recipient's mailbox (delivered and reserved) has no room for it.
    NoRoom,
    /// The sender's unfinished deliveries would exceed the sender's own quota, or their
    /// number `max_open`.
    SpoolFull,
    /// A resume asked for another recipient or size than its delivery reserved.
    Mismatch,
    /// A self-registered sender has opened its deliveries for today.
    DailyLimit {
        per_day: u32,
    },
    /// This send (sender and resume key) was committed already, as `id` at `time`.
    Delivered {
        id: u64,
        time: u64,
    },
}

/// The delivery a `Begin` opened or found again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    pub id: u64,
    pub resumed: bool,
    /// An unfinished delivery of an earlier account with the sender's name, now forgotten.
    pub stale: Option<u64>,
}

/// What a mailbox holds: bytes and files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub bytes: u64,
    pub files: u64,
}

fn summary(e: &Envelope) -> Summary {
    Summary { id: e.id, from: e.from.clone(), time: e.time, subject: e.subject.clone(), files: e.files, bytes: e.bytes }
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
            tx.open_table(ATTACHMENTS)?;
            tx.open_table(MAILBOX)?;
            tx.open_table(OPEN)?;
            tx.open_table(META)?;
            tx.open_table(OPEN_SEQ)?;
            tx.open_table(REMOVED)?;
            tx.open_table(COMMITTED)?;
            tx.open_table(OPEN_META)?;
            tx.open_table(RESERVED_TO)?;
            tx.open_table(SPOOL_OF)?;
            tx.open_table(USAGE)?;
            tx.open_table(ACTIVITY)?;
            tx.open_table(DAILY)?;
            tx.open_table(BANS)?;
            tx.open_table(UNSEEN)?;
            tx.open_table(FILE_META)?;
            tx.open_table(FANOUT)?;
            tx.open_table(USER_TOKENS)?;
            tx.open_table(recovery::RECOVERY)?;
            tx.open_table(recovery::CANCELS)?;
            tx.open_table(recovery::DUE)?;
            tx.open_table(registration::SKELETONS)?;
            tx.open_table(registration::CAPS)?;
            tx.open_table(registration::SENT_DAY)?;
            tx.open_table(registration::AUTOMATION)?;
        }
        migrate_v1(&tx)?;
        index_tokens(&tx)?;
        registration::index_skeletons(&tx)?;
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
            registration::add_skeleton(&tx, name)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Replace a password hash and revoke the account's tokens, only while the hash is
    /// still `expected` (the one just checked). Returns whether it was replaced.
    pub fn set_password_if(&self, name: &str, expected: &str, phc: &str) -> Result<bool, StoreError> {
        let tx = self.db.begin_write()?;
        {
            let mut users = tx.open_table(USERS)?;
            let rec = match users.get(name)? {
                Some(v) => decode::<UserRecord>(v.value(), "users")?,
                None => return Ok(false),
            };
            if rec.phc != expected {
                return Ok(false);
            }
            let rec = encode(&UserRecord { phc: phc.to_owned(), created: rec.created }, "users")?;
            users.insert(name, rec.as_slice())?;
            revoke_tokens(&tx, name)?;
        }
        tx.commit()?;
        Ok(true)
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
    /// Returns the unfinished deliveries from or to the account, now dropped (their
    /// reservations released), so their files can be removed.
    pub fn remove_user(&self, name: &str) -> Result<Vec<u64>, StoreError> {
        let tx = self.db.begin_write()?;
        let mut dropped = Vec::new();
        {
            let mut keys = Vec::new();
            for row in tx.open_table(OPEN_META)?.iter()? {
                let (k, v) = row?;
                let meta: OpenMeta = decode(v.value(), "open meta")?;
                if meta.sender == name || meta.to == name {
                    keys.push(k.value().to_vec());
                }
            }
            for key in keys {
                if let Some(id) = drop_open(&tx, &key)? {
                    dropped.push(id);
                }
            }
            let mut users = tx.open_table(USERS)?;
            if users.remove(name)?.is_none() {
                return Err(StoreError::NoSuchUser(name.to_owned()));
            }
            revoke_tokens(&tx, name)?;
            recovery::purge(&tx, name)?;
            registration::purge(&tx, name)?;
            let mut mailbox = tx.open_table(MAILBOX)?;
            let mut deliveries = tx.open_table(DELIVERIES)?;
            let mut attachments = tx.open_table(ATTACHMENTS)?;
            let ids: Vec<u64> =
                mailbox.range((name, 0)..=(name, u64::MAX))?.filter_map(|r| r.ok().map(|(k, _)| k.value().1)).collect();
            let mut unseen = tx.open_table(UNSEEN)?;
            let mut times = tx.open_table(FILE_META)?;
            for id in ids {
                mailbox.remove((name, id))?;
                unseen.remove((name, id))?;
                deliveries.remove(id)?;
                attachments.retain_in((id, 0)..=(id, u32::MAX), |_, _| false)?;
                times.retain_in((id, 0)..=(id, u32::MAX), |_, _| false)?;
            }
            tx.open_table(USAGE)?.remove(name)?;
            tx.open_table(RESERVED_TO)?.remove(name)?;
            tx.open_table(SPOOL_OF)?.remove(name)?;
            let seq = next_seq(&tx)?;
            tx.open_table(REMOVED)?.insert(name, seq)?;
        }
        tx.commit()?;
        Ok(dropped)
    }

    /// Drop the unfinished delivery this send opened (its recipient is gone): its
    /// reservation is released. Returns its id, if it was open.
    pub fn abandon(&self, sender: &str, resume_key: &Hash) -> Result<Option<u64>, StoreError> {
        let key = open_key(sender, resume_key);
        let tx = self.db.begin_write()?;
        let id = drop_open(&tx, &key)?;
        tx.commit()?;
        Ok(id)
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

    /// Keep a session token for `user`, only if the account still has the password hash
    /// `phc` that was just checked: a password changed or an account removed (or made anew)
    /// during the check gets no token. Returns whether it was kept.
    pub fn add_token(&self, key: &[u8; 32], user: &str, phc: &str, expires: u64) -> Result<bool, StoreError> {
        let tx = self.db.begin_write()?;
        {
            let current = match tx.open_table(USERS)?.get(user)? {
                Some(v) => decode::<UserRecord>(v.value(), "users")?.phc,
                None => return Ok(false),
            };
            if current != phc {
                return Ok(false);
            }
            let mut tokens = tx.open_table(TOKENS)?;
            let rec = encode(&TokenRecord { user: user.to_owned(), expires }, "tokens")?;
            tokens.insert(key.as_slice(), rec.as_slice())?;
            tx.open_table(USER_TOKENS)?.insert((user, key.as_slice()), expires)?;
        }
        tx.commit()?;
        Ok(true)
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

    /// `user`'s unexpired session tokens: (stored key, expiry).
    pub fn user_tokens(&self, user: &str, now: u64) -> Result<Vec<([u8; 32], u64)>, StoreError> {
        let tx = self.db.begin_read()?;
        let tokens = tokens_of(&tx.open_table(USER_TOKENS)?, user)?;
        Ok(tokens
            .into_iter()
            .filter(|(_, expires)| *expires > now)
            .filter_map(|(key, expires)| Some((<[u8; 32]>::try_from(key).ok()?, expires)))
            .collect())
    }

    /// Revoke these tokens of `user` (keys of other accounts are ignored); returns how many.
    pub fn revoke_token_keys(&self, user: &str, keys: &[[u8; 32]]) -> Result<usize, StoreError> {
        let tx = self.db.begin_write()?;
        let mut n = 0;
        {
            let mut tokens = tx.open_table(TOKENS)?;
            let mut index = tx.open_table(USER_TOKENS)?;
            for k in keys {
                if index.remove((user, k.as_slice()))?.is_some() {
                    tokens.remove(k.as_slice())?;
                    n += 1;
                }
            }
            registration::forget_tokens(&tx, &keys.iter().map(|k| k.as_slice()).collect::<Vec<_>>())?;
        }
        tx.commit()?;
        Ok(n)
    }

    /// Find the unfinished delivery this sender opened with `resume_key`, or create one.
    /// A delivery opened before the sender's account was (re)created belongs to an account
    /// that no longer exists: it is never resumed, and its id is returned as `stale` so its
    /// files can be removed.
    ///
    /// A new delivery reserves room in one transaction with its checks, so concurrent sends
    /// cannot all pass: the recipient's mailbox (delivered plus reserved) must hold it, and
    /// the sender's unfinished deliveries must fit the sender's own quota.
    pub fn open_delivery(
        &self,
        sender: &str,
        to: &str,
        resume_key: &Hash,
        now: u64,
        want: Reservation,
    ) -> Result<Opening, StoreError> {
        let key = open_key(sender, resume_key);
        let tx = self.db.begin_write()?;
        let found;
        {
            if tx.open_table(USERS)?.get(sender)?.is_none() {
                return Err(StoreError::NoSuchUser(sender.to_owned()));
            }
            // Committed already (a retry after a lost reply): checked in this transaction,
            // so a commit landing meanwhile cannot make the retry a second delivery.
            if let Some((id, time)) = tx.open_table(COMMITTED)?.get(key.as_slice())?.map(|v| v.value()) {
                return Ok(Opening::Delivered { id, time });
            }
            let existing = match tx.open_table(OPEN)?.get(key.as_slice())? {
                Some(v) => Some(decode::<OpenRecord>(v.value(), "open deliveries")?),
                None => None,
            };
            let mut stale = None;
            let existing = match existing {
                Some(rec) if opened_before_removal(&tx, &key, sender)? => {
                    stale = Some(rec.id);
                    None
                }
                other => other,
            };
            found = match existing {
                Some(rec) => {
                    // A resume must ask for exactly what was reserved: the same recipient,
                    // bytes and files (the real client's resume key covers all three).
                    let meta = tx.open_table(OPEN_META)?.get(key.as_slice())?.map(|v| v.value().to_vec());
                    if let Some(meta) = meta {
                        let meta: OpenMeta = decode(&meta, "open meta")?;
                        if meta.to != to || meta.bytes != want.bytes || meta.files != want.files {
                            return Ok(Opening::Mismatch);
                        }
                    }
                    // Its age counts from its last resume.
                    let renewed = encode(&OpenRecord { id: rec.id, created: now }, "open deliveries")?;
                    tx.open_table(OPEN)?.insert(key.as_slice(), renewed.as_slice())?;
                    Opening::Opened(Opened { id: rec.id, resumed: true, stale })
                }
                None => {
                    if stale.is_some() {
                        release(&tx, &key)?;
                    }
                    let (used_bytes, used_files) = tx.open_table(USAGE)?.get(to)?.map(|v| v.value()).unwrap_or((0, 0));
                    let reserved = tx.open_table(RESERVED_TO)?.get(to)?.map(|v| v.value()).unwrap_or((0, 0));
                    let (bytes, files) = add(add((used_bytes, used_files), reserved), (want.bytes, want.files));
                    // A self-registered account has a smaller quota and deliveries a day.
                    let (to_quota, sender_quota, may_send) =
                        registration::caps_at_open(&tx, sender, to, want.quota_bytes, want.deliveries, now)?;
                    if !may_send {
                        let per_day = tx.open_table(registration::CAPS)?.get(sender)?.map_or(0, |v| v.value().1);
                        return Ok(Opening::DailyLimit { per_day });
                    }
                    if bytes > to_quota || files > want.quota_files {
                        return Ok(Opening::NoRoom);
                    }
                    let (sp_bytes, sp_files, sp_open) =
                        tx.open_table(SPOOL_OF)?.get(sender)?.map(|v| v.value()).unwrap_or((0, 0, 0));
                    if sp_bytes.saturating_add(want.bytes) > sender_quota
                        || sp_files.saturating_add(want.files) > want.quota_files
                        || sp_open >= want.max_open
                    {
                        return Ok(Opening::SpoolFull);
                    }
                    let next = {
                        let mut meta = tx.open_table(META)?;
                        let next = meta.get("next_id")?.map(|v| v.value()).unwrap_or(1);
                        meta.insert("next_id", next.saturating_add(1))?;
                        next
                    };
                    let rec = encode(&OpenRecord { id: next, created: now }, "open deliveries")?;
                    tx.open_table(OPEN)?.insert(key.as_slice(), rec.as_slice())?;
                    let seq = next_seq(&tx)?;
                    tx.open_table(OPEN_SEQ)?.insert(key.as_slice(), seq)?;
                    let meta =
                        OpenMeta { sender: sender.to_owned(), to: to.to_owned(), bytes: want.bytes, files: want.files };
                    tx.open_table(OPEN_META)?.insert(key.as_slice(), encode(&meta, "open meta")?.as_slice())?;
                    let mut reserved_to = tx.open_table(RESERVED_TO)?;
                    let r = reserved_to.get(to)?.map(|v| v.value()).unwrap_or((0, 0));
                    reserved_to.insert(to, add(r, (want.bytes, want.files)))?;
                    drop(reserved_to);
                    tx.open_table(SPOOL_OF)?.insert(
                        sender,
                        (sp_bytes.saturating_add(want.bytes), sp_files.saturating_add(want.files), sp_open + 1),
                    )?;
                    Opening::Opened(Opened { id: next, resumed: false, stale })
                }
            };
        }
        tx.commit()?;
        Ok(found)
    }

    /// Forget unfinished deliveries last opened or resumed before `before` and not being
    /// written now (`active`): their reservations are released and their ids returned, so
    /// their files can be removed.
    pub fn expire_open(&self, before: u64, active: &std::collections::HashSet<u64>) -> Result<Vec<u64>, StoreError> {
        // Looked for in a read transaction: most of the time there is nothing to write.
        let mut keys = Vec::new();
        {
            let tx = self.db.begin_read()?;
            for row in tx.open_table(OPEN)?.iter()? {
                let (k, v) = row?;
                let rec: OpenRecord = decode(v.value(), "open deliveries")?;
                if rec.created < before && !active.contains(&rec.id) {
                    keys.push(k.value().to_vec());
                }
            }
        }
        let mut expired = Vec::new();
        if keys.is_empty() {
            return Ok(expired);
        }
        let tx = self.db.begin_write()?;
        for key in keys {
            // Still there and still old (not committed, nor resumed, meanwhile)?
            let still = match tx.open_table(OPEN)?.get(key.as_slice())? {
                Some(v) => decode::<OpenRecord>(v.value(), "open deliveries")?.created < before,
                None => false,
            };
            if still {
                if let Some(id) = drop_open(&tx, &key)? {
                    expired.push(id);
                }
            }
        }
        tx.commit()?;
        Ok(expired)
    }

    /// Record a finished delivery in the recipient's mailbox (as unseen) and forget its
    /// resume key. `meta` is each file's mode and time, where the sender sent them.
    pub fn commit_delivery(
        &self,
        envelope: &Envelope,
        attachments: &[Attachment],
        meta: &[Option<FileMeta>],
        resume_key: &Hash,
        also: &[String],
    ) -> Result<(), StoreError> {
        let key = open_key(&envelope.from, resume_key);
        let tx = self.db.begin_write()?;
        {
            // The recipient must still exist, and be the account that existed when the
            // delivery was opened (not a new account under the same name).
            let to = envelope.to.as_str();
            commit_allowed(&tx, &key, to, envelope.id)?;
            // When the send began: a further recipient removed since (and perhaps made anew
            // by someone else) gets no copy.
            let opened = tx.open_table(OPEN_SEQ)?.get(key.as_slice())?.map(|v| v.value()).unwrap_or(0);
            tx.open_table(OPEN_SEQ)?.remove(key.as_slice())?;
            release(&tx, &key)?;
            tx.open_table(COMMITTED)?.insert(key.as_slice(), (envelope.id, envelope.time))?;
            let id = envelope.id;
            tx.open_table(DELIVERIES)?.insert(id, encode(envelope, "deliveries")?.as_slice())?;
            let mut table = tx.open_table(ATTACHMENTS)?;
            for (index, a) in (0u32..).zip(attachments) {
                table.insert((id, index), encode(a, "attachments")?.as_slice())?;
            }
            let mut times = tx.open_table(FILE_META)?;
            for (index, m) in (0u32..).zip(meta) {
                if let Some(m) = m {
                    times.insert((id, index), (m.mode, m.mtime))?;
                }
            }
            let to = envelope.to.as_str();
            tx.open_table(MAILBOX)?.insert((to, id), encode(&summary(envelope), "mailbox")?.as_slice())?;
            tx.open_table(UNSEEN)?.insert((to, id), ())?;
            if !also.is_empty() {
                let owed: Vec<(String, u64)> = also.iter().map(|t| (t.clone(), opened)).collect();
                tx.open_table(FANOUT)?.insert(id, encode(&owed, "fan-out")?.as_slice())?;
            }
            tx.open_table(OPEN)?.remove(key.as_slice())?;
            let mut usage = tx.open_table(USAGE)?;
            let (bytes, files) = usage.get(to)?.map(|v| v.value()).unwrap_or((0, 0));
            let added = (bytes.saturating_add(stored_bytes(envelope)), files.saturating_add(u64::from(envelope.files)));
            usage.insert(to, added)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// A page of `user`'s mailbox with ids above `after`: summaries only.
    pub fn inbox(&self, user: &str, after: u64, limit: usize) -> Result<(Vec<Summary>, bool), StoreError> {
        let tx = self.db.begin_read()?;
        let mailbox = tx.open_table(MAILBOX)?;
        let mut items = Vec::new();
        for row in mailbox.range((user, after.saturating_add(1))..=(user, u64::MAX))? {
            if items.len() == limit {
                return Ok((items, true));
            }
            items.push(decode(row?.1.value(), "mailbox")?);
        }
        Ok((items, false))
    }

    /// A new delivery id, for a copy of a delivery to a further recipient (made before its
    /// files are linked, so a listed delivery always has its files).
    pub fn allocate_id(&self) -> Result<u64, StoreError> {
        let tx = self.db.begin_write()?;
        let next = {
            let mut meta = tx.open_table(META)?;
            let next = meta.get("next_id")?.map(|v| v.value()).unwrap_or(1);
            meta.insert("next_id", next.saturating_add(1))?;
            next
        };
        tx.commit()?;
        Ok(next)
    }

    /// Whether `to` exists and its mailbox has room for `want` (delivered and reserved
    /// counted), without reserving it.
    pub fn has_room(&self, to: &str, want: &Reservation) -> Result<Option<bool>, StoreError> {
        let tx = self.db.begin_read()?;
        if tx.open_table(USERS)?.get(to)?.is_none() {
            return Ok(None);
        }
        let used = tx.open_table(USAGE)?.get(to)?.map(|v| v.value()).unwrap_or((0, 0));
        let reserved = tx.open_table(RESERVED_TO)?.get(to)?.map(|v| v.value()).unwrap_or((0, 0));
        let (bytes, files) = add(add(used, reserved), (want.bytes, want.files));
        let quota = registration::quota_of(&tx.open_table(registration::CAPS)?, to, want.quota_bytes)?;
        Ok(Some(bytes <= quota && files <= want.quota_files))
    }

    /// The further recipients committed delivery `of` still owes a copy to.
    pub fn owed(&self, of: u64) -> Result<Vec<String>, StoreError> {
        let tx = self.db.begin_read()?;
        match tx.open_table(FANOUT)?.get(of)? {
            Some(v) => Ok(decode::<Vec<(String, u64)>>(v.value(), "fan-out")?.into_iter().map(|(t, _)| t).collect()),
            None => Ok(Vec::new()),
        }
    }

    /// Strike `to` from what `of` owes, without a copy (its files could not be placed).
    pub fn strike_copy(&self, of: u64, to: &str) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        {
            strike(&tx, of, to)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Deliveries that still owe copies to further recipients, and to whom.
    pub fn pending_fanouts(&self) -> Result<Vec<u64>, StoreError> {
        let tx = self.db.begin_read()?;
        let mut out = Vec::new();
        for row in tx.open_table(FANOUT)?.iter()? {
            out.push(row?.0.value());
        }
        Ok(out)
    }

    /// The owner and envelope of a committed delivery.
    pub fn delivery(&self, id: u64) -> Result<Option<Envelope>, StoreError> {
        let tx = self.db.begin_read()?;
        match tx.open_table(DELIVERIES)?.get(id)? {
            Some(v) => Ok(Some(decode(v.value(), "deliveries")?)),
            None => Ok(None),
        }
    }

    /// Record delivery `copy` to `to` as a copy of committed delivery `of` (its files are
    /// in place already), charged to `to`'s quota; `to` is struck from `of`'s fan-out
    /// either way. Returns why no copy was recorded, if none was.
    pub fn record_copy(
        &self,
        of: u64,
        copy: u64,
        to: &str,
        quota: (u64, u64),
    ) -> Result<Option<&'static str>, StoreError> {
        let tx = self.db.begin_write()?;
        let refused = 'record: {
            let Some(opened) = strike(&tx, of, to)? else {
                break 'record Some("no copy is owed");
            };
            // The account that existed when the send began, not a new one of the same name.
            let removed = tx.open_table(REMOVED)?.get(to)?.map(|v| v.value());
            if removed.is_some_and(|r| opened < r) {
                break 'record Some("no such recipient");
            }
            let Some(original) =
                tx.open_table(DELIVERIES)?.get(of)?.map(|v| decode::<Envelope>(v.value(), "deliveries")).transpose()?
            else {
                break 'record Some("the delivery is gone");
            };
            if tx.open_table(USERS)?.get(to)?.is_none() {
                break 'record Some("no such recipient");
            }
            let used = tx.open_table(USAGE)?.get(to)?.map(|v| v.value()).unwrap_or((0, 0));
            let reserved = tx.open_table(RESERVED_TO)?.get(to)?.map(|v| v.value()).unwrap_or((0, 0));
            let want = (stored_bytes(&original), u64::from(original.files));
            let (bytes, files) = add(add(used, reserved), want);
            let quota_bytes = registration::quota_of(&tx.open_table(registration::CAPS)?, to, quota.0)?;
            if bytes > quota_bytes || files > quota.1 {
                break 'record Some("the recipient's mailbox has no room");
            }
            let envelope = Envelope { id: copy, to: to.to_owned(), ..original };
            tx.open_table(DELIVERIES)?.insert(copy, encode(&envelope, "deliveries")?.as_slice())?;
            let mut attachments = tx.open_table(ATTACHMENTS)?;
            let rows: Vec<(u32, Vec<u8>)> = attachments
                .range((of, 0)..=(of, u32::MAX))?
                .map(|r| r.map(|(k, v)| (k.value().1, v.value().to_vec())))
                .collect::<Result<_, _>>()?;
            for (index, row) in rows {
                attachments.insert((copy, index), row.as_slice())?;
            }
            let mut times = tx.open_table(FILE_META)?;
            let rows: Vec<(u32, (u32, u64))> = times
                .range((of, 0)..=(of, u32::MAX))?
                .map(|r| r.map(|(k, v)| (k.value().1, v.value())))
                .collect::<Result<_, _>>()?;
            for (index, row) in rows {
                times.insert((copy, index), row)?;
            }
            tx.open_table(MAILBOX)?.insert((to, copy), encode(&summary(&envelope), "mailbox")?.as_slice())?;
            tx.open_table(UNSEEN)?.insert((to, copy), ())?;
            tx.open_table(USAGE)?.insert(to, add(used, want))?;
            None
        };
        tx.commit()?;
        Ok(refused)
    }

    /// A page of `user`'s deliveries not yet seen, with ids above `after`.
    pub fn unseen(&self, user: &str, after: u64, limit: usize) -> Result<(Vec<Summary>, bool), StoreError> {
        let tx = self.db.begin_read()?;
        let unseen = tx.open_table(UNSEEN)?;
        let mailbox = tx.open_table(MAILBOX)?;
        let mut items = Vec::new();
        for row in unseen.range((user, after.saturating_add(1))..=(user, u64::MAX))? {
            if items.len() == limit {
                return Ok((items, true));
            }
            let id = row?.0.value().1;
            if let Some(v) = mailbox.get((user, id))? {
                items.push(decode(v.value(), "mailbox")?);
            }
        }
        Ok((items, false))
    }

    /// Mark those of `ids` that are in `user`'s mailbox seen; returns them.
    pub fn mark_seen(&self, user: &str, ids: &[u64]) -> Result<Vec<u64>, StoreError> {
        let tx = self.db.begin_write()?;
        let mut done = Vec::new();
        {
            let mailbox = tx.open_table(MAILBOX)?;
            let mut unseen = tx.open_table(UNSEEN)?;
            for &id in ids {
                if mailbox.get((user, id))?.is_some() && !done.contains(&id) {
                    unseen.remove((user, id))?;
                    done.push(id);
                }
            }
        }
        tx.commit()?;
        Ok(done)
    }

    /// Remove those of `ids` that are in `user`'s mailbox, freeing their quota; returns
    /// them (the caller removes their files).
    pub fn delete_deliveries(&self, user: &str, ids: &[u64]) -> Result<Vec<u64>, StoreError> {
        let tx = self.db.begin_write()?;
        let mut done = Vec::new();
        {
            let mut mailbox = tx.open_table(MAILBOX)?;
            let mut deliveries = tx.open_table(DELIVERIES)?;
            let mut attachments = tx.open_table(ATTACHMENTS)?;
            let mut times = tx.open_table(FILE_META)?;
            let mut unseen = tx.open_table(UNSEEN)?;
            let mut usage = tx.open_table(USAGE)?;
            for &id in ids {
                if done.contains(&id) || mailbox.remove((user, id))?.is_none() {
                    continue;
                }
                unseen.remove((user, id))?;
                if let Some(v) = deliveries.remove(id)? {
                    let envelope: Envelope = decode(v.value(), "deliveries")?;
                    let held = usage.get(user)?.map(|v| v.value()).unwrap_or((0, 0));
                    usage.insert(user, sub(held, (stored_bytes(&envelope), u64::from(envelope.files))))?;
                }
                attachments.retain_in((id, 0)..=(id, u32::MAX), |_, _| false)?;
                times.retain_in((id, 0)..=(id, u32::MAX), |_, _| false)?;
                done.push(id);
            }
        }
        tx.commit()?;
        Ok(done)
    }

    /// The mode and time of files `from..` of a delivery (up to `limit`), aligned with its
    /// attachments page.
    pub fn file_meta(&self, id: u64, from: u32, limit: usize) -> Result<Vec<Option<FileMeta>>, StoreError> {
        let tx = self.db.begin_read()?;
        let table = tx.open_table(FILE_META)?;
        let mut out = Vec::with_capacity(limit);
        for index in (from..).take(limit) {
            out.push(table.get((id, index))?.map(|v| {
                let (mode, mtime) = v.value();
                FileMeta { mode, mtime }
            }));
        }
        Ok(out)
    }

    /// The delivery this send (sender and resume key) was committed as, and when.
    pub fn committed(&self, sender: &str, resume_key: &Hash) -> Result<Option<(u64, u64)>, StoreError> {
        let tx = self.db.begin_read()?;
        let key = open_key(sender, resume_key);
        Ok(tx.open_table(COMMITTED)?.get(key.as_slice())?.map(|v| v.value()))
    }

    /// What `commit_delivery` would refuse, checked in a read transaction before any file
    /// is moved (the commit checks again, atomically).
    pub fn check_commit(&self, sender: &str, resume_key: &Hash, to: &str, id: u64) -> Result<(), StoreError> {
        let key = open_key(sender, resume_key);
        let tx = self.db.begin_read()?;
        if let Some((id, time)) = tx.open_table(COMMITTED)?.get(key.as_slice())?.map(|v| v.value()) {
            return Err(StoreError::Committed { id, time });
        }
        let removed = tx.open_table(REMOVED)?.get(to)?.map(|v| v.value());
        let opened = tx.open_table(OPEN_SEQ)?.get(key.as_slice())?.map(|v| v.value()).unwrap_or(0);
        if tx.open_table(USERS)?.get(to)?.is_none() || removed.is_some_and(|r| opened < r) {
            return Err(StoreError::NoSuchUser(to.to_owned()));
        }
        let open = match tx.open_table(OPEN)?.get(key.as_slice())? {
            Some(v) => decode::<OpenRecord>(v.value(), "open deliveries")?.id,
            None => return Err(StoreError::NotOpen),
        };
        if open != id {
            return Err(StoreError::NotOpen);
        }
        Ok(())
    }

    /// Forget sends committed before `before` (they can no longer be retried as such).
    pub fn forget_committed(&self, before: u64) -> Result<(), StoreError> {
        let any = {
            let tx = self.db.begin_read()?;
            let table = tx.open_table(COMMITTED)?;
            let mut any = false;
            for row in table.iter()? {
                if row?.1.value().1 < before {
                    any = true;
                    break;
                }
            }
            any
        };
        if !any {
            return Ok(());
        }
        let tx = self.db.begin_write()?;
        tx.open_table(COMMITTED)?.retain(|_, (_, time)| time >= before)?;
        tx.commit()?;
        Ok(())
    }

    /// Ids of the unfinished deliveries.
    pub fn open_ids(&self) -> Result<std::collections::HashSet<u64>, StoreError> {
        let tx = self.db.begin_read()?;
        let mut ids = std::collections::HashSet::new();
        for row in tx.open_table(OPEN)?.iter()? {
            ids.insert(decode::<OpenRecord>(row?.1.value(), "open deliveries")?.id);
        }
        Ok(ids)
    }

    /// Whether delivery `id` is committed to `user`'s mailbox.
    pub fn in_mailbox(&self, user: &str, id: u64) -> Result<bool, StoreError> {
        let tx = self.db.begin_read()?;
        Ok(tx.open_table(MAILBOX)?.get((user, id))?.is_some())
    }

    /// What `user`'s mailbox holds.
    pub fn mailbox_usage(&self, user: &str) -> Result<Usage, StoreError> {
        let tx = self.db.begin_read()?;
        let (bytes, files) = tx.open_table(USAGE)?.get(user)?.map(|v| v.value()).unwrap_or((0, 0));
        Ok(Usage { bytes, files })
    }

    /// A delivery's envelope, only if it is in `user`'s mailbox.
    pub fn envelope_for(&self, user: &str, id: u64) -> Result<Option<Envelope>, StoreError> {
        let tx = self.db.begin_read()?;
        if tx.open_table(MAILBOX)?.get((user, id))?.is_none() {
            return Ok(None);
        }
        match tx.open_table(DELIVERIES)?.get(id)? {
            Some(v) => Ok(Some(decode(v.value(), "deliveries")?)),
            None => Ok(None),
        }
    }

    /// Up to `limit` of a delivery's files from index `from`, only if the delivery is in
    /// `user`'s mailbox: the envelope and the page.
    pub fn attachments_for(
        &self,
        user: &str,
        id: u64,
        from: u32,
        limit: usize,
    ) -> Result<Option<(Envelope, Vec<Attachment>)>, StoreError> {
        let Some(envelope) = self.envelope_for(user, id)? else { return Ok(None) };
        let tx = self.db.begin_read()?;
        let table = tx.open_table(ATTACHMENTS)?;
        let mut page = Vec::new();
        for row in table.range((id, from)..=(id, u32::MAX))?.take(limit) {
            page.push(decode(row?.1.value(), "attachments")?);
        }
        Ok(Some((envelope, page)))
    }

    /// One file of a delivery, only if the delivery is in `user`'s mailbox: one row read.
    pub fn attachment_for(&self, user: &str, id: u64, index: u32) -> Result<Option<Attachment>, StoreError> {
        let tx = self.db.begin_read()?;
        if tx.open_table(MAILBOX)?.get((user, id))?.is_none() {
            return Ok(None);
        }
        match tx.open_table(ATTACHMENTS)?.get((id, index))? {
            Some(v) => Ok(Some(decode(v.value(), "attachments")?)),
            None => Ok(None),
        }
    }
}

/// What a delivery takes of its recipient's quota: its files, subject and body.
pub fn stored_bytes(e: &Envelope) -> u64 {
    let text = e.subject.as_ref().map_or(0, String::len) + e.body.as_ref().map_or(0, String::len);
    e.bytes.saturating_add(text as u64)
}

/// Forget the unfinished delivery under `key` and give back what it reserved.
fn drop_open(tx: &redb::WriteTransaction, key: &[u8]) -> Result<Option<u64>, StoreError> {
    release(tx, key)?;
    tx.open_table(OPEN_SEQ)?.remove(key)?;
    let removed = tx.open_table(OPEN)?.remove(key)?.map(|v| v.value().to_vec());
    match removed {
        Some(rec) => Ok(Some(decode::<OpenRecord>(&rec, "open deliveries")?.id)),
        None => Ok(None),
    }
}

/// Give back what the unfinished delivery under `key` reserved.
fn release(tx: &redb::WriteTransaction, key: &[u8]) -> Result<(), StoreError> {
    let Some(meta) = tx.open_table(OPEN_META)?.remove(key)?.map(|v| v.value().to_vec()) else { return Ok(()) };
    let meta: OpenMeta = decode(&meta, "open meta")?;
    let mut reserved_to = tx.open_table(RESERVED_TO)?;
    let r = reserved_to.get(meta.to.as_str())?.map(|v| v.value()).unwrap_or((0, 0));
    reserved_to.insert(meta.to.as_str(), sub(r, (meta.bytes, meta.files)))?;
    drop(reserved_to);
    let mut spool_of = tx.open_table(SPOOL_OF)?;
    let (b, f, n) = spool_of.get(meta.sender.as_str())?.map(|v| v.value()).unwrap_or((0, 0, 0));
    spool_of.insert(
        meta.sender.as_str(),
        (b.saturating_sub(meta.bytes), f.saturating_sub(meta.files), n.saturating_sub(1)),
    )?;
    Ok(())
}

/// Whether the delivery under `key` to `to` may be committed now: not committed already,
/// its recipient the account that existed when it was opened, and still open.
fn commit_allowed(tx: &redb::WriteTransaction, key: &[u8], to: &str, id: u64) -> Result<(), StoreError> {
    if let Some((id, time)) = tx.open_table(COMMITTED)?.get(key)?.map(|v| v.value()) {
        return Err(StoreError::Committed { id, time });
    }
    if tx.open_table(USERS)?.get(to)?.is_none() || opened_before_removal(tx, key, to)? {
        return Err(StoreError::NoSuchUser(to.to_owned()));
    }
    // Still open, and as this very delivery (not one opened anew under the same key).
    match tx.open_table(OPEN)?.get(key)? {
        Some(v) if decode::<OpenRecord>(v.value(), "open deliveries")?.id == id => Ok(()),
        _ => Err(StoreError::NotOpen),
    }
}

/// The next step of the database's event sequence.
fn next_seq(tx: &redb::WriteTransaction) -> Result<u64, StoreError> {
    let mut meta = tx.open_table(META)?;
    let seq = meta.get("seq")?.map(|v| v.value()).unwrap_or(1);
    meta.insert("seq", seq.saturating_add(1))?;
    Ok(seq)
}

/// Whether the unfinished delivery under `key` was opened before the account `name` was
/// last removed (a delivery with no recorded step predates this check: it counts as older).
/// Strike `to` from what delivery `of` owes; returns when its send began (the sequence
/// number), if a copy was owed.
fn strike(tx: &redb::WriteTransaction, of: u64, to: &str) -> Result<Option<u64>, StoreError> {
    let mut fanout = tx.open_table(FANOUT)?;
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

fn opened_before_removal(tx: &redb::WriteTransaction, key: &[u8], name: &str) -> Result<bool, StoreError> {
    let Some(removed) = tx.open_table(REMOVED)?.get(name)?.map(|v| v.value()) else { return Ok(false) };
    let opened = tx.open_table(OPEN_SEQ)?.get(key)?.map(|v| v.value()).unwrap_or(0);
    Ok(opened < removed)
}

/// Move schema-1 deliveries, mailboxes and usage into the current tables, then delete the
/// old tables. Runs inside the transaction that opens the database; a database without
/// schema-1 tables is untouched.
fn migrate_v1(tx: &redb::WriteTransaction) -> Result<(), StoreError> {
    let had_v1 = tx.list_tables()?.any(|t| t.name() == DELIVERIES_V1.name());
    if !had_v1 {
        return Ok(());
    }
    {
        let old = tx.open_table(DELIVERIES_V1)?;
        let mut deliveries = tx.open_table(DELIVERIES)?;
        let mut attachments = tx.open_table(ATTACHMENTS)?;
        let mut mailbox = tx.open_table(MAILBOX)?;
        let mut usage = tx.open_table(USAGE)?;
        let old_mailbox = tx.open_table(MAILBOX_V1)?;
        for row in old_mailbox.iter()? {
            let (key, _) = row?;
            let (user, id) = key.value();
            let Some(v) = old.get(id)? else { continue };
            let stored: StoredV1 = decode(v.value(), "deliveries_v1")?;
            deliveries.insert(id, encode(&stored.envelope, "deliveries")?.as_slice())?;
            for (index, a) in (0u32..).zip(&stored.attachments) {
                attachments.insert((id, index), encode(a, "attachments")?.as_slice())?;
            }
            mailbox.insert((user, id), encode(&summary(&stored.envelope), "mailbox")?.as_slice())?;
            let (bytes, files) = usage.get(user)?.map(|v| v.value()).unwrap_or((0, 0));
            let added = (
                bytes.saturating_add(stored_bytes(&stored.envelope)),
                files.saturating_add(stored.attachments.len() as u64),
            );
            usage.insert(user, added)?;
        }
    }
    tx.delete_table(DELIVERIES_V1)?;
    tx.delete_table(MAILBOX_V1)?;
    tx.delete_table(USAGE_V1)?;
    Ok(())
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

    /// Rename `name` to `alias` in every stored event (a removed account). The log is
    /// bounded by retention, so this reads at most `max_events` records. Returns how many.
    pub fn pseudonymise_activity(&self, name: &str, alias: &str) -> Result<u64, StoreError> {
        let tx = self.db.begin_write()?;
        let mut n = 0;
        {
            let mut table = tx.open_table(ACTIVITY)?;
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
        }
        tx.commit()?;
        Ok(n)
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

/// Bring the per-account token index in step with the tokens table at every start (an
/// older binary may have written tokens without it): every token is indexed, so revoking
/// an account's tokens finds them all.
fn index_tokens(tx: &redb::WriteTransaction) -> Result<(), StoreError> {
    let mut index = tx.open_table(USER_TOKENS)?;
    for row in tx.open_table(TOKENS)?.iter()? {
        let (k, v) = row?;
        let rec: TokenRecord = decode(v.value(), "tokens")?;
        if index.get((rec.user.as_str(), k.value()))?.is_none() {
            index.insert((rec.user.as_str(), k.value()), rec.expires)?;
        }
    }
    Ok(())
}

/// The keys of `name`'s tokens, from the index.
/// `name`'s tokens from the per-account index: (stored key, expiry).
fn tokens_of(
    index: &impl ReadableTable<(&'static str, &'static [u8]), u64>,
    name: &str,
) -> Result<Vec<(Vec<u8>, u64)>, StoreError> {
    let empty: &[u8] = &[];
    let mut out = Vec::new();
    for row in index.range((name, empty)..)? {
        let (k, v) = row?;
        let (user, key) = k.value();
        if user != name {
            break;
        }
        out.push((key.to_vec(), v.value()));
    }
    Ok(out)
}

fn revoke_tokens(tx: &redb::WriteTransaction, name: &str) -> Result<(), StoreError> {
    let doomed: Vec<Vec<u8>> = tokens_of(&tx.open_table(USER_TOKENS)?, name)?.into_iter().map(|(k, _)| k).collect();
    let mut tokens = tx.open_table(TOKENS)?;
    let mut index = tx.open_table(USER_TOKENS)?;
    for k in &doomed {
        tokens.remove(k.as_slice())?;
        index.remove((name, k.as_slice()))?;
    }
    registration::forget_tokens(tx, &doomed.iter().map(Vec::as_slice).collect::<Vec<_>>())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(id: u64, files: u32) -> Envelope {
        Envelope {
            id,
            from: "bob".into(),
            to: "alice".into(),
            time: 1_795_000_000,
            subject: Some("hello".into()),
            body: Some("text".into()),
            files,
            bytes: u64::from(files) * 10,
        }
    }

    fn attachment(i: u32) -> Attachment {
        Attachment { path: format!("dir/f{i}"), size: 10, hash: [i as u8; 32], media_type: "text/plain".into() }
    }

    #[test]
    fn a_schema_1_database_is_migrated_not_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("db.redb");
        {
            let db = Database::create(&path).expect("create");
            let tx = db.begin_write().expect("tx");
            {
                let mut deliveries = tx.open_table(DELIVERIES_V1).expect("table");
                let mut mailbox = tx.open_table(MAILBOX_V1).expect("table");
                for id in [3u64, 7] {
                    let stored = StoredV1 { envelope: envelope(id, 3), attachments: (0..3).map(attachment).collect() };
                    deliveries.insert(id, encode(&stored, "v1").expect("encode").as_slice()).expect("insert");
                    mailbox.insert(("alice", id), ()).expect("insert");
                }
                tx.open_table(USAGE_V1).expect("table").insert("alice", 60).expect("insert");
            }
            tx.commit().expect("commit");
        }
        let store = Store::open(&path).expect("open migrates");
        let (items, more) = store.inbox("alice", 0, 10).expect("inbox");
        assert_eq!(items.iter().map(|s| s.id).collect::<Vec<_>>(), vec![3, 7]);
        assert!(!more);
        assert_eq!(store.attachment_for("alice", 7, 2).expect("get"), Some(attachment(2)));
        assert_eq!(store.attachment_for("bob", 7, 2).expect("get"), None);
        assert_eq!(store.mailbox_usage("alice").expect("usage"), Usage { bytes: 78, files: 6 });
        let (env, page) = store.attachments_for("alice", 3, 1, 1).expect("page").expect("found");
        assert_eq!((env.id, page), (3, vec![attachment(1)]));
        drop(store);
        // Opening again finds nothing left to migrate and loses nothing.
        let store = Store::open(&path).expect("reopen");
        assert_eq!(store.inbox("alice", 0, 10).expect("inbox").0.len(), 2);
    }
}
