//! Client errors, each a line a user can act on, each with its documented exit code.

use crate::wire::ErrorCode;

/// Exit codes (documented in the README).
pub mod exit {
    pub const OK: i32 = 0;
    pub const ERROR: i32 = 1;
    pub const USAGE: i32 = 2;
    pub const AUTH: i32 = 3;
    pub const HOST_KEY: i32 = 4;
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("authentication failed for {user}: wrong user name or password")]
    Auth { user: String },
    #[error(
        "CERTIFICATE MISMATCH for {host}: it presented {seen}, but {known_hosts} pins {pinned}. \
         Someone may be intercepting the connection. If the listener's certificate changed on purpose \
         (check with `qxfer fingerprint` on the listener), remove the line for {host} from {known_hosts} \
         or pass --fingerprint {seen}"
    )]
    HostKeyMismatch { host: String, seen: String, pinned: String, known_hosts: String },
    #[error(
        "unknown listener {host} presented {seen}; check it against `qxfer fingerprint` on the listener, \
         then pass --fingerprint {seen} (or --accept-new to trust on first use)"
    )]
    UnknownHost { host: String, seen: String },
    #[error("listener {host} presented {seen}, not the --fingerprint {expected} you gave")]
    FingerprintMismatch { host: String, seen: String, expected: String },
    #[error("host key not accepted")]
    HostRejected,
    #[error("{message}")]
    Remote { code: ErrorCode, message: String },
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl ClientError {
    pub fn exit_code(&self) -> i32 {
        match self {
            ClientError::Auth { .. } => exit::AUTH,
            ClientError::Remote { code: ErrorCode::AuthFailed, .. } => exit::AUTH,
            ClientError::HostKeyMismatch { .. }
            | ClientError::UnknownHost { .. }
            | ClientError::FingerprintMismatch { .. }
            | ClientError::HostRejected => exit::HOST_KEY,
            _ => exit::ERROR,
        }
    }
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

pub(crate) fn other(e: impl Into<anyhow::Error>) -> ClientError {
    ClientError::Other(e.into())
}
