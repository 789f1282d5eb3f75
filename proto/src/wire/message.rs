//! The closed set of messages. Variant order is the wire contract (postcard encodes the
//! variant index): append new variants, never reorder. `tests/wire_golden` pins the bytes.
//!
//! Streams:
//! - control (first bidirectional stream): [`Request`] frames from the client, one
//!   [`Response`] frame back for each.
//! - file (every further bidirectional stream): one [`StreamHead`] frame from the client.
//!   For `Put`, exactly `size - offset` raw bytes follow, then a [`FileEnd`] frame, then the
//!   client finishes the stream; the server answers one [`PutReply`]. For `Get`, the server
//!   answers a [`GetReply`]; after `Ready`, exactly the announced raw bytes and a [`FileEnd`].

use serde::{Deserialize, Serialize};

pub use super::account::*;
pub use crate::challenge::{ChallengeKind, Ticket};

use super::{
    is_deceptive, validate_account, validate_path, DecodeError, MAX_BODY, MAX_ENTRIES_PER_FRAME, MAX_ERROR_TEXT,
    MAX_FILES, MAX_MEDIA_TYPE, MAX_PAGE, MAX_PASSWORD, MAX_SUBJECT,
};

/// A BLAKE3 digest.
pub type Hash = [u8; 32];
/// A session token handed out after a password login.
pub type Token = [u8; 32];

/// Client → server, control stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Authenticate. Must be the first request; only once per connection.
    Login { user: String, credential: Credential },
    /// Open (or resume) a delivery.
    Begin(Begin),
    /// Declare the next files of the open delivery, in order (indices continue).
    AddFiles { entries: Vec<FileEntry> },
    /// Finish the open delivery: all declared files are stored and verified.
    Commit,
    /// List the caller's mailbox: deliveries with an id greater than `after`.
    Inbox { after: u64 },
    /// Read one delivery of the caller's mailbox, attachments from index `from`.
    Open { id: u64, from: u32 },
    /// Like `Inbox`, only deliveries not yet marked seen.
    Unseen { after: u64 },
    /// Remove these deliveries from the caller's mailbox (their files and quota freed).
    /// Answered with `Affected`: the ids that were removed.
    Delete { ids: Vec<u64> },
    /// Mark these deliveries seen (fetched or read). Answered with `Affected`.
    MarkSeen { ids: Vec<u64> },
    /// `AddFiles` with each file's permission bits and modification time, one `FileMeta`
    /// per entry, in order.
    AddFilesMeta { entries: Vec<FileEntry>, meta: Vec<FileMeta> },
    /// `Open`, answered with `EnvelopeMeta`: the attachments' permission bits and times too.
    OpenMeta { id: u64, from: u32 },
    /// `Begin` for several recipients: `begin.to` (or the sender) first, then `also`. One
    /// upload; at commit each recipient gets a delivery of its own (its own id, charged to
    /// its own quota), and the commit is answered with `CommittedMany`.
    BeginMany { begin: Begin, also: Vec<String> },
    /// Ask for the challenge a login as `user` from this network needs now (allowed before
    /// login). Answered with `Challenge`.
    Challenge { user: String },
    /// `Login` with a solved challenge: needed after failed logins (answered with
    /// `Error { code: ChallengeRequired }` when it is missing).
    LoginSolved { user: String, credential: Credential, solution: Solution },
    /// Start recovering `user`'s account (allowed before login, with a solved challenge
    /// for `user`): a code is texted to the account's oldest settled number. Answered with
    /// `Account(Done)`, the same words whether the account or a number exists or not.
    RecoverStart { user: String, solution: Solution },
    /// Finish a recovery: the texted code, the secret answer or a recovery code, and the
    /// new password (allowed before login, with a fresh solved challenge). Answered with
    /// `Account(Changed)`: applied now from a known place, else after the delay.
    RecoverFinish { user: String, code: String, proof: Proof, new_password: String, solution: Solution },
    /// Cancel a pending change with the cancel code texted about it (allowed before
    /// login). Answered with `Account(Done)`.
    CancelChange { code: String },
    /// The logged-in account's own settings. Answered with `Account`.
    Account(AccountRequest),
    /// Ask for the challenge registering the name `user` needs (allowed before login, on a
    /// listener that takes registrations): always a captcha with a proof of work.
    /// Answered with `Challenge`.
    RegisterChallenge { user: String },
    /// Create the account `user` with this password (allowed before login, with the solved
    /// captcha for that name). Answered with `Account(Done)`.
    Register { user: String, password: String, solution: Solution },
}

