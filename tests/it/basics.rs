//! The terminal basics a new user trips on, on a real listener: the certificate settled
//! before the password and three tries on a terminal (one for scripts), a mistyped alias
//! named with the nearest, `bind` in an alias, what people paste (`--to Bob`,
//! `SHA256:` fingerprints, `--connect-timeout 5`), hints with the real account and listener,
//! a handshake the listener's rate limit dropped, and a refused automation token.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::*;
use crate::tmux::{exit_code, Tmux};

/// No captcha and no ban in the way of a few wrong passwords, and little delay after each.
const FORGIVING: &str = "[limits]\nfailed_login_delay_ms = 50\n[challenges]\nchallenge_after = 1000\n\
                         [scoring]\nthreshold = 1000000\nprefix_threshold = 1000000\n";

/// `qxfer SUB` with the user's config directory and nothing else.
fn bare(user: &User, sub: &str) -> Command {
    let mut c = qxfer();
    c.current_dir(user.work.path()).env("QXFER_CONFIG_DIR", user.config.path()).arg(sub);
    c
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_password_given_has_one_try_each_counted_by_the_listener() {
    let listener = Listener::with_config(FORGIVING);
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    let out = alice.cmd("inbox").env("QXFER_PASSWORD", "not the password").output().expect("inbox");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("authentication failed for alice: wrong user name or password"), "{}", stderr(&out));
    let mut cmd = alice.cmd("inbox");
    cmd.env_remove("QXFER_PASSWORD").arg("--password-stdin");
    let out = run_stdin(&mut cmd, "also not the password");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    listener.wait_recorded("127.0.0.1", "login_failed", 2);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(listener.recorded("127.0.0.1", "login_failed"), 2, "a script's password was tried more than once");
}

#[test]
fn on_a_terminal_the_certificate_comes_before_the_password_and_a_wrong_one_is_asked_again() {
    if !Tmux::installed() {
        return;
    }
    let listener = Listener::with_config(FORGIVING);
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = env!("CARGO_BIN_EXE_qxfer");
    let line = |done: &Path| {
        format!(
            "env -u QXFER_PASSWORD -u QXFER_TOKEN -u QXFER_USER QXFER_CONFIG_DIR={} {bin} inbox alice@{}; \
             echo $? > {}; sleep 60",
            alice.config.path().display(),
            listener.addr,
            done.display()
        )
    };
    let prompt = format!("Password for alice@{}:", listener.addr);
    // An unknown listener: its certificate is settled first, then the password is asked,
    // again after a wrong one; the third try is right.
    let done = dir.path().join("first");
    let tmux = Tmux::start(dir.path(), (120, 40), &line(&done));
    let screen = tmux.wait_for_lines("Trust and pin it? [y/N]", 1);
    assert!(!screen.contains("Password for"), "the password was asked before the certificate:\n{screen}");
    assert!(screen.contains(&listener.fingerprint), "{screen}");
    tmux.type_line("y");
    tmux.wait_for_lines(&prompt, 1);
    tmux.type_line("not the password");
    tmux.wait_for_lines("Wrong user name or password; try again.", 1);
    tmux.wait_for_lines(&prompt, 2);
    tmux.type_line("still not the password");
    tmux.wait_for_lines(&prompt, 3);
    tmux.type_line(PASSWORD);
    assert_eq!(exit_code(&done), "0", "{}", tmux.history());
    drop(tmux);
    listener.wait_recorded("127.0.0.1", "login_failed", 2);
    // Pinned now, and the session kept: a fresh config directory's pin only, no session.
    let _ = std::fs::remove_dir_all(alice.config.path().join("sessions"));
    // Three wrong passwords: three tries, each counted, then exit 3.
    let done = dir.path().join("second");
    let tmux = Tmux::start(dir.path(), (120, 40), &line(&done));
    for n in 1..=3 {
        let screen = tmux.wait_for_lines(&prompt, n);
        assert!(!screen.contains("Trust and pin it?"), "a pinned listener was asked about:\n{screen}");
        tmux.type_line("not the password");
    }
    assert_eq!(exit_code(&done), "3", "{}", tmux.history());
    let screen = tmux.history();
    assert!(screen.contains("authentication failed for alice: wrong user name or password"), "{screen}");
    assert_eq!(screen.lines().filter(|l| l.contains(&prompt)).count(), 3, "{screen}");
    listener.wait_recorded("127.0.0.1", "login_failed", 5);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(listener.recorded("127.0.0.1", "login_failed"), 5);
}

