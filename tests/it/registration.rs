//! Self-registration and behaviour too perfect to be human, on a real listener: a
//! registrar on a timer is challenged harder and then refused at its captcha request, its
//! neighbours not; three addresses of a network on a timer refuse the network; today's caps
//! refuse at the captcha request, in words per cap, exit 8; without a terminal the client
//! refuses before connecting; a banned address is issued no captcha; reserved and
//! look-alike names are refused in words; a new account's quota and daily deliveries hold;
//! an automation token is never judged for timing and still rate-limited.

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
    let hook = l.data.path().join("captcha-answers.txt");
    let out = run_stdin(
        u.cmd("register").arg("--password-stdin").env("QXFER_TEST_CAPTCHA_ANSWERS", &hook),
        "a-long-password",
    );
    assert_eq!(out.status.code(), Some(8), "a refused registration: {out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not take registrations"), "{out:?}");
}

/// Ask for a registration captcha for `user` from `from`: its ticket, or the reply.
async fn ask(from: &str, addr: &str, user: &str) -> Result<Ticket, Option<Response>> {
    let mut raw = Raw::connect_from(from, addr).await.expect("connect");
    match raw.call(&Request::RegisterChallenge { user: user.into() }).await {
        Some(Response::Challenge { ticket, picture: Some(_) }) => Ok(ticket),
        r => Err(r),
    }
}

/// Registration captchas asked for on a timer (every `period`, connecting ahead of each
/// tick), `n` of them, from the addresses `from(i)`: each reply in order.
async fn ask_on_a_timer(
    addr: &str,
    n: u32,
    period: Duration,
    from: impl Fn(u32) -> String,
) -> Vec<Result<Ticket, Option<Response>>> {
    on_a_timer(n, period, |i, tick| {
        let (from, addr) = (from(i), addr.to_owned());
        async move {
            let mut raw = Raw::connect_from(&from, &addr).await.expect("connect");
            let late = tokio::time::Instant::now().saturating_duration_since(tick);
            assert!(late < Duration::from_millis(100), "the host is too slow to keep a timer ({late:?} late)");
            tokio::time::sleep_until(tick).await;
            match raw.call(&Request::RegisterChallenge { user: format!("bot{i}") }).await {
                Some(Response::Challenge { ticket, picture: Some(_) }) => Ok(ticket),
                r => Err(r),
            }
        }
    })
    .await
}

/// Rule of issue 21 (replacing issue 13's "two signals from a network refuse its
/// registrations"): a regularity signal is the address's; registrations "look automated" on
/// the address's own repeated signals or on its network's shared signal (three or more of
/// its addresses regular), never on one neighbour's; and they are refused at the captcha
/// request, before anyone types one.
#[test]
fn a_registrar_on_a_timer_is_refused_at_its_captcha_request_and_its_neighbours_are_not() {
    let (l, answers) = listener("[registration]\nenabled = true\nper_network_per_day = 100");
    let addr = l.addr.clone();
    run(async {
        let first = ask("127.0.30.200", &addr, "neighbour0").await.expect("a captcha").bits;
        // A script asking for a registration captcha every 1.2 s on the dot, from one address.
        let replies = ask_on_a_timer(&addr, 12, Duration::from_millis(1200), |_| "127.0.30.1".into()).await;
        let bits: Vec<u8> = replies.iter().map(|r| r.as_ref().map_or(0, |t| t.bits)).collect();
        println!("the script's captchas: {bits:?} bits (0: refused)");
        // The first signal (six requests) makes its captchas harder; the second (twelve)
        // refuses it, at the request, in words.
        assert!(replies.iter().take(6).all(Result::is_ok), "refused before it could be judged: {bits:?}");
        assert!(bits.get(6).is_some_and(|b| *b > first), "not challenged harder after a signal: {bits:?}");
        let refusal = replies.last().expect("12 replies").as_ref().expect_err("the script still got a captcha");
        let text = error_text(refusal);
        assert!(
            text.contains("registrations from your address (127.0.30.1) look automated"),
            "refused for its own signals: {text}"
        );
        assert!(matches!(refusal, Some(Response::Error { code: ErrorCode::Limit, .. })), "{refusal:?}");
        // Its neighbour on the same /24 is neither challenged harder nor refused: it asks
        // for a captcha at a person's pace, reads it, and registers.
        let ticket = ask("127.0.30.200", &addr, "neighbour").await.expect("the neighbour is refused");
        assert_eq!(ticket.bits, first, "a neighbour's signals raised another address's effort");
        let (_, r) = register("127.0.30.200", &addr, &answers, "neighbour", Duration::from_millis(1500)).await;
        assert!(created(&r), "{r:?}");
        // Three addresses of another network taking turns on one timer: the network's
        // signal, shared by all its addresses (a fourth is refused too).
        let replies =
            ask_on_a_timer(&addr, 6, Duration::from_millis(1200), |i| format!("127.0.32.{}", 1 + i % 3)).await;
        assert!(replies.iter().take(5).all(Result::is_ok), "{replies:?}");
        let text = error_text(replies.last().expect("6").as_ref().expect_err("not refused"));
        assert!(text.contains("registrations from your network (127.0.32.0/24) look automated"), "{text}");
        let refusal = ask("127.0.32.77", &addr, "fourth").await.expect_err("the network's shared signal");
        assert!(error_text(&refusal).contains("3 of its addresses act on a timer"), "{refusal:?}");
        // A person on another network: reads the captcha for a second and a half and registers.
        let (_, r) = register("127.0.40.5", &addr, &answers, "carol", Duration::from_millis(1500)).await;
        assert!(created(&r), "{r:?}");
        // Someone asking for a few captchas at a person's uneven pace is not judged a script.
        for (i, gap) in [300u64, 1100, 2600, 1500, 3000, 1900].into_iter().enumerate() {
            tokio::time::sleep(Duration::from_millis(gap)).await;
            assert!(ask("127.0.41.5", &addr, &format!("dave{i}")).await.is_ok());
        }
    });
    let log = l.log();
    assert!(log.contains("too_regular") && log.contains("address 127.0.30.1/32"), "{log}");
    assert!(!log.contains("127.0.30.200/32"), "the neighbour was judged: {log}");
    assert!(!log.contains("127.0.41.5/32"), "a person was judged a script: {log}");
    // The accounts made are real: carol logs in.
    let carol = User::new(&l, "carol");
    ok(&carol.cmd("inbox").arg("--bind").arg("127.0.40.5").output().expect("inbox"));
}

