//! No dead ends in recovery (issue 20): every refusal says truthfully what the person can
//! do next and when, naming only paths that exist, and reads the same for a made-up name as
//! for an account. A wrong answer after the right texted code costs one of the code's
//! tries instead of the code; a used code typed again is told so and not scored; a start
//! that texts nothing says so and when the next code can go; the client shows the question
//! before its answer and reads a recovery code hidden; an announcement does not hold up the
//! code asked for right after it; a text not sent is recorded as `text_refused` with why;
//! the mailbox notice of a pending change says exactly what cancels it, with real values.

use std::time::{Duration, Instant};

use qxfer::challenge::pow;
use qxfer::wire::{AccountReply, ErrorCode, Proof, Request, Response, Solution};

use crate::raw::{run, Raw};
use crate::recovery::{account, texts, DAY, OWNER_PHONE};
use crate::support::*;
use crate::tmux::{exit_code, Tmux};

const NEW_PASSWORD: &str = "a-brand-new-password";
const ANSWER: &str = "Tom the Cat";
const HOME: &str = "127.0.0.1";

/// A listener with light work, no bans, and the texts' cooldown `cooldown` seconds.
fn listener(cooldown: u64) -> Listener {
    Listener::with_config(&format!(
        "[scoring]\nthreshold = 1000000\nprefix_threshold = 1000000\n\
         [challenges]\nmin_bits = 8\nmax_bits = 12\nchallenge_after = 1000\n[sms]\ncooldown_secs = {cooldown}\n"
    ))
}

/// A password login from `bind` with a config of its own (no saved session: it counts
/// towards a known place).
fn password_login(l: &Listener, bind: &str) {
    let u = User::new(l, "alice");
    ok(&u.cmd("inbox").args(["--bind", bind]).output().expect("inbox"));
}

/// The owner: the operator vouches for her number (settled at once); she sets a secret
/// question and recovery codes in the setup window from home (127.0.0.1), then logs in
/// from home on two more days over a week, so home is a known place. Her recovery codes.
fn owner(l: &Listener) -> (User, Vec<String>) {
    let out = run_stdin(l.admin().args(["user", "add", "alice", "--phone", OWNER_PHONE, "--password-stdin"]), PASSWORD);
    ok(&out);
    let owner = User::new(l, "alice");
    ok(&owner.cmd("inbox").output().expect("inbox"));
    let out = ok(&run_stdin(
        account(&owner, &["question", "set"], None).args(["--question", "First pet?", "--answer-stdin"]),
        ANSWER,
    ));
    assert!(out.contains("done: a new secret question"), "{out}");
    let out = ok(&run_stdin(&mut account(&owner, &["codes", "new"], None), ""));
    let codes: Vec<String> = out.lines().filter(|l| l.starts_with("  ")).map(|l| l.trim().to_owned()).collect();
    assert_eq!(codes.len(), 10, "{out}");
    for _ in 0..2 {
        l.advance_clock(4 * DAY);
        password_login(l, HOME);
    }
    let v: serde_json::Value =
        serde_json::from_str(ok(&account(&owner, &["show"], None).arg("--json").output().expect("show")).trim())
            .expect("json");
    assert_eq!(v["here_known"], true, "home is a known place: {v}");
    (owner, codes)
}

