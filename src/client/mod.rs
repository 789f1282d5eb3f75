//! The client library: connect (with certificate pinning), log in (session token first,
//! password if needed), then send, list or fetch over one QUIC connection. It reports
//! progress as typed [`Event`]s; rendering them is the binary's business.
//!
//! The files: `connect.rs` the options, the address and the handshake; `login.rs` the
//! login and its session token; `control.rs` the [`Client`] and its control stream;
//! `mailbox.rs` listing, deleting, marking seen; `send.rs` and `fetch.rs` the transfers
//! (`streams.rs` what they share); `events.rs` the progress events; `challenge.rs` a
//! listener's challenge answered; `account.rs` account requests and recovery steps.

mod account;
pub mod aliases;
mod challenge;
mod connect;
mod control;
pub mod error;
mod events;
mod fetch;
mod login;
mod mailbox;
mod manifest;
mod outdir;
mod pending;
mod send;
mod streams;
pub mod trust;

pub use account::{cancel_change, recovery_question, recovery_step, register};
pub use connect::{resolve, ConnectOptions, PasswordSource, CONNECT_TIMEOUT};
pub use control::{Client, REPLY_WAIT};
pub use error::{exit, ClientError, Result};
pub use events::{no_events, Event, EventSink, Events};
pub use fetch::{message_text, Conflict, FetchReport, FetchedFile};
pub use mailbox::{Opened, MAX_LISTED};
pub use manifest::{Manifest, ManifestError, ManifestOptions, Skipped};
pub use send::{SendJob, SendReport};
pub use streams::{MIN_RATE, PARALLEL_STREAMS};
