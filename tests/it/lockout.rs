//! The per-account lockout on a real listener: guessing one account's password from many
//! addresses, with solved captchas, stops at `lockout_after` failures whatever the number
//! of addresses; past it a right password gets the same reply as a wrong one and a made-up
//! name the same as a real one; the owner at her known place logs in without a challenge,
//! and someone else's failures never step her up there. Away from home during a lockout,
//! her right password texts her a code, and the password with it (or with a recovery
//! code) logs her in (qxfer/6).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use qxfer::challenge::pow;
use qxfer::wire::{Credential, ErrorCode, Proof, Request, Response, Solution, Ticket, LOCKED_TEXT};

use crate::raw::{run, Raw};
use crate::recovery::earn_place;
use crate::support::*;
use crate::tmux::{exit_code, Tmux};

/// A listener that scores 127.0.0.0/8 like any other network, bans no one (the lockout is
/// what is tested), asks light work, times no answer as too fast, and writes each captcha's
/// text to a file through the debug-build answer hook.
fn listener() -> (Listener, PathBuf) {
    let data = tempfile::tempdir().expect("tempdir");
    let answers = data.path().join("captcha-answers.txt");
    let config = data.path().join("lockout.toml");
    std::fs::write(
        &config,
        "[scoring]\nexempt = []\nthreshold = 1000\nprefix_threshold = 1000\n\
         [challenges]\nmin_bits = 8\nmax_bits = 12\nmin_human_ms = 0\nper_char_ms = 0\nlockout_after = 10\n\
         [limits]\nfailed_login_delay_ms = 50\nrequests_per_second_per_ip = 1000\n\
         requests_per_second_per_account = 1000\nrequest_burst = 1000\n",
    )
    .expect("config");
    let config = config.to_str().expect("utf8").to_owned();
    let hook = answers.to_str().expect("utf8").to_owned();
    let listener = Listener::start_with_env(
        data,
        "127.0.0.1:0",
        &["--config", &config],
        &[("QXFER_TEST_CAPTCHA_ANSWERS", hook.as_str())],
    );
    listener.add_user("alice");
    (listener, answers)
}

/// The captcha text the listener wrote for `ticket`.
fn answer_of(answers: &Path, ticket: &Ticket) -> String {
    let nonce = hex::encode(ticket.nonce);
    let text = std::fs::read_to_string(answers).expect("answers");
    text.lines().find_map(|l| l.strip_prefix(&format!("{nonce} "))).expect("answer for this ticket").to_owned()
}

/// A password login as `user` from `from` with a solved challenge (a captcha once the
/// step-up asks for one), as a guesser with a captcha solver sends it.
async fn attempt(answers: &Path, from: &str, addr: &str, user: &str, password: &str) -> Option<Response> {
    attempt_with(answers, from, addr, (user, password), None).await
}

/// [`attempt`], with a code when given (`LoginWithCode`).
async fn attempt_with(
    answers: &Path,
    from: &str,
    addr: &str,
    (user, password): (&str, &str),
    code: Option<&str>,
) -> Option<Response> {
    let mut raw = Raw::connect_from(from, addr).await.expect("connect");
    let (ticket, picture) = match raw.call(&Request::Challenge { user: user.into() }).await {
        Some(Response::Challenge { ticket, picture }) => (ticket, picture.is_some()),
        r => panic!("{r:?}"),
    };
    let answer = picture.then(|| answer_of(answers, &ticket));
    let counter = pow::solve_some(&ticket.nonce, ticket.bits, 0, u64::MAX).expect("solved");
    let solution = Solution { counter, answer, ticket };
    let credential = Credential::Password(password.into());
    let mut raw = Raw::connect_from(from, addr).await.expect("connect");
    let user = user.to_owned();
    raw.call(&match code {
        Some(code) => Request::LoginWithCode { user, credential, code: code.into(), solution: Some(solution) },
        None => Request::LoginSolved { user, credential, solution },
    })
    .await
}

fn refused(message: &str) -> Option<Response> {
    Some(Response::Error { code: ErrorCode::AuthFailed, message: message.into() })
}

/// A password login at the owner's known place, with no saved session: exit 0, and no
/// captcha was asked for (without a terminal one would end in exit 7).
fn owner_logs_in_at_home(l: &Listener) {
    let fresh = User::new(l, "alice");
    let out = fresh.cmd("inbox").output().expect("inbox");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("prove you are a person"), "{err}");
}