/// Wait for the `n`-th text (from 1) containing `needle`; the text.
fn nth_text(l: &Listener, n: usize, needle: &str) -> String {
    let start = Instant::now();
    loop {
        let found: Vec<String> = texts(l).into_iter().map(|(_, t)| t).filter(|t| t.contains(needle)).collect();
        if let Some(t) = found.get(n - 1) {
            return t.clone();
        }
        assert!(start.elapsed() < Duration::from_secs(15), "no text {n} with {needle:?}: {:?}", texts(l));
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn code_in(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit()).find(|w| w.len() == 8).expect("an eight-digit code").to_owned()
}

/// How texts name the listener (`qxfer HOST: ...`).
fn host_in(text: &str) -> String {
    text.strip_prefix("qxfer ").and_then(|t| t.split_once(": ")).map(|(h, _)| h.to_owned()).expect("host")
}

/// A solved work challenge for `user` from `from`.
async fn solution(from: &str, addr: &str, user: &str) -> Solution {
    let mut raw = Raw::connect_from(from, addr).await.expect("connect");
    let ticket = match raw.call(&Request::Challenge { user: user.into() }).await {
        Some(Response::Challenge { ticket, picture: None }) => ticket,
        r => panic!("{r:?}"),
    };
    let counter = pow::solve_some(&ticket.nonce, ticket.bits, 0, u64::MAX).expect("solved");
    Solution { ticket, counter, answer: None }
}

/// One recovery request for `user` from `from`, with a solved challenge.
fn call(l: &Listener, from: &str, user: &str, req: impl FnOnce(Solution) -> Request) -> Response {
    run(async {
        let solution = solution(from, &l.addr, user).await;
        let mut raw = Raw::connect_from(from, &l.addr).await.expect("connect");
        raw.call(&req(solution)).await.expect("a reply")
    })
}

fn start(l: &Listener, from: &str, user: &str) -> Response {
    call(l, from, user, |solution| Request::RecoverStart { user: user.into(), solution })
}

fn question(l: &Listener, from: &str, user: &str, code: &str) -> Response {
    call(l, from, user, |solution| Request::RecoverQuestion { user: user.into(), code: code.into(), solution })
}

fn finish(l: &Listener, from: &str, user: &str, code: &str, proof: Proof) -> Response {
    call(l, from, user, |solution| Request::RecoverFinish {
        user: user.into(),
        code: code.into(),
        proof,
        new_password: NEW_PASSWORD.into(),
        solution,
    })
}

fn answer(a: &str) -> Proof {
    Proof::Answer(a.into())
}

/// The text of a reply (done, changed or an error), with `user` written as `USER`.
fn said(r: &Response, user: &str) -> String {
    match r {
        Response::Account(AccountReply::Done { text } | AccountReply::Changed { text, .. }) => text,
        Response::Error { message, .. } => message,
        r => panic!("{r:?}"),
    }
    .replace(user, "USER")
}

/// `said`, its digits as `#` (two replies a second apart read alike).
fn shape(r: &Response, user: &str) -> String {
    said(r, user).chars().map(|c| if c.is_ascii_digit() { '#' } else { c }).collect()
}

fn refused(r: &Response, code: ErrorCode) -> String {
    match r {
        Response::Error { code: c, message } if *c == code => message.clone(),
        r => panic!("expected {code:?}: {r:?}"),
    }
}

#[test]
fn a_wrong_answer_costs_one_try_of_the_same_code_and_the_last_says_when_a_new_one_can_go() {
    let l = listener(1);
    owner(&l);
    // From home: the question comes with the right code, which is not used up by it.
    let r = start(&l, HOME, "alice");
    assert!(said(&r, "alice").contains("a code to recover it was texted just now"), "{r:?}");
    let code = code_in(&nth_text(&l, 1, "to recover account alice"));
    let r = question(&l, HOME, "alice", &code);
    let Response::Account(AccountReply::Question { question: Some(q), recovery_codes: true, tries: 5, .. }) = &r else {
        panic!("{r:?}")
    };
    assert_eq!(q, "First pet?");
    // A typo in the answer: one try of the code, and it says how many are left and until when.
    let r = finish(&l, HOME, "alice", &code, answer("Tom the Dog"));
    let msg = refused(&r, ErrorCode::AuthFailed);
    assert!(
        msg.contains("the secret answer is wrong; 4 tries left with the same texted code, which works until"),
        "{msg}"
    );
    assert!(msg.contains("or one of the recovery codes instead"), "{msg}");
    // The same code, the right answer: recovered.
    let r = finish(&l, HOME, "alice", &code, answer(ANSWER));
    assert!(said(&r, "alice").contains("recovery: a new password"), "{r:?}");

    // Away, on a network of its own: each answer costs a try, five in all (the bound: no
    // more answers per texted code than its attempts); the last says when a new code can go.
    let away = "127.0.9.1";
    l.advance_clock(60);
    for round in 1..=2 {
        let r = start(&l, away, "alice");
        assert!(said(&r, "alice").contains("texted just now"), "{r:?}");
        let code = code_in(&nth_text(&l, 1 + round, "to recover account alice"));
        for left in (1..5).rev() {
            let msg = refused(&finish(&l, away, "alice", &code, answer("Rex")), ErrorCode::AuthFailed);
            assert!(msg.contains(&format!("{left} tries left with the same texted code")), "{msg}");
        }
        let msg = refused(&finish(&l, away, "alice", &code, answer("Rex")), ErrorCode::AuthFailed);
        assert!(msg.contains("the secret answer is wrong, and the texted code has no tries left"), "{msg}");
        let next = match round {
            1 => "a new code can be texted now: qxfer recover ".to_string(),
            _ => "this network (127.0.9.0/24) has asked for the 2 recovery codes of alice it may a day, so the next \
                  code can be texted from here at"
                .to_string(),
        };
        assert!(msg.contains(&next), "round {round}: {msg}");
        assert!(msg.contains("--user alice"), "{msg}");
        // Out of tries: even the right answer is refused.
        let msg = refused(&finish(&l, away, "alice", &code, answer(ANSWER)), ErrorCode::AuthFailed);
        assert!(msg.contains("no tries left"), "{msg}");
    }
    // What the last reply said is so: a third code from there is refused, with the time.
    let msg = refused(&start(&l, away, "alice"), ErrorCode::Limit);
    assert!(msg.starts_with("no code was texted: this network (127.0.9.0/24)"), "{msg}");
    assert_eq!(texts(&l).iter().filter(|(_, t)| t.contains("to recover account alice")).count(), 3);
}

#[test]
fn a_used_code_typed_again_is_told_so_and_not_scored_while_wrong_codes_are() {
    let l = listener(1);
    let (_, codes) = owner(&l);
    start(&l, HOME, "alice");
    let code = code_in(&nth_text(&l, 1, "to recover account alice"));
    let r = finish(&l, HOME, "alice", &code, Proof::RecoveryCode(codes[0].clone()));
    assert!(said(&r, "alice").contains("recovery: a new password"), "{r:?}");
    // The old code again, from elsewhere, at both steps: told it was used, and what to do
    // (past the number's one-second cooldown, however fast this machine got here).
    l.advance_clock(2);
    let again = "127.0.8.1";
    for r in [question(&l, again, "alice", &code), finish(&l, again, "alice", &code, answer(ANSWER))] {
        let msg = refused(&r, ErrorCode::AuthFailed);
        assert!(msg.starts_with("this code was used already"), "{msg}");
        assert!(msg.contains("a new code can be texted now: qxfer recover"), "{msg}");
    }
    // A used recovery code with a fresh texted code: told so, the texted code keeps its try.
    l.advance_clock(60);
    start(&l, HOME, "alice");
    let code = code_in(&nth_text(&l, 2, "to recover account alice"));
    let msg = refused(&finish(&l, HOME, "alice", &code, Proof::RecoveryCode(codes[0].clone())), ErrorCode::AuthFailed);
    assert!(msg.contains("this recovery code was used already; give another one (9 left)"), "{msg}");
    assert!(msg.contains("(5 tries left)"), "{msg}");
    // A wrong code is a guess: scored.
    let guesser = "127.0.8.2";
    let msg = refused(&question(&l, guesser, "alice", "12345678"), ErrorCode::AuthFailed);
    assert!(msg.contains("wrong code for alice: 4 tries left"), "{msg}");
    l.wait_recorded(guesser, "recovery_wrong_code", 1);
    assert_eq!(l.recorded(again, "recovery_wrong_code"), 0, "a used code typed again is not an offence");
    assert_eq!(l.recorded(HOME, "recovery_wrong_answer"), 0, "neither is a used recovery code");
}

#[test]
fn a_start_that_texts_nothing_says_so_and_when_the_same_for_a_made_up_name() {
    let l = listener(1);
    owner(&l);
    let there = "127.0.7.1";
    // The owner's own starts at home (four codes) are not counted against her starts from
    // elsewhere, so they tell a stranger nothing.
    for _ in 0..4 {
        assert!(said(&start(&l, HOME, "alice"), "alice").contains("texted just now"));
        l.advance_clock(11 * 60);
    }
    // Step by step, alice and a made-up name get the same words (digits aside: the clock
    // ticks between the two).
    let steps: Vec<(Response, Response)> = (0..3)
        .flat_map(|_| {
            let texted = (start(&l, there, "alice"), start(&l, there, "nobody"));
            let in_force = (start(&l, there, "alice"), start(&l, there, "nobody"));
            let wrong = (question(&l, there, "alice", "12345678"), question(&l, there, "nobody", "12345678"));
            l.advance_clock(11 * 60);
            [texted, in_force, wrong]
        })
        .collect();
    for (a, n) in &steps {
        assert_eq!(shape(a, "alice"), shape(n, "nobody"));
    }
    let [texted, in_force, wrong] = [&steps[0].0, &steps[1].0, &steps[2].0].map(|r| said(r, "alice"));
    assert!(
        texted.starts_with("if USER exists and has a verified phone number, a code to recover it was texted just now")
    );
    assert!(in_force.starts_with("no new code was texted: a code to recover USER was asked for at"), "{in_force}");
    assert!(wrong.starts_with("wrong code for USER: 4 tries left with the code that works until"), "{wrong}");
    // The third round: the network's two codes a day are used, said as such, with the time.
    let third = said(&steps[6].0, "alice");
    assert!(
        third.starts_with(
            "no code was texted: this network (127.0.7.0/24) has asked for the 2 recovery codes of USER it may a day; \
             the next can be texted from here at"
        ),
        "{third}"
    );
    assert!(third.contains("or at once from a network USER is known at, if it has one: qxfer recover "), "{third}");
    assert!(matches!(steps[6].0, Response::Error { code: ErrorCode::Limit, .. }));
    // Two codes went to alice's number from there; nothing said a code went when none did.
    assert_eq!(texts(&l).iter().filter(|(_, t)| t.contains("to recover account")).count(), 4 + 2);
    // No code was ever sent for these: never "too many wrong codes".
    for user in ["alice", "nobody", "never-asked"] {
        let r = finish(&l, "127.0.7.2", user, "12345678", answer("x"));
        let msg = said(&r, user);
        assert!(msg.starts_with("no code to recover USER is waiting"), "{msg}");
        assert!(!msg.contains("too many"), "{msg}");
    }
}

#[test]
fn an_announcement_does_not_hold_up_the_code_asked_for_right_after_it() {
    // A real cooldown: a minute between two codes to one number.
    let l = listener(60);
    let (owner, _) = owner(&l);
    // A change is announced to her number (a text)...
    let before = texts(&l).len();
    let out = run_stdin(
        account(&owner, &["question", "set"], None).args(["--question", "Second pet?", "--answer-stdin"]),
        "Rex",
    );
    ok(&out);
    let start_wait = Instant::now();
    while texts(&l).len() == before {
        assert!(start_wait.elapsed() < Duration::from_secs(15), "no announcement: {:?}", texts(&l));
        std::thread::sleep(Duration::from_millis(50));
    }
    // ...and the code she asks for at once still goes.
    let r = start(&l, HOME, "alice");
    assert!(said(&r, "alice").contains("texted just now"), "{r:?}");
    let all = texts(&l);
    let last = all.last().expect("texts");
    assert_eq!(last.0, OWNER_PHONE);
    assert!(last.1.contains("to recover account alice"), "{all:?}");
    // The cooldown is real for codes: another code to the number within the minute is not
    // texted, and the reply says why.
    let refusal = run(async {
        let mut raw = Raw::login_from(HOME, &l.addr, "alice").await;
        raw.call(&Request::Account(qxfer::wire::AccountRequest::SendAuthCode)).await
    });
    let msg = refused(&refusal.expect("a reply"), ErrorCode::Limit);
    assert!(msg.contains("a text went to this number"), "{msg}");
}

#[test]
fn a_text_not_sent_is_recorded_as_refused_with_why_never_as_sent() {
    let l = listener(60);
    let (owner, _) = owner(&l);
    let number = "+34698765432";
    let there = "127.0.6.1";
    ok(&account(&owner, &["phone", "add"], None).arg(number).output().expect("phone add"));
    // Asked again at once: the number's cooldown holds it, and the reply says so.
    let out = account(&owner, &["phone", "add"], None).arg(number).output().expect("phone add");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("a text went to this number"), "{out:?}");
    l.wait_recorded(HOME, "text_refused", 1);
    let audit = ok(&l.admin().args(["audit", "--source", HOME, "--json", "--since", "30d"]).output().expect("audit"));
    let events: Vec<serde_json::Value> = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "event" && v["detail"].as_str().is_some_and(|d| d.contains("verification code")))
        .collect();
    let kinds: Vec<(&str, &str)> =
        events.iter().map(|v| (v["kind"].as_str().unwrap_or(""), v["detail"].as_str().unwrap_or(""))).collect();
    assert_eq!(kinds.len(), 2, "{audit}");
    assert_eq!(kinds.iter().filter(|(k, _)| *k == "text_sent").count(), 1, "{kinds:?}");
    assert!(
        kinds
            .iter()
            .any(|(k, d)| *k == "text_refused" && d.contains("not sent (cooldown): a text went to this number")),
        "{kinds:?}"
    );
    // A made-up name's start texts nothing, and nothing is recorded as sent.
    start(&l, there, "nobody");
    l.wait_recorded(there, "recovery_requested", 1);
    assert_eq!(l.recorded(there, "text_sent"), 0);
    let audit = ok(&l.admin().args(["audit", "--source", there, "--json", "--since", "30d"]).output().expect("audit"));
    assert!(audit.contains("no such account; nothing texted"), "{audit}");
}