#[test]
fn a_mistyped_alias_is_named_with_the_nearest_and_an_alias_may_bind() {
    let listener = Listener::start();
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    // Without a config file: the account is what is missing, said with the real host.
    let out = bare(&alice, "inbox").arg("offfice").output().expect("inbox");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("no account to log in as: write USER@offfice, pass --user NAME"), "{}", stderr(&out));
    let (ip, port) = listener.addr.rsplit_once(':').expect("addr");
    let config = format!(
        "[hosts.office]\naddress = \"{ip}\"\nport = {port}\nuser = \"alice\"\nfingerprint = \"{}\"\n\
         bind = \"127.0.0.5\"\n\n[hosts.lab]\naddress = \"192.0.2.1\"\n",
        listener.fingerprint
    );
    let path = alice.config.path().join("config.toml");
    std::fs::write(&path, config).expect("config");
    let said = format!("`offfice` is not an alias in {} (did you mean `office`?)", path.display());
    let out = bare(&alice, "inbox").arg("offfice").output().expect("inbox");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains(&said), "{}", stderr(&out));
    // With an account to log in as too, a word that is no host either.
    let out = bare(&alice, "inbox").args(["offfice", "--user", "alice"]).output().expect("inbox");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains(&said), "{}", stderr(&out));
    // Nothing near: the aliases there are.
    let out = bare(&alice, "inbox").arg("zzzzzz").output().expect("inbox");
    assert!(stderr(&out).contains("(its aliases: `lab`, `office`)"), "{}", stderr(&out));
    // A real host name is still a host.
    let out = bare(&alice, "inbox").args(["localhost", "--user", "alice", "--connect-timeout", "1"]).output();
    assert!(!stderr(&out.expect("inbox")).contains("is not an alias"));
    // The alias's bind is the address the listener sees.
    let out = ok(&bare(&alice, "inbox").arg("office").env("QXFER_PASSWORD", PASSWORD).output().expect("inbox"));
    assert!(out.contains("no deliveries"), "{out}");
    listener.wait_recorded("127.0.0.5", "login", 1);
}

#[test]
fn what_people_paste_is_accepted() {
    let listener = Listener::start();
    listener.add_user("alice");
    listener.add_user("bob");
    let alice = User::new(&listener, "alice");
    // --to Bob: sent to bob, and said so.
    let out = alice.cmd("send").args(["--to", "Bob", "-m", "hello"]).output().expect("send");
    let text = ok(&out);
    assert!(text.starts_with("sent delivery ") && text.contains(" to bob"), "{text}");
    assert!(stderr(&out).contains("account names are lower case: sending to bob"), "{}", stderr(&out));
    // A fingerprint with ssh's capitalisation (and upper-case digits).
    let hex = listener.fingerprint.strip_prefix("sha256:").expect("sha256:");
    let fresh = User::new(&listener, "alice");
    let out = bare(&fresh, "inbox")
        .args([&listener.addr, "--user", "alice", "--fingerprint", &format!("SHA256:{}", hex.to_uppercase())])
        .env("QXFER_PASSWORD", PASSWORD)
        .output()
        .expect("inbox");
    ok(&out);
    assert!(stderr(&out).contains(&format!("pinned {} {}", listener.addr, listener.fingerprint)), "{}", stderr(&out));
    // --connect-timeout 5: five seconds; --since stays strict.
    ok(&alice.cmd("inbox").args(["--connect-timeout", "5"]).output().expect("inbox"));
    let out = qxfer().args(["audit", "--since", "5"]).output().expect("audit");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("has no unit"), "{}", stderr(&out));
}

