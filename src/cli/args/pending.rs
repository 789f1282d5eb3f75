//! `qxfer pending ...`: your unfinished sends on a listener, listed and abandoned.

use clap::{Args, Subcommand};

use super::client::ClientArgs;
use super::values::parse_id;

#[derive(Debug, Subcommand)]
pub enum PendingCmd {
    /// List your unfinished sends: each one's id, recipient, what it holds, since when, until
    /// when it holds room in the recipient's mailbox, and when it expires.
    #[command(
        after_help = "Examples:\n  qxfer pending list alice@host.example\n  qxfer pending list alice@host.example --json"
    )]
    List(PendingListArgs),
    /// Abandon unfinished sends: their partial files are removed on the listener and the
    /// room they held is freed (in the recipient's mailbox and in your own quota).
    #[command(after_help = "Example:\n  qxfer pending drop alice@host.example 42")]
    Drop(PendingDropArgs),
}

#[derive(Debug, Args)]
pub struct PendingListArgs {
    #[command(flatten)]
    pub client: ClientArgs,
}

#[derive(Debug, Args)]
pub struct PendingDropArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Unfinished sends to abandon (as `qxfer pending list` lists them).
    #[arg(value_name = "ID", required = true, value_parser = parse_id)]
    pub ids: Vec<u64>,
}
