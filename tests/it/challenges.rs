//! Challenges on a real listener: the step-up after failed logins (a captcha and a proof of
//! work instead of a ban), what makes a challenge fail, the tolerant captcha check, the
//! effort under a login flood, and answers faster than a person.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use qxfer::challenge::captcha::tolerance;
use qxfer::challenge::{pow, ChallengeKind};
use qxfer::wire::{Credential, ErrorCode, Request, Response, Solution, Ticket};

use crate::raw::{run, Raw};
use crate::support::*;

/// A listener that scores 127.0.0.0/8 like any other network (no exemption) and writes each
/// captcha's text to a file through the debug-build answer hook. `extra_config` continues
/// the `[scoring]` section.
fn listener(extra_config: &str) -> (Listener, PathBuf) {
    let data = tempfile::tempdir().expect("tempdir");
    let answers = data.path().join("captcha-answers.txt");
    let config = data.path().join("challenges.toml");
    std::fs::write(&config, format!("[scoring]\nexempt = []\n{extra_config}")).expect("config");
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

/// Extra `[scoring]` lines, then `[challenges]` and `[limits]`: no bans, tickets good for
/// 8 s, light work, no floor on answering (the too-fast test has its own), a short
/// failed-login delay.
const NO_BANS_AND_SHORT_TICKETS: &str = "threshold = 1000\nprefix_threshold = 1000\n\
     [challenges]\nttl_secs = 8\nmin_bits = 8\nmax_bits = 12\nmin_human_ms = 0\nper_char_ms = 0\n[limits]\nfailed_login_delay_ms = 50\n";

fn password(p: &str) -> Credential {
    Credential::Password(p.into())
}

/// The captcha text the listener wrote for `ticket`.
fn answer_of(answers: &Path, ticket: &Ticket) -> String {
    let nonce = hex::encode(ticket.nonce);
    let text = std::fs::read_to_string(answers).expect("answers");
    text.lines().find_map(|l| l.strip_prefix(&format!("{nonce} "))).expect("answer for this ticket").to_owned()
}

fn solve(ticket: &Ticket) -> u64 {
    pow::solve_some(&ticket.nonce, ticket.bits, 0, u64::MAX).expect("solved")
}

async fn challenge(from: &str, addr: &str, user: &str) -> (Ticket, bool) {
    let mut raw = Raw::connect_from(from, addr).await.expect("connect");
    match raw.call(&Request::Challenge { user: user.into() }).await {
        Some(Response::Challenge { ticket, picture }) => (ticket, picture.is_some()),
        r => panic!("{r:?}"),
    }
}

async fn login_solved(from: &str, addr: &str, pw: &str, solution: Solution) -> Option<Response> {
    login_solved_with(from, addr, password(pw), solution).await
}

async fn login_solved_with(from: &str, addr: &str, credential: Credential, solution: Solution) -> Option<Response> {
    let mut raw = Raw::connect_from(from, addr).await.expect("connect");
    raw.call(&Request::LoginSolved { user: "alice".into(), credential, solution }).await
}

async fn wrong_passwords(from: &str, addr: &str, n: usize) {
    for _ in 0..n {
        let mut raw = Raw::connect_from(from, addr).await.expect("connect");
        let r = raw.call(&Request::Login { user: "alice".into(), credential: password("not-the-password") }).await;
        assert!(matches!(r, Some(Response::Error { code: ErrorCode::AuthFailed, .. })), "{r:?}");
    }
}

fn error_code(r: &Option<Response>) -> Option<ErrorCode> {
    match r {
        Some(Response::Error { code, .. }) => Some(*code),
        _ => None,
    }
}

#[test]
fn three_wrong_passwords_then_a_captcha_not_a_ban() {
    let (listener, answers) = listener("");
    let addr = listener.addr.clone();
    run(async {
        wrong_passwords("127.0.0.1", &addr, 3).await;
        // The fourth attempt, with the right password, needs a challenge first.
        let mut raw = Raw::connect_from("127.0.0.1", &addr).await.expect("connect");
        let r = raw.call(&Request::Login { user: "alice".into(), credential: password(PASSWORD) }).await;
        assert_eq!(error_code(&r), Some(ErrorCode::ChallengeRequired), "{r:?}");
        // A captcha with work; a person reads it in a few seconds.
        let (ticket, picture) = challenge("127.0.0.1", &addr, "alice").await;
        assert!(picture && ticket.kind == ChallengeKind::Captcha && ticket.bits >= 16, "{ticket:?}");
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let solution = Solution { counter: solve(&ticket), answer: Some(answer_of(&answers, &ticket)), ticket };
        let r = login_solved("127.0.0.1", &addr, PASSWORD, solution).await;
        assert!(matches!(r, Some(Response::LoggedIn { .. })), "{r:?}");
        // Cleared: the next login needs nothing, and the address was never banned.
        let mut raw = Raw::connect_from("127.0.0.1", &addr).await.expect("connect");
        let r = raw.call(&Request::Login { user: "alice".into(), credential: password(PASSWORD) }).await;
        assert!(matches!(r, Some(Response::LoggedIn { .. })), "{r:?}");
    });
    let bans = ok(&listener.admin().args(["firewall", "list", "--json"]).output().expect("bans"));
    assert!(!bans.contains("127.0.0.1"), "{bans}");
    let audit = ok(&listener.admin().args(["audit", "--user", "alice", "--json"]).output().expect("audit"));
    for kind in ["challenge_issued", "challenge_solved", "login_failed"] {
        assert!(audit.contains(kind), "{kind} missing: {audit}");
    }
    assert!(!audit.contains("too_fast"), "{audit}");
}

#[test]
fn a_captcha_fails_when_wrong_spent_late_elsewhere_or_forged_and_works_once() {
    // Many failures on purpose: bans are not what this test is about.
    let (listener, answers) = listener(NO_BANS_AND_SHORT_TICKETS);
    let addr = listener.addr.clone();
    run(async {
        // Work alone, asked for before the failures, and work for another account.
        let (early, picture) = challenge("127.0.0.1", &addr, "alice").await;
        assert!(!picture && early.kind == ChallengeKind::Work, "{early:?}");
        let early = Solution { counter: solve(&early), answer: None, ticket: early };
        let (bobs, _) = challenge("127.0.0.1", &addr, "bob").await;
        let bobs = Solution { counter: solve(&bobs), answer: None, ticket: bobs };
        wrong_passwords("127.0.0.1", &addr, 3).await;
        let r = login_solved("127.0.0.1", &addr, PASSWORD, early).await;
        assert!(
            matches!(&r, Some(Response::Error { code: ErrorCode::ChallengeFailed, message }) if message.contains("needs a captcha")),
            "{r:?}"
        );
        let r = login_solved("127.0.0.1", &addr, PASSWORD, bobs).await;
        assert!(
            matches!(&r, Some(Response::Error { code: ErrorCode::ChallengeFailed, message }) if message.contains("for this account")),
            "{r:?}"
        );
        let fresh = || async {
            let (ticket, _) = challenge("127.0.0.1", &addr, "alice").await;
            let answer = answer_of(&answers, &ticket);
            (Solution { counter: solve(&ticket), answer: Some(answer), ticket: ticket.clone() }, ticket)
        };
        // Wrong text, then the same ticket again with the right text (a wrong answer spends it).
        let (good, _) = fresh().await;
        let wrong = Solution { answer: Some("XXXXX".into()), ..good.clone() };
        let r = login_solved("127.0.0.1", &addr, PASSWORD, wrong).await;
        assert_eq!(error_code(&r), Some(ErrorCode::ChallengeFailed), "{r:?}");
        let r = login_solved("127.0.0.1", &addr, PASSWORD, good).await;
        assert_eq!(error_code(&r), Some(ErrorCode::ChallengeFailed), "{r:?}");
        // From another network (127.0.1.0/24 is not the ticket's 127.0.0.0/24).
        let (good, _) = fresh().await;
        let r = login_solved("127.0.1.1", &addr, PASSWORD, good.clone()).await;
        assert!(
            matches!(&r, Some(Response::Error { code: ErrorCode::ChallengeFailed, message }) if message.contains("another network")),
            "{r:?}"
        );
        // Forged: the effort lowered, the MAC kept.
        let mut forged = good.clone();
        forged.ticket.bits = 0;
        let r = login_solved("127.0.0.1", &addr, PASSWORD, forged).await;
        assert!(
            matches!(&r, Some(Response::Error { code: ErrorCode::ChallengeFailed, message }) if message.contains("not issued")),
            "{r:?}"
        );
        // Wrong work: one hash to refuse.
        let lazy = Solution { counter: good.counter.wrapping_add(1), ..good.clone() };
        if !pow::verify(&lazy.ticket.nonce, lazy.ticket.bits, lazy.counter) {
            let r = login_solved("127.0.0.1", &addr, PASSWORD, lazy).await;
            assert!(
                matches!(&r, Some(Response::Error { code: ErrorCode::ChallengeFailed, message }) if message.contains("proof of work")),
                "{r:?}"
            );
        }
        // The untouched solution works, once.
        let r = login_solved("127.0.0.1", &addr, PASSWORD, good.clone()).await;
        assert!(matches!(r, Some(Response::LoggedIn { .. })), "{r:?}");
        let r = login_solved("127.0.0.1", &addr, PASSWORD, good).await;
        assert!(
            matches!(&r, Some(Response::Error { code: ErrorCode::ChallengeFailed, message }) if message.contains("already answered")),
            "{r:?}"
        );
        // After expiry (8 s here).
        wrong_passwords("127.0.0.1", &addr, 3).await;
        let (late, _) = fresh().await;
        tokio::time::sleep(Duration::from_millis(8200)).await;
        let r = login_solved("127.0.0.1", &addr, PASSWORD, late).await;
        assert!(
            matches!(&r, Some(Response::Error { code: ErrorCode::ChallengeFailed, message }) if message.contains("expired")),
            "{r:?}"
        );
    });
}

/// `text` with the first `n` characters that have a look-alike in the tolerant check's
/// table replaced by one (None when it has fewer than `n`).
fn with_look_alikes(text: &str, n: usize) -> Option<String> {
    let mut left = n;
    let typed: String = text
        .chars()
        .map(|c| match tolerance::LOOK_ALIKES.iter().find(|(t, _)| *t == c).and_then(|(_, l)| l.chars().next()) {
            Some(l) if left > 0 => {
                left -= 1;
                l
            }
            _ => c,
        })
        .collect();
    (left == 0).then_some(typed)
}

/// The tolerant check on a real listener: one look-alike character typed in place of the
/// true one logs in (as a person who read a crowded L as an E); two do not.
#[test]
fn a_captcha_with_one_look_alike_logs_in_and_with_two_does_not() {
    let (listener, answers) = listener(NO_BANS_AND_SHORT_TICKETS);
    let addr = listener.addr.clone();
    run(async {
        wrong_passwords("127.0.0.1", &addr, 3).await;
        // A captcha whose text has two characters with look-alikes (nearly every one has).
        let captcha = || async {
            for _ in 0..20 {
                let (ticket, picture) = challenge("127.0.0.1", &addr, "alice").await;
                assert!(picture && ticket.kind == ChallengeKind::Captcha, "{ticket:?}");
                let text = answer_of(&answers, &ticket);
                if let (Some(one), Some(two)) = (with_look_alikes(&text, 1), with_look_alikes(&text, 2)) {
                    return (ticket, text, one, two);
                }
            }
            panic!("no captcha with two look-alike characters in 20");
        };
        let (ticket, text, _, two) = captcha().await;
        println!("{text} answered {two}");
        let wrong = Solution { counter: solve(&ticket), answer: Some(two), ticket };
        let r = login_solved("127.0.0.1", &addr, PASSWORD, wrong).await;
        assert!(
            matches!(&r, Some(Response::Error { code: ErrorCode::ChallengeFailed, message }) if message.contains("wrong")),
            "{r:?}"
        );
        // Still stepped up: the next challenge is a captcha again.
        let (ticket, text, one, _) = captcha().await;
        println!("{text} answered {one}");
        let near = Solution { counter: solve(&ticket), answer: Some(one), ticket };
        let r = login_solved("127.0.0.1", &addr, PASSWORD, near).await;
        assert!(matches!(r, Some(Response::LoggedIn { .. })), "{r:?}");
    });
}

#[test]
fn the_effort_rises_under_a_login_flood_and_falls_after() {
    // Cheap work, a capacity of 4 solved logins a second: the flood below is well over it.
    use std::sync::atomic::Ordering::Relaxed;
    // (The flood is a script on purpose: its timing is not judged here, the effort's
    // control loop is; `tests/it/registration.rs` judges timing.)
    let (listener, _) = listener(
        "[challenges]\nmin_bits = 4\nmax_bits = 12\ncapacity = 4\ninterval_secs = 1\n\
         [limits]\nrequests_per_second_per_ip = 1000\nrequests_per_second_per_account = 1000\nrequest_burst = 1000\n\
         [regularity]\nreset_after_ms = 1\n",
    );
    let addr = listener.addr.clone();
    run(async {
        // A session token: logins without a password hash each.
        let mut raw = Raw::connect_from("127.0.0.2", &addr).await.expect("connect");
        let token = match raw.call(&Request::Login { user: "alice".into(), credential: password(PASSWORD) }).await {
            Some(Response::LoggedIn { token: Some(t), .. }) => t,
            r => panic!("{r:?}"),
        };
        let (first, _) = challenge("127.0.0.2", &addr, "alice").await;
        assert_eq!((first.kind, first.bits), (ChallengeKind::Work, 4));
        // Four flooders at once until the effort has risen by two bits (about 4 s here;
        // on a slow host each flooder sends fewer a second, and four of them still make
        // more than the capacity).
        let highest = std::sync::Arc::new(std::sync::atomic::AtomicU8::new(first.bits));
        let n = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let started = std::time::Instant::now();
        let until = started + Duration::from_secs(40);
        let flooders: Vec<_> = (0..4u32)
            .map(|k| {
                let (addr, highest, n) = (addr.clone(), highest.clone(), n.clone());
                tokio::spawn(async move {
                    let mut i = 0u32;
                    while highest.load(Relaxed) <= first.bits + 1 && std::time::Instant::now() < until {
                        let from = format!("127.0.0.{}", 2 + k * 10 + i % 10);
                        let (ticket, _) = challenge(&from, &addr, "alice").await;
                        highest.fetch_max(ticket.bits, Relaxed);
                        let solution = Solution { counter: solve(&ticket), answer: None, ticket };
                        let r = login_solved_with(&from, &addr, Credential::Token(token), solution).await;
                        assert!(matches!(r, Some(Response::LoggedIn { .. })), "{r:?}");
                        n.fetch_add(1, Relaxed);
                        i += 1;
                    }
                })
            })
            .collect();
        for f in flooders {
            f.await.expect("flooder");
        }
        let highest = highest.load(Relaxed);
        assert!(
            highest > first.bits + 1,
            "effort stayed at {highest} bits after {} logins in {:?}",
            n.load(Relaxed),
            started.elapsed()
        );
        // Quiet for a while: one bit down per second.
        tokio::time::sleep(Duration::from_secs(highest as u64 - 4 + 2)).await;
        let (after, _) = challenge("127.0.0.2", &addr, "alice").await;
        assert!(after.bits < highest, "still {} bits (peak {highest})", after.bits);
    });
}

/// Issue 21 replaced "flagged, never refused": an answer under the floor (`min_human_ms +
/// per_char_ms × length`, 1.4 s for five characters) is refused whether it is right or
/// wrong, in the same words, its ticket spent; the first time from a source weighs nothing,
/// a repeat is scored (`too_fast`); the network's next challenge asks more work.
#[test]
fn an_answer_under_the_floor_is_refused_and_does_not_log_in() {
    // Light work: the quick answer's time must not be spent hashing (debug builds are slow).
    let (listener, answers) =
        listener("threshold = 1000\nprefix_threshold = 1000\n[challenges]\nmin_bits = 8\nmax_bits = 16\n");
    let addr = listener.addr.clone();
    let first_bits = run(async {
        wrong_passwords("127.0.0.1", &addr, 3).await;
        let (ticket, _) = challenge("127.0.0.1", &addr, "alice").await;
        let bits = ticket.bits;
        let started = std::time::Instant::now();
        let quick = Solution { counter: solve(&ticket), answer: Some(answer_of(&answers, &ticket)), ticket };
        let right = login_solved("127.0.0.1", &addr, PASSWORD, quick.clone()).await;
        println!("a right answer sent {:?} after its challenge: {right:?}", started.elapsed());
        // The second ticket, answered wrong as fast: the very same words.
        let (ticket, _) = challenge("127.0.0.1", &addr, "alice").await;
        let wrong = Solution { counter: solve(&ticket), answer: Some("XXXXX".into()), ticket };
        let wrong = login_solved("127.0.0.1", &addr, PASSWORD, wrong).await;
        for r in [&right, &wrong] {
            assert!(
                matches!(r, Some(Response::Error { code: ErrorCode::ChallengeFailed, message })
                    if message.contains("faster than a person can read and type it") && message.contains("ask for a new one")
                        && !message.contains("wrong")),
                "{r:?}"
            );
        }
        assert_eq!(right, wrong, "the refusal does not tell a right answer from a wrong one");
        // Spent: the right answer sent again after the floor does not log in either.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let r = login_solved("127.0.0.1", &addr, PASSWORD, quick).await;
        assert!(
            matches!(&r, Some(Response::Error { code: ErrorCode::ChallengeFailed, message }) if message.contains("already answered")),
            "{r:?}"
        );
        bits
    });
    // The first was recorded without weight, the repeat scored.
    let audit = ok(&listener.admin().args(["audit", "--kind", "too_fast", "--json"]).output().expect("audit"));
    assert_eq!(audit.matches("captcha answered in").count(), 1, "{audit}");
    assert!(audit.contains("again"), "{audit}");
    let refused = ok(&listener.admin().args(["audit", "--kind", "refused", "--json"]).output().expect("audit"));
    assert_eq!(refused.matches("too fast, the first time").count(), 1, "{refused}");
    println!("{refused}{audit}");
    for line in listener.log().lines().filter(|l| l.contains("too_fast")) {
        println!("{line}");
    }
    let logins = ok(&listener.admin().args(["audit", "--kind", "login", "--json"]).output().expect("audit"));
    assert!(!logins.contains("alice"), "a login under the floor: {logins}");
    run(async {
        let (ticket, _) = challenge("127.0.0.1", &addr, "alice").await;
        // The next challenge for this network asks more work (two fast answers: +4 bits).
        assert!(ticket.bits >= (first_bits + 4).min(16), "{} after {first_bits}", ticket.bits);
        // Past the floor: logged in, and nothing more recorded as too fast.
        tokio::time::sleep(Duration::from_millis(2000)).await;
        let slow = Solution { counter: solve(&ticket), answer: Some(answer_of(&answers, &ticket)), ticket };
        let r = login_solved("127.0.0.1", &addr, PASSWORD, slow).await;
        assert!(matches!(r, Some(Response::LoggedIn { .. })), "{r:?}");
    });
    let audit = ok(&listener.admin().args(["audit", "--kind", "too_fast", "--json"]).output().expect("audit"));
    assert_eq!(audit.matches("captcha answered in").count(), 1, "{audit}");
}

/// qxfer/6 clients get the crowded 152x44 picture (drawn with quadrants); qxfer/5 clients
/// keep today's 72x24 one, which their half blocks draw.
#[test]
fn each_protocol_gets_the_picture_its_clients_draw() {
    let (listener, _) = listener("");
    let addr = listener.addr.clone();
    run(async {
        wrong_passwords("127.0.0.1", &addr, 3).await;
        for (alpn, size) in [(qxfer::wire::ALPN, (152, 44)), (qxfer::wire::ALPN_V5, (72, 24))] {
            let mut raw = Raw::connect_speaking(alpn, "127.0.0.1", &addr).await.expect("connect");
            match raw.call(&Request::Challenge { user: "alice".into() }).await {
                Some(Response::Challenge { ticket, picture: Some(p) }) => {
                    assert_eq!(ticket.kind, ChallengeKind::Captcha);
                    assert_eq!((p.width, p.height), size, "{}", String::from_utf8_lossy(alpn));
                }
                r => panic!("{r:?}"),
            }
        }
    });
}

/// A listener with the answer hook, and a user whose client reads answers from the same
/// file (both hooks are debug-build only).
fn cli_listener() -> (Listener, PathBuf, tempfile::TempDir) {
    let hooks = tempfile::tempdir().expect("tempdir");
    let answers = hooks.path().join("answers.txt");
    let hook = answers.to_str().expect("utf8").to_owned();
    let listener = Listener::start_with_env(
        tempfile::tempdir().expect("tempdir"),
        "127.0.0.1:0",
        &[],
        &[("QXFER_TEST_CAPTCHA_ANSWERS", hook.as_str())],
    );
    listener.add_user("alice");
    (listener, answers, hooks)
}

fn wrong_password_runs(alice: &User, n: usize) {
    for _ in 0..n {
        let out = alice.cmd("inbox").env("QXFER_PASSWORD", "not-the-password").output().expect("inbox");
        assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn the_client_answers_the_step_up_and_says_why_when_it_cannot() {
    let (listener, answers, _hooks) = cli_listener();
    let alice = User::new(&listener, "alice");
    wrong_password_runs(&alice, 3);
    // No terminal and no --captcha-file: exit 7, in words.
    let out = alice.cmd("inbox").output().expect("inbox");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{err}");
    assert!(err.contains("captcha") && err.contains("terminal"), "{err}");
    // With the (debug-build) answer hook standing in for the person, and the picture also
    // written as a PNG: logged in.
    let png = alice.path("captcha.png");
    let out = alice
        .cmd("inbox")
        .arg("--captcha-file")
        .arg(&png)
        .env("QXFER_TEST_CAPTCHA_ANSWERS", &answers)
        .output()
        .expect("inbox");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bytes = std::fs::read(&png).expect("png");
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&png).expect("png").permissions().mode() & 0o777, 0o600);
}

/// What a person sees: the captcha drawn in quadrant blocks on a real terminal (tmux; a
/// qxfer/6 client gets the 152x44 picture, 76 columns and 22 lines), then the
/// characters typed at the prompt log the user in.
#[test]
fn the_captcha_renders_as_quadrant_blocks_on_a_terminal() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("tmux is not installed; skipped");
        return;
    }
    let (listener, answers, hooks) = cli_listener();
    let alice = User::new(&listener, "alice");
    wrong_password_runs(&alice, 3);
    let socket = hooks.path().join("tmux.sock");
    let done = hooks.path().join("exit-code");
    let bin = env!("CARGO_BIN_EXE_qxfer");
    let line = format!(
        "QXFER_CONFIG_DIR={} QXFER_PASSWORD='{PASSWORD}' {bin} inbox {} --user alice --accept-new; echo $? > {}; sleep 60",
        alice.config.path().display(),
        listener.addr,
        done.display()
    );
    /// The tmux server, stopped however the test ends.
    struct Server(PathBuf);
    impl Drop for Server {
        fn drop(&mut self) {
            let _ = Command::new("tmux").arg("-S").arg(&self.0).arg("kill-server").output();
        }
    }
    let _server = Server(socket.clone());
    let tmux = |args: &[&str]| Command::new("tmux").arg("-S").arg(&socket).args(args).output().expect("tmux");
    let started = tmux(&["new-session", "-d", "-x", "100", "-y", "40", "sh", "-c", &line]);
    assert!(started.status.success(), "{}", String::from_utf8_lossy(&started.stderr));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let screen = loop {
        let shown = String::from_utf8_lossy(&tmux(&["capture-pane", "-p"]).stdout).into_owned();
        if shown.contains("Type the characters you see") {
            break shown;
        }
        assert!(std::time::Instant::now() < deadline, "no captcha on the terminal:\n{shown}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let blocks = screen.chars().filter(|c| ('\u{2580}'..='\u{259f}').contains(c)).count();
    assert!(blocks > 100, "{blocks} block characters:\n{screen}");
    let quadrants = screen.chars().filter(|c| "▘▝▖▗▚▞▛▜▙▟▌▐".contains(*c)).count();
    assert!(quadrants > 20, "{quadrants} quadrants:\n{screen}");
    // The picture's rows: 22 lines of 76 columns between the explanation and the prompt.
    let rows: Vec<&str> = screen
        .lines()
        .skip_while(|l| !l.contains("for this account or address"))
        .skip(1)
        .take_while(|l| !l.contains("Type the characters"))
        .collect();
    assert_eq!(rows.len(), 22, "{screen}");
    assert!(rows.iter().all(|l| l.chars().count() <= 76), "{screen}");
    let text = std::fs::read_to_string(&answers).expect("answers");
    let answer = text.lines().last().and_then(|l| l.split(' ').nth(1)).expect("answer").to_owned();
    // A person takes a few seconds to read it.
    std::thread::sleep(Duration::from_millis(2500));
    tmux(&["send-keys", &answer, "Enter"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !done.exists() {
        assert!(std::time::Instant::now() < deadline, "the client did not finish");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(std::fs::read_to_string(&done).expect("code").trim(), "0");
}

/// The step-up does not replace the ban: someone who keeps failing with solved challenges
/// is still banned at fail2ban's five failures.
#[test]
fn solving_challenges_does_not_save_a_guesser_from_the_ban() {
    let (listener, answers) = listener("");
    let addr = listener.addr.clone();
    run(async {
        wrong_passwords("127.0.0.1", &addr, 3).await;
        // Two more failures, with solved challenges, make five.
        for _ in 0..2 {
            let (ticket, _) = challenge("127.0.0.1", &addr, "alice").await;
            tokio::time::sleep(Duration::from_millis(2300)).await;
            let solution = Solution { counter: solve(&ticket), answer: Some(answer_of(&answers, &ticket)), ticket };
            let r = login_solved("127.0.0.1", &addr, "still-not-the-password", solution).await;
            assert!(matches!(r, Some(Response::Error { code: ErrorCode::AuthFailed, .. }) | None), "{r:?}");
        }
    });
    listener.wait_for_ban("127.0.0.1/32");
    run(async {
        assert!(!Raw::admitted_from("127.0.0.1", &addr).await, "a guesser past five failures is not banned");
    });
}
