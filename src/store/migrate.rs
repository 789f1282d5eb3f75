//! What runs inside the transaction that opens the database, after its tables are made:
//! schema 1 moved into the current tables, and the indexes (tokens by account, names by
//! skeleton, unfinished sends by sender and their holds) brought in step with what an older
//! binary may have written without them.
//! Only the tables and records are used here: the domains come after the database is open.

use redb::{ReadableTable, TableHandle, WriteTransaction};

use super::error::StoreError;
use super::records::{
    decode, encode, stored_bytes, summary, OpenMeta, OpenRecord, StoredV1, TokenRecord, TokenRecordV1,
};
use super::tables::{
    ATTACHMENTS, DELIVERIES, DELIVERIES_V1, HOLDS, MAILBOX, MAILBOX_V1, OPEN, OPEN_META, OPEN_SINCE, SENDS_OF,
    SKELETONS, TOKENS, TOKENS_V1, USAGE, USAGE_V1, USERS, USER_TOKENS,
};
use crate::policy::registration::skeleton;

/// Every migration and index check, in order.
pub(super) fn run(tx: &WriteTransaction) -> Result<(), StoreError> {
    migrate_v1(tx)?;
    migrate_tokens_v1(tx)?;
    index_tokens(tx)?;
    index_skeletons(tx)?;
    index_open_sends(tx)
}

/// Move schema-1 deliveries, mailboxes and usage into the current tables, then delete the
/// old tables. Runs inside the transaction that opens the database; a database without
/// schema-1 tables is untouched.
fn migrate_v1(tx: &WriteTransaction) -> Result<(), StoreError> {
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

/// Move schema-1 tokens into `tokens_v2`, as issued to an unknown place (no network was
/// kept), then delete the old table.
fn migrate_tokens_v1(tx: &WriteTransaction) -> Result<(), StoreError> {
    if !tx.list_tables()?.any(|t| t.name() == TOKENS_V1.name()) {
        return Ok(());
    }
    {
        let old = tx.open_table(TOKENS_V1)?;
        let mut tokens = tx.open_table(TOKENS)?;
        for row in old.iter()? {
            let (k, v) = row?;
            let rec: TokenRecordV1 = decode(v.value(), "tokens_v1")?;
            let rec = TokenRecord { user: rec.user, expires: rec.expires, net: None };
            tokens.insert(k.value(), encode(&rec, "tokens")?.as_slice())?;
        }
    }
    tx.delete_table(TOKENS_V1)?;
    Ok(())
}

/// Bring the per-account token index in step with the tokens table at every start (an
/// older binary may have written tokens without it): every token is indexed, so revoking
/// an account's tokens finds them all.
fn index_tokens(tx: &WriteTransaction) -> Result<(), StoreError> {
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

/// Keep the skeleton index in step with the accounts (at every start: accounts made
/// before the index existed are added).
fn index_skeletons(tx: &WriteTransaction) -> Result<(), StoreError> {
    let mut skeletons = tx.open_table(SKELETONS)?;
    for row in tx.open_table(USERS)?.iter()? {
        let (k, _) = row?;
        let name = k.value();
        let s = skeleton(name);
        if skeletons.get((s.as_str(), name))?.is_none() {
            skeletons.insert((s.as_str(), name), ())?;
        }
    }
    Ok(())
}

/// Unfinished sends an older binary began (it reserved their room in the recipient's
/// mailbox until they ended): each is indexed under its sender and held in its recipient's
/// mailbox for the default hold from its last resume, so a send abandoned long ago gives
/// the room back at the next check of that mailbox instead of holding it for days.
fn index_open_sends(tx: &WriteTransaction) -> Result<(), StoreError> {
    let hold = crate::policy::Limits::default().recipient_hold_secs;
    let open = tx.open_table(OPEN)?;
    let mut since = tx.open_table(OPEN_SINCE)?;
    let mut senders = tx.open_table(SENDS_OF)?;
    let mut holds = tx.open_table(HOLDS)?;
    for row in tx.open_table(OPEN_META)?.iter()? {
        let (k, v) = row?;
        let key = k.value();
        if since.get(key)?.is_some() {
            continue;
        }
        let meta: OpenMeta = decode(v.value(), "open meta")?;
        let Some(rec) = open.get(key)?.map(|v| v.value().to_vec()) else { continue };
        let rec: OpenRecord = decode(&rec, "open deliveries")?;
        let until = rec.created.saturating_add(hold).max(1);
        senders.insert((meta.sender.as_str(), key), ())?;
        holds.insert((meta.to.as_str(), until, key), (meta.bytes, meta.files))?;
        since.insert(key, (rec.created, until))?;
    }
    Ok(())
}
