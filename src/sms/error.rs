//! Why a text was not handed to the gateway, or a gateway could not be built: the error
//! every gateway and the `[sms]` section return, and why a webhook's roots could not be read.

use std::path::PathBuf;

/// Why a text was not handed to the gateway, or a gateway could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    /// The spool directory or a file in it could not be written.
    #[error("writing the text to the spool {0}: {1}")]
    Spool(PathBuf, #[source] std::io::Error),
    /// The SMS command could not be started (or waited for).
    #[error("starting the SMS command {0:?}: {1}")]
    Start(String, #[source] std::io::Error),
    /// The SMS command ran past its timeout and was killed.
    #[error("the SMS command {0:?} did not finish within {1} s; it was stopped")]
    Timeout(String, u64),
    /// The SMS command exited with a failure status.
    #[error("the SMS command {0:?} failed ({1})")]
    Failed(String, std::process::ExitStatus),
    /// The SMS command has no program.
    #[error("the SMS command is empty")]
    NoCommand,
    /// The webhook could not be reached, or the exchange failed (TLS, network, protocol).
    /// `url` has no userinfo or query.
    #[error("the SMS webhook {url}: {reason} (attempts: {attempts})")]
    Webhook { url: String, reason: String, attempts: u32 },
    /// The webhook did not answer within the timeout (on the last attempt).
    #[error("the SMS webhook {url} did not answer within {secs} s (attempts: {attempts})")]
    WebhookTimeout { url: String, secs: u64, attempts: u32 },
    /// The webhook answered with a status other than 2xx (on the last attempt).
    #[error("the SMS webhook {url} answered HTTP {status} (attempts: {attempts})")]
    Status { url: String, status: u16, attempts: u32 },
    /// The webhook's token file is missing, empty, unreadable or open to other users.
    #[error("the SMS webhook token file {}: {reason}", path.display())]
    Token { path: PathBuf, reason: String },
    /// The webhook's `ca_file` could not be read or holds no usable certificate.
    #[error("the SMS webhook CA file {}: {reason}", path.display())]
    CaFile { path: PathBuf, reason: RootsError },
    /// No `ca_file` was given and no system CA bundle could be read.
    #[error("no system CA bundle could be read for the SMS webhook (tried {tried}); set ca_file in [sms.webhook]")]
    NoSystemRoots { tried: String },
    /// The `[sms]` section failed `SmsConfig::check`.
    #[error("{0}")]
    Config(&'static str),
}

/// Why a PEM file of roots could not be used (shown after the file's name).
#[derive(Debug, thiserror::Error)]
pub enum RootsError {
    /// The file could not be opened.
    #[error("cannot be opened: {0}")]
    Open(#[source] std::io::Error),
    /// The file could not be read.
    #[error("cannot be read: {0}")]
    Read(#[source] std::io::Error),
    /// The file is larger than the most read.
    #[error("is larger than {0} MiB")]
    TooLarge(u64),
    /// The file is not PEM.
    #[error("is not PEM: {0}")]
    NotPem(#[source] rustls::pki_types::pem::Error),
    /// No certificate in the file is usable as a root.
    #[error("holds no usable certificate (PEM \"BEGIN CERTIFICATE\" blocks)")]
    NoUsable,
}
