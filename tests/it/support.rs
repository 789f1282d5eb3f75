//! Helpers: start a listener process, run client commands with isolated config dirs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "../shared/mod.rs"]
#[allow(dead_code)]
pub mod shared;

pub use shared::{pseudo_random, PASSWORD};

pub fn qxfer() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_qxfer"));
    c.env_remove("QXFER_USER").env_remove("QXFER_PASSWORD").env_remove("QXFER_DATA_DIR").env_remove("QXFER_TOKEN");
    c.env("QXFER_LOG", "qxfer=info,warn");
    c
}

pub struct Listener {
    child: Option<Child>,
    pub addr: String,
    pub fingerprint: String,
    pub data: tempfile::TempDir,
    log: PathBuf,
    args: Vec<String>,
    /// How far the test moved the listener's clock (a restart keeps it there).
    moved: std::cell::Cell<u64>,
}

impl Listener {
    pub fn start() -> Self {
        let data = tempfile::tempdir().expect("tempdir");
        Self::start_in(data, &[])
    }

    /// A listener whose `--config` file holds `toml`.
    pub fn with_config(toml: &str) -> Self {
        let data = tempfile::tempdir().expect("tempdir");
        let config = data.path().join("qxfer.toml");
        std::fs::write(&config, toml).expect("config");
        let config = config.to_str().expect("utf8").to_owned();
        Self::start_in(data, &["--config", &config])
    }

    /// [`Listener::with_config`], with environment variables for the listener process.
    pub fn with_config_env(toml: &str, env: &[(&str, &str)]) -> Self {
        let data = tempfile::tempdir().expect("tempdir");
        let config = data.path().join("config.toml");
        std::fs::write(&config, toml).expect("config");
        let config = config.to_str().expect("utf8").to_owned();
        Self::start_with_env(data, "127.0.0.1:0", &["--config", &config], env)
    }

    pub fn start_in(data: tempfile::TempDir, extra: &[&str]) -> Self {
        Self::start_on(data, "127.0.0.1:0", extra)
    }

    pub fn start_on(data: tempfile::TempDir, bind: &str, extra: &[&str]) -> Self {
        Self::start_with_env(data, bind, extra, &[])
    }

    /// Without a `--config` of its own, a test listener gets one that never bans: tests of
    /// other features misbehave from 127.0.0.1 on purpose. The ban tests bring their own.
    pub fn start_with_env(data: tempfile::TempDir, bind: &str, extra: &[&str], env: &[(&str, &str)]) -> Self {
        let log = data.path().join("listener.log");
        let no_bans = data.path().join("no-bans.toml");
        let mut extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        if !extra.iter().any(|a| a == "--config") {
            std::fs::write(&no_bans, "[scoring]\nthreshold = 1000000\nprefix_threshold = 1000000\n").expect("config");
            extra.push("--config".into());
            extra.push(no_bans.to_string_lossy().into_owned());
        }
        let mut cmd = qxfer();
        cmd.envs(env.iter().copied()).stderr(std::fs::File::create(&log).expect("log file"));
        let started = shared::start_listener(cmd, &data.path().join("d"), bind, &extra).expect("start listener");
        let (child, addr, fingerprint) = (started.child, started.addr, started.fingerprint);
        let moved = env
            .iter()
            .find(|(k, _)| *k == "QXFER_TEST_CLOCK_OFFSET_SECS")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        Self { child: Some(child), addr, fingerprint, data, log, args: extra, moved: std::cell::Cell::new(moved) }
    }

