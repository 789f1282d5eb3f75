//! Reading a mailbox on the wire: what the inbox lists for each delivery, a delivery's
//! envelope and its stored files, with the checks they pass after decoding.

use serde::{Deserialize, Serialize};

use super::caps::{MAX_BODY, MAX_MEDIA_TYPE, MAX_PAGE, MAX_REASON, MAX_SUBJECT};
use super::delivery::{Hash, MAX_RECIPIENTS};
use super::error::DecodeError;
use super::names::{validate_account, validate_path};
use super::validate::{cap_len, one_line, text};

/// What the inbox lists for one delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub id: u64,
    pub from: String,
    pub time: u64,
    pub subject: Option<String>,
    pub files: u32,
    pub bytes: u64,
}

/// A delivery's header, as stored and as returned by `Open`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub id: u64,
    pub from: String,
    pub to: String,
    pub time: u64,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub files: u32,
    pub bytes: u64,
}

/// One stored file of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub path: String,
    pub size: u64,
    pub hash: Hash,
    pub media_type: String,
}

/// A delivery a `DeleteEach` did not delete though it is in the caller's mailbox, and why
/// (a listener's notice is kept for a while).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub id: u64,
    pub why: String,
}

/// What a `DeleteEach` answer lists: at most a page of ids each, reasons on one line.
pub(super) fn validate_delete_report(deleted: &[u64], refused: &[Refusal]) -> Result<(), DecodeError> {
    cap_len(deleted, MAX_PAGE, "id list")?;
    cap_len(refused, MAX_PAGE, "refusals")?;
    refused.iter().try_for_each(|r| one_line(&r.why, MAX_REASON, "reason"))
}

/// A delivery's recipients: at most a send's, each a name, none twice, its own among them.
pub(super) fn validate_recipients(envelope: &Envelope, recipients: &[String]) -> Result<(), DecodeError> {
    cap_len(recipients, MAX_RECIPIENTS, "recipients")?;
    for (i, to) in recipients.iter().enumerate() {
        validate_account(to)?;
        if recipients.get(..i).is_some_and(|before| before.contains(to)) {
            return Err(DecodeError::Invalid("the same recipient twice"));
        }
    }
    if !recipients.contains(&envelope.to) {
        return Err(DecodeError::Invalid("the delivery's own recipient is not among its recipients"));
    }
    Ok(())
}

pub(super) fn validate_inbox_page(items: &[Summary]) -> Result<(), DecodeError> {
    cap_len(items, MAX_PAGE, "inbox page")?;
    for s in items {
        validate_account(&s.from)?;
        if let Some(subject) = &s.subject {
            one_line(subject, MAX_SUBJECT, "subject")?;
        }
    }
    Ok(())
}

pub(super) fn validate_envelope(envelope: &Envelope, attachments: &[Attachment]) -> Result<(), DecodeError> {
    validate_account(&envelope.from)?;
    validate_account(&envelope.to)?;
    if let Some(s) = &envelope.subject {
        one_line(s, MAX_SUBJECT, "subject")?;
    }
    if let Some(b) = &envelope.body {
        text(b, MAX_BODY, "body")?;
    }
    cap_len(attachments, MAX_PAGE, "attachment page")?;
    for a in attachments {
        validate_path(&a.path)?;
        one_line(&a.media_type, MAX_MEDIA_TYPE, "media type")?;
    }
    Ok(())
}
