//! `qxfer user ...`: the accounts of a listener's data directory, and where a new password
//! comes from.

use clap::{Args, Subcommand};

use super::data::{DataArgs, InitDataArgs};

#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// Read the password from the first line of stdin instead of prompting.
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Create an account (password from a prompt, QXFER_PASSWORD or --password-stdin).
    #[command(after_help = "Example:\n  echo 'long secret' | qxfer user add alice --password-stdin")]
    Add {
        /// Account name: 1-32 of a-z, 0-9, ".", "_", "-".
        name: String,
        #[command(flatten)]
        data: InitDataArgs,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Delete an account, its sessions and its mailbox.
    #[command(after_help = "Example:\n  qxfer user remove alice")]
    Remove {
        /// Account name.
        name: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// List accounts.
    #[command(after_help = "Example:\n  qxfer user list --json")]
    List {
        #[command(flatten)]
        data: DataArgs,
        /// One JSON object per account on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Change an account's password (revokes its sessions).
    #[command(after_help = "Example:\n  qxfer user passwd alice")]
    Passwd {
        /// Account name.
        name: String,
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        password: PasswordArgs,
    },
}
