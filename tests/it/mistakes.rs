//! A user's mistakes are not attacks: what the client can check never reaches the listener,
//! what reaches it weighs little, the listener's own host is exempt, a prefix ban needs
//! several offenders, and a banned client is told in words, once.

use std::time::{Duration, Instant};

use crate::raw::{run, Raw};
use crate::support::*;

/// The defaults, except a short failed-login delay so the test runs quickly, and no
/// human-timing floor: the captcha after three wrong passwords is answered by the
/// debug-build hook at machine speed.
const DEFAULTS: &str = "[limits]\nfailed_login_delay_ms = 50\n[challenges]\nmin_human_ms = 0\nper_char_ms = 0\n";

/// A listener with [`DEFAULTS`] and the captcha answer hook; the hook's file.
fn listener() -> (Listener, tempfile::TempDir) {
    let hooks = tempfile::tempdir().expect("tempdir");
    let answers = hooks.path().join("answers.txt");
    let listener =
        Listener::with_config_env(DEFAULTS, &[("QXFER_TEST_CAPTCHA_ANSWERS", answers.to_str().expect("utf8"))]);
    (listener, hooks)
}

/// `qxfer inbox` with the right password after wrong ones: the step-up asks for a captcha,
/// which the hook answers for the person.
fn inbox_after_step_up(user: &User, addr: &str, hooks: &tempfile::TempDir) {
    ok(&from(user, addr, "inbox")
        .env("QXFER_TEST_CAPTCHA_ANSWERS", hooks.path().join("answers.txt"))
        .output()
        .expect("inbox"));
}

/// `qxfer CMD` for `user` from the loopback address `from`.
fn from(user: &User, from: &str, sub: &str) -> std::process::Command {
    let mut c = user.cmd(sub);
    c.args(["--bind", from]);
    c
}

fn bans(listener: &Listener) -> String {
    ok(&listener.admin().args(["firewall", "list"]).output().expect("firewall list"))
}

/// Twenty of each client-side mistake, twenty mistyped ids and three wrong passwords, from
/// the listener's own address and from another one: nobody is banned.
#[test]
fn ordinary_mistakes_ban_nobody() {
    let (listener, hooks) = listener();
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    std::fs::create_dir(alice.path("empty")).expect("mkdir");
    std::fs::write(alice.path("f.txt"), "hello").expect("write");
    ok(&alice.cmd("send").arg("f.txt").output().expect("first send"));
    for addr in ["127.0.0.1", "127.0.0.2"] {
        for _ in 0..20 {
            // Caught by the client before it connects: usage errors, exit 2.
            for args in [&["empty"][..], &["f.txt", "-s", "a\ttab"], &["no-such-file"]] {
                let out = from(&alice, addr, "send").args(args).output().expect("send");
                assert_ne!(out.status.code(), Some(0), "{args:?}");
            }
            // A mistyped id reaches the listener: reported, weighed as a twentieth of a failed login.
            let out = from(&alice, addr, "fetch").args(["999", "-o", "out"]).output().expect("fetch");
            assert_eq!(out.status.code(), Some(1));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("delivery 999") && err.contains("no delivery 999"), "{err}");
        }
        for _ in 0..3 {
            // The saved session token logs in without the password: drop it to really fail.
            let _ = std::fs::remove_dir_all(alice.config.path().join("sessions"));
            let out = from(&alice, addr, "inbox").env("QXFER_PASSWORD", "wrong password").output().expect("inbox");
            assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
        }
        // Still served, after a captcha (the step-up, not a ban).
        inbox_after_step_up(&alice, addr, &hooks);
    }
    // Once the last failures are recorded, nothing was banned.
    listener.wait_recorded("127.0.0.2", "login_failed", 3);
    assert_eq!(bans(&listener).trim(), "no IP rules and no bans in force", "a mistake banned someone");
    // Each address weighs 20 x 0.05 + 3 = 4 points, under the threshold of 5; this loop
    // runs at a script's steady pace, which adds at most one `too_regular` (0.3) a window.
    let audit = ok(&listener.admin().args(["audit", "--json"]).output().expect("audit"));
    let line = audit.lines().find(|l| l.contains("\"type\":\"source\"") && l.contains("127.0.0.2")).expect("scored");
    let v: serde_json::Value = serde_json::from_str(line).expect("json");
    let timed = ok(&listener
        .admin()
        .args(["audit", "--source", "127.0.0.2", "--kind", "too_regular", "--json"])
        .output()
        .expect("audit"));
    let signals = timed
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|k| k["type"] == "kind" && k["kind"] == "too_regular")
        .and_then(|k| k["count"].as_u64())
        .unwrap_or(0);
    assert!(signals <= 1, "timing scored more than once a window: {timed}");
    let score = v["score"].as_f64().expect("score");
    assert!((score - (4.0 + 0.3 * signals as f64)).abs() < 1e-9, "{line}; {signals} timing signals");
    // The listener's own address is exempt: three more wrong passwords (7 points) ban nothing.
    for _ in 0..3 {
        let _ = std::fs::remove_dir_all(alice.config.path().join("sessions"));
        let out = from(&alice, "127.0.0.1", "inbox").env("QXFER_PASSWORD", "wrong password").output().expect("inbox");
        assert_eq!(out.status.code(), Some(3));
    }
    listener.wait_recorded("127.0.0.1", "login_failed", 6);
    assert_eq!(bans(&listener).trim(), "no IP rules and no bans in force", "the own host was banned");
    inbox_after_step_up(&alice, "127.0.0.1", &hooks);
}

