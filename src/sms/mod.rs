//! Sending a text message through the gateway the operator picks in `[sms]`, and that
//! section's settings ([`SmsConfig`], in `config.rs`). One file per gateway:
//! - `spool` (`spool.rs`): one JSON file per message (`{"to": ..., "text": ...}`, the
//!   webhook's body, `message.rs`), mode 0600, named `<ms>-<seq>.json`, written under a
//!   temporary name and renamed into place; for development and tests. It sends nothing. The
//!   default, under the data directory.
//! - `command` (`command.rs`): a program run without a shell, `{to}` in its arguments
//!   replaced by the number, the text on its standard input (never in its arguments, where
//!   other users read it in /proc), killed past a timeout, its exit status checked.
//! - `webhook` (`webhook.rs`): an HTTPS POST of that JSON body with `Authorization: Bearer
//!   <token>`, over rustls with the ring provider passed explicitly (no process-wide default
//!   is consulted), trusting the roots of `ca_file` or of the system bundle. Only `https://`
//!   URLs; no proxy from the environment, no redirects followed. Each attempt is bounded by
//!   `timeout_secs` (connect, handshake, request and response together); network errors and
//!   5xx answers are retried `retries` times with a doubling backoff from 200 ms, a 4xx
//!   never. The token is read once, when the gateway is built, from a file only its owner
//!   may read. Neither the token nor the text appears in this module's errors or `Debug`
//!   output, and the URL only without its userinfo and query. (This module logs nothing;
//!   ureq's own log lines redact the Authorization header and never show the body, but at
//!   trace level show the query.)
//!
//! [`Gateway`] (`gateway.rs`) is the configured one and hands it a text; [`SmsError`]
//! (`error.rs`) is what every part returns. The cost controls of `[sms]` (budget, cooldown,
//! countries) are decided by the pure `policy::sms`; this module only hands them over
//! ([`SmsConfig::limits`]). Wiring a gateway into the listener (when to text, from which
//! thread) is done elsewhere.

mod command;
mod config;
mod error;
mod gateway;
mod message;
mod spool;
mod webhook;

pub use config::SmsConfig;
pub use error::{RootsError, SmsError};
pub use gateway::Gateway;
pub use webhook::{Webhook, WebhookConfig};
