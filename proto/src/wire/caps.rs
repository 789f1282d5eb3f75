//! The wire caps: the largest frame, name, text and batch each side accepts, the same on
//! both sides. Every decoded value is checked against them before other code sees it.

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
/// The shortest password an account can have (`qxfer user add`, recovery, `account
/// passwd`): a shorter one can never log in, so the client refuses it before connecting.
pub const MIN_PASSWORD: usize = 8;
/// Most file entries in one `AddFiles` frame.
pub const MAX_ENTRIES_PER_FRAME: usize = 1024;
/// Most files in one delivery.
pub const MAX_FILES: u32 = 100_000;
/// Most inbox items or attachments in one reply page.
pub const MAX_PAGE: usize = 512;
/// Longest free-text error message in a reply.
pub const MAX_ERROR_TEXT: usize = 512;
/// Longest reason given for one id a request passed over (`Refusal::why`): a whole page
/// of them fits one frame.
pub const MAX_REASON: usize = 256;
/// Longest media type string.
pub const MAX_MEDIA_TYPE: usize = 128;
