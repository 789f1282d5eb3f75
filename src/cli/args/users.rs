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
    /// Create an account (password from a prompt, QXFER_PASSWORD or --password-stdin); prints
    /// its one-time setup code.
    #[command(after_help = "Examples:\n  echo 'long secret' | qxfer user add alice --password-stdin\n  \
                            qxfer user add alice --phone +34612345678   # a number you vouch for: settled at once\n\n\
                            The setup code lets the new account set up its first number, secret question and\n\
                            recovery codes at once from any network within [recovery] setup_window_secs (1 d):\n  \
                            qxfer account phone verify alice@HOST +34612345678 --setup-code")]
    Add {
        /// Account name: 1-32 of a-z, 0-9, ".", "_", "-".
        name: String,
        #[command(flatten)]
        data: InitDataArgs,
        #[command(flatten)]
        password: PasswordArgs,
        /// A first phone number you vouch for (E.164): verified and settled at once.
        #[arg(long, value_name = "+NUMBER")]
        phone: Option<String>,
    },
    /// An account's phone numbers, as the operator gives them: settled at once (for a lost
    /// or recycled number); the account's mailbox gets a notice, its pending changes stay.
    #[command(after_help = "Examples:\n  qxfer user phone alice add +34612345678\n  \
                            qxfer user phone alice remove +34612345678\n  \
                            qxfer user phone alice replace +34612345678 +34698765432")]
    Phone {
        /// Account name.
        name: String,
        #[command(subcommand)]
        op: UserPhoneCmd,
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

/// `qxfer user phone NAME ...`.
#[derive(Debug, Subcommand)]
pub enum UserPhoneCmd {
    /// Add a number you vouch for (verified and settled at once).
    Add {
        #[arg(value_name = "+NUMBER")]
        number: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Take a number off the account.
    Remove {
        #[arg(value_name = "+NUMBER")]
        number: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Replace a lost or recycled number with one you vouch for (settled at once).
    Replace {
        #[arg(value_name = "+OLD")]
        old: String,
        #[arg(value_name = "+NEW")]
        new: String,
        #[command(flatten)]
        data: DataArgs,
    },
}