/// `qxfer register` through the real client, stderr not a terminal (the answer hook
/// stands in for the person), from `from`.
fn register_cli(l: &Listener, user: &str, from: &str, hook: bool) -> std::process::Output {
    let u = User::new(l, user);
    let mut cmd = u.cmd("register");
    cmd.args(["--password-stdin", "--bind", from]);
    if hook {
        cmd.env("QXFER_TEST_CAPTCHA_ANSWERS", l.data.path().join("captcha-answers.txt"));
    }
    run_stdin(&mut cmd, PASSWORD)
}

fn captchas_issued(l: &Listener) -> usize {
    std::fs::read_to_string(l.data.path().join("captcha-answers.txt")).unwrap_or_default().lines().count()
}

#[test]
fn todays_caps_refuse_at_the_captcha_request_in_words_per_cap_with_exit_8() {
    let (l, _answers) = listener("[registration]\nenabled = true\nper_network_per_day = 1");
    // One a day per /24: the first registers; a neighbour is refused before any captcha.
    let out = register_cli(&l, "first", "127.0.51.5", true);
    assert!(ok(&out).contains("account first created"));
    let issued = captchas_issued(&l);
    let out = register_cli(&l, "second", "127.0.51.6", true);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stderr}");
    assert_eq!(out.status.code(), Some(8), "{out:?}");
    assert!(stderr.contains("your network (127.0.51.0/24) registered 1 account today"), "{stderr}");
    assert!(!stderr.contains("Type the characters"), "a captcha was shown: {stderr}");
    assert_eq!(captchas_issued(&l), issued, "a captcha was issued for a registration the caps refuse");
    // Four a day per /16: three more /24s of 127.0.0.0/16 register, then a /24 that never
    // registered is told of the networks near it, not of "this network".
    for (i, from) in ["127.0.52.5", "127.0.53.5", "127.0.54.5"].into_iter().enumerate() {
        ok(&register_cli(&l, &format!("near{i}"), from, true));
    }
    let issued = captchas_issued(&l);
    let out = register_cli(&l, "fresh", "127.0.55.5", true);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stderr}");
    assert_eq!(out.status.code(), Some(8), "{out:?}");
    assert!(stderr.contains("networks near yours (127.0.0.0/16) registered 4 accounts today"), "{stderr}");
    assert!(!stderr.contains("your network") && !stderr.contains("this network"), "{stderr}");
    assert_eq!(captchas_issued(&l), issued);
    let log = l.log();
    assert!(log.contains("registration_refused"), "{log}");
}