/// A challenge handed back solved: the listener's ticket, the proof-of-work counter, and
/// the captcha's text as typed (for a captcha).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Solution {
    pub ticket: Ticket,
    pub counter: u64,
    pub answer: Option<String>,
}

/// A captcha picture: 1 bit per pixel, rows of `ceil(width / 8)` bytes, most significant
/// bit leftmost; bounded by `captcha::MAX_WIDTH` × `captcha::MAX_HEIGHT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Picture {
    pub width: u16,
    pub height: u16,
    pub bits: Vec<u8>,
}

/// Longest captcha answer a listener reads.
pub const MAX_ANSWER: usize = 32;
/// Most proof-of-work bits a ticket may ask for (a listener never asks for more than its
/// cap; a client refuses anything above this).
pub const MAX_WORK_BITS: u8 = 40;

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

/// How a client proves who it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Credential {
    Password(String),
    Token(Token),
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

/// Server → client, control stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// Logged in; a fresh token when a password was used.
    LoggedIn { user: String, token: Option<Token> },
    /// The delivery is open; `resumed` when an unfinished one was found.
    Began { id: u64, resumed: bool },
    /// For each entry of the batch: `None` when the server holds the complete, verified
    /// file; otherwise how many bytes of it the server holds (the offset to resume from).
    FilesAdded { have: Vec<Have> },
    /// The delivery is durable.
    Committed { id: u64, time: u64 },
    /// A page of the mailbox; `more` when later pages exist.
    InboxPage { items: Vec<Summary>, more: bool },
    /// A delivery's envelope and a page of its attachments.
    Envelope { envelope: Envelope, attachments: Vec<Attachment>, more: bool },
    /// The request failed; the connection stays usable unless the server closes it.
    Error { code: ErrorCode, message: String },
    /// Answer to `Begin`: this very send (its resume key) was already committed as `id`, at
    /// `time`; nothing more to do. A retry after the listener crashed past its commit.
    Delivered { id: u64, time: u64 },
    /// Answer to `Delete` and `MarkSeen`: the ids it applied to (the caller's own).
    Affected { ids: Vec<u64> },
    /// Answer to `OpenMeta`: `Envelope` plus one `FileMeta` per attachment (`None` when
    /// the sender sent none).
    EnvelopeMeta { envelope: Envelope, attachments: Vec<Attachment>, meta: Vec<Option<FileMeta>>, more: bool },
    /// Answer to the commit of a `BeginMany` delivery: the first recipient's delivery `id`,
    /// a delivery for each further recipient that had room, and those that did not get one.
    CommittedMany { id: u64, time: u64, copies: Vec<Copy>, missed: Vec<Missed> },
    /// Answer to `Challenge`: the signed ticket, and the captcha's picture when it is one.
    Challenge { ticket: Ticket, picture: Option<Picture> },
    /// Answer to `Account`, `RecoverStart`, `RecoverFinish` and `CancelChange`.
    Account(AccountReply),
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

/// Most recipients of one send.
pub const MAX_RECIPIENTS: usize = 16;

/// Error classes; the client maps them to exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    /// Malformed or out-of-order request.
    BadRequest,
    /// Wrong user, password or token (indistinguishable on purpose).
    AuthFailed,
    /// No such recipient or delivery, or not yours (indistinguishable on purpose).
    NotFound,
    /// A size, count or rate limit.
    Limit,
    /// The data did not match its declared size or hash.
    Integrity,
    /// The server failed; the request may be retried.
    Internal,
    /// This login needs a solved challenge first (ask for one with `Challenge`).
    ChallengeRequired,
    /// The challenge was not solved: wrong or missing work or answer, expired, used, forged.
    ChallengeFailed,
}

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