#[test]
fn guessing_from_twenty_addresses_stops_at_the_account_limit_and_the_owner_at_home_logs_in() {
    let (l, answers) = listener();
    // The owner's home: she logged in from 127.0.0.1 with her password on three days
    // over a week.
    let owner = User::new(&l, "alice");
    earn_place(&l, &owner, None);
    let addr = l.addr.clone();
    run(async {
        // Twenty addresses, one guess each, every one with a solved challenge.
        let mut replies = Vec::new();
        for n in 1..=20 {
            replies.push(attempt(&answers, &format!("127.0.{n}.1"), &addr, "alice", &format!("guess-{n}")).await);
        }
        for r in &replies[..10] {
            assert_eq!(r, &refused("wrong user name or password"));
        }
        for r in &replies[10..] {
            assert_eq!(r, &refused(LOCKED_TEXT));
        }
        // Past the limit the right password from a new address is refused in the same words.
        let right = attempt(&answers, "127.0.21.1", &addr, "alice", PASSWORD).await;
        let wrong = attempt(&answers, "127.0.22.1", &addr, "alice", "yet-another-guess").await;
        assert_eq!(right, wrong);
        assert_eq!(right, refused(LOCKED_TEXT));
        // A made-up name: the same replies at the same points.
        let mut made_up = Vec::new();
        for n in 1..=11 {
            made_up.push(attempt(&answers, &format!("127.0.{}.1", 30 + n), &addr, "nobody-here", "guess").await);
        }
        assert_eq!(made_up[..], replies[..11]);
    });
    // The owner at home: no challenge, logged in; her saved session works from anywhere.
    owner_logs_in_at_home(&l);
    ok(&owner.cmd("inbox").args(["--bind", "127.0.50.1"]).output().expect("inbox"));
    // The CLI from an unknown place says what to do, exit 3.
    let away = User::new(&l, "alice");
    let out = away
        .cmd("inbox")
        .args(["--bind", "127.0.51.1"])
        .env("QXFER_TEST_CAPTCHA_ANSWERS", &answers)
        .output()
        .expect("inbox");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.lines().any(|line| line == format!("qxfer: {LOCKED_TEXT}")), "{err}");
    let audit = ok(&l.admin().args(["audit", "--kind", "login_locked", "--json"]).output().expect("audit"));
    assert!(audit.contains("nobody-here") && audit.contains("alice"), "{audit}");
    // The lockout ends: the right password from elsewhere logs in again.
    l.advance_clock(16 * 60);
    run(async {
        let r = attempt(&answers, "127.0.60.1", &addr, "alice", PASSWORD).await;
        assert!(matches!(r, Some(Response::LoggedIn { .. })), "{r:?}");
    });
}

#[test]
fn failures_from_another_network_never_step_up_the_owner_at_home() {
    let (l, _answers) = listener();
    let owner = User::new(&l, "alice");
    earn_place(&l, &owner, None);
    let addr = l.addr.clone();
    run(async {
        // The case: two wrong recovery codes and a wrong password from the thief's
        // network.
        for _ in 0..2 {
            let mut raw = Raw::connect_from("127.0.1.9", &addr).await.expect("connect");
            let ticket = match raw.call(&Request::Challenge { user: "alice".into() }).await {
                Some(Response::Challenge { ticket, .. }) => ticket,
                r => panic!("{r:?}"),
            };
            let counter = pow::solve_some(&ticket.nonce, ticket.bits, 0, u64::MAX).expect("solved");
            let mut raw = Raw::connect_from("127.0.1.9", &addr).await.expect("connect");
            let r = raw
                .call(&Request::RecoverFinish {
                    user: "alice".into(),
                    code: "12345678".into(),
                    proof: Proof::RecoveryCode("k4x9m-qe7tr".into()),
                    new_password: "the-thiefs-new-password".into(),
                    solution: Solution { ticket, counter, answer: None },
                })
                .await;
            assert!(matches!(r, Some(Response::Error { code: ErrorCode::AuthFailed, .. })), "{r:?}");
        }
        let mut raw = Raw::connect_from("127.0.1.9", &addr).await.expect("connect");
        let credential = Credential::Password("the-thiefs-guess".into());
        let r = raw.call(&Request::Login { user: "alice".into(), credential }).await;
        assert_eq!(r, refused("wrong user name or password"));
        // Elsewhere, the account is stepped up.
        let mut raw = Raw::connect_from("127.0.4.9", &addr).await.expect("connect");
        let r =
            raw.call(&Request::Login { user: "alice".into(), credential: Credential::Password(PASSWORD.into()) }).await;
        assert!(matches!(r, Some(Response::Error { code: ErrorCode::ChallengeRequired, .. })), "{r:?}");
    });
    // At home it is not: no captcha, exit 0.
    owner_logs_in_at_home(&l);
}

/// `qxfer account WORDS... HOST --user alice --accept-new` as `u`, from 127.0.0.1.
fn account(u: &User, words: &[&str]) -> Command {
    crate::recovery::account(u, words, None)
}

