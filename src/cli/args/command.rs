//! The top of the command line: the global flags (`Cli`), the list of commands (`Command`)
//! with each one's help and examples, and the clap command built from them.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use super::account::AccountCmd;
use super::data::InitDataArgs;
use super::firewall::FirewallCmd;
use super::identity::CertCmd;
use super::inspect::{audit_help, AuditArgs, StatusArgs};
use super::listen::ListenArgs;
use super::mailbox::{DeleteArgs, InboxArgs, ReadArgs};
use super::pending::PendingCmd;
use super::recovery::{RecoverArgs, RegisterArgs};
use super::transfer::{FetchArgs, SendArgs};
use super::users::UserCmd;

#[derive(Debug, Parser)]
#[command(
    name = "qxfer",
    version,
    about = "Send files, directories, messages and mail over QUIC + TLS 1.3 to a hardened receiver",
    after_help = "Examples:\n  qxfer listen\n  qxfer user add alice\n  qxfer send --accept-new alice@host.example report.pdf photos/ -s \"Holiday\" -m \"Pictures attached\"\n  qxfer inbox alice@host.example\n  qxfer fetch alice@host.example --all -o ~/Downloads\n\nExit codes:\n  0 ok\n  1 error\n  2 usage error\n  3 authentication failed\n  4 listener certificate not trusted\n  5 refused by the listener (this address is banned, or the listener is full)\n  6 partial (some paths or deliveries left out, each listed)\n  7 challenge failed\n  130 interrupted (run the same command again to resume)"
)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// No progress bars and no summary lines.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the receiving listener.
    #[command(after_help = "Example:\n  qxfer listen --bind 0.0.0.0:4433 --bind [::]:4433 --data /var/lib/qxfer")]
    Listen(ListenArgs),
    /// Manage accounts on a listener's data directory (works while it runs).
    #[command(subcommand, after_help = "Examples:\n  qxfer user add alice\n  qxfer user list --json")]
    User(UserCmd),
    /// Send files, directories, a message or mail to an account.
    #[command(
        after_help = "Examples:\n  qxfer send alice@host.example notes.txt          # to your own mailbox\n  qxfer send alice@host.example --to bob -s \"Report\" -m \"See attached\" report.pdf\n  qxfer send alice@host.example --to bob --to carol slides.pdf\n  echo hello | qxfer send alice@host.example --to bob -m -\n  qxfer send office .                               # an alias from config.toml; this directory\n  QXFER_PASSWORD=… qxfer send --user alice --fingerprint sha256:… 10.0.0.5:4433 dir/\n\nWhat cannot be sent (unreadable, missing, a name other systems cannot store, a dangling link) is listed and the rest is sent; the exit code is then 6. --strict sends nothing instead."
    )]
    Send(SendArgs),
    /// List the deliveries in your mailbox.
    #[command(
        after_help = "Examples:\n  qxfer inbox alice@host.example\n  qxfer inbox alice@host.example --new --json"
    )]
    Inbox(InboxArgs),
    /// Download deliveries from your mailbox.
    #[command(
        after_help = "Examples:\n  qxfer fetch alice@host.example 12 13 -o inbox/\n  qxfer fetch alice@host.example --new\n  qxfer fetch alice@host.example --all --skip-existing\n\nFiles land in DIR/<id>/<path>, a message's text in DIR/<id>.txt. Fetched deliveries are marked seen. Files keep their sender's permission bits (never set-id) and modification time. A delivery that cannot be fetched (unknown id, a different file already there) is reported and the others are fetched; the exit code is then 6."
    )]
    Fetch(FetchArgs),
    /// Print a delivery's message (headers and body) and list its files; marks it seen.
    #[command(after_help = "Example:\n  qxfer read alice@host.example 12 | less")]
    Read(ReadArgs),
    /// Delete deliveries from your mailbox (their files and quota are freed).
    #[command(after_help = "Example:\n  qxfer delete alice@host.example 12 13")]
    Delete(DeleteArgs),
    /// Your unfinished sends (interrupted and not resumed): list them, or abandon them to
    /// free the room they hold.
    #[command(
        subcommand,
        after_help = "Examples:\n  qxfer pending list alice@host.example\n  qxfer pending drop alice@host.example 42\n\nRunning an interrupted send's command again resumes it instead."
    )]
    Pending(PendingCmd),
    /// Recover an account whose password is lost: a code texted to its oldest phone number,
    /// with the secret answer or a recovery code (`qxfer recover cancel HOST CODE` cancels a
    /// pending change with a texted cancel code).
    #[command(
        after_help = "Examples:\n  qxfer recover host.example --user alice\n  qxfer recover cancel host.example k4x9m-qe7tr-a3cdf\n\nFor scripts, --answer-stdin (or --recovery-code-stdin), --password-stdin (the NEW password) and\n--code-stdin read the answer, the new password and then the texted code from lines of stdin, in\nthat order: everything is checked before a code is texted.",
        mut_arg("password_stdin", |a| a.help("Read the NEW password from a line of stdin (after the answer)"))
    )]
    Recover(RecoverArgs),
    /// Create an account on a listener that takes registrations: a name, a password (typed
    /// twice), a captcha; optionally a phone number verified by a texted code.
    #[command(
        after_help = "Examples:\n  qxfer register alice@files.example.org\n  qxfer register alice@files.example.org --phone +34612345678",
        mut_arg("password_stdin", |a| a.help("Read the new account's password from the first line of stdin"))
    )]
    Register(RegisterArgs),
    /// Your account on a listener: phone numbers, secret question, recovery codes, password,
    /// sessions.
    #[command(
        subcommand,
        after_help = "Examples:\n  qxfer account show alice@host.example\n  qxfer account phone add alice@host.example +34612345678\n  qxfer account question set alice@host.example --question \"First pet?\"\n  qxfer account passwd alice@host.example"
    )]
    Account(AccountCmd),
    /// Print the listener's certificate fingerprint (to compare with what a client shows).
    #[command(after_help = "Example:\n  qxfer fingerprint --data /var/lib/qxfer")]
    Fingerprint(InitDataArgs),
    /// Show a running listener's counters.
    #[command(after_help = "Example:\n  qxfer status --data /var/lib/qxfer --json")]
    Status(StatusArgs),
    /// Make a private CA and listener certificates signed by it.
    #[command(
        subcommand,
        after_help = "Example:\n  qxfer cert ca --out ./my-ca && qxfer cert issue --ca ./my-ca --out ./listener host.example"
    )]
    Cert(CertCmd),
    /// Show and change the listener's IP rules and bans (works while it runs).
    #[command(subcommand, after_help = "Examples:\n  qxfer firewall list\n  qxfer firewall ban 203.0.113.7 --for 1h")]
    Firewall(FirewallCmd),
    /// What happened: offending sources and accounts, events by kind and hour, latest events.
    #[command(after_help = audit_help())]
    Audit(AuditArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(
        after_help = "Examples:\n  qxfer completions bash > ~/.local/share/bash-completion/completions/qxfer\n  qxfer completions zsh > ~/.zfunc/_qxfer\n  qxfer completions fish > ~/.config/fish/completions/qxfer.fish"
    )]
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout, or write a page per command into a directory.
    #[command(
        after_help = "Examples:\n  qxfer man > qxfer.1 && man ./qxfer.1\n  qxfer man --out /usr/local/share/man/man1"
    )]
    Man {
        /// Write qxfer.1 and a qxfer-COMMAND.1 page for every command into DIR.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

/// Build the clap command (for completions, the man page and the tests of `--help`).
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}
