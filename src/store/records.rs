//! The stored records (postcard) and their codec: how a value of a table is written and
//! read back. Records written here are trusted, but a corrupt one is an error, never a
//! panic. Also what is derived from a record when it is stored: a delivery's summary and
//! what it takes of its recipient's quota.

use serde::{Deserialize, Serialize};

use super::error::StoreError;
use crate::wire::{Attachment, Envelope, Summary};

/// An account: its password hash and when it was made (`users_v1`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct UserRecord {
    pub(super) phc: String,
    pub(super) created: u64,
}

/// A session or automation token: whose it is, until when, and the network (/24 or /64) it
/// was issued to (`tokens_v2`; `None` for a token from before, an unknown place).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct TokenRecord {
    pub(super) user: String,
    pub(super) expires: u64,
    pub(super) net: Option<String>,
}

/// A token as schema 1 kept it (`tokens_v1`, read only by the migration).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct TokenRecordV1 {
    pub(super) user: String,
    pub(super) expires: u64,
}

/// An unfinished delivery: its id and when it was last opened or resumed
/// (`open_deliveries_v1`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct OpenRecord {
    pub(super) id: u64,
    pub(super) created: u64,
}

/// What an unfinished delivery reserved: in its recipient's mailbox and its sender's spool
/// (`open_meta_v1`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct OpenMeta {
    pub(super) sender: String,
    pub(super) to: String,
    pub(super) bytes: u64,
    pub(super) files: u64,
}

/// A committed delivery as schema 1 stored it (read only by the migration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct StoredV1 {
    pub(super) envelope: Envelope,
    pub(super) attachments: Vec<Attachment>,
}

pub(super) fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8], table: &'static str) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|_| StoreError::Corrupt(table))
}

pub(super) fn encode<T: Serialize>(value: &T, table: &'static str) -> Result<Vec<u8>, StoreError> {
    postcard::to_stdvec(value).map_err(|_| StoreError::Corrupt(table))
}

/// The mailbox's row for a delivery.
pub(super) fn summary(e: &Envelope) -> Summary {
    Summary { id: e.id, from: e.from.clone(), time: e.time, subject: e.subject.clone(), files: e.files, bytes: e.bytes }
}

/// What a delivery takes of its recipient's quota: its files, subject and body.
pub fn stored_bytes(e: &Envelope) -> u64 {
    let text = e.subject.as_ref().map_or(0, String::len) + e.body.as_ref().map_or(0, String::len);
    e.bytes.saturating_add(text as u64)
}