/// The text in the spool that contains `needle`, waited for.
fn text_with(l: &Listener, needle: &str) -> String {
    let dir = l.data_dir().join("sms-spool");
    let start = Instant::now();
    loop {
        let found = std::fs::read_dir(&dir).into_iter().flatten().flatten().find_map(|e| {
            let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(e.path()).ok()?).ok()?;
            let text = v["text"].as_str()?.to_owned();
            text.contains(needle).then_some(text)
        });
        if let Some(text) = found {
            return text;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "no text with {needle:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn code_in(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit()).find(|w| w.len() == 8).expect("an eight-digit code").to_owned()
}

/// The owner: home at 127.0.0.1, a number verified from there and settled, recovery codes
/// (returned); then ten wrong passwords from elsewhere lock the account.
fn locked_owner_with_a_settled_number(l: &Listener, answers: &Path) -> Vec<String> {
    // Her first login, and in the new account's setup window a number and recovery codes;
    // then home earns its place (8 days: the number settles too).
    let owner = User::new(l, "alice");
    ok(&owner.cmd("inbox").output().expect("inbox"));
    ok(&account(&owner, &["phone", "add"]).arg("+34612345678").output().expect("phone add"));
    let code = code_in(&text_with(l, "to add this number"));
    ok(&run_stdin(account(&owner, &["phone", "verify"]).args(["+34612345678", "--code-stdin"]), &code));
    let out = ok(&run_stdin(&mut account(&owner, &["codes", "new"]), ""));
    let codes: Vec<String> = out.lines().filter(|l| l.starts_with("  ")).map(|l| l.trim().to_owned()).collect();
    assert_eq!(codes.len(), 10, "{out}");
    earn_place(l, &owner, None);
    let addr = l.addr.clone();
    run(async {
        for n in 1..=10 {
            let r = attempt(answers, &format!("127.0.{n}.1"), &addr, "alice", "a-guess").await;
            assert_eq!(r, refused("wrong user name or password"));
        }
    });
    codes
}

#[test]
fn away_from_home_during_a_lockout_the_owner_logs_in_with_a_texted_code_or_a_recovery_code() {
    let (l, answers) = listener();
    let codes = locked_owner_with_a_settled_number(&l, &answers);
    let addr = l.addr.clone();
    run(async {
        // Away: her right password is refused like any other, and texts her a code.
        let r = attempt(&answers, "127.0.70.1", &addr, "alice", PASSWORD).await;
        assert_eq!(r, refused(LOCKED_TEXT));
        let code = code_in(&text_with(&l, "to log in to alice from a network it does not know"));
        // A wrong code, or the code with a wrong password: the same reply, no login.
        let r = attempt_with(&answers, "127.0.70.1", &addr, ("alice", PASSWORD), Some("00000000")).await;
        assert_eq!(r, refused(LOCKED_TEXT));
        let r = attempt_with(&answers, "127.0.70.1", &addr, ("alice", "a-guess"), Some(&code)).await;
        assert_eq!(r, refused(LOCKED_TEXT));
        // The right password with the code logs in.
        let r = attempt_with(&answers, "127.0.70.1", &addr, ("alice", PASSWORD), Some(&code)).await;
        assert!(matches!(r, Some(Response::LoggedIn { token: Some(_), .. })), "{r:?}");
        // Spent: not twice.
        let r = attempt_with(&answers, "127.0.71.1", &addr, ("alice", PASSWORD), Some(&code)).await;
        assert_eq!(r, refused(LOCKED_TEXT));
        // A recovery code works once, from another unknown place.
        let r = attempt_with(&answers, "127.0.72.1", &addr, ("alice", PASSWORD), Some(&codes[0])).await;
        assert!(matches!(r, Some(Response::LoggedIn { token: Some(_), .. })), "{r:?}");
        let r = attempt_with(&answers, "127.0.73.1", &addr, ("alice", PASSWORD), Some(&codes[0])).await;
        assert_eq!(r, refused(LOCKED_TEXT));
    });
    let audit = ok(&l.admin().args(["audit", "--kind", "login", "--user", "alice", "--json"]).output().expect("audit"));
    assert!(audit.contains("with a texted code") && audit.contains("with a recovery code"), "{audit}");
}

/// What a person sees away from home: the client asks for the texted code on the terminal
/// (tmux), answers the captchas through the debug-build hook, and logs in with the code.
#[test]
fn the_client_asks_for_the_code_on_a_terminal() {
    if !Tmux::installed() {
        return;
    }
    let (l, answers) = listener();
    locked_owner_with_a_settled_number(&l, &answers);
    let away = User::new(&l, "alice");
    let hooks = tempfile::tempdir().expect("tempdir");
    let done = hooks.path().join("exit-code");
    let line = format!(
        "QXFER_CONFIG_DIR={} QXFER_PASSWORD='{PASSWORD}' QXFER_TEST_CAPTCHA_ANSWERS={} {} inbox {} --user alice \
         --accept-new --bind 127.0.80.1; echo $? > {}; sleep 60",
        away.config.path().display(),
        answers.display(),
        env!("CARGO_BIN_EXE_qxfer"),
        l.addr,
        done.display()
    );
    let tmux = Tmux::start(hooks.path(), (150, 30), &line);
    tmux.wait_for("Code from the text message, or a recovery code:", 30);
    let code = code_in(&text_with(&l, "to log in to alice from a network it does not know"));
    tmux.type_line(&code);
    assert_eq!(exit_code(&done), "0", "{}", tmux.screen());
}