/// Five wrong passwords ban an address; its next command is told so in words, with the
/// operator's command to lift it, and exits 5; later attempts are dropped and fail fast.
#[test]
fn a_banned_client_is_told_once_in_words() {
    // About the ban's notice: the step-up to a challenge stays out of the way.
    let listener = Listener::with_config(&format!("{DEFAULTS}challenge_after = 1000\n"));
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    for _ in 0..4 {
        let out = from(&alice, "127.0.0.3", "inbox").env("QXFER_PASSWORD", "wrong password").output().expect("inbox");
        assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    }
    // The fifth failure bans: that command, if its connection is still open when the ban
    // lands, or else the next one, is told.
    let fifth = from(&alice, "127.0.0.3", "inbox").env("QXFER_PASSWORD", "wrong password").output().expect("inbox");
    let told = if fifth.status.code() == Some(5) {
        fifth
    } else {
        assert_eq!(fifth.status.code(), Some(3), "{}", String::from_utf8_lossy(&fifth.stderr));
        listener.wait_for_ban("127.0.0.3/32");
        from(&alice, "127.0.0.3", "inbox").output().expect("inbox")
    };
    let err = String::from_utf8_lossy(&told.stderr);
    assert_eq!(told.status.code(), Some(5), "{err}");
    assert!(
        err.contains("127.0.0.3/32 is banned for another") && err.contains("qxfer firewall unban 127.0.0.3/32"),
        "{err}"
    );
    // Told once: now dropped before the handshake, noticed within the connect timeout.
    let start = Instant::now();
    let out = from(&alice, "127.0.0.3", "inbox").args(["--connect-timeout", "1s"]).output().expect("inbox");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("no qxfer listener answered at") && err.contains("(UDP) within 1 s"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
    // The operator lifts it as told; unban confirms.
    let out = ok(&listener.admin().args(["firewall", "unban", "127.0.0.3/32"]).output().expect("unban"));
    assert!(out.contains("unbanned 127.0.0.3/32"), "{out}");
    ok(&from(&alice, "127.0.0.3", "inbox").output().expect("inbox after unban"));
    assert!(listener.log().contains("qxfer ban 127.0.0.3/32"), "{}", listener.log());
}

/// One address never gets its /24 banned; the third offending address does, and the
/// listener's own address stays served inside the banned prefix.
#[test]
fn a_prefix_ban_needs_three_offending_addresses() {
    let listener = Listener::with_config(&format!("{DEFAULTS}challenge_after = 1000\n"));
    listener.add_user("alice");
    run(async {
        for (i, addr) in ["127.0.0.21", "127.0.0.22", "127.0.0.23"].into_iter().enumerate() {
            // Twelve failures: more than twice the threshold, from one address.
            let mut sent = 0;
            while sent < 12 {
                let Ok(mut raw) = Raw::connect_from(addr, &listener.addr).await else { break };
                for _ in 0..3 {
                    let req = qxfer::wire::Request::Login {
                        user: "alice".into(),
                        credential: qxfer::wire::Credential::Password("wrong guess!".into()),
                    };
                    sent += 1;
                    if raw.call(&req).await.is_none() {
                        break;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
            let list = bans(&listener);
            if i < 2 {
                assert!(!list.contains("127.0.0.0/24"), "after {} offenders: {list}", i + 1);
                assert!(list.contains(&format!("ban {addr}/32")), "{list}");
            } else {
                assert!(list.contains("ban 127.0.0.0/24"), "{list}");
            }
        }
        // 127.0.0.1 is exempt: inside the banned /24 and still admitted.
        assert!(Raw::admitted_from("127.0.0.1", &listener.addr).await, "the own host was locked out");
        assert!(!Raw::admitted_from("127.0.0.24", &listener.addr).await, "the prefix ban does not hold");
    });
}

/// A password no account can have (empty, shorter than 8 bytes, longer than 1024) is a
/// mistake the client sees: refused before connecting (exit 2), so it costs none of the
/// tries before a captcha and nothing toward a ban; the right password then logs in at once.
#[test]
fn impossible_passwords_never_reach_the_listener() {
    let listener = Listener::start();
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    let long = "x".repeat(1025);
    for (how, password) in [("empty", ""), ("short", "abc"), ("seven", "1234567"), ("long", long.as_str())] {
        let out = alice.cmd("inbox").env("QXFER_PASSWORD", password).output().expect("inbox");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{how}: {err}");
        assert!(err.contains("passwords are 8 to 1024 bytes") && err.contains("nothing was sent"), "{how}: {err}");
    }
    // `--password-stdin` with an empty line (Enter alone) is the same mistake.
    let out = run_stdin(alice.cmd("inbox").env_remove("QXFER_PASSWORD").arg("--password-stdin"), "\n");
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    // Five refused passwords, and no step-up: the right one logs in without a challenge
    // (had they been sent, three would have asked for a captcha, which a script cannot
    // answer: exit 7).
    ok(&alice.cmd("inbox").output().expect("inbox"));
    assert_eq!(listener.recorded("127.0.0.1", "login_failed"), 0, "{}", listener.log());
}