#[test]
fn without_a_terminal_register_refuses_before_connecting() {
    let (l, _answers) = listener("[registration]\nenabled = true");
    let before = l.status()["connections_total"].as_u64().expect("connections_total");
    let out = register_cli(&l, "scripted", "127.0.56.5", false);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stderr}");
    assert_eq!(out.status.code(), Some(8), "{out:?}");
    assert!(stderr.contains("registration needs a person at a terminal"), "{stderr}");
    assert!(stderr.contains("ask the listener's operator to add the account (`qxfer user add scripted`)"), "{stderr}");
    assert!(!stderr.contains("token"), "advised tokens, which cannot register: {stderr}");
    assert_eq!(l.status()["connections_total"].as_u64(), Some(before), "the client connected anyway");
    assert_eq!(captchas_issued(&l), 0);
}

/// The offences recorded before a captcha request are scored before it is answered: the
/// wrong answer that bans an address is in force before its next request, which gets no
/// captcha (the connection is closed with the ban's notice), for a registration and for a
/// login's challenge alike.
#[test]
fn a_banned_address_is_issued_no_captcha() {
    let data = tempfile::tempdir().expect("tempdir");
    let config = data.path().join("ban.toml");
    std::fs::write(
        &config,
        "[registration]\nenabled = true\nper_network_per_day = 100\n\
         [scoring]\nexempt = []\nthreshold = 1.5\nprefix_threshold = 1000000\nchallenge_failed = 0.5\n\
         [challenges]\nmin_bits = 8\nmax_bits = 16\nmin_human_ms = 0\nper_char_ms = 0\nchallenge_after = 1000\n",
    )
    .expect("config");
    let hook = data.path().join("captcha-answers.txt");
    let (config, hook_s) = (config.to_str().expect("utf8").to_owned(), hook.to_str().expect("utf8").to_owned());
    let l = Listener::start_with_env(
        data,
        "127.0.0.1:0",
        &["--config", &config],
        &[("QXFER_TEST_CAPTCHA_ANSWERS", hook_s.as_str())],
    );
    let addr = l.addr.clone();
    for (from, login) in [("127.0.70.5", false), ("127.0.71.5", true)] {
        let next = run(async {
            let mut last = None;
            for i in 0..3 {
                let ticket = ask(from, &addr, &format!("guess{i}")).await.expect("a captcha before the ban");
                let counter = pow::solve_some(&ticket.nonce, ticket.bits, 0, u64::MAX).expect("solved");
                let solution = Solution { ticket, counter, answer: Some("WRONG".into()) };
                // The next request's connection is open before the answer that bans.
                let mut next = Raw::connect_from(from, &addr).await.expect("connect");
                let mut raw = Raw::connect_from(from, &addr).await.expect("connect");
                let r = raw
                    .call(&Request::Register { user: format!("guess{i}"), password: PASSWORD.into(), solution })
                    .await;
                assert!(matches!(r, Some(Response::Error { code: ErrorCode::ChallengeFailed, .. })), "{r:?}");
                // At once, as the client's "here is another one" does.
                let ask = if login {
                    Request::Challenge { user: "alice".into() }
                } else {
                    Request::RegisterChallenge { user: format!("guess{}", i + 1) }
                };
                last = Some(next.call(&ask).await);
            }
            last.expect("three tries")
        });
        assert!(
            !matches!(next, Some(Response::Challenge { .. })),
            "{from}: a challenge issued as it was banned: {next:?}"
        );
    }
    // 127.0.70.5: three asked for and two at once after a wrong answer; 127.0.71.5: three
    // (its login challenges are work alone); none once banned.
    assert_eq!(captchas_issued(&l), 8, "a captcha issued to a banned address");
    assert!(l.log().contains("event=\"ban\"") || l.log().contains("ban"), "no ban: {}", l.log());
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
        // Each from a network of its own: five registrations a second apart from one address
        // would be a burst, faster than a person types.
        for (i, (name, says)) in [
            ("adm1n", "reserved"),
            ("r00t", "reserved"),
            ("alice", "taken"),
            ("a1ice", "looks too much like an existing account"),
            ("al.ice", "looks too much like an existing account"),
        ]
        .into_iter()
        .enumerate()
        {
            let from = format!("127.0.{}.9", 31 + i);
            let (_, r) = register(&from, &addr, &answers, name, Duration::from_millis(300)).await;
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