    /// The listener process's id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Threads of the listener process now.
    pub fn threads(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status.lines().find_map(|l| l.strip_prefix("Threads:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.data.path().join("d")
    }

    pub fn admin(&self) -> Command {
        let mut c = qxfer();
        c.env("QXFER_DATA_DIR", self.data_dir());
        c
    }

    pub fn add_user(&self, name: &str) {
        let out = shared::add_user(self.admin(), name).expect("user add");
        assert!(out.status.success(), "user add: {}", String::from_utf8_lossy(&out.stderr));
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn status(&self) -> serde_json::Value {
        let out = self.admin().args(["status", "--json"]).output().expect("status");
        assert!(out.status.success(), "status: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("status json")
    }

    /// Wait (at most 20 s) until the firewall holds a ban for `net` (`127.0.0.3/32`): bans
    /// land from the activity recorder a moment after the offence, later on a busy host.
    pub fn wait_for_ban(&self, net: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let out = self.admin().args(["firewall", "list", "--json"]).output().expect("firewall list");
            let banned = String::from_utf8_lossy(&out.stdout).lines().any(|l| {
                serde_json::from_str::<serde_json::Value>(l).is_ok_and(|v| v["rule"] == "ban" && v["net"] == net)
            });
            if banned {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "{net} was not banned: {}", self.log());
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// How many events of `kind` from `source` the activity log holds (the last day).
    pub fn recorded(&self, source: &str, kind: &str) -> u64 {
        let out =
            ok(&self.admin().args(["audit", "--source", source, "--kind", kind, "--json"]).output().expect("audit"));
        out.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["type"] == "kind" && v["kind"] == kind)
            .and_then(|v| v["count"].as_u64())
            .unwrap_or(0)
    }

    /// Wait (at most 20 s) until the activity log holds `n` events of `kind` from `source`:
    /// what the listener decides from them (a ban, or none) is decided by then.
    pub fn wait_recorded(&self, source: &str, kind: &str, n: u64) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while self.recorded(source, kind) < n {
            assert!(std::time::Instant::now() < deadline, "{n} {kind} from {source} were not recorded: {}", self.log());
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// Move the running listener's clock `secs` forward (a debug-build admin request), so
    /// tests of expiry and escalation need not sleep.
    pub fn advance_clock(&self, secs: u64) {
        // (Right after a start the control socket may not be up yet: the admin client then
        // finds the database open; try again.)
        let start = Instant::now();
        let reply = loop {
            let req = qxfer::wire::AdminRequest::AdvanceClock { secs };
            match crate::raw::run(qxfer::admin::client::admin(&self.data_dir(), req)) {
                Ok(reply) => break reply,
                Err(e) if start.elapsed() > Duration::from_secs(10) => panic!("admin socket: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        assert_eq!(reply, qxfer::wire::AdminResponse::Done, "advance clock");
        self.moved.set(self.moved.get() + secs);
    }

    /// SIGTERM, then wait; returns the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        signal(&child, "-TERM");
        wait_timeout(&mut child, Duration::from_secs(10)).expect("listener exits after SIGTERM")
    }

    /// After the listener died (a fault injected on purpose), start it again on the same
    /// data directory and address, without the environment it crashed with.
    pub fn restart_after_crash(mut self) -> Self {
        if let Some(mut child) = self.child.take() {
            if wait_timeout(&mut child, Duration::from_secs(10)).is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let data = std::mem::replace(&mut self.data, tempfile::tempdir().expect("tempdir"));
        let old = std::fs::read_to_string(&self.log).unwrap_or_default();
        std::fs::write(data.path().join("listener.old.log"), old).expect("keep log");
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        Self::start_on(data, &self.addr.clone(), &args)
    }

    /// Stop, keeping the data directory, and start again on it at the same address, its
    /// clock where the test had moved it (nothing else of the old process survives).
    pub fn restart(mut self) -> Self {
        assert!(self.stop().success());
        let data = std::mem::replace(&mut self.data, tempfile::tempdir().expect("tempdir"));
        // The log file is replaced; keep the old one's text around.
        let old = std::fs::read_to_string(&self.log).unwrap_or_default();
        std::fs::write(data.path().join("listener.old.log"), old).expect("keep log");
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let moved = self.moved.get().to_string();
        Self::start_with_env(data, &self.addr.clone(), &args, &[("QXFER_TEST_CLOCK_OFFSET_SECS", &moved)])
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn signal(child: &Child, sig: &str) {
    let _ = Command::new("kill").arg(sig).arg(child.id().to_string()).status();
}

pub fn wait_timeout(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    None
}

pub fn run_stdin(cmd: &mut Command, input: &str) -> Output {
    use std::io::Write;
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    // A command that refuses before reading its input (a missing data directory, say) may
    // have exited already: a broken pipe is its answer, not a test failure.
    match child.stdin.take().expect("stdin").write_all(format!("{input}\n").as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("write stdin: {e}"),
        _ => {}
    }
    child.wait_with_output().expect("wait")
}

/// A client with its own config directory (known_hosts, session tokens) and work dir.
pub struct User {
    pub name: String,
    pub config: tempfile::TempDir,
    pub work: tempfile::TempDir,
    pub addr: String,
}

impl User {
    pub fn new(listener: &Listener, name: &str) -> Self {
        Self {
            name: name.to_owned(),
            config: tempfile::tempdir().expect("tempdir"),
            work: tempfile::tempdir().expect("tempdir"),
            addr: listener.addr.clone(),
        }
    }

    /// `qxfer CMD HOST --user NAME --accept-new` with the password in the environment.
    pub fn cmd(&self, sub: &str) -> Command {
        let mut c = qxfer();
        c.current_dir(self.work.path())
            .env("QXFER_CONFIG_DIR", self.config.path())
            .env("QXFER_PASSWORD", PASSWORD)
            .args([sub, &self.addr, "--user", &self.name, "--accept-new"]);
        c
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.work.path().join(rel)
    }
}

pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "command failed ({:?}):\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn hash(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    blake3::hash(&bytes).to_hex().to_string()
}

/// Every file below `dir`, relative, sorted.
pub fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).expect("prefix").to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}
