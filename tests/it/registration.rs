//! Self-registration and behaviour too perfect to be human, on a real listener: a
//! registrar on a timer is challenged harder and then refused while a person registers;
//! reserved and look-alike names are refused in words; a new account's quota and daily
//! deliveries hold; an automation token is never judged for timing and still rate-limited.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use qxfer::challenge::pow;
use qxfer::wire::{AccountReply, Credential, ErrorCode, Request, Response, Solution, Ticket};

use crate::raw::{run, Raw};
use crate::support::*;

/// A listener taking registrations, judging loopback like any network (no exemption),
/// banning nobody, with light work, a 200 ms floor for reading a captcha, and the
/// captcha answer hook. `extra` comes first (its sections win).
fn listener(extra: &str) -> (Listener, PathBuf) {
    let data = tempfile::tempdir().expect("tempdir");
    let answers = data.path().join("captcha-answers.txt");
    let config = data.path().join("registration.toml");
    std::fs::write(
        &config,
        format!(
            "{extra}\n[scoring]\nexempt = []\nthreshold = 1000000\nprefix_threshold = 1000000\n\
             [challenges]\nmin_bits = 8\nmax_bits = 16\nmin_human_ms = 200\nper_char_ms = 0\nchallenge_after = 1000\n"
        ),
    )
    .expect("config");
    let config = config.to_str().expect("utf8").to_owned();
    let hook = answers.to_str().expect("utf8").to_owned();
    let l = Listener::start_with_env(
        data,
        "127.0.0.1:0",
        &["--config", &config],
        &[("QXFER_TEST_CAPTCHA_ANSWERS", hook.as_str())],
    );
    (l, answers)
}

fn answer_of(answers: &Path, ticket: &Ticket) -> String {
    let nonce = hex::encode(ticket.nonce);
    let text = std::fs::read_to_string(answers).expect("answers");
    text.lines().find_map(|l| l.strip_prefix(&format!("{nonce} "))).expect("answer for this ticket").to_owned()
}

/// Register `user` from `from` as a client would: ask for the captcha, read it for
/// `think`, solve the work, register. Returns the captcha's work bits and the reply.
async fn register(from: &str, addr: &str, answers: &Path, user: &str, think: Duration) -> (u8, Option<Response>) {
    let mut raw = Raw::connect_from(from, addr).await.expect("connect");
    let ticket = match raw.call(&Request::RegisterChallenge { user: user.into() }).await {
        Some(Response::Challenge { ticket, picture: Some(_) }) => ticket,
        r => return (0, r),
    };
    tokio::time::sleep(think).await;
    let answer = answer_of(answers, &ticket);
    let counter = pow::solve_some(&ticket.nonce, ticket.bits, 0, u64::MAX).expect("solved");
    let bits = ticket.bits;
    let solution = Solution { ticket, counter, answer: Some(answer) };
    let mut raw = Raw::connect_from(from, addr).await.expect("connect");
    (bits, raw.call(&Request::Register { user: user.into(), password: PASSWORD.into(), solution }).await)
}

/// Register `user` from `from` on a timer: the captcha asked for at `tick`, the
/// registration sent at `tick` + 1.5 s (slow enough to pass for reading it), so long as
/// the reply, the work and a new connection take less than that (a host too slow for a
/// timer says so).
async fn register_on_timer(
    from: String,
    addr: String,
    answers: PathBuf,
    user: String,
    tick: tokio::time::Instant,
) -> (u8, Option<Response>) {
    let mut raw = Raw::connect_from(&from, &addr).await.expect("connect");
    let late = tokio::time::Instant::now().saturating_duration_since(tick);
    assert!(late < Duration::from_millis(100), "{user}: the host is too slow to keep a timer ({late:?} late)");
    tokio::time::sleep_until(tick).await;
    let ticket = match raw.call(&Request::RegisterChallenge { user: user.clone() }).await {
        Some(Response::Challenge { ticket, picture: Some(_) }) => ticket,
        r => return (0, r),
    };
    let answer = answer_of(&answers, &ticket);
    // Solved off the runtime's threads, so no other task's tick waits for it.
    let (nonce, bits) = (ticket.nonce, ticket.bits);
    let counter = tokio::task::spawn_blocking(move || pow::solve_some(&nonce, bits, 0, u64::MAX))
        .await
        .expect("join")
        .expect("solved");
    let solution = Solution { ticket, counter, answer: Some(answer) };
    let mut raw = Raw::connect_from(&from, &addr).await.expect("connect");
    let send_at = tick + Duration::from_millis(1500);
    let late = tokio::time::Instant::now().saturating_duration_since(send_at);
    assert!(late < Duration::from_millis(100), "{user}: the host is too slow to keep a timer ({late:?} late)");
    tokio::time::sleep_until(send_at).await;
    (bits, raw.call(&Request::Register { user, password: PASSWORD.into(), solution }).await)
}

