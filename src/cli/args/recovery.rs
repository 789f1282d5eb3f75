//! `qxfer recover` and `qxfer register`: reaching an account without its password, and
//! making a new one.

use clap::Args;

use super::client::ClientArgs;

/// `qxfer recover`.
#[derive(Debug, Args)]
pub struct RecoverArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// With `cancel` or `disown` as HOST: the listener and the texted code (`qxfer recover
    /// cancel HOST CODE` cancels a pending change; `qxfer recover disown HOST CODE` disowns
    /// the new network a text told you of).
    #[arg(value_name = "HOST CODE", num_args = 0..=2)]
    pub rest: Vec<String>,
    /// Read the texted code from a line of stdin (the last one read) instead of prompting.
    #[arg(long)]
    pub code_stdin: bool,
    /// Read the secret answer from a line of stdin instead of prompting.
    #[arg(long, conflicts_with = "recovery_code_stdin")]
    pub answer_stdin: bool,
    /// Read a recovery code (instead of the secret answer) from a line of stdin.
    #[arg(long)]
    pub recovery_code_stdin: bool,
}

/// `qxfer register`.
#[derive(Debug, Args)]
pub struct RegisterArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Add this phone number too (E.164, as +34612345678), verified by a texted code: it is
    /// how you recover the account if you forget the password.
    #[arg(long, value_name = "+NUMBER")]
    pub phone: Option<String>,
    /// Read the texted code for --phone from the next line of stdin.
    #[arg(long, requires = "phone")]
    pub code_stdin: bool,
}
