//! A reader that goes away is not an error: commands whose stdout is a pipe nobody reads any
//! more end quietly with exit 0 (no panic, no message), and a listener whose stdout is
//! closed keeps serving. The pipes here are closed before the command writes a byte, so
//! every write meets EPIPE, whatever the timing.

use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

/// The writing end of a pipe whose reading end is already closed.
fn closed_pipe() -> Stdio {
    let mut fds = [0i32; 2];
    // SAFETY: `pipe` fills two new descriptors; each is owned exactly once below.
    let rc = unsafe { libc::pipe(fds.as_mut_ptr()) };
    assert_eq!(rc, 0, "pipe: {}", std::io::Error::last_os_error());
    // SAFETY: fresh descriptors from `pipe`, not owned elsewhere.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    drop(read);
    Stdio::from(write)
}

/// Run `cmd` with stdout a closed pipe: it must exit 0 and say nothing on stderr.
fn ends_quietly(cmd: &mut Command, what: &str) {
    let out = cmd.stdout(closed_pipe()).stderr(Stdio::piped()).output().expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{what}: {:?}, stderr: {err}", out.status);
    assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{what}: {err}");
}

#[test]
fn commands_end_quietly_when_their_reader_goes_away() {
    ends_quietly(qxfer().args(["completions", "bash"]), "completions bash");
    ends_quietly(qxfer().args(["man"]), "man");
    let l = Listener::start();
    l.add_user("alice");
    l.add_user("bob");
    ends_quietly(l.admin().args(["user", "list"]), "user list");
    ends_quietly(l.admin().args(["audit", "--json"]), "audit --json");
    ends_quietly(l.admin().args(["audit"]), "audit");
    ends_quietly(l.admin().args(["firewall", "list", "--json"]), "firewall list --json");
    ends_quietly(l.admin().args(["status"]), "status");
    let alice = User::new(&l, "alice");
    ok(&alice.cmd("send").args(["--to", "bob", "-m", "hello"]).output().expect("send"));
    let bob = User::new(&l, "bob");
    ends_quietly(&mut bob.cmd("inbox"), "inbox");
    ends_quietly(bob.cmd("inbox").arg("--json"), "inbox --json");
}

#[test]
fn a_listener_with_a_closed_stdout_keeps_serving() {
    let data = tempfile::tempdir().expect("tempdir");
    let port = std::net::UdpSocket::bind("127.0.0.1:0").expect("udp").local_addr().expect("addr").port();
    let config = data.path().join("no-bans.toml");
    std::fs::write(&config, "[scoring]\nthreshold = 1000000\nprefix_threshold = 1000000\n").expect("config");
    let dir = data.path().join("d");
    let mut child = qxfer()
        .args(["listen", "--bind", &format!("127.0.0.1:{port}"), "--data"])
        .arg(&dir)
        .arg("--config")
        .arg(&config)
        .stdout(closed_pipe())
        .stderr(std::fs::File::create(data.path().join("listener.log")).expect("log"))
        .spawn()
        .expect("listen");
    let admin = || {
        let mut c = qxfer();
        c.env("QXFER_DATA_DIR", &dir);
        c
    };
    // Ready when its admin socket answers (the ready line went nowhere).
    let deadline = Instant::now() + Duration::from_secs(20);
    while !admin().args(["status", "--json"]).output().is_ok_and(|o| o.status.success()) {
        assert!(child.try_wait().expect("try_wait").is_none(), "the listener stopped: {:?}", child.try_wait());
        assert!(Instant::now() < deadline, "the listener never answered its admin socket");
        std::thread::sleep(Duration::from_millis(50));
    }
    ok(&shared::add_user(admin(), "carol").expect("user add"));
    let config_dir = tempfile::tempdir().expect("tempdir");
    let out = qxfer()
        .env("QXFER_CONFIG_DIR", config_dir.path())
        .env("QXFER_PASSWORD", PASSWORD)
        .args(["inbox", &format!("127.0.0.1:{port}"), "--user", "carol", "--accept-new"])
        .output()
        .expect("inbox");
    ok(&out);
    assert!(child.try_wait().expect("try_wait").is_none(), "the listener stopped");
    signal(&child, "-TERM");
    let status = wait_timeout(&mut child, Duration::from_secs(20)).expect("the listener did not stop on SIGTERM");
    assert!(
        status.success(),
        "{status:?}: {}",
        std::fs::read_to_string(data.path().join("listener.log")).unwrap_or_default()
    );
}
