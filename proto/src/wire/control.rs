//! The control stream's messages, the top of the wire's closed set: [`Request`] frames
//! from the client on the first bidirectional stream, one [`Response`] frame back for each.
//! Variant order is the wire contract (postcard encodes the variant index): append new
//! variants, never reorder. `tests/wire_golden` pins the bytes. The types the variants
//! carry live in their families' files (login, delivery, mailbox, account); the file
//! streams' messages are in `stream.rs`.

use serde::{Deserialize, Serialize};

use super::account::{check_code_text, check_typed_code, AccountReply, AccountRequest, Proof};
use super::caps::{MAX_ENTRIES_PER_FRAME, MAX_ERROR_TEXT, MAX_PAGE, MAX_PASSWORD};
use super::delivery::{
    validate_also, validate_copies, validate_entries, validate_pending, Begin, Copy, FileEntry, FileMeta, Have, Missed,
    PendingSend,
};
use super::error::DecodeError;
use super::error_code::ErrorCode;
use super::login::{
    validate_credential, validate_picture, validate_solution, validate_ticket, Credential, Picture, Solution, Ticket,
    Token,
};
use super::mailbox::{
    validate_delete_report, validate_envelope, validate_inbox_page, validate_recipients, Attachment, Envelope, Refusal,
    Summary,
};
use super::names::validate_account;
use super::validate::{cap_len, cap_str, one_line, Validate};

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
    /// `Account(Done)` when a code went (or the one in force still works), else with
    /// `Error(Limit)` saying why and when the next code can be texted; the same words
    /// whether the account or a number exists or not.
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
    /// `Login` (qxfer/6) with a code: one texted to the account's oldest settled number
    /// after its right password arrived while the account was locked against this place,
    /// or one of its recovery codes. With the right password and code it logs in despite
    /// the lockout; otherwise it is answered as `Login` would be. `solution` as in
    /// `LoginSolved`, when the step-up asks for one.
    LoginWithCode { user: String, credential: Credential, code: String, solution: Option<Solution> },
    /// qxfer/6: the texted code of a recovery, before its proof (allowed before login, with
    /// a solved challenge for `user`): answered with `Account(Question)`, the account's
    /// secret question, so the person sees it before typing the answer. The code is checked
    /// and not used up (a wrong one costs one of its attempts, as in `RecoverFinish`).
    RecoverQuestion { user: String, code: String, solution: Solution },
    /// `Delete` (qxfer/6) that does what it can: every id in the caller's mailbox that may
    /// go is removed, and each that may not is answered with why. Answered with
    /// `DeleteReport`; an id in neither list is not in the caller's mailbox.
    DeleteEach { ids: Vec<u64> },
    /// `OpenMeta` (qxfer/6) answered with `EnvelopeAll`: also every recipient the delivery
    /// was sent to, as its sender named them.
    OpenAll { id: u64, from: u32 },
    /// The caller's unfinished sends (qxfer/6) with ids above `after`, in id order.
    /// Answered with `PendingPage`.
    PendingSends { after: u64 },
    /// Abandon the caller's unfinished send `id` (qxfer/6): only a send of the caller's
    /// own is found; its partial files are removed and what it reserved is released.
    /// Answered with `Affected` (`[id]`), or `NotFound`.
    DropPending { id: u64 },
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
    /// Answer to `Account`, `RecoverStart`, `RecoverQuestion`, `RecoverFinish` and
    /// `CancelChange`.
    Account(AccountReply),
    /// Answer to `DeleteEach`: the ids removed, and those kept with why.
    DeleteReport { deleted: Vec<u64>, refused: Vec<Refusal> },
    /// Answer to `OpenAll`: `EnvelopeMeta` with `recipients`, every account the delivery
    /// was sent to in its sender's order (the envelope's `to` alone for a delivery sent to
    /// one).
    EnvelopeAll {
        envelope: Envelope,
        recipients: Vec<String>,
        attachments: Vec<Attachment>,
        meta: Vec<Option<FileMeta>>,
        more: bool,
    },
    /// Answer to `PendingSends`: a page of the caller's unfinished sends; `more` when later
    /// pages exist.
    PendingPage { items: Vec<PendingSend>, more: bool },
}

