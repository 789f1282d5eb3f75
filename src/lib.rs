//! qxfer moves files, directory trees, messages and mail between hosts over QUIC with
//! TLS 1.3, to a listener that hosts accounts and mailboxes.
//!
//! Module map, from the wire inwards:
//! - [`wire`]: pure. Frames (length prefix + postcard), the closed set of messages, caps,
//!   safe names. The only way peer bytes become values.
//! - [`session`]: pure. The control-session state machine: what an authenticated (or not)
//!   connection may do next, byte and file quotas of an open delivery.
//! - [`policy`]: pure. Every limit in one place, IP allow/block lists, admission of a
//!   connection attempt before the handshake, activity events, suspicion scores and bans.
//! - [`accounts`]: argon2id password hashes and session tokens.
//! - [`store`]: the redb database (accounts, tokens, deliveries, mailboxes). Only module
//!   that touches redb.
//! - [`transport`]: quinn + rustls glue: certificates and trust, endpoints and their limits,
//!   frame and file-body I/O on streams. Only module that touches quinn.
//! - [`files`]: data-directory layout, temp name → verify → rename, batched sync.
//! - [`server`]: the listener: accept loop, per-connection tasks, request handlers, admin
//!   socket, IP rules file, the activity recorder (the one writer of the activity log) and
//!   the audit.
//! - [`client`]: connect, pin, log in, send, list, fetch; emits progress events.
//! - [`progress`]: renders progress events with indicatif.
//! - [`cli`]: clap definitions and dispatch; nothing below it sees clap.
//! - [`props`]: properties the fuzz targets and the regression tests check.

pub use qxfer_proto::{policy, props, session, wire};

pub mod accounts;
pub mod admin;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod files;
pub mod progress;
pub mod server;
pub mod store;
pub mod transport;
