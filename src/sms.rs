//! Sending a text message through the gateway the operator picks (`[sms]`):
//! - `spool`: one JSON file per message (`{"to": ..., "text": ...}`, the webhook's body), mode
//!   0600, named `<ms>-<seq>.json`, written under a temporary name and renamed into place;
//!   for development and tests. It sends nothing.
//! - `command`: a program run without a shell, `{to}` in its arguments replaced by the
//!   number, the text on its standard input (never in its arguments, where other users read
//!   it in /proc), killed past a timeout, its exit status checked.
//!
//! Groundwork for account recovery: the listener does not send texts yet, and the webhook
//! gateway (an HTTPS POST over rustls) is not built.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Why a text was not handed to the gateway.
#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    #[error("writing the text to the spool {0}: {1}")]
    Spool(PathBuf, #[source] std::io::Error),
    #[error("starting the SMS command {0:?}: {1}")]
    Start(String, #[source] std::io::Error),
    #[error("the SMS command {0:?} did not finish within {1} s; it was stopped")]
    Timeout(String, u64),
    #[error("the SMS command {0:?} failed ({1})")]
    Failed(String, std::process::ExitStatus),
    #[error("the SMS command is empty")]
    NoCommand,
}

/// A configured gateway.
#[derive(Debug)]
pub enum Gateway {
    Spool { dir: PathBuf, seq: AtomicU64 },
    Command { argv: Vec<String>, timeout: Duration },
}

impl Gateway {
    pub fn spool(dir: PathBuf) -> Gateway {
        Gateway::Spool { dir, seq: AtomicU64::new(0) }
    }

    /// Hand `text` for `to` (E.164) to the gateway; `now_ms` names spool files.
    pub fn send(&self, to: &str, text: &str, now_ms: u64) -> Result<(), SmsError> {
        match self {
            Gateway::Spool { dir, seq } => {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                spool(dir, &format!("{now_ms}-{n}.json"), to, text)
            }
            Gateway::Command { argv, timeout } => command(argv, *timeout, to, text),
        }
    }
}

fn spool(dir: &Path, name: &str, to: &str, text: &str) -> Result<(), SmsError> {
    use std::os::unix::fs::OpenOptionsExt;
    let err = |e| SmsError::Spool(dir.to_owned(), e);
    crate::files::create_private_dir(dir).map_err(err)?;
    let body = serde_json::json!({ "to": to, "text": text }).to_string();
    let tmp = dir.join(format!(".{name}.part"));
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).map_err(err)?;
    f.write_all(body.as_bytes()).and_then(|_| f.sync_all()).map_err(err)?;
    std::fs::rename(&tmp, dir.join(name)).map_err(err)
}

fn command(argv: &[String], timeout: Duration, to: &str, text: &str) -> Result<(), SmsError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spool_writes_one_private_json_file_per_text() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool_dir = dir.path().join("sms");
        let g = Gateway::spool(spool_dir.clone());
        g.send("+34600000001", "code 12345678", 1_800_000_000_000).expect("first");
        g.send("+34600000002", "code 87654321", 1_800_000_000_000).expect("second");
        let mut names: Vec<String> = std::fs::read_dir(&spool_dir)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["1800000000000-0.json", "1800000000000-1.json"]);
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(spool_dir.join(&names[0])).expect("read")).expect("json");
        assert_eq!((v["to"].as_str(), v["text"].as_str()), (Some("+34600000001"), Some("code 12345678")));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(spool_dir.join(&names[0])).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(std::fs::metadata(&spool_dir).expect("meta").permissions().mode() & 0o777, 0o700);
    }

    #[test]
    fn the_command_gets_the_number_in_its_arguments_and_the_text_on_stdin() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        let script = format!("cat > {}; echo \"$1\" >> {}", out.display(), out.display());
        let argv = vec!["sh".into(), "-c".into(), script, "sms".into(), "{to}".into()];
        let g = Gateway::Command { argv, timeout: Duration::from_secs(5) };
        g.send("+34600000001", "code 12345678\n", 0).expect("sent");
        assert_eq!(std::fs::read_to_string(&out).expect("out"), "code 12345678\n+34600000001\n");
    }

    #[test]
    fn a_failing_or_hanging_command_is_reported() {
        let fail = Gateway::Command { argv: vec!["false".into()], timeout: Duration::from_secs(5) };
        assert!(matches!(fail.send("+1", "x", 0), Err(SmsError::Failed(..))));
        let hang = Gateway::Command { argv: vec!["sleep".into(), "30".into()], timeout: Duration::from_millis(200) };
        let started = Instant::now();
        assert!(matches!(hang.send("+1", "x", 0), Err(SmsError::Timeout(..))));
        assert!(started.elapsed() < Duration::from_secs(5));
        let missing = Gateway::Command { argv: vec!["/no/such/sms-tool".into()], timeout: Duration::from_secs(1) };
        assert!(matches!(missing.send("+1", "x", 0), Err(SmsError::Start(..))));
        assert!(matches!(
            Gateway::Command { argv: vec![], timeout: Duration::from_secs(1) }.send("+1", "x", 0),
            Err(SmsError::NoCommand)
        ));
    }
}