/// Run `action(i, tick)` for `i` in `0..n`, each started on its own at `start + i × period`
/// (a timer's cadence: a slow reply from the listener never delays the next one), and
/// collect the results in order.
async fn on_a_timer<F, Fut, T>(n: u32, period: Duration, action: F) -> Vec<T>
where
    F: Fn(u32, tokio::time::Instant) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    // Far enough ahead for the first connection's handshake.
    let start = tokio::time::Instant::now() + Duration::from_millis(1000);
    let mut tasks = Vec::new();
    for i in 0..n {
        let tick = start + period * i;
        // Started ahead of its tick, so connecting is not part of the cadence.
        tokio::time::sleep_until(tick - Duration::from_millis(1000)).await;
        tasks.push(tokio::spawn(action(i, tick)));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("task"));
    }
    out
}

fn created(r: &Option<Response>) -> bool {
    matches!(r, Some(Response::Account(AccountReply::Done { text })) if text.contains("created"))
}

fn error_text(r: &Option<Response>) -> String {
    match r {
        Some(Response::Error { message, .. }) => message.clone(),
        other => format!("{other:?}"),
    }
}

#[test]
fn registration_is_off_unless_the_operator_turns_it_on() {
    let l = Listener::start();
    let u = User::new(&l, "newbie");
    let out = run_stdin(u.cmd("register").arg("--password-stdin"), "a-long-password");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not take registrations"), "{out:?}");
}

#[test]
fn a_registrar_on_a_timer_is_challenged_harder_then_refused_and_a_person_registers() {
    let (l, answers) = listener("[registration]\nenabled = true\nper_network_per_day = 100");
    let addr = l.addr.clone();
    run(async {
        // A script: every 2 s on the dot, from four addresses of one network, answering
        // each captcha 1.5 s after asking for it.
        let results = on_a_timer(12, Duration::from_millis(2000), |i, tick| {
            let from = format!("127.0.30.{}", 1 + i % 4);
            register_on_timer(from, addr.clone(), answers.clone(), format!("bot{i}"), tick)
        })
        .await;
        let refused_at =
            results.iter().position(|(_, r)| !created(r)).expect("the timer-driven registrar was never refused");
        for (i, (_, r)) in results.iter().enumerate().skip(refused_at) {
            assert!(error_text(r).contains("look automated"), "bot{i}: {r:?}");
        }
        assert!(refused_at >= 5, "refused before it could be judged: {refused_at}");
        let bits: Vec<u8> = results.iter().take(refused_at + 1).map(|(b, _)| *b).collect();
        let first = *bits.first().expect("bits");
        let last = *bits.last().expect("bits");
        assert!(last > first, "not challenged harder before the refusal: {bits:?}");
        // A person on another network: reads the captcha for a second and a half, typos
        // aside, and registers.
        let (_, r) = register("127.0.40.5", &addr, &answers, "carol", Duration::from_millis(1500)).await;
        assert!(created(&r), "{r:?}");
        // Someone asking for a few captchas at a person's uneven pace is not judged a script.
        for (i, gap) in [300u64, 900, 450, 1300, 600, 1700].into_iter().enumerate() {
            tokio::time::sleep(Duration::from_millis(gap)).await;
            let mut raw = Raw::connect_from("127.0.41.5", &addr).await.expect("connect");
            let r = raw.call(&Request::RegisterChallenge { user: format!("dave{i}") }).await;
            assert!(matches!(r, Some(Response::Challenge { .. })), "{r:?}");
        }
    });
    let log = l.log();
    assert!(log.contains("too_regular") && log.contains("127.0.30.0/24"), "{log}");
    assert!(!log.contains("127.0.41.0/24: intervals"), "a person was judged a script: {log}");
    // The accounts made are real: carol logs in.
    let carol = User::new(&l, "carol");
    ok(&carol.cmd("inbox").arg("--bind").arg("127.0.40.5").output().expect("inbox"));
}

#[test]
fn reserved_and_look_alike_names_are_refused_in_words() {
    let (l, answers) = listener("[registration]\nenabled = true\nper_network_per_day = 100");
    l.add_user("alice");
    // The client knows the reserved names: refused before connecting (exit 2).
    let u = User::new(&l, "postmaster");
    let out = run_stdin(u.cmd("register").arg("--password-stdin"), "a-long-password");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("reserved"), "{out:?}");
    let addr = l.addr.clone();
    run(async {
        for (name, says) in [
            ("adm1n", "reserved"),
            ("r00t", "reserved"),
            ("alice", "taken"),
            ("a1ice", "looks too much like an existing account"),
            ("al.ice", "looks too much like an existing account"),
        ] {
            let (_, r) = register("127.0.31.9", &addr, &answers, name, Duration::from_millis(300)).await;
            assert!(error_text(&r).contains(says), "{name}: {r:?}");
        }
    });
    assert!(l.log().contains("registration_refused"));
}

