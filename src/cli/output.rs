//! How commands word and print their results: counted nouns, whether progress bars show,
//! and lines on stdout that end quietly when the reader goes away.

use std::io::IsTerminal;

/// Progress bars only for a person watching: not with `--quiet`, `--json` or stderr
/// redirected.
pub fn show_progress(quiet: bool, json: bool) -> bool {
    !quiet && !json && std::io::stderr().is_terminal()
}

/// "1 file", "2 files".
pub fn count(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// `println!` that hands a failed write back (`?`) instead of panicking: a reader that went
/// away (`qxfer audit | head -1`) ends the command quietly, as `main` maps a broken pipe to
/// exit 0.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}
pub(crate) use outln;