/// First frame on a file stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StreamHead {
    /// Upload file `index` of the open delivery `id`, starting at byte `offset`.
    Put { id: u64, index: u32, offset: u64 },
    /// Download attachment `index` of delivery `id`, starting at byte `offset`.
    Get { id: u64, index: u32, offset: u64 },
}

/// Ends the raw bytes of a file stream: the BLAKE3 hash of the whole file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEnd {
    pub hash: Hash,
}

/// Server's answer on a `Put` stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PutReply {
    Stored { hash: Hash },
    Error { code: ErrorCode, message: String },
}

/// Server's answer on a `Get` stream, before any raw bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum GetReply {
    /// `len` raw bytes follow (the file from the requested offset), then a [`FileEnd`].
    Ready {
        len: u64,
    },
    Error {
        code: ErrorCode,
        message: String,
    },
}

/// Values that check their own caps after decoding.
pub trait Validate {
    fn validate(&self) -> Result<(), DecodeError>;
}

fn cap_str(s: &str, max: usize, field: &'static str) -> Result<(), DecodeError> {
    if s.len() > max {
        return Err(DecodeError::FieldTooLong { field, max });
    }
    Ok(())
}

fn cap_len<T>(v: &[T], max: usize, field: &'static str) -> Result<(), DecodeError> {
    if v.len() > max {
        return Err(DecodeError::FieldTooLong { field, max });
    }
    Ok(())
}

fn text(s: &str, max: usize, field: &'static str) -> Result<(), DecodeError> {
    cap_str(s, max, field)?;
    // Newlines and tabs are text; other control characters could drive a terminal, and
    // invisible or direction-changing ones could disguise what the text says.
    if s.chars().any(|c| (c.is_control() && c != '\n' && c != '\t' && c != '\r') || is_deceptive(c)) {
        return Err(DecodeError::Invalid(field));
    }
    Ok(())
}

/// Check a subject as the listener will: one line, at most `MAX_SUBJECT` bytes, no control,
/// invisible or direction-changing characters. The client checks before it connects.
pub fn check_subject(s: &str) -> Result<(), DecodeError> {
    one_line(s, MAX_SUBJECT, "subject")
}

/// Check a message body as the listener will: at most `MAX_BODY` bytes; newlines and tabs
/// are fine, other control, invisible or direction-changing characters are not.
pub fn check_body(s: &str) -> Result<(), DecodeError> {
    text(s, MAX_BODY, "body")
}

fn one_line(s: &str, max: usize, field: &'static str) -> Result<(), DecodeError> {
    cap_str(s, max, field)?;
    if s.chars().any(|c| c.is_control() || is_deceptive(c)) {
        return Err(DecodeError::Invalid(field));
    }
    Ok(())
}

