//! The wire contract, pure and I/O-free: length-prefixed postcard frames, the closed set of
//! messages that travel in them, and the validation every decoded value passes before any
//! other code sees it (size caps, safe names, no trailing bytes, known variants only).
//!
//! The messages by family: `control.rs` the control stream's [`Request`] and [`Response`]
//! (the top: it uses the families, none uses it), `login.rs` credentials and challenges,
//! `delivery.rs` a delivery and its files, `mailbox.rs` listings and envelopes,
//! `account.rs` recovery and an account's settings, `stream.rs` the file streams' frames,
//! `admin.rs` the admin socket's; `error_code.rs` the error classes replies carry. The
//! shared checks are in `validate.rs`, the caps in `caps.rs`.

mod account;
mod admin;
mod caps;
mod control;
mod delivery;
mod error;
mod error_code;
mod frame;
mod login;
mod mailbox;
pub mod names;
mod notice;
mod stream;
mod validate;

pub use account::*;
pub use admin::{
    AccountScore, AdminRequest, AdminResponse, AuditQuery, AuditReport, BanView, EventView, HourCount, KindCount,
    RuleView, SourceScore, Status, UserView,
};
pub use caps::{
    MAX_BODY, MAX_ENTRIES_PER_FRAME, MAX_ERROR_TEXT, MAX_FILES, MAX_FRAME, MAX_HEAD_FRAME, MAX_MEDIA_TYPE, MAX_PAGE,
    MAX_PASSWORD, MAX_REASON, MAX_SUBJECT, MIN_PASSWORD,
};
pub use control::{Request, Response};
pub use delivery::{Begin, Copy, FileEntry, FileMeta, Hash, Have, Missed, PendingSend, MAX_RECIPIENTS};
pub use error::DecodeError;
pub use error_code::ErrorCode;
pub use frame::{decode_body, decode_frame, encode_frame, frame_len, FrameLen, LEN_PREFIX};
pub use login::{
    ChallengeKind, Credential, Picture, Solution, Ticket, Token, LOADED_TEXT, LOCKED_TEXT, MAX_ANSWER, MAX_WORK_BITS,
};
pub use mailbox::{Attachment, Envelope, Refusal, Summary};
pub use names::{is_deceptive, validate_account, validate_path, NameError};
pub use notice::BanNotice;
pub use stream::{FileEnd, GetReply, PutReply, StreamHead};
pub use validate::{check_body, check_subject, clean_error_text, decode_checked, Validate};

/// The listener's UDP port unless told otherwise.
pub const DEFAULT_PORT: u16 = 4433;

/// ALPN protocol id; the version is part of it so incompatible peers fail the handshake.
/// qxfer/3: appended requests (`Unseen`, `Delete`, `MarkSeen`, `AddFilesMeta`, `OpenMeta`)
/// a qxfer/2 listener would take for a protocol violation; so a client offers only qxfer/3
/// and is told to upgrade the listener.
/// qxfer/4: challenges (`Challenge`, `LoginSolved`, the `Challenge` reply and the
/// `ChallengeRequired`/`ChallengeFailed` error codes).
/// qxfer/5: account recovery and settings (`RecoverStart`, `RecoverFinish`,
/// `CancelChange`, `Account`, the `Account` reply). A client offers qxfer/5 and qxfer/4,
/// so it still works with a qxfer/4 listener for everything else, and says the listener
/// is too old when a command needs qxfer/5.
/// qxfer/6: `LoginWithCode`, the way back for an owner whose account is locked against
/// the place she is at; `DeleteEach` (delete what may go, say why for the rest), `OpenAll`
/// (every recipient of a delivery), `PendingSends` and `DropPending` (the caller's
/// unfinished sends). A client offers qxfer/6, qxfer/5 and qxfer/4, and sends these only
/// on qxfer/6.
pub const ALPN: &[u8] = b"qxfer/6";
/// qxfer/5: still served as it is (its clients send a subset of qxfer/6).
pub const ALPN_V5: &[u8] = b"qxfer/5";
/// qxfer/4: still served as it is (its clients send a subset of qxfer/5).
pub const ALPN_V4: &[u8] = b"qxfer/4";
/// qxfer/3: still served; its clients never ask for challenges, and the challenge error
/// codes reach them as `AuthFailed` with the same text ([`Response::downgraded`]).
pub const ALPN_V3: &[u8] = b"qxfer/3";
/// qxfer/2: `FilesAdded` carries the hash of each complete file. Still served as it is: a
/// qxfer/2 client sends a subset of qxfer/3.
pub const ALPN_V2: &[u8] = b"qxfer/2";
/// The previous protocol: the listener still accepts its handshake, only to tell the peer to
/// upgrade (close code 8), and never scores it.
pub const ALPN_V1: &[u8] = b"qxfer/1";
