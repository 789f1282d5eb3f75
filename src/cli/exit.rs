//! Outcomes with an exit code of their own (a usage error, a partial result, an
//! interruption), which `main` maps onto the process's exit code.

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
