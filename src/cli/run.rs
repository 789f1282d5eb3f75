//! The dispatcher: each command to the file of its family. Results are printed as a short
//! line per command on stdout, or JSON with `--json`: one document for `send` and `status`
//! (an object), `inbox`, `fetch` and `pending list` (an array); one object per line for `user list`,
//! `firewall list` and `audit`.

use anyhow::Result;

use super::args::{Cli, Command};
use super::exit::Exit;
use super::{account, docs, firewall, identity, inspect, listen, mailbox, pending, recovery, transfer, users};
use crate::client;

pub async fn run(cli: Cli) -> Result<()> {
    let quiet = cli.quiet;
    // Whatever the listener's side creates (the data directory, its database, identity,
    // rules file, spool and mailboxes) is private from the first byte, whichever command
    // creates it. Client commands keep the user's umask for what they fetch.
    if matches!(
        cli.command,
        Command::Listen(_)
            | Command::User(_)
            | Command::Fingerprint(_)
            | Command::Status(_)
            | Command::Firewall(_)
            | Command::Audit(_)
            | Command::Cert(_)
    ) {
        rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    }
    match cli.command {
        Command::Listen(a) => listen::listen(a).await,
        Command::User(cmd) => users::user(cmd, quiet).await,
        Command::Send(a) => interruptible(transfer::send(a, quiet)).await,
        Command::Inbox(a) => interruptible(mailbox::inbox(a)).await,
        Command::Fetch(a) => interruptible(transfer::fetch(a, quiet)).await,
        Command::Read(a) => interruptible(mailbox::read(a)).await,
        Command::Delete(a) => interruptible(mailbox::delete(a, quiet)).await,
        Command::Pending(cmd) => interruptible(pending::pending(cmd, quiet)).await,
        Command::Recover(a) => interruptible(recovery::recover(a)).await,
        Command::Register(a) => interruptible(recovery::register(a)).await,
        Command::Account(cmd) => interruptible(account::account(cmd)).await,
        Command::Fingerprint(a) => identity::fingerprint(a),
        Command::Completions { shell } => docs::completions(shell),
        Command::Man { out } => docs::man(out, quiet),
        Command::Status(a) => inspect::status(a).await,
        Command::Firewall(cmd) => firewall::firewall(cmd).await,
        Command::Audit(a) => inspect::audit(a).await,
        Command::Cert(cmd) => identity::cert(cmd),
    }
}

/// Run a client command until it ends or the user presses Ctrl-C (exit 130; what was
/// transferred is kept, and the same command resumes). Ctrl-C at a prompt ends the prompt's
/// read with "interrupted": the same exit. The progress bars are taken off the terminal
/// first, so the hint is the last thing on the screen.
async fn interruptible(work: impl std::future::Future<Output = Result<()>>) -> Result<()> {
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    // Ctrl-C first, so its handler is in place before the work can block in a prompt
    // (without one, a Ctrl-C there would kill the process with the terminal in raw mode).
    let result = tokio::select! {
        biased;
        _ = &mut ctrl_c => return Err(interrupted()),
        r = work => r,
    };
    match result {
        // Only a read cut short by Ctrl-C itself: the signal arrives with it.
        Err(e) if read_interrupted(&e) && tokio::time::timeout(SIGNAL_WAIT, &mut ctrl_c).await.is_ok() => {
            Err(interrupted())
        }
        r => r,
    }
}

/// How long a read that ended "interrupted" waits to learn whether Ctrl-C was why.
const SIGNAL_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

/// Whether a failure is a read cut short by a signal (a password prompt when Ctrl-C comes).
fn read_interrupted(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::Interrupted))
}

/// Exit 130 with the resume hint, once no progress bar can draw over it.
fn interrupted() -> anyhow::Error {
    crate::progress::clear();
    Exit { code: client::exit::INTERRUPTED, message: "interrupted; run the same command again to resume".into() }.into()
}
