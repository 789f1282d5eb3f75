//! The `command` gateway's one text: a program run without a shell, `{to}` in its
//! arguments replaced by the number, the text on its standard input (never in its
//! arguments, where other users read it in /proc), killed past a timeout, its exit status
//! checked.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::error::SmsError;

/// Run `argv` for one text to `to`.
pub(super) fn run(argv: &[String], timeout: Duration, to: &str, text: &str) -> Result<(), SmsError> {
    let (program, args) = argv.split_first().ok_or(SmsError::NoCommand)?;
    let shown = program.clone();
    let mut child = Command::new(program)
        .args(args.iter().map(|a| a.replace("{to}", to)))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| SmsError::Start(shown.clone(), e))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A text is far smaller than a pipe's buffer: writing it never waits on the command.
        let _ = stdin.write_all(text.as_bytes());
    }
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(SmsError::Failed(shown, status)),
            Ok(None) if started.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(SmsError::Timeout(shown, timeout.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(SmsError::Start(shown, e)),
        }
    }
}
