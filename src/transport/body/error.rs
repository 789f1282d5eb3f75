//! Why a body could not be sent or received ([`BodyError`]), and a disk thread's end as an
//! I/O result.

use std::io;

use crate::transport::framed::FrameError;

/// Why a body could not be sent or received.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("transfer too slow: {got} bytes in {secs} s")]
    TooSlow { got: u64, secs: u64 },
    #[error("stream ended after {got} of {want} bytes")]
    Short { got: u64, want: u64 },
    #[error("stream carried more bytes than declared")]
    TooLong,
    #[error("hash mismatch: the data differs from what the sender hashed")]
    HashMismatch,
    #[error("{0}")]
    Frame(#[from] FrameError),
    #[error("reading stream: {0}")]
    Read(#[from] quinn::ReadError),
    #[error("writing stream: {0}")]
    Write(#[from] quinn::WriteError),
    #[error("file I/O: {0}")]
    Io(#[from] io::Error),
    #[error("cannot store the file: {0}")]
    Store(io::Error),
}

/// A disk thread's result, its panic or cancellation as an I/O error.
pub(super) fn joined<T>(r: Result<io::Result<T>, tokio::task::JoinError>) -> io::Result<T> {
    r.map_err(io::Error::other)?
}