impl Validate for Request {
    fn validate(&self) -> Result<(), DecodeError> {
        match self {
            Request::Login { user, credential } => {
                validate_account(user)?;
                validate_credential(credential)
            }
            Request::Begin(b) => b.validate(),
            Request::BeginMany { begin, also } => {
                begin.validate()?;
                validate_also(begin, also)
            }
            Request::AddFiles { entries } => validate_entries(entries),
            Request::AddFilesMeta { entries, meta } => {
                validate_entries(entries)?;
                if meta.len() != entries.len() {
                    return Err(DecodeError::Invalid("one file time and mode per entry"));
                }
                meta.iter().try_for_each(FileMeta::validate)
            }
            Request::Delete { ids } | Request::MarkSeen { ids } | Request::DeleteEach { ids } => {
                if ids.is_empty() {
                    return Err(DecodeError::Invalid("empty id list"));
                }
                cap_len(ids, MAX_PAGE, "id list")
            }
            Request::Challenge { user } => validate_account(user).map(|_| ()).map_err(Into::into),
            Request::LoginSolved { user, credential, solution } => {
                validate_account(user)?;
                validate_credential(credential)?;
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
            Request::LoginWithCode { user, credential, code, solution } => {
                validate_account(user)?;
                validate_credential(credential)?;
                check_typed_code(code)?;
                solution.as_ref().map_or(Ok(()), validate_solution)
            }
            Request::RecoverQuestion { user, code, solution } => {
                validate_account(user)?;
                check_code_text(code)?;
                validate_solution(solution)
            }
            Request::Commit
            | Request::Inbox { .. }
            | Request::Open { .. }
            | Request::Unseen { .. }
            | Request::OpenMeta { .. }
            | Request::OpenAll { .. }
            | Request::PendingSends { .. }
            | Request::DropPending { .. } => Ok(()),
        }
    }
}

impl Validate for Response {
    fn validate(&self) -> Result<(), DecodeError> {
        match self {
            Response::LoggedIn { user, .. } => validate_account(user).map(|_| ()).map_err(Into::into),
            Response::Began { .. } | Response::Committed { .. } => Ok(()),
            Response::FilesAdded { have } => cap_len(have, MAX_ENTRIES_PER_FRAME, "file batch"),
            Response::InboxPage { items, .. } => validate_inbox_page(items),
            Response::Envelope { envelope, attachments, .. } => validate_envelope(envelope, attachments),
            Response::EnvelopeMeta { envelope, attachments, meta, .. } => {
                validate_envelope(envelope, attachments)?;
                validate_file_meta(attachments, meta)
            }
            Response::EnvelopeAll { envelope, recipients, attachments, meta, .. } => {
                validate_envelope(envelope, attachments)?;
                validate_recipients(envelope, recipients)?;
                validate_file_meta(attachments, meta)
            }
            Response::Affected { ids } => cap_len(ids, MAX_PAGE, "id list"),
            Response::CommittedMany { copies, missed, .. } => validate_copies(copies, missed),
            Response::Error { message, .. } => one_line(message, MAX_ERROR_TEXT, "error message"),
            Response::Delivered { .. } => Ok(()),
            Response::Challenge { ticket, picture } => {
                validate_ticket(ticket)?;
                if let Some(p) = picture {
                    validate_picture(p)?;
                }
                Ok(())
            }
            Response::Account(a) => a.validate(),
            Response::DeleteReport { deleted, refused } => validate_delete_report(deleted, refused),
            Response::PendingPage { items, .. } => validate_pending(items),
        }
    }
}

/// One file time and mode per attachment, each in bounds.
fn validate_file_meta(attachments: &[Attachment], meta: &[Option<FileMeta>]) -> Result<(), DecodeError> {
    if meta.len() != attachments.len() {
        return Err(DecodeError::Invalid("one file time and mode per attachment"));
    }
    meta.iter().flatten().try_for_each(FileMeta::validate)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{decode_checked, MAX_RECIPIENTS};

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
    fn a_delete_report_is_capped_and_its_reasons_are_one_short_line() {
        let check = |r: &Response| decode_checked::<Response>(&postcard::to_stdvec(r).expect("encode"));
        let report = |why: String| Response::DeleteReport { deleted: vec![1], refused: vec![Refusal { id: 2, why }] };
        assert!(check(&report("kept until tomorrow".into())).is_ok());
        assert!(check(&report("two\nlines".into())).is_err());
        assert!(check(&report("x".repeat(crate::wire::MAX_REASON + 1))).is_err());
        let many = Response::DeleteReport { deleted: vec![1; MAX_PAGE + 1], refused: vec![] };
        assert!(check(&many).is_err());
        assert!(roundtrip(&Request::DeleteEach { ids: vec![] }).is_err());
        assert!(roundtrip(&Request::DeleteEach { ids: vec![7; MAX_PAGE] }).is_ok());
    }

    #[test]
    fn an_envelopes_recipients_are_names_without_repeats_and_include_its_own() {
        let envelope = Envelope {
            id: 1,
            from: "al".into(),
            to: "bo".into(),
            time: 2,
            subject: None,
            body: None,
            files: 0,
            bytes: 0,
        };
        let all = |names: &[&str]| Response::EnvelopeAll {
            envelope: envelope.clone(),
            recipients: names.iter().map(|n| n.to_string()).collect(),
            attachments: vec![],
            meta: vec![],
            more: false,
        };
        let check = |r: &Response| decode_checked::<Response>(&postcard::to_stdvec(r).expect("encode"));
        assert!(check(&all(&["cy", "bo"])).is_ok());
        assert!(check(&all(&["cy"])).is_err(), "its own recipient missing");
        assert!(check(&all(&["bo", "bo"])).is_err());
        assert!(check(&all(&["bo", "Bad"])).is_err());
        let many: Vec<String> = (0..=MAX_RECIPIENTS).map(|i| format!("u{i}")).collect();
        let mut names: Vec<&str> = many.iter().map(String::as_str).collect();
        names.push("bo");
        assert!(check(&all(&names)).is_err());
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
