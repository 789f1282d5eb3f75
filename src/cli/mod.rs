//! The command line: clap definitions (`args`), and turning them into validated
//! configuration and calls into the library (`run`). Nothing below this module sees clap.

mod account;
mod args;
mod run;

pub use args::{listen_threads, Cli, Command};
pub use run::run;

/// An outcome with its own exit code: a usage error found before connecting (2), a partial
/// send or fetch (6), an interruption (130). `message` is printed on stderr unless empty.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Exit {
    pub code: i32,
    pub message: String,
}

/// A usage error (exit 2): the command line cannot work as written.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    Exit { code: crate::client::exit::USAGE, message: message.into() }.into()
}

/// A command that did part of its work (exit 6); what was left out is already listed.
pub fn partial(message: impl Into<String>) -> anyhow::Error {
    Exit { code: crate::client::exit::PARTIAL, message: message.into() }.into()
}

/// Build the clap command (for completions, the man page and the tests of `--help`).
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}
