//! A configured gateway ([`Gateway`]): spool, command or webhook, and handing it one text.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::error::SmsError;
use super::webhook::Webhook;
use super::{command, spool};

/// A configured gateway.
#[derive(Debug)]
pub enum Gateway {
    /// Writes each text to a JSON file in `dir`; sends nothing.
    Spool {
        /// Where the files go (created 0700 if missing).
        dir: PathBuf,
        /// Tells apart files written in the same millisecond.
        seq: AtomicU64,
    },
    /// Runs `argv` (no shell) per text, the number for `{to}`, the text on stdin.
    Command {
        /// Program and arguments; `{to}` in an argument becomes the number.
        argv: Vec<String>,
        /// How long the program may run before it is killed.
        timeout: Duration,
    },
    /// POSTs each text to an HTTPS webhook (see [`Webhook`]).
    Webhook(Webhook),
}

impl Gateway {
    /// The spool gateway writing under `dir`.
    pub fn spool(dir: PathBuf) -> Gateway {
        Gateway::Spool { dir, seq: AtomicU64::new(0) }
    }

    /// Hand `text` for `to` (E.164) to the gateway; `now_ms` names spool files. Blocking: a
    /// webhook may take `(retries + 1) * timeout` plus its backoff, so call it from a thread
    /// of its own.
    pub fn send(&self, to: &str, text: &str, now_ms: u64) -> Result<(), SmsError> {
        match self {
            Gateway::Spool { dir, seq } => {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                spool::write(dir, &format!("{now_ms}-{n}.json"), to, text)
            }
            Gateway::Command { argv, timeout } => command::run(argv, *timeout, to, text),
            Gateway::Webhook(w) => w.post(to, text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

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
