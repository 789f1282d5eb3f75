//! `qxfer send` and `qxfer fetch`: what goes up to a mailbox and what comes down from it.

use std::path::PathBuf;

use clap::Args;

use super::client::ClientArgs;
use super::values::{parse_id, parse_recipient};

#[derive(Debug, Args)]
pub struct SendArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Files and directories to send (directories keep their tree).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Message text; "-" reads it from stdin.
    #[arg(short = 'm', long = "message", value_name = "TEXT")]
    pub message: Option<String>,
    /// Subject (makes the delivery a mail).
    #[arg(short = 's', long, value_name = "SUBJECT")]
    pub subject: Option<String>,
    /// Recipient account (default: your own mailbox); repeat for several recipients (one
    /// upload, one delivery each, charged to each one's quota). Names are lower case: `Bob`
    /// is sent to bob, with a note.
    #[arg(long, value_name = "USER", value_parser = parse_recipient)]
    pub to: Vec<String>,
    /// Follow symbolic links inside directories (links named on the command line are always followed).
    #[arg(short = 'L', long)]
    pub follow_symlinks: bool,
    /// Send nothing if any path cannot be sent (default: send the rest, exit 6).
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Delivery ids to fetch (as `qxfer inbox` lists them).
    #[arg(value_name = "ID", value_parser = parse_id, conflicts_with_all = ["all", "new"])]
    pub ids: Vec<u64>,
    /// Fetch every delivery in the mailbox.
    #[arg(long, conflicts_with = "new")]
    pub all: bool,
    /// Fetch the deliveries not yet fetched or read.
    #[arg(long)]
    pub new: bool,
    /// Output directory.
    #[arg(short = 'o', long = "out", value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Leave a file that exists with other content as it is, and go on.
    #[arg(long, conflicts_with = "overwrite")]
    pub skip_existing: bool,
    /// Replace a file that exists with other content, once the new one is verified (never
    /// through a link).
    #[arg(long)]
    pub overwrite: bool,
}