#[test]
fn a_new_accounts_quota_and_daily_deliveries_hold() {
    let (l, _answers) = listener(
        "[registration]\nenabled = true\nquota_bytes = 65536\ndeliveries_per_day = 2\nper_network_per_day = 5",
    );
    l.add_user("alice");
    l.add_user("bob");
    // Registered with the real client (its captcha answered by the debug hook).
    let newbie = User::new(&l, "newbie");
    let hook = l.data.path().join("captcha-answers.txt");
    let out = run_stdin(
        newbie
            .cmd("register")
            .args(["--password-stdin", "--bind", "127.0.50.5"])
            .env("QXFER_TEST_CAPTCHA_ANSWERS", &hook),
        PASSWORD,
    );
    let stdout = ok(&out);
    assert!(stdout.contains("account newbie created"), "{stdout}");
    // Two deliveries a day (a send to two recipients is two); the third is refused in
    // words, and the next day works.
    ok(&newbie.cmd("send").args(["--to", "alice", "--to", "bob", "-m", "hello both"]).output().expect("send"));
    let out = newbie.cmd("send").args(["--to", "alice", "-m", "one too many"]).output().expect("send");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 deliveries a day"), "{out:?}");
    l.advance_clock(86_400);
    ok(&newbie.cmd("send").args(["--to", "alice", "-m", "a new day"]).output().expect("send"));
    // Its mailbox holds 64 KiB: a bigger file for it is refused, a small one is not.
    let alice = User::new(&l, "alice");
    std::fs::write(alice.path("big.bin"), vec![7u8; 100 * 1024]).expect("write");
    std::fs::write(alice.path("small.bin"), vec![7u8; 10 * 1024]).expect("write");
    let out = alice.cmd("send").args(["--to", "newbie", "big.bin"]).output().expect("send");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no room"), "{out:?}");
    // Its cap holds when it is a further recipient too.
    let out = alice.cmd("send").args(["--to", "bob", "--to", "newbie", "big.bin"]).output().expect("send");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no room"), "{out:?}");
    ok(&alice.cmd("send").args(["--to", "newbie", "small.bin"]).output().expect("send"));
    // The operator's accounts have no such caps.
    for i in 0..3 {
        ok(&alice.cmd("send").args(["--to", "newbie", "-m", &format!("hi {i}")]).output().expect("send"));
    }
}

#[test]
fn an_automation_token_is_not_judged_for_timing_but_is_still_rate_limited() {
    let (l, _answers) = listener("[limits]\nrequests_per_second_per_account = 1\nrequest_burst = 10");
    l.add_user("alice");
    let alice = User::new(&l, "alice");
    let out = ok(&qxfer()
        .current_dir(alice.work.path())
        .env("QXFER_CONFIG_DIR", alice.config.path())
        .env("QXFER_PASSWORD", PASSWORD)
        .args(["account", "tokens", "new", &l.addr, "--user", "alice", "--accept-new", "--automation"])
        .output()
        .expect("tokens new"));
    let token: [u8; 32] = hex::decode(out.trim()).expect("hex").try_into().expect("32 bytes");
    // An automation token is a change: it works once its delay (a day) ended.
    l.advance_clock(24 * 3600 + 60);
    let addr = l.addr.clone();
    run(async {
        // A script logging in with its automation token every 2 s on the dot, and the same
        // script with a password (judged).
        for (from, credential) in
            [("127.0.60.5", Credential::Token(token)), ("127.0.61.5", Credential::Password(PASSWORD.into()))]
        {
            let replies = on_a_timer(7, Duration::from_millis(2000), |_, tick| {
                let (addr, credential) = (addr.clone(), credential.clone());
                async move {
                    let mut raw = Raw::connect_from(from, &addr).await.expect("connect");
                    tokio::time::sleep_until(tick).await;
                    raw.call(&Request::Login { user: "alice".into(), credential }).await
                }
            })
            .await;
            for r in replies {
                assert!(matches!(r, Some(Response::LoggedIn { .. })), "{r:?}");
            }
        }
        // Rate limits hold for the automation token's session all the same.
        let mut raw = Raw::connect_from("127.0.60.5", &addr).await.expect("connect");
        let r = raw.call(&Request::Login { user: "alice".into(), credential: Credential::Token(token) }).await;
        assert!(matches!(r, Some(Response::LoggedIn { .. })), "{r:?}");
        let mut limited = 0;
        let started = Instant::now();
        for _ in 0..40 {
            match raw.call(&Request::Inbox { after: 0 }).await {
                Some(Response::Error { code: ErrorCode::Limit, .. }) => limited += 1,
                Some(_) => {}
                None => break,
            }
        }
        assert!(limited > 0, "40 requests in {:?} were never limited", started.elapsed());
    });
    let log = l.log();
    assert!(!log.contains("127.0.60.0/24"), "the automation token was judged: {log}");
    assert!(log.contains("logins from network 127.0.61.0/24") || log.contains("logins of account alice"), "{log}");
}
