//! qxfer's pure core, kept pure by the compiler: this crate depends on no runtime, socket,
//! TLS or database crate, and its clippy configuration forbids the file system and the
//! system clock. Time comes in as an argument; bytes come in as slices.
//!
//! - [`wire`]: frames (length prefix + postcard), the closed set of messages, caps, safe
//!   names. The only way peer bytes become values.
//! - [`session`]: the control-session state machine: what an authenticated (or not)
//!   connection may do next, byte and file quotas of an open delivery.
//! - [`policy`]: every limit in one place, IP allow/block lists, admission of a connection
//!   attempt before the handshake, activity events, suspicion scores and bans.
//! - [`challenge`]: signed challenge tickets, the proof-of-work puzzle, the captcha picture.
//! - [`props`]: properties the fuzz targets and the regression tests check.

pub mod challenge;
pub mod policy;
pub mod props;
pub mod session;
pub mod wire;
