//! Client errors, each a line a user can act on, each with its documented exit code.

use std::path::{Path, PathBuf};

use super::manifest::ManifestError;
use crate::transport::close;
use crate::transport::endpoint::EndpointError;
use crate::transport::tls::TlsError;
use crate::wire::{BanNotice, ErrorCode};

/// Exit codes (documented in one table: docs/commands.md, Exit codes).
pub mod exit {
    pub const ERROR: i32 = 1;
    /// A usage error: bad arguments, caught before connecting.
    pub const USAGE: i32 = 2;
    pub const AUTH: i32 = 3;
    pub const HOST_KEY: i32 = 4;
    /// The listener refused this address: banned, blocked, or at its connection limit.
    pub const REFUSED: i32 = 5;
    /// A send or fetch did part of the work: some paths were skipped or some deliveries
    /// not fetched; each is listed on stderr.
    pub const PARTIAL: i32 = 6;
    /// A challenge (proof of work, captcha) was failed.
    pub const CHALLENGE: i32 = 7;
    /// Interrupted (Ctrl-C); run the same command again to resume.
    pub const INTERRUPTED: i32 = 130;
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("authentication failed for {user}: wrong user name or password")]
    Auth { user: String },
    /// The automation token in `QXFER_TOKEN` was refused (revoked, expired, ended by a
    /// password change or a recovery, or still waiting for its delay to end); `target` is
    /// `USER@HOST[:PORT]` for the new one.
    #[error(
        "authentication failed for {user}: the token in QXFER_TOKEN was refused (revoked or expired); \
         make a new one with: qxfer account tokens new {target} --automation (with QXFER_TOKEN unset: \
         the refused token would be tried again); a new automation token works only once its delay ended, \
         unless it was made with --confirm-by-text"
    )]
    TokenRefused { user: String, target: String },
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
    #[error("listener {host} presented {seen}, not the fingerprint {expected} you gave (--fingerprint, or the host's alias in config.toml)")]
    FingerprintMismatch { host: String, seen: String, expected: String },
    #[error("host key not accepted")]
    HostRejected,
    /// The listener refused a request and said why.
    #[error("{message}")]
    Remote { code: ErrorCode, message: String },
    /// Downloaded bytes did not hash to what the listener recorded; nothing was kept.
    #[error("{path}: the received data does not match its hash; nothing was kept, run the same command again")]
    Integrity { path: String },
    /// A local file or directory could not be read or written.
    #[error("{what} {path:?}: {source}")]
    Local {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0:?} exists with other content; not overwriting it (--skip-existing keeps it, --overwrite replaces it)")]
    Exists(PathBuf),
    /// Something under the output directory that fetch will not write through.
    #[error("refused to write {path:?}: {why}; fetch never follows links under the output directory")]
    Refused { path: PathBuf, why: &'static str },
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// The listener's address cannot be used.
    #[error("{0}")]
    Address(String),
    #[error("connecting to {hostport}: {reason}")]
    Connect { hostport: String, reason: String },
    #[error(
        "no qxfer listener answered at {hostport} (UDP) within {secs} s: check the address and port, \
         that `qxfer listen` runs there and that no firewall drops UDP; on a slow link pass \
         --connect-timeout (a listener also drops addresses it has banned or blocked). The listener may also be \
         limiting this address (too many connections from it): wait a minute and try again"
    )]
    NoAnswer { hostport: String, secs: u64 },
    /// The listener told this address it is banned.
    #[error(
        "the listener at {hostport} refused this address: {net} is banned for another {left} after repeated \
         failures (wrong passwords, codes or captchas, refused requests). Wait, or ask its operator to run \
         `qxfer firewall unban {net}`",
        left = crate::clock::format_duration(*secs)
    )]
    Banned { hostport: String, net: ipnet::IpNet, secs: u64 },
    /// The listener refused the connection before the handshake.
    #[error(
        "the listener at {hostport} refused the connection: it is at its connection limit or this address \
         has too many connections open; try again later"
    )]
    ListenerRefused { hostport: String },
    /// The connection or a stream ended under us.
    #[error("{0}")]
    Lost(String),
    /// The listener answered something the protocol does not allow there.
    #[error("{0}")]
    Protocol(String),
    #[error("no password: set QXFER_PASSWORD, pass --password-stdin, or run on a terminal")]
    NoPassword,
    /// A password no account can have: refused before it is sent (a mistake, not a try).
    #[error(
        "the password given is {len} bytes long; passwords are 8 to 1024 bytes, so it cannot be right \
         (nothing was sent; check QXFER_PASSWORD, --password-stdin or what was typed)"
    )]
    PasswordLength { len: usize },
    /// The saved session was refused (the password changed, the account was recovered, or
    /// the session was revoked) and no password was given.
    #[error(
        "the saved session for {user} was ended (the password changed, the account was recovered, or the session \
         was revoked); log in again with the password (QXFER_PASSWORD, --password-stdin, or on a terminal)"
    )]
    SessionEnded { user: String },
    #[error("reading password: {0}")]
    Password(#[source] std::io::Error),
    #[error("a transfer task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// A challenge that could not be answered or was not accepted.
    #[error("{0}")]
    Challenge(String),
    /// The listener asks for a challenge before this login (handled inside `connect`).
    #[error("the listener asks for a challenge before logging in")]
    NeedsChallenge(Box<(crate::wire::Ticket, Option<crate::wire::Picture>)>),
    /// The listener is under load and suggests this work for the login (handled inside
    /// `connect`).
    #[error("the listener is under load and asks for a proof of work with the login")]
    Loaded(Box<crate::wire::Ticket>),
    /// The account is locked against this network and a person can type the texted code
    /// (handled inside `connect`).
    #[error("{}", crate::wire::LOCKED_TEXT)]
    NeedsCode,
}