impl Validate for Request {
    fn validate(&self) -> Result<(), DecodeError> {
        match self {
            Request::Login { user, credential } => {
                validate_account(user)?;
                if let Credential::Password(p) = credential {
                    cap_str(p, MAX_PASSWORD, "password")?;
                }
                Ok(())
            }
            Request::Begin(b) => b.validate(),
            Request::BeginMany { begin, also } => {
                begin.validate()?;
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
            Request::AddFiles { entries } => validate_entries(entries),
            Request::AddFilesMeta { entries, meta } => {
                validate_entries(entries)?;
                if meta.len() != entries.len() {
                    return Err(DecodeError::Invalid("one file time and mode per entry"));
                }
                meta.iter().try_for_each(FileMeta::validate)
            }
            Request::Delete { ids } | Request::MarkSeen { ids } => {
                if ids.is_empty() {
                    return Err(DecodeError::Invalid("empty id list"));
                }
                cap_len(ids, MAX_PAGE, "id list")
            }
            Request::Challenge { user } => validate_account(user).map(|_| ()).map_err(Into::into),
            Request::LoginSolved { user, credential, solution } => {
                validate_account(user)?;
                if let Credential::Password(p) = credential {
                    cap_str(p, MAX_PASSWORD, "password")?;
                }
                validate_solution(solution)
            }
            Request::RecoverStart { user, solution } => {
                validate_account(user)?;
                validate_solution(solution)
            }
            Request::RecoverFinish { user, code, proof, new_password, solution } => {
                validate_account(user)?;
                check_code_text(code)?;
                proof.validate()?;
                cap_str(new_password, MAX_PASSWORD, "password")?;
                validate_solution(solution)
            }
            Request::CancelChange { code } => check_typed_code(code),
            Request::RegisterChallenge { user } => validate_account(user).map(|_| ()).map_err(Into::into),
            Request::Register { user, password, solution } => {
                validate_account(user)?;
                cap_str(password, MAX_PASSWORD, "password")?;
                validate_solution(solution)
            }
            Request::Account(a) => a.validate(),
            Request::Commit
            | Request::Inbox { .. }
            | Request::Open { .. }
            | Request::Unseen { .. }
            | Request::OpenMeta { .. } => Ok(()),
        }
    }
}

fn validate_solution(solution: &Solution) -> Result<(), DecodeError> {
    validate_ticket(&solution.ticket)?;
    if let Some(a) = &solution.answer {
        one_line(a, MAX_ANSWER, "captcha answer")?;
    }
    Ok(())
}

fn validate_entries(entries: &[FileEntry]) -> Result<(), DecodeError> {
    if entries.is_empty() {
        return Err(DecodeError::Invalid("empty file batch"));
    }
    cap_len(entries, MAX_ENTRIES_PER_FRAME, "file batch")?;
    for e in entries {
        validate_path(&e.path)?;
    }
    Ok(())
}

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

impl Validate for Response {
    fn validate(&self) -> Result<(), DecodeError> {
        match self {
            Response::LoggedIn { user, .. } => validate_account(user).map(|_| ()).map_err(Into::into),
            Response::Began { .. } | Response::Committed { .. } => Ok(()),
            Response::FilesAdded { have } => cap_len(have, MAX_ENTRIES_PER_FRAME, "file batch"),
            Response::InboxPage { items, .. } => {
                cap_len(items, MAX_PAGE, "inbox page")?;
                for s in items {
                    validate_account(&s.from)?;
                    if let Some(subject) = &s.subject {
                        one_line(subject, MAX_SUBJECT, "subject")?;
                    }
                }
                Ok(())
            }
            Response::Envelope { envelope, attachments, .. } => validate_envelope(envelope, attachments),
            Response::EnvelopeMeta { envelope, attachments, meta, .. } => {
                validate_envelope(envelope, attachments)?;
                if meta.len() != attachments.len() {
                    return Err(DecodeError::Invalid("one file time and mode per attachment"));
                }
                meta.iter().flatten().try_for_each(FileMeta::validate)
            }
            Response::Affected { ids } => cap_len(ids, MAX_PAGE, "id list"),
            Response::CommittedMany { copies, missed, .. } => {
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
            Response::Error { message, .. } => one_line(message, MAX_ERROR_TEXT, "error message"),
            Response::Delivered { .. } => Ok(()),
            Response::Challenge { ticket, picture } => {
                validate_ticket(ticket)?;
                if let Some(p) = picture {
                    crate::challenge::captcha::Bitmap::from_wire(p.width, p.height, p.bits.clone())
                        .map_err(|_| DecodeError::Invalid("captcha picture"))?;
                }
                Ok(())
            }
            Response::Account(a) => a.validate(),
        }
    }
}

impl Response {
    /// This reply as a client of an older protocol (qxfer/3, qxfer/2) can decode it: the
    /// error codes it does not know (the challenge ones, sent only to logins) become
    /// `AuthFailed`, with the same text. `None` when it needs no change.
    pub fn downgraded(&self) -> Option<Response> {
        match self {
            Response::Error { code: ErrorCode::ChallengeRequired | ErrorCode::ChallengeFailed, message } => {
                Some(Response::Error { code: ErrorCode::AuthFailed, message: message.clone() })
            }
            _ => None,
        }
    }
}

fn validate_ticket(t: &Ticket) -> Result<(), DecodeError> {
    if t.bits > MAX_WORK_BITS {
        return Err(DecodeError::Invalid("proof-of-work bits"));
    }
    if t.expires_ms < t.issued_ms {
        return Err(DecodeError::Invalid("ticket times"));
    }
    Ok(())
}

fn validate_envelope(envelope: &Envelope, attachments: &[Attachment]) -> Result<(), DecodeError> {
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

impl Validate for StreamHead {
    fn validate(&self) -> Result<(), DecodeError> {
        Ok(())
    }
}

impl Validate for FileEnd {
    fn validate(&self) -> Result<(), DecodeError> {
        Ok(())
    }
}

impl Validate for PutReply {
    fn validate(&self) -> Result<(), DecodeError> {
        match self {
            PutReply::Stored { .. } => Ok(()),
            PutReply::Error { message, .. } => one_line(message, MAX_ERROR_TEXT, "error message"),
        }
    }
}

impl Validate for GetReply {
    fn validate(&self) -> Result<(), DecodeError> {
        match self {
            GetReply::Ready { .. } => Ok(()),
            GetReply::Error { message, .. } => one_line(message, MAX_ERROR_TEXT, "error message"),
        }
    }
}

/// Decode a frame body and validate it: the only way peer bytes become a message.
pub fn decode_checked<T>(body: &[u8]) -> Result<T, DecodeError>
where
    T: Validate + serde::de::DeserializeOwned + Serialize,
{
    let value: T = super::decode_body(body)?;
    value.validate()?;
    Ok(value)
}

/// Truncate a string to at most `max` bytes on a char boundary, dropping control characters,
/// so a server-built error text always passes the peer's validation.
pub fn clean_error_text(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().filter(|&c| !c.is_control() && !is_deceptive(c)) {
        if out.len() + c.len_utf8() > MAX_ERROR_TEXT {
            break;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(req: &Request) -> Result<Request, DecodeError> {
        let body = postcard::to_stdvec(req).expect("encode");
        decode_checked::<Request>(&body)
    }

    #[test]
    fn file_modes_and_id_lists_are_checked() {
        let entry = FileEntry { path: "a".into(), size: 1 };
        let ok =
            Request::AddFilesMeta { entries: vec![entry.clone()], meta: vec![FileMeta { mode: 0o4755, mtime: 1 }] };
        assert_eq!(roundtrip(&ok), Ok(ok.clone()));
        let bad_mode =
            Request::AddFilesMeta { entries: vec![entry.clone()], meta: vec![FileMeta { mode: 0o10000, mtime: 1 }] };
        assert!(roundtrip(&bad_mode).is_err());
        let misaligned = Request::AddFilesMeta { entries: vec![entry], meta: vec![] };
        assert!(roundtrip(&misaligned).is_err());
        assert!(roundtrip(&Request::Delete { ids: vec![] }).is_err());
        assert!(roundtrip(&Request::MarkSeen { ids: vec![1; MAX_PAGE + 1] }).is_err());
        assert!(roundtrip(&Request::Delete { ids: vec![1; MAX_PAGE] }).is_ok());
    }

    #[test]
    fn several_recipients_are_distinct_and_capped() {
        let begin = Begin {
            to: Some("bob".into()),
            subject: None,
            body: Some("b".into()),
            files: 0,
            bytes: 0,
            resume_key: [0; 32],
        };
        let many = |also: Vec<&str>| Request::BeginMany {
            begin: begin.clone(),
            also: also.into_iter().map(String::from).collect(),
        };
        assert!(roundtrip(&many(vec!["carol", "dave"])).is_ok());
        assert!(roundtrip(&many(vec![])).is_err());
        assert!(roundtrip(&many(vec!["carol", "carol"])).is_err());
        assert!(roundtrip(&many(vec!["bob"])).is_err());
        assert!(roundtrip(&many(vec!["Bad"])).is_err());
        let names: Vec<String> = (0..MAX_RECIPIENTS).map(|i| format!("u{i}")).collect();
        assert!(roundtrip(&many(names.iter().map(String::as_str).collect())).is_err());
        assert!(roundtrip(&many(names.iter().take(MAX_RECIPIENTS - 1).map(String::as_str).collect())).is_ok());
    }
}
