//! How client commands word their results: counted nouns, and whether progress bars show.

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
