//! Every table of the database with its versioned name: the names are the on-disk contract
//! (a schema change is a new table, never a changed one). Which domain file owns which
//! table is said in `mod.rs`; `create_all` makes any that a database lacks.

use redb::{TableDefinition, WriteTransaction};

use super::error::StoreError;

// Accounts and their session tokens.
pub(super) const USERS: TableDefinition<&str, &[u8]> = TableDefinition::new("users_v1");
/// Tokens by stored key (schema 2: with the network each was issued to).
pub(super) const TOKENS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("tokens_v2");
/// Schema 1's tokens, moved into `tokens_v2` (as issued to an unknown place) when the
/// listener starts, then deleted.
pub(super) const TOKENS_V1: TableDefinition<&[u8], &[u8]> = TableDefinition::new("tokens_v1");
/// Session tokens by account: (account, token key) → expiry, so listing or revoking one
/// account's tokens never reads another's. Filled from `tokens_v2` when it is new.
pub(super) const USER_TOKENS: TableDefinition<(&str, &[u8]), u64> = TableDefinition::new("user_tokens_v1");
/// When each account name was last removed, as a step of the event sequence: a delivery
/// opened before that belongs to the removed account, never to a new one of that name.
pub(super) const REMOVED: TableDefinition<&str, u64> = TableDefinition::new("removed_v1");

/// Counters: the next delivery id, the event sequence, the activity log's next key.
pub(super) const META: TableDefinition<&str, u64> = TableDefinition::new("meta_v1");

// Unfinished deliveries.
pub(super) const OPEN: TableDefinition<&[u8], &[u8]> = TableDefinition::new("open_deliveries_v1");
/// When each unfinished delivery was opened, as a step of the database's event sequence.
pub(super) const OPEN_SEQ: TableDefinition<&[u8], u64> = TableDefinition::new("open_seq_v1");
/// What each unfinished delivery holds in reserve: open key -> OpenMeta. Released when it
/// is committed or expires.
pub(super) const OPEN_META: TableDefinition<&[u8], &[u8]> = TableDefinition::new("open_meta_v1");
/// Reserved by unfinished deliveries, per recipient (bytes, files) and per sender (bytes,
/// files, deliveries): quota checks read one row each.
pub(super) const RESERVED_TO: TableDefinition<&str, (u64, u64)> = TableDefinition::new("reserved_to_v1");
pub(super) const SPOOL_OF: TableDefinition<&str, (u64, u64, u64)> = TableDefinition::new("spool_of_v1");
/// Each unfinished delivery's sender, to list and drop one sender's sends:
/// (sender, open key) -> ().
pub(super) const SENDS_OF: TableDefinition<(&str, &[u8]), ()> = TableDefinition::new("open_by_sender_v1");
/// When each unfinished delivery first began, and until when it holds room in its
/// recipient's mailbox (0: it holds none any more): open key -> (since, held until).
pub(super) const OPEN_SINCE: TableDefinition<&[u8], (u64, u64)> = TableDefinition::new("open_since_v1");
/// The holds on recipients' mailboxes in force, counted in `reserved_to_v1`, by recipient
/// and end: (recipient, held until, open key) -> (bytes, files). A hold past its end is
/// released by the next check of that mailbox's room.
pub(super) const HOLDS: TableDefinition<(&str, u64, &[u8]), (u64, u64)> = TableDefinition::new("recipient_holds_v1");
/// When a sender's hold on a recipient's mailbox began: (recipient, sender) -> time. Its
/// later sends there are held only until that hold ends, and a new one begins only a
/// renewal period later, or after a send to that recipient was finished.
pub(super) const HOLD_WINDOWS: TableDefinition<(&str, &str), u64> = TableDefinition::new("hold_windows_v1");
/// Sends recently committed: open key -> (id, time). A retry of the same send (the client
/// reuses its resume key until it hears "committed") learns it was delivered instead of
/// delivering it twice.
pub(super) const COMMITTED: TableDefinition<&[u8], (u64, u64)> = TableDefinition::new("committed_v1");

