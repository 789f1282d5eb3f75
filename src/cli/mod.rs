//! The command line: clap definitions (`args`), and turning them into validated
//! configuration and calls into the library (`run`). Nothing below this module sees clap.

mod args;
mod run;

pub use args::{Cli, Command};
pub use run::run;