impl ClientError {
    pub fn exit_code(&self) -> i32 {
        match self {
            ClientError::Auth { .. }
            | ClientError::TokenRefused { .. }
            | ClientError::SessionEnded { .. }
            | ClientError::NeedsCode => exit::AUTH,
            ClientError::Remote { code: ErrorCode::AuthFailed, .. } => exit::AUTH,
            ClientError::HostKeyMismatch { .. }
            | ClientError::UnknownHost { .. }
            | ClientError::FingerprintMismatch { .. }
            | ClientError::HostRejected => exit::HOST_KEY,
            ClientError::Banned { .. } | ClientError::ListenerRefused { .. } => exit::REFUSED,
            ClientError::Challenge(_) | ClientError::NeedsChallenge(_) | ClientError::Loaded(_) => exit::CHALLENGE,
            ClientError::PasswordLength { .. } => exit::USAGE,
            ClientError::Remote { code: ErrorCode::ChallengeFailed | ErrorCode::ChallengeRequired, .. } => {
                exit::CHALLENGE
            }
            _ => exit::ERROR,
        }
    }
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// An I/O error on a local path, as a [`ClientError::Local`].
pub(crate) fn local<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> ClientError + 'a {
    move |source| ClientError::Local { what, path: path.to_owned(), source }
}

/// A connection or stream that ended under us.
pub(crate) fn lost(e: impl std::fmt::Display) -> ClientError {
    ClientError::Lost(e.to_string())
}

/// What a connection's end means for the user, when the listener refused us: a ban it
/// told us of (close code `BANNED`), or a refusal before the handshake.
pub(crate) fn refusal(e: &quinn::ConnectionError, hostport: &str) -> Option<ClientError> {
    match e {
        quinn::ConnectionError::ApplicationClosed(c) if c.error_code == close::BANNED.into() => {
            let notice = BanNotice::parse(&c.reason);
            Some(match notice {
                Some(n) => ClientError::Banned { hostport: hostport.to_owned(), net: n.net, secs: n.secs },
                None => ClientError::ListenerRefused { hostport: hostport.to_owned() },
            })
        }
        quinn::ConnectionError::ConnectionClosed(c)
            if c.error_code == quinn::TransportErrorCode::CONNECTION_REFUSED =>
        {
            Some(ClientError::ListenerRefused { hostport: hostport.to_owned() })
        }
        _ => None,
    }
}

/// What parallel transfer tasks moved together, or the first error one of them met.
#[derive(Default)]
pub(crate) struct Tally {
    total: u64,
    first_error: Option<ClientError>,
}

impl Tally {
    pub fn add(&mut self, done: Result<Result<u64>, tokio::task::JoinError>) {
        match done {
            Ok(Ok(n)) => self.total += n,
            Ok(Err(e)) => {
                self.first_error.get_or_insert(e);
            }
            Err(e) => {
                self.first_error.get_or_insert(e.into());
            }
        }
    }

    pub fn failed(&self) -> bool {
        self.first_error.is_some()
    }

    pub fn finish(self) -> Result<u64> {
        match self.first_error {
            Some(e) => Err(e),
            None => Ok(self.total),
        }
    }
}
