//! `qxfer account ...`: a logged-in account's own settings (phones, secret question,
//! recovery codes, password, sessions) and what every change of them needs.

use clap::{Args, Subcommand};

use super::client::ClientArgs;

/// What every change to an account needs besides the current password (the login's:
/// --password-stdin, QXFER_PASSWORD or a prompt).
#[derive(Debug, Args)]
pub struct ChangeArgs {
    #[command(flatten)]
    pub client: ClientArgs,
    /// Changes of numbers, the question, codes and tokens wait a day from any network (a new
    /// password only away from a known place); this asks for a code texted to the account's
    /// oldest settled number and applies the change at once with it.
    #[arg(long, group = "authorise")]
    pub confirm_by_text: bool,
    /// A new account's first number, question and codes, from any network within the setup
    /// window: asks for the one-time setup code `qxfer user add` printed (no text is sent).
    #[arg(long, group = "authorise")]
    pub setup_code: bool,
    /// With --confirm-by-text or --setup-code: read the code from a line of stdin (the last
    /// one read).
    #[arg(long, requires = "authorise")]
    pub auth_code_stdin: bool,
}

#[derive(Debug, Subcommand)]
pub enum AccountCmd {
    /// Phone numbers (with their age), known places, the secret question, pending changes.
    #[command(after_help = "Example:\n  qxfer account show alice@host.example --json")]
    Show {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Everything the listener holds about the account, as JSON.
    #[command(after_help = "Example:\n  qxfer account export alice@host.example > alice.json")]
    Export {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Phone numbers that recovery codes and announcements go to.
    #[command(subcommand, after_help = "Example:\n  qxfer account phone add alice@host.example +34612345678")]
    Phone(PhoneCmd),
    /// The secret question asked with a texted code when you recover the account.
    #[command(
        subcommand,
        after_help = "Example:\n  qxfer account question set alice@host.example --question \"First pet?\""
    )]
    Question(QuestionCmd),
    /// One-time recovery codes, in place of the secret answer.
    #[command(subcommand, after_help = "Example:\n  qxfer account codes new alice@host.example")]
    Codes(CodesCmd),
    /// Change the password (every other session ends).
    #[command(after_help = "Example:\n  qxfer account passwd alice@host.example")]
    Passwd {
        #[command(flatten)]
        change: ChangeArgs,
        /// Read the new password from the next line of stdin (after the current one).
        #[arg(long)]
        new_password_stdin: bool,
    },
    /// Cancel a pending change (as `qxfer account show` lists it).
    #[command(after_help = "Example:\n  qxfer account cancel alice@host.example 3")]
    Cancel {
        #[command(flatten)]
        client: ClientArgs,
        /// The pending change's id, as `qxfer account show` lists it.
        #[arg(value_name = "ID")]
        id: u64,
    },
    /// Sessions (saved tokens) of the account.
    #[command(subcommand, after_help = "Example:\n  qxfer account tokens list alice@host.example")]
    Tokens(TokensCmd),
    /// Disown a network the account logged in from (as `qxfer account show` lists it): never
    /// a known place again, and every token issued there is revoked. At once from a known
    /// place; from elsewhere it needs --confirm-by-text or waits the delay.
    #[command(after_help = "Example:\n  qxfer account disown alice@host.example 203.0.113.0/24")]
    Disown {
        #[command(flatten)]
        change: ChangeArgs,
        /// The network, as `qxfer account show` lists it (203.0.113.0/24, 2001:db8:1:2::/64).
        #[arg(value_name = "NETWORK")]
        net: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PhoneCmd {
    /// Add a number; a code is texted to it (then `phone verify`).
    #[command(after_help = "Example:\n  qxfer account phone add alice@host.example +34612345678")]
    Add {
        #[command(flatten)]
        client: ClientArgs,
        /// The phone number with its country code (+34612345678; spaces allowed).
        #[arg(value_name = "+NUMBER")]
        number: String,
    },
    /// Confirm a number with the code texted to it.
    #[command(after_help = "Example:\n  qxfer account phone verify alice@host.example +34612345678")]
    Verify {
        #[command(flatten)]
        change: ChangeArgs,
        /// The phone number with its country code (+34612345678; spaces allowed).
        #[arg(value_name = "+NUMBER")]
        number: String,
        /// Read the texted code from the next line of stdin.
        #[arg(long)]
        code_stdin: bool,
    },
    /// Remove a number.
    #[command(after_help = "Example:\n  qxfer account phone remove alice@host.example +34612345678")]
    Remove {
        #[command(flatten)]
        change: ChangeArgs,
        /// The phone number with its country code (+34612345678; spaces allowed).
        #[arg(value_name = "+NUMBER")]
        number: String,
    },
    /// List the numbers.
    #[command(after_help = "Example:\n  qxfer account phone list alice@host.example --json")]
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum QuestionCmd {
    /// Set the secret question and its answer (the answer is asked for, twice).
    #[command(after_help = "Example:\n  qxfer account question set alice@host.example --question \"First pet?\"")]
    Set {
        #[command(flatten)]
        change: ChangeArgs,
        /// The question, as you will be asked it (one line).
        #[arg(long, value_name = "TEXT")]
        question: String,
        /// Read the answer from the next line of stdin.
        #[arg(long)]
        answer_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CodesCmd {
    /// Ten new one-time recovery codes (shown once; the old ones stop working).
    #[command(after_help = "Example:\n  qxfer account codes new alice@host.example")]
    New {
        #[command(flatten)]
        change: ChangeArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokensCmd {
    /// A new token, printed once: with --automation, for scripts (QXFER_TOKEN=... qxfer inbox
    /// USER@HOST): exempt from the checks for behaviour too regular to be human, never from
    /// rate limits or bans.
    #[command(after_help = "Example:\n  qxfer account tokens new alice@host.example --automation > ~/.qxfer-token")]
    New {
        #[command(flatten)]
        client: ClientArgs,
        /// A token for scripts: exempt from the human-timing checks, valid a year. It is a
        /// change: it works only when the delay ends (announced, cancellable), unless made
        /// with --confirm-by-text.
        #[arg(long)]
        automation: bool,
        /// With --automation: a code texted to the account's oldest settled number makes the
        /// token work at once.
        #[arg(long, requires = "automation")]
        confirm_by_text: bool,
        /// With --confirm-by-text: read the code from a line of stdin (after the password).
        #[arg(long, requires = "confirm_by_text")]
        auth_code_stdin: bool,
    },
    /// List the account's sessions.
    #[command(after_help = "Example:\n  qxfer account tokens list alice@host.example --json")]
    List {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// End a session by its id, or all of them (the current password is asked for; from a
    /// network that is not a known place, only the tokens issued to it are ended).
    #[command(after_help = "Example:\n  qxfer account tokens revoke alice@host.example --all")]
    Revoke {
        #[command(flatten)]
        client: ClientArgs,
        /// The session's id, as `tokens list` shows it.
        #[arg(value_name = "ID", required_unless_present = "all")]
        id: Option<String>,
        /// End every session of the account (this one too).
        #[arg(long, conflicts_with = "id")]
        all: bool,
    },
}
