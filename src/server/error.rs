//! Why the listener could not serve a request, and the one conversion from such a failure
//! to a wire reply: the peer learns only that it was internal (and may try again); the
//! details go to the log.

use std::net::SocketAddr;

use tracing::warn;

use crate::store::StoreError;
use crate::wire::{clean_error_text, ErrorCode, Response};

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}: {1}")]
    Io(&'static str, #[source] std::io::Error),
    #[error("blocking task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("{0}")]
    Internal(&'static str),
}

/// A reply with `code` and a message the peer can read.
pub fn error_reply(code: ErrorCode, message: impl std::fmt::Display) -> Response {
    Response::Error { code, message: clean_error_text(&message.to_string()) }
}

/// Log an internal failure and turn it into the reply the peer gets.
pub fn internal(peer: SocketAddr, e: &ServerError) -> Response {
    warn!(%peer, event = "internal_error", "{e}");
    error_reply(ErrorCode::Internal, "internal server error; try again")
}
