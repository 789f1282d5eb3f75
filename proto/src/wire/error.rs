//! Why a frame or a value was refused. Cheap and `Copy`, so it can be counted and logged.

/// A reason to refuse bytes from the wire. A panic is a bug; bad input is one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The length prefix announces more than the frame cap allows.
    #[error("frame of {len} bytes exceeds the {max}-byte cap")]
    TooLarge { len: usize, max: usize },
    /// Fewer bytes than the prefix announced (or than a prefix needs).
    #[error("frame is truncated")]
    Truncated,
    /// postcard could not decode the body: unknown variant, bad varint, bad UTF-8, short body.
    #[error("frame body is not a valid message")]
    Malformed,
    /// The body decoded but bytes were left over after it.
    #[error("{0} trailing bytes after the message")]
    TrailingBytes(usize),
    /// The body decodes, but not from its one canonical encoding (e.g. an overlong varint).
    #[error("frame body is not canonically encoded")]
    NonCanonical,
    /// A string or list is longer than its documented maximum.
    #[error("{field} is longer than {max}")]
    FieldTooLong { field: &'static str, max: usize },
    /// A value is out of its documented range or inconsistent with the rest of the message.
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// A file or account name failed the safe-name rules.
    #[error("unsafe name: {0}")]
    Name(#[from] super::NameError),
}
