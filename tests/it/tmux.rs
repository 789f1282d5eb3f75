//! A shell in tmux: the client on a real terminal, as a person runs it (`send-keys` types,
//! `capture-pane` reads the screen). One tmux server per test, stopped when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    /// Whether tmux is installed; when not, says that the test is skipped.
    pub fn installed() -> bool {
        let here = Command::new("tmux").arg("-V").output().is_ok();
        if !here {
            eprintln!("tmux is not installed; skipped");
        }
        here
    }

    /// A `cols`×`rows` terminal running `line` in `sh`, its server's socket in `dir`.
    pub fn start(dir: &Path, (cols, rows): (u16, u16), line: &str) -> Tmux {
        let t = Tmux { socket: dir.join("tmux.sock") };
        let (x, y) = (cols.to_string(), rows.to_string());
        let started = t.run(&["new-session", "-d", "-x", &x, "-y", &y, "sh", "-c", line]);
        assert!(started.status.success(), "{}", String::from_utf8_lossy(&started.stderr));
        t
    }

    pub fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux").arg("-S").arg(&self.socket).args(args).output().expect("tmux")
    }

    /// What the terminal shows now.
    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p"]).stdout).into_owned()
    }

    /// The screen with up to 100 lines scrolled off above it.
    pub fn history(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p", "-S", "-100"]).stdout).into_owned()
    }

    /// The screen once it shows `what`; at most `secs`.
    pub fn wait_for(&self, what: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let shown = self.screen();
            if shown.contains(what) {
                return shown;
            }
            assert!(Instant::now() < deadline, "{what:?} never showed:\n{shown}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The history once `n` of its lines contain `what`; at most 20 s.
    pub fn wait_for_lines(&self, what: &str, n: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let shown = self.history();
            if shown.lines().filter(|l| l.contains(what)).count() >= n {
                return shown;
            }
            assert!(Instant::now() < deadline, "{what:?} not shown {n} times:\n{shown}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Type `text` and Enter.
    pub fn type_line(&self, text: &str) {
        self.run(&["send-keys", "-l", text]);
        self.run(&["send-keys", "Enter"]);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// The exit code a shell line wrote to `file` (`echo $? > FILE`), once written whole; at
/// most 30 s.
pub fn exit_code(file: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(code) = std::fs::read_to_string(file) {
            if code.ends_with('\n') {
                return code.trim().to_owned();
            }
        }
        assert!(Instant::now() < deadline, "the client did not finish");
        std::thread::sleep(Duration::from_millis(50));
    }
}
