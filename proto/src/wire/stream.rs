//! The messages of a file stream (every bidirectional stream after the control stream):
//! one [`StreamHead`] frame from the client. For `Put`, exactly `size - offset` raw bytes
//! follow, then a [`FileEnd`] frame, then the client finishes the stream; the server
//! answers one [`PutReply`]. For `Get`, the server answers a [`GetReply`]; after `Ready`,
//! exactly the announced raw bytes and a [`FileEnd`]. Variant order is the wire contract.

use serde::{Deserialize, Serialize};

use super::caps::MAX_ERROR_TEXT;
use super::delivery::Hash;
use super::error::DecodeError;
use super::error_code::ErrorCode;
use super::validate::{one_line, Validate};

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