#[test]
fn the_pending_change_notice_says_what_cancels_it_with_real_values() {
    let l = listener(1);
    let (owner, _) = owner(&l);
    let thief = User::new(&l, "alice");
    let there = Some("127.0.1.2");
    let out = run_stdin(
        account(&thief, &["question", "set"], there).args(["--question", "Mine?", "--answer-stdin"]),
        "thief answer",
    );
    assert!(ok(&out).contains("takes effect at"), "{out:?}");
    let host = host_in(&nth_text(&l, 1, "recover cancel"));
    let inbox = ok(&owner.cmd("inbox").arg("--json").output().expect("inbox"));
    let notice = serde_json::from_str::<serde_json::Value>(inbox.trim())
        .expect("json")
        .as_array()
        .and_then(|a| a.iter().find(|i| i["subject"].as_str().is_some_and(|s| s.contains("Pending change"))).cloned())
        .and_then(|i| i["id"].as_u64())
        .expect("the notice");
    let body = ok(&owner.cmd("read").arg(notice.to_string()).output().expect("read"));
    let v: serde_json::Value =
        serde_json::from_str(ok(&account(&owner, &["show"], None).arg("--json").output().expect("show")).trim())
            .expect("json");
    let id = v["pending"][0]["id"].as_u64().expect("pending id");
    assert!(body.contains(&format!("from anywhere, with the cancel code texted to this account's phone numbers:\n  qxfer recover cancel {host} CODE")), "{body}");
    assert!(
        body.contains(&format!(
            "or, logged in from a network this account knew before the change was asked for (not from 127.0.1.0/24):\n  qxfer account cancel alice@{host} {id}"
        )),
        "{body}"
    );
    assert!(!body.contains("USER@"), "{body}");
    // What it says is so: not from the thief's network, from home yes.
    let out = account(&thief, &["cancel"], there).arg(id.to_string()).output().expect("cancel");
    assert!(String::from_utf8_lossy(&out.stderr).contains("only from a place the account knew before"), "{out:?}");
    let out = ok(&account(&owner, &["cancel"], None).arg(id.to_string()).output().expect("cancel"));
    assert!(out.contains("cancelled: a new secret question"), "{out}");
}