// Committed deliveries and mailboxes.
/// A committed delivery's envelope: id -> Envelope. Its files are rows of ATTACHMENTS, so no
/// request ever decodes a whole delivery's file list.
pub(super) const DELIVERIES: TableDefinition<u64, &[u8]> = TableDefinition::new("deliveries_v2");
/// A committed delivery's files: (id, index) -> Attachment.
pub(super) const ATTACHMENTS: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("attachments_v1");
/// Permission bits and modification time of a delivered file, by (id, index), when its
/// sender sent them.
pub(super) const FILE_META: TableDefinition<(u64, u32), (u32, u64)> = TableDefinition::new("file_meta_v1");
/// A mailbox: (account, id) -> Summary, so listing reads summaries only.
pub(super) const MAILBOX: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("mailbox_v2");
/// Deliveries not yet fetched or read, by (recipient, id): a delivery is added at commit and
/// removed when marked seen or deleted, so listing what is new costs only what is new.
/// Deliveries committed before this table existed count as seen.
pub(super) const UNSEEN: TableDefinition<(&str, u64), ()> = TableDefinition::new("unseen_v1");
/// Bytes and files delivered to each mailbox, kept with every commit (quota checks read one
/// row).
pub(super) const USAGE: TableDefinition<&str, (u64, u64)> = TableDefinition::new("mailbox_usage_v2");
/// Further recipients a committed delivery still owes a copy to (a send to several
/// recipients), by the first recipient's delivery id: written in the commit's transaction,
/// emptied as each copy is made or refused, finished at start after a crash.
pub(super) const FANOUT: TableDefinition<u64, &[u8]> = TableDefinition::new("fanout_v1");
/// Every recipient a delivery sent to several was addressed to, in its sender's order
/// (postcard list of names), by delivery id: the first recipient's delivery and each copy
/// have a row. A delivery sent to one has none (its envelope's `to` says it all).
pub(super) const RECIPIENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("delivery_recipients_v1");

/// Schema 1, migrated when the listener starts (then deleted): whole deliveries with their
/// attachment lists, a mailbox of bare keys, usage in bytes only.
pub(super) const DELIVERIES_V1: TableDefinition<u64, &[u8]> = TableDefinition::new("deliveries_v1");
pub(super) const MAILBOX_V1: TableDefinition<(&str, u64), ()> = TableDefinition::new("mailbox_v1");
pub(super) const USAGE_V1: TableDefinition<&str, u64> = TableDefinition::new("mailbox_usage_v1");

// Activity and bans.
/// Activity events in arrival order (key: a sequence number).
pub(super) const ACTIVITY: TableDefinition<u64, &[u8]> = TableDefinition::new("activity_v1");
/// Events removed by retention, counted per (source, day, kind).
pub(super) const DAILY: TableDefinition<(&str, u64, &str), u64> = TableDefinition::new("activity_daily_v1");
/// Bans in force or remembered for escalation: network -> record.
pub(super) const BANS: TableDefinition<&str, &[u8]> = TableDefinition::new("bans_v1");

// Recovery.
/// Recovery records by account (schema 2: places earned by days, disowned places, codes
/// used lately).
pub(super) const RECOVERY: TableDefinition<&str, &[u8]> = TableDefinition::new("recovery_v2");
/// Schema 1's recovery records: read until the account's record is next written (then
/// moved to `recovery_v2`), never written.
pub(super) const RECOVERY_V1: TableDefinition<&str, &[u8]> = TableDefinition::new("recovery_v1");
/// Cancel codes of pending changes: keyed hash → account.
pub(super) const CANCELS: TableDefinition<&[u8], &str> = TableDefinition::new("recovery_cancels_v1");
/// Pending changes by due time: (time, account).
pub(super) const DUE: TableDefinition<(u64, &str), ()> = TableDefinition::new("recovery_due_v1");

// Self-registration.
/// Every account name by its skeleton: (skeleton, name).
pub(super) const SKELETONS: TableDefinition<(&str, &str), ()> = TableDefinition::new("name_skeletons_v1");
/// Caps of self-registered accounts: name → (quota bytes, deliveries a day).
pub(super) const CAPS: TableDefinition<&str, (u64, u32)> = TableDefinition::new("account_caps_v1");
/// Deliveries sent by capped accounts: (name, day) → count.
pub(super) const SENT_DAY: TableDefinition<(&str, u64), u32> = TableDefinition::new("sent_per_day_v1");
/// Automation tokens (their stored keys): exempt from the human-timing signals only.
pub(super) const AUTOMATION: TableDefinition<&[u8], ()> = TableDefinition::new("automation_tokens_v1");

/// Make every current table a database lacks (the schema-1 tables are never made).
pub(super) fn create_all(tx: &WriteTransaction) -> Result<(), StoreError> {
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
    tx.open_table(SENDS_OF)?;
    tx.open_table(OPEN_SINCE)?;
    tx.open_table(HOLDS)?;
    tx.open_table(HOLD_WINDOWS)?;
    tx.open_table(USAGE)?;
    tx.open_table(ACTIVITY)?;
    tx.open_table(DAILY)?;
    tx.open_table(BANS)?;
    tx.open_table(UNSEEN)?;
    tx.open_table(FILE_META)?;
    tx.open_table(FANOUT)?;
    tx.open_table(RECIPIENTS)?;
    tx.open_table(USER_TOKENS)?;
    tx.open_table(RECOVERY)?;
    tx.open_table(RECOVERY_V1)?;
    tx.open_table(CANCELS)?;
    tx.open_table(DUE)?;
    tx.open_table(SKELETONS)?;
    tx.open_table(CAPS)?;
    tx.open_table(SENT_DAY)?;
    tx.open_table(AUTOMATION)?;
    Ok(())
}
