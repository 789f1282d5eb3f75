//! qxfer moves files, directory trees, messages and mail between hosts over QUIC with
//! TLS 1.3, to a listener that hosts accounts and mailboxes.
//!
//! Two crates. `qxfer-proto` (in `proto/`) is the pure core, kept pure by the compiler (no
//! runtime, socket, TLS or database crate in its tree; clippy forbids the file system and
//! the system clock there). This crate, `qxfer`, is the I/O around it. Module map, from the
//! wire inwards (⚡ marks the modules that touch quinn):
//!
//! - [`wire`], [`session`], [`policy`], [`challenge`], [`props`]: re-exported from
//!   `qxfer-proto`. Frames and the closed set of messages; the control-session state
//!   machine; every limit, IP lists, admission, activity events, scores and bans, the
//!   challenges' effort and step-up, recovery's and texting's decisions; challenge tickets,
//!   proof of work and the captcha; the properties the fuzz targets check.
//! - [`accounts`]: argon2id password hashes and session tokens; phone numbers (E.164).
//! - [`store`]: the one metadata store (redb): a handle and its transactions, which span
//!   the domains, each in a file of its own (users, registration, recovery, mailbox,
//!   fan-out, deliveries, accounts and tokens, activity, bans). The only module that
//!   touches redb.
//! - [`files`]: data-directory layout, temp name → verify → rename, batched sync.
//! - [`clock`]: the listener's one clock (debug builds can move it forward).
//! - [`config`]: the listener's config file (`[limits]`, `[scoring]`, `[challenges]`,
//!   `[recovery]`, `[sms]`, `[geoip]`).
//! - [`sms`]: `[sms]` and the gateways that send text messages (spool, command, webhook).
//! - [`geoip`]: the operator's MaxMind-format databases (verified whole at start): country
//!   and ASN of an address.
//! - ⚡ [`transport`]: quinn + rustls: certificates and trust, endpoints and their windows,
//!   frame and file-body I/O on streams, close codes.
//! - [`admin`]: operator requests (users, rules, bans, audit, status), carried out once
//!   whether they come through a running listener's admin socket or, with none running,
//!   straight from the CLI.
//! - ⚡ [`server`]: the listener. `connection` runs one connection and applies what the
//!   handlers in `requests/` (one file per request) and `streams/` (one per stream kind)
//!   decide; `shared` is the state all connections share; `bans`, `recorder` and
//!   `activity_log`, `firewall` and `admin` are the automatic firewall and operator side;
//!   `challenges` and `hash_queue` the step-up and the password-hash queue shared fairly;
//!   `account_guard/` and `texts` account recovery's key, places, codes, pending changes,
//!   their announcements and the outbox of texts; `humans` the regularity watch.
//! - ⚡ [`client`]: connect, pin, log in, send, list, fetch; emits typed progress events
//!   (it never calls `progress`).
//! - [`progress`]: renders the client's progress events with indicatif.
//! - [`cli`]: clap definitions (`args/`) and a file per command family; nothing below it
//!   sees clap, and nothing below it uses anyhow: libraries return typed errors.
//!
//! Imports run one way: `cli` → `client`/`server`/`admin` → `transport`/`store`/`files` →
//! `qxfer-proto`, and no two files import each other, directly or around a circle
//! (`tests/it/cycles.rs`). See ARCHITECTURE.md for the life of one upload and the rules
//! that keep this shape.

pub use qxfer_proto::{challenge, policy, props, session, wire};

pub mod accounts;
pub mod admin;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod durable;
pub mod files;
pub mod geoip;
pub mod progress;
pub mod server;
pub mod sms;
pub mod store;
pub mod transport;