/// What a person sees at a terminal (tmux): the code, then the question above its answer's
/// prompt, the new password twice; a wrong answer asks the answer again (the same code),
/// and a recovery code is read hidden.
#[test]
fn the_client_shows_the_question_before_its_answer_and_reads_a_recovery_code_hidden() {
    if !Tmux::installed() {
        return;
    }
    let l = listener(1);
    let (_, codes) = owner(&l);
    let person = User::new(&l, "alice");
    let dir = tempfile::tempdir().expect("tempdir");
    let done = dir.path().join("exit-code");
    let line = format!(
        "QXFER_CONFIG_DIR={} {} recover {} --user alice --accept-new; echo $? > {}; sleep 60",
        person.config.path().display(),
        env!("CARGO_BIN_EXE_qxfer"),
        l.addr,
        done.display()
    );
    let tmux = Tmux::start(dir.path(), (200, 50), &line);
    tmux.wait_for("Code from the text message:", 30);
    tmux.type_line(&code_in(&nth_text(&l, 1, "to recover account alice")));
    let screen = tmux.wait_for("Answer (empty: use a recovery code instead):", 30);
    let asked = screen.find("Answer (empty").expect("prompt");
    let shown = screen.find("Secret question of alice: First pet?").expect("the question is shown");
    assert!(shown < asked, "{screen}");
    tmux.type_line("Tom the Dog");
    tmux.wait_for("New password for alice:", 10);
    tmux.type_line(NEW_PASSWORD);
    tmux.wait_for("Again:", 10);
    tmux.type_line(NEW_PASSWORD);
    tmux.wait_for("4 tries left with the same texted code", 30);
    tmux.wait_for_lines("Answer (empty: use a recovery code instead):", 2);
    tmux.type_line("");
    tmux.wait_for("Recovery code:", 10);
    tmux.type_line(&codes[1]);
    assert_eq!(exit_code(&done), "0", "{}", tmux.history());
    let history = tmux.history();
    assert!(history.contains("done: recovery: a new password"), "{history}");
    assert!(!history.contains(&codes[1]) && !history.contains("Tom the Dog"), "echoed: {history}");
    // The order a person reads it in.
    let order = [
        "texted just now",
        "Code from the text message:",
        "Secret question",
        "New password",
        "Again:",
        "4 tries left",
        "Recovery code:",
        "done: recovery",
    ];
    let at: Vec<usize> = order.iter().map(|w| history.find(w).unwrap_or_else(|| panic!("{w}: {history}"))).collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{history}");
}

#[test]
fn without_a_terminal_the_client_says_so_before_a_code_is_texted() {
    let l = listener(1);
    let out = run_stdin(l.admin().args(["user", "add", "alice", "--phone", OWNER_PHONE, "--password-stdin"]), PASSWORD);
    ok(&out);
    let person = User::new(&l, "alice");
    let mut c = qxfer();
    c.env("QXFER_CONFIG_DIR", person.config.path()).args(["recover", &l.addr, "--user", "alice", "--accept-new"]);
    let out = run_stdin(c.arg("--code-stdin"), "12345678");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no terminal to ask the answer"), "{out:?}");
    // It never connected: nothing was asked for, nothing texted.
    assert!(!l.log().contains("recovery_requested"), "{}", l.log());
    assert!(texts(&l).is_empty(), "{:?}", texts(&l));
}
