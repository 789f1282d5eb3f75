//! The wire contract, pure and I/O-free: length-prefixed postcard frames, the closed set of
//! messages that travel in them, and the validation every decoded value passes before any
//! other code sees it (size caps, safe names, no trailing bytes, known variants only).

mod account;
mod admin;
mod error;
mod frame;
mod message;
pub mod names;
mod notice;

pub use admin::{
    AccountScore, AdminRequest, AdminResponse, AuditQuery, AuditReport, BanView, EventView, HourCount, KindCount,
    RuleView, SourceScore, Status, UserView,
};
pub use error::DecodeError;
pub use frame::{decode_body, decode_frame, encode_frame, frame_len, FrameLen, LEN_PREFIX};
pub use message::*;
pub use names::{is_deceptive, validate_account, validate_path, NameError};
pub use notice::BanNotice;

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
pub const ALPN: &[u8] = b"qxfer/5";
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

/// Largest frame body accepted on any stream (checked before the body is read).
pub const MAX_FRAME: usize = 256 * 1024;
/// Largest frame body at the head of a file stream (a `StreamHead` is at most 26 bytes):
/// a stream that has not proved it is an upload or a download cannot make the listener
/// buffer more.
pub const MAX_HEAD_FRAME: usize = 64;
/// Longest subject, in bytes.
pub const MAX_SUBJECT: usize = 512;
/// Longest message body, in bytes.
pub const MAX_BODY: usize = 128 * 1024;
/// Longest password, in bytes.
pub const MAX_PASSWORD: usize = 1024;
/// Most file entries in one `AddFiles` frame.
pub const MAX_ENTRIES_PER_FRAME: usize = 1024;
/// Most files in one delivery.
pub const MAX_FILES: u32 = 100_000;
/// Most inbox items or attachments in one reply page.
pub const MAX_PAGE: usize = 512;
/// Longest free-text error message in a reply.
pub const MAX_ERROR_TEXT: usize = 512;
/// Longest media type string.
pub const MAX_MEDIA_TYPE: usize = 128;
