//! `qxfer inbox`, `qxfer read` and `qxfer delete`: looking through a mailbox and clearing it.

use clap::Args;

use super::client::ClientArgs;
use super::values::parse_id;

#[derive(Debug, Args)]
pub struct InboxArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Only deliveries not yet fetched or read.
    #[arg(long)]
    pub new: bool,
}

#[derive(Debug, Args)]
pub struct ReadArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// The delivery to print (as `qxfer inbox` lists it).
    #[arg(value_name = "ID", value_parser = parse_id)]
    pub id: u64,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Deliveries to delete (as `qxfer inbox` lists them).
    #[arg(value_name = "ID", required = true, value_parser = parse_id)]
    pub ids: Vec<u64>,
}
