//! Where a listener keeps its data: `--data` for the commands that manage one, and
//! `--init` for those that may create it.

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Args)]
pub struct DataArgs {
    /// Listener data directory [env: QXFER_DATA_DIR; default: the platform data directory].
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
}

/// A data directory that the command may create with `--init`.
#[derive(Debug, Args)]
pub struct InitDataArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Create the data directory (and its identity and database) if it does not exist yet;
    /// `qxfer listen` creates it too.
    #[arg(long)]
    pub init: bool,
}
