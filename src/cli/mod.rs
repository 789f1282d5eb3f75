//! The command line: clap definitions (`args/`, a file per command family), the dispatcher
//! (`run`), and a file per family of commands that turns the arguments into validated
//! configuration and calls into the library. Nothing below this module sees clap.
//!
//! This file declares the modules and names what `main` and the tests use; it defines
//! nothing. Pieces several families share live in files of their own: `exit` (outcomes
//! with their own exit code), `dirs`, `bind`, `connect`, `prompt`, `codes`, `output`,
//! `admin` and `account_reply`.

mod account;
mod account_reply;
mod admin;
mod args;
mod bind;
mod codes;
mod connect;
mod dirs;
mod docs;
mod exit;
mod firewall;
mod identity;
mod inspect;
mod listen;
mod mailbox;
mod output;
mod pending;
mod prompt;
mod recovery;
mod run;
mod transfer;
mod users;

pub use args::{command, listen_threads, Cli, Command};
pub use exit::{partial, usage, Exit};
pub use run::run;