#[test]
fn hints_name_the_real_account_and_listener() {
    let listener = Listener::start();
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    let target = format!("alice@{}", listener.addr);
    let account = |words: &[&str]| {
        let mut c = qxfer();
        c.current_dir(alice.work.path())
            .env("QXFER_CONFIG_DIR", alice.config.path())
            .env("QXFER_PASSWORD", PASSWORD)
            .arg("account")
            .args(words)
            .args([&target, "--accept-new"]);
        c
    };
    let shown = ok(&account(&["show"]).output().expect("show"));
    assert!(shown.contains(&format!("phones: none (add one: qxfer account phone add {target} +NUMBER)")), "{shown}");
    assert!(shown.contains(&format!("set one: qxfer account question set {target} --question TEXT")), "{shown}");
    let out = ok(&account(&["phone", "add"]).arg("+34612345678").output().expect("phone add"));
    assert!(out.contains(&format!("confirm it with: qxfer account phone verify {target} +34612345678")), "{out}");
    let out = account(&["tokens", "new"]).arg("--automation").output().expect("tokens new");
    ok(&out);
    assert!(
        stderr(&out).contains(&format!("revoke it with: qxfer account tokens revoke {target} ")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_refused_automation_token_says_how_to_make_a_new_one() {
    let listener = Listener::start();
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    let account = |words: &[&str]| {
        let mut c = bare(&alice, "account");
        c.env("QXFER_PASSWORD", PASSWORD).args(words).args([&listener.addr, "--user", "alice", "--accept-new"]);
        c
    };
    let token = ok(&account(&["tokens", "new"]).arg("--automation").output().expect("tokens new"));
    let token = token.trim().to_owned();
    // An automation token is a change: it works once its delay (a day) ended.
    listener.advance_clock(24 * 3600 + 60);
    let script = || {
        let mut c = bare(&alice, "inbox");
        c.env("QXFER_TOKEN", &token).args([&listener.addr, "--user", "alice"]);
        c
    };
    ok(&script().output().expect("inbox with the token"));
    ok(&account(&["tokens", "revoke"]).arg("--all").output().expect("revoke"));
    let out = script().output().expect("inbox with a revoked token");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let said = format!(
        "the token in QXFER_TOKEN was refused (revoked or expired); make a new one with: \
         qxfer account tokens new alice@{} --automation",
        listener.addr
    );
    assert!(stderr(&out).contains(&said), "{}", stderr(&out));
}

/// Connections faster than the listener's handshake rate are dropped before the handshake:
/// the client that gets no answer says the listener may be limiting it.
#[test]
fn a_handshake_dropped_by_the_rate_limit_says_the_listener_may_be_limiting() {
    let listener = Listener::with_config(
        &FORGIVING.replace("[limits]\n", "[limits]\nconnections_per_second_per_ip = 1\nconnection_burst_per_ip = 1\n"),
    );
    listener.add_user("alice");
    let users: Vec<User> = (0..4).map(|_| User::new(&listener, "alice")).collect();
    let children: Vec<_> = users
        .iter()
        .map(|u| {
            u.cmd("inbox")
                .args(["--bind", "127.0.0.3", "--connect-timeout", "1"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("inbox")
        })
        .collect();
    let outs: Vec<_> = children.into_iter().map(|c| c.wait_with_output().expect("wait")).collect();
    let dropped: Vec<_> = outs.iter().filter(|o| !o.status.success()).collect();
    assert!(!dropped.is_empty(), "four connections at once were all admitted");
    for out in dropped {
        let err = stderr(out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains("no qxfer listener answered at") && err.contains("(UDP) within 1 s"), "{err}");
        assert!(
            err.contains(
                "The listener may also be limiting this address (too many connections from it): wait a minute"
            ),
            "{err}"
        );
    }
}
