//! Sending a delivery on the wire: what a new delivery declares (`Begin`), the files it
//! declares (with their modes and times), what the listener already holds of each, and the
//! further recipients' deliveries of a send to several, and the caller's unfinished sends,
//! with the checks they pass after decoding.

use serde::{Deserialize, Serialize};

use super::caps::{MAX_BODY, MAX_ENTRIES_PER_FRAME, MAX_ERROR_TEXT, MAX_FILES, MAX_PAGE, MAX_SUBJECT};
use super::error::DecodeError;
use super::names::{validate_account, validate_path};
use super::validate::{cap_len, one_line, text, Validate};

/// A BLAKE3 digest.
pub type Hash = [u8; 32];

/// A file's permission bits and modification time, as the sender had them (scp -p,
/// rsync -a). The listener stores files 0600 whatever they say; fetch applies
/// `mode & 0o777 & !umask`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMeta {
    /// Permission bits, at most 0o7777 (set-id and sticky bits travel, are never applied).
    pub mode: u32,
    /// Seconds since the Unix epoch.
    pub mtime: u64,
}

/// A new delivery. `resume_key` is chosen by the client (a hash of what it sends), so the
/// same command run again finds the unfinished delivery and continues it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Begin {
    pub to: Option<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub files: u32,
    pub bytes: u64,
    pub resume_key: Hash,
}

/// One file the client will send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
}

/// What the listener already holds of one declared file, in `FilesAdded`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Have {
    /// This many bytes of a partial file (0: nothing): send the rest from there.
    Partial(u64),
    /// The whole file, verified, with this hash: the sender compares it with its file's
    /// content now and sends the file again (from 0) if they differ.
    Complete(Hash),
}

/// A further recipient's own delivery of a `BeginMany` send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Copy {
    pub to: String,
    pub id: u64,
}

/// A further recipient that got no delivery, and why (its mailbox had no room, or its
/// account is gone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Missed {
    pub to: String,
    pub reason: String,
}

/// One of the caller's unfinished sends, as `PendingSends` lists it (qxfer/6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingSend {
    /// The delivery's id: `DropPending` takes it.
    pub id: u64,
    pub to: String,
    /// What it holds in reserve: bytes (files, subject and body) and files.
    pub bytes: u64,
    pub files: u64,
    /// When it first began; when it was last begun or resumed.
    pub since: u64,
    pub last: u64,
    /// Until when it holds room in its recipient's mailbox, if it still does.
    pub held_until: Option<u64>,
    /// When it expires (its files removed) unless resumed before.
    pub expires: u64,
}

pub(super) fn validate_pending(items: &[PendingSend]) -> Result<(), DecodeError> {
    cap_len(items, MAX_PAGE, "pending sends")?;
    items.iter().try_for_each(|p| validate_account(&p.to).map(|_| ()).map_err(Into::into))
}

/// Most recipients of one send.
pub const MAX_RECIPIENTS: usize = 16;

impl Validate for FileMeta {
    fn validate(&self) -> Result<(), DecodeError> {
        if self.mode > 0o7777 {
            return Err(DecodeError::Invalid("file mode"));
        }
        Ok(())
    }
}

impl Validate for Begin {
    fn validate(&self) -> Result<(), DecodeError> {
        if let Some(to) = &self.to {
            validate_account(to)?;
        }
        if let Some(s) = &self.subject {
            one_line(s, MAX_SUBJECT, "subject")?;
        }
        if let Some(b) = &self.body {
            text(b, MAX_BODY, "body")?;
        }
        if self.files > MAX_FILES {
            return Err(DecodeError::FieldTooLong { field: "file count", max: MAX_FILES as usize });
        }
        if self.files == 0 && self.body.is_none() && self.subject.is_none() {
            return Err(DecodeError::Invalid("empty delivery"));
        }
        if self.files == 0 && self.bytes != 0 {
            return Err(DecodeError::Invalid("byte count without files"));
        }
        Ok(())
    }
}

/// The further recipients of a `BeginMany`: at least one, distinct, none the first.
pub(super) fn validate_also(begin: &Begin, also: &[String]) -> Result<(), DecodeError> {
    if also.is_empty() {
        return Err(DecodeError::Invalid("no further recipient"));
    }
    cap_len(also, MAX_RECIPIENTS - 1, "recipients")?;
    for (i, to) in also.iter().enumerate() {
        validate_account(to)?;
        if begin.to.as_ref() == Some(to) || also.get(..i).is_some_and(|before| before.contains(to)) {
            return Err(DecodeError::Invalid("the same recipient twice"));
        }
    }
    Ok(())
}

pub(super) fn validate_entries(entries: &[FileEntry]) -> Result<(), DecodeError> {
    if entries.is_empty() {
        return Err(DecodeError::Invalid("empty file batch"));
    }
    cap_len(entries, MAX_ENTRIES_PER_FRAME, "file batch")?;
    for e in entries {
        validate_path(&e.path)?;
    }
    Ok(())
}

/// The further recipients' deliveries of a committed `BeginMany`, and those that got none.
pub(super) fn validate_copies(copies: &[Copy], missed: &[Missed]) -> Result<(), DecodeError> {
    cap_len(copies, MAX_RECIPIENTS, "recipients")?;
    cap_len(missed, MAX_RECIPIENTS, "recipients")?;
    for c in copies {
        validate_account(&c.to)?;
    }
    for m in missed {
        validate_account(&m.to)?;
        one_line(&m.reason, MAX_ERROR_TEXT, "reason")?;
    }
    Ok(())
}
