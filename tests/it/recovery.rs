//! Account recovery on a real listener with the spool gateway (each text a JSON file in
//! DATA/sms-spool): the owner recovers from a known place; a thief with the password gets
//! nothing texted to their own number and their changes wait until the owner cancels
//! them; a recovery from an unknown place waits, is announced and can be cancelled;
//! guessing codes runs out of attempts and ends in a ban, and an unknown account gets the
//! same reply as a known one.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use qxfer::challenge::pow;
use qxfer::wire::{AccountReply, ErrorCode, Proof, Request, Response, Solution};

use crate::raw::{run, Raw};
use crate::support::*;

pub(crate) const DAY: u64 = 86_400;
pub(crate) const OWNER_PHONE: &str = "+34612345678";
pub(crate) const THIEF_PHONE: &str = "+447911123456";
pub(crate) const NEW_PASSWORD: &str = "a-brand-new-password";

/// A listener with light work, a 1 s text cooldown (the tests move the clock), and no bans
/// unless `extra` says otherwise (`extra` goes first, so its sections win).
pub(crate) fn listener(extra: &str) -> Listener {
    let l = Listener::with_config(&format!(
        "{extra}\n[challenges]\nmin_bits = 8\nmax_bits = 12\nchallenge_after = 1000\n[sms]\ncooldown_secs = 1\n"
    ));
    l.add_user("alice");
    l
}

pub(crate) fn no_bans() -> &'static str {
    "[scoring]\nthreshold = 1000000\nprefix_threshold = 1000000"
}

/// `qxfer account WORDS... HOST --user NAME --accept-new`, from `bind` when given.
pub(crate) fn account(u: &User, words: &[&str], bind: Option<&str>) -> Command {
    let mut c = qxfer();
    c.current_dir(u.work.path())
        .env("QXFER_CONFIG_DIR", u.config.path())
        .env("QXFER_PASSWORD", PASSWORD)
        .arg("account")
        .args(words)
        .args([&u.addr, "--user", &u.name, "--accept-new"]);
    if let Some(b) = bind {
        c.args(["--bind", b]);
    }
    c
}

/// Every text in the spool, oldest first: (to, text).
pub(crate) fn texts(l: &Listener) -> Vec<(String, String)> {
    let dir = l.data_dir().join("sms-spool");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
        .collect();
    // <ms>-<seq>.json: by time, then sequence.
    names.sort_by_key(|n| {
        let stem = n.trim_end_matches(".json");
        let (ms, seq) = stem.split_once('-').unwrap_or((stem, "0"));
        (ms.parse::<u64>().unwrap_or(0), seq.parse::<u64>().unwrap_or(0))
    });
    names
        .iter()
        .map(|n| {
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(dir.join(n)).expect("text")).expect("json");
            (v["to"].as_str().unwrap_or_default().to_owned(), v["text"].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

/// Wait for the `n`-th text (counting from 1) that matches.
pub(crate) fn nth_text(l: &Listener, n: usize, matches: impl Fn(&str, &str) -> bool) -> (String, String) {
    let start = Instant::now();
    loop {
        let found: Vec<_> = texts(l).into_iter().filter(|(to, t)| matches(to, t)).collect();
        if let Some(t) = found.get(n - 1) {
            return t.clone();
        }
        assert!(start.elapsed() < Duration::from_secs(15), "no such text; texts: {:?}", texts(l));
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn text_with(l: &Listener, needle: &str) -> (String, String) {
    nth_text(l, 1, |_, t| t.contains(needle))
}

/// The eight-digit code in a text.
pub(crate) fn code_in(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit()).find(|w| w.len() == 8).expect("an eight-digit code").to_owned()
}

/// The cancel code at the end of an announcement.
pub(crate) fn cancel_code_in(text: &str) -> String {
    text.rsplit(' ').next().expect("cancel code").trim().to_owned()
}

pub(crate) fn spawn_piped(cmd: &mut Command) -> Child {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn")
}

pub(crate) fn write_line(child: &mut Child, line: &str) {
    let stdin = child.stdin.as_mut().expect("stdin");
    stdin.write_all(format!("{line}\n").as_bytes()).expect("write");
    stdin.flush().expect("flush");
}

pub(crate) fn finish(child: Child) -> std::process::Output {
    let mut child = child;
    drop(child.stdin.take());
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        assert!(start.elapsed() < Duration::from_secs(60), "the command did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

/// `qxfer recover HOST --user alice` from `bind`, answered through stdin: `proof`, the new
/// password, then the texted code (the newest recovery text).
pub(crate) fn recover(
    l: &Listener,
    u: &User,
    bind: Option<&str>,
    proof: &str,
    recovery_code: bool,
) -> std::process::Output {
    let before = texts(l).iter().filter(|(_, t)| t.contains("to recover account")).count();
    let mut c = qxfer();
    c.current_dir(u.work.path()).env("QXFER_CONFIG_DIR", u.config.path()).args([
        "recover",
        &l.addr,
        "--user",
        "alice",
        "--accept-new",
        "--code-stdin",
        "--password-stdin",
        if recovery_code { "--recovery-code-stdin" } else { "--answer-stdin" },
    ]);
    if let Some(b) = bind {
        c.args(["--bind", b]);
    }
    let mut child = spawn_piped(&mut c);
    // The answer and the new password first (checked before a code is texted), then the code.
    write_line(&mut child, proof);
    write_line(&mut child, NEW_PASSWORD);
    let (_, text) = nth_text(l, before + 1, |_, t| t.contains("to recover account"));
    write_line(&mut child, &code_in(&text));
    finish(child)
}

/// Log in once from `bind` (127.0.0.1 when `None`): the place is noted.
pub(crate) fn log_in(u: &User, bind: Option<&str>) {
    let mut c = u.cmd("inbox");
    if let Some(b) = bind {
        c.args(["--bind", b]);
    }
    ok(&c.output().expect("inbox"));
}

/// Earn `u` a known place at `bind`: password logins on three days, the last a week after
/// the first (the clock moves 8 days).
pub(crate) fn earn_place(l: &Listener, u: &User, bind: Option<&str>) {
    // (`u`'s own login first, so it has a saved session.)
    log_in(u, bind);
    log_in_with_password(l, u, bind);
    l.advance_clock(DAY);
    log_in_with_password(l, u, bind);
    l.advance_clock(7 * DAY);
    log_in_with_password(l, u, bind);
}

/// A password login of `u`'s account (from a config directory of its own, so no saved
/// session is used): only these count toward a place.
pub(crate) fn log_in_with_password(l: &Listener, u: &User, bind: Option<&str>) {
    log_in(&User::new(l, &u.name), bind);
}

/// The owner's setup: her first login from 127.0.0.1, and in the new account's setup window
/// a verified phone and a secret question (at once); then 127.0.0.1 earns its place (the
/// clock moves 8 days, so her number is settled too).
pub(crate) fn owner_with_phone_and_question(l: &Listener) -> User {
    let owner = User::new(l, "alice");
    log_in(&owner, None);
    ok(&account(&owner, &["phone", "add"], None).arg(OWNER_PHONE).output().expect("phone add"));
    let (to, text) = text_with(l, "to add this number");
    assert_eq!(to, OWNER_PHONE);
    let out = ok(&run_stdin(
        account(&owner, &["phone", "verify"], None).args([OWNER_PHONE, "--code-stdin"]),
        &code_in(&text),
    ));
    assert!(out.contains("done: add phone +34"), "{out}");
    let out = ok(&run_stdin(
        account(&owner, &["question", "set"], None).args(["--question", "First pet?", "--answer-stdin"]),
        "Tom the Cat",
    ));
    assert!(out.contains("done: a new secret question"), "{out}");
    earn_place(l, &owner, None);
    owner
}

pub(crate) fn show(u: &User, bind: Option<&str>) -> serde_json::Value {
    let out = ok(&account(u, &["show"], bind).arg("--json").output().expect("show"));
    serde_json::from_str(out.trim()).expect("json")
}

pub(crate) fn inbox_subjects(u: &User, password: &str) -> Vec<String> {
    let out = ok(&u.cmd("inbox").env("QXFER_PASSWORD", password).arg("--json").output().expect("inbox"));
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    let items = v.as_array().cloned().or_else(|| v["items"].as_array().cloned()).unwrap_or_default();
    items.iter().map(|i| i["subject"].as_str().unwrap_or_default().to_owned()).collect()
}

#[test]
fn the_owner_recovers_from_a_known_place_and_old_tokens_stop_working() {
    let l = listener(no_bans());
    let owner = owner_with_phone_and_question(&l);
    l.advance_clock(2);
    // NFKC, case and spaces do not matter in the answer.
    let out = recover(&l, &owner, None, "  tom THE   cat ", false);
    let stdout = ok(&out);
    assert!(stdout.contains("done: recovery: a new password"), "{stdout}");
    // The saved session token was revoked: without a password the old session is gone,
    // and the client says so.
    let out = owner.cmd("inbox").env_remove("QXFER_PASSWORD").output().expect("inbox");
    assert_eq!(out.status.code(), Some(3), "the old token still works: {out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("the saved session for alice was ended"), "{out:?}");
    // The old password fails (exit 3), the new one works.
    let out = owner.cmd("inbox").output().expect("inbox");
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let subjects = inbox_subjects(&owner, NEW_PASSWORD);
    assert!(subjects.iter().any(|s| s.contains("Account changed: recovery")), "{subjects:?}");
    // The completion was texted to the number too, masked in the log.
    text_with(&l, "the account was recovered");
    let log = l.log();
    assert!(log.contains("recovery_completed"), "{log}");
    assert!(!log.contains(OWNER_PHONE), "a full number in the log");
    // A recovery code (shown once) works in place of the answer, once. (New codes need the
    // code texted to her number, at home too: the root of trust.)
    let mut c = account(&owner, &["codes", "new"], None);
    c.env("QXFER_PASSWORD", NEW_PASSWORD).args(["--confirm-by-text", "--auth-code-stdin"]);
    let mut child = spawn_piped(&mut c);
    write_line(&mut child, &code_in(&text_with(&l, "to change account alice").1));
    let out = finish(child);
    let stdout = ok(&out);
    let codes: Vec<String> = stdout.lines().filter(|l| l.starts_with("  ")).map(|l| l.trim().to_owned()).collect();
    assert_eq!(codes.len(), 10, "{stdout}");
    l.advance_clock(2);
    let out = recover(&l, &owner, None, &codes[0].to_uppercase(), true);
    assert!(ok(&out).contains("done: recovery"));
    // (A day later: one network gets two recovery texts a day.)
    l.advance_clock(DAY);
    let out = recover(&l, &owner, None, &codes[0], true);
    assert_eq!(out.status.code(), Some(3), "a used recovery code: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_thief_with_the_password_gets_no_code_and_the_owner_cancels_their_changes() {
    let l = listener(no_bans());
    let owner = owner_with_phone_and_question(&l);
    // A month later the owner's number is settled.
    l.advance_clock(30 * DAY);
    let thief = User::new(&l, "alice");
    let there = Some("127.0.1.2");
    log_in(&thief, there);
    // The thief adds their own number: its verification code goes to it...
    ok(&account(&thief, &["phone", "add"], there).arg(THIEF_PHONE).output().expect("phone add"));
    let (_, text) = nth_text(&l, 1, |to, t| to == THIEF_PHONE && t.contains("to add this number"));
    // ...but verifying it from an unknown place waits, announced to the owner's number.
    let out =
        run_stdin(account(&thief, &["phone", "verify"], there).args([THIEF_PHONE, "--code-stdin"]), &code_in(&text));
    let stdout = ok(&out);
    assert!(stdout.contains("takes effect at"), "{stdout}");
    let (to, phone_notice) = nth_text(&l, 1, |_, t| t.contains("recover cancel"));
    assert_eq!(to, OWNER_PHONE, "the cancel code goes to the owner's verified number");
    assert!(phone_notice.contains("add phone +44"), "{phone_notice}");
    // From there the thief sees the owner's number masked, and cannot delete the notice.
    // (Not one digit: issue 12's mask kept the country code and the last four; now nothing.)
    let v = show(&thief, there);
    let shown = v["phones"][0]["number"].as_str().expect("number").to_owned();
    assert_eq!(shown, "+••••••••••", "{v}");
    assert_eq!(v["places"], serde_json::json!([]), "no known places shown to an unknown place: {v}");
    let out = ok(&thief.cmd("inbox").args(["--bind", "127.0.1.2", "--json"]).output().expect("inbox"));
    let notice_id = serde_json::from_str::<serde_json::Value>(out.trim())
        .expect("json")
        .as_array()
        .and_then(|a| a.iter().find(|i| i["subject"].as_str().is_some_and(|s| s.contains("Pending change"))).cloned())
        .and_then(|i| i["id"].as_u64())
        .expect("the pending change's notice");
    let out = thief.cmd("delete").args(["--bind", "127.0.1.2", &notice_id.to_string()]).output().expect("delete");
    assert!(String::from_utf8_lossy(&out.stderr).contains("it is kept until"), "{out:?}");
    // The thief's question waits too.
    l.advance_clock(2);
    let out = run_stdin(
        account(&thief, &["question", "set"], there).args(["--question", "Mine?", "--answer-stdin"]),
        "thief answer",
    );
    assert!(ok(&out).contains("takes effect at"));
    let (_, question_notice) = nth_text(&l, 2, |_, t| t.contains("recover cancel"));
    // The thief starts a recovery: the code goes to the owner's (oldest) number, not theirs.
    l.advance_clock(2);
    let mut c = qxfer();
    c.current_dir(thief.work.path()).env("QXFER_CONFIG_DIR", thief.config.path()).args([
        "recover",
        &l.addr,
        "--user",
        "alice",
        "--accept-new",
        "--bind",
        "127.0.1.2",
        "--code-stdin",
        "--answer-stdin",
        "--password-stdin",
    ]);
    let mut child = spawn_piped(&mut c);
    write_line(&mut child, "thief answer");
    write_line(&mut child, "thiefs-new-password");
    let (to, _) = text_with(&l, "to recover account alice");
    assert_eq!(to, OWNER_PHONE);
    write_line(&mut child, "12345678");
    let out = finish(child);
    assert_eq!(out.status.code(), Some(3), "a guessed code: {}", String::from_utf8_lossy(&out.stderr));
    assert!(texts(&l).iter().all(|(to, t)| to != THIEF_PHONE || !t.contains("recover account")));
    // The owner cancels both changes with the codes texted to their number (no login).
    for notice in [&phone_notice, &question_notice] {
        let out = qxfer()
            .env("QXFER_CONFIG_DIR", owner.config.path())
            .args(["recover", "cancel", &l.addr, &cancel_code_in(notice), "--accept-new"])
            .output()
            .expect("cancel");
        assert!(ok(&out).contains("cancelled:"));
    }
    // A cancel code works once.
    let out = qxfer()
        .env("QXFER_CONFIG_DIR", owner.config.path())
        .args(["recover", "cancel", &l.addr, &cancel_code_in(&phone_notice), "--accept-new"])
        .output()
        .expect("cancel");
    assert!(!out.status.success());
    // Days later nothing of the thief's took effect.
    l.advance_clock(3 * DAY);
    let v = show(&owner, None);
    assert_eq!(v["pending"].as_array().map(Vec::len), Some(0), "{v}");
    let phones: Vec<&str> =
        v["phones"].as_array().expect("phones").iter().filter_map(|p| p["number"].as_str()).collect();
    assert_eq!(phones, [OWNER_PHONE], "{v}");
    assert_eq!(v["question"], "First pet?");
    let log = l.log();
    assert!(log.contains("recovery_cancelled") && log.contains("recovery_delayed"), "{log}");
}

#[test]
fn a_recovery_from_an_unknown_place_waits_is_announced_and_can_be_cancelled() {
    let l = listener(no_bans());
    let owner = owner_with_phone_and_question(&l);
    l.advance_clock(2);
    let away = Some("127.0.2.9");
    let out = recover(&l, &owner, away, "tom the cat", false);
    let stdout = ok(&out);
    assert!(stdout.contains("takes effect at"), "{stdout}");
    // Announced to the number (with a cancel code) and to the mailbox (without one).
    let (to, notice) = text_with(&l, "recover cancel");
    assert_eq!(to, OWNER_PHONE);
    assert!(notice.contains("recovery"), "{notice}");
    let subjects = inbox_subjects(&owner, PASSWORD);
    assert!(subjects.iter().any(|s| s.contains("Pending change to your account: recovery")), "{subjects:?}");
    // While it is pending, no other change is taken, from anywhere: a thief's new password
    // cannot overtake the owner's recovery.
    let out = run_stdin(account(&owner, &["passwd"], None).arg("--new-password-stdin"), "thiefs-password-1");
    assert!(String::from_utf8_lossy(&out.stderr).contains("a recovery of this account is pending"), "{out:?}");
    // Whoever has the password (a thief, perhaps) cannot cancel a recovery by logging in.
    let v = show(&owner, None);
    let id = v["pending"][0]["id"].as_u64().expect("pending id").to_string();
    let out = account(&owner, &["cancel"], None).arg(&id).output().expect("cancel");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("only with the cancel code"), "{out:?}");
    // Cancelled: a day later the old password still works and the new one does not.
    let out = qxfer()
        .env("QXFER_CONFIG_DIR", owner.config.path())
        .args(["recover", "cancel", &l.addr, &cancel_code_in(&notice), "--accept-new"])
        .output()
        .expect("cancel");
    assert!(ok(&out).contains("cancelled: recovery"));
    l.advance_clock(DAY + 60);
    let other = User::new(&l, "alice");
    assert_eq!(other.cmd("inbox").env("QXFER_PASSWORD", NEW_PASSWORD).output().expect("inbox").status.code(), Some(3));
    ok(&other.cmd("inbox").output().expect("inbox"));
    // Not cancelled: it takes effect when the delay ends.
    let out = recover(&l, &owner, away, "tom the cat", false);
    assert!(ok(&out).contains("takes effect at"));
    l.advance_clock(DAY + 60);
    let later = User::new(&l, "alice");
    ok(&later.cmd("inbox").env("QXFER_PASSWORD", NEW_PASSWORD).output().expect("inbox"));
    let old = User::new(&l, "alice");
    assert_eq!(old.cmd("inbox").output().expect("inbox").status.code(), Some(3));
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

pub(crate) async fn start(from: &str, addr: &str, user: &str) -> Option<Response> {
    let solution = solution(from, addr, user).await;
    let mut raw = Raw::connect_from(from, addr).await.ok()?;
    raw.call(&Request::RecoverStart { user: user.into(), solution }).await
}

async fn finish_with(from: &str, addr: &str, code: &str) -> Option<Response> {
    let solution = solution(from, addr, "alice").await;
    let mut raw = Raw::connect_from(from, addr).await.ok()?;
    let req = Request::RecoverFinish {
        user: "alice".into(),
        code: code.into(),
        proof: Proof::Answer("tom the cat".into()),
        new_password: NEW_PASSWORD.into(),
        solution,
    };
    raw.call(&req).await
}

pub(crate) fn done_text(r: Option<Response>, user: &str) -> String {
    match r {
        Some(Response::Account(AccountReply::Done { text })) => without_times(&text.replace(user, "USER")),
        r => panic!("{r:?}"),
    }
}

/// A recovery start's reply: a code texted, or none (and why: the account's or network's
/// texts for the day are used), in words with its times taken out.
pub(crate) fn start_text(r: Option<Response>, user: &str) -> String {
    match r {
        Some(Response::Error { code: ErrorCode::Limit, message }) => without_times(&message.replace(user, "USER")),
        r => done_text(r, user),
    }
}

/// `text` with its times (`2026-12-15T12:09:41Z (in 10 min)`) as `TIME`: two replies a
/// second apart read the same.
fn without_times(text: &str) -> String {
    let mut out = Vec::new();
    let mut skipping = false;
    for w in text.split(' ') {
        if skipping {
            skipping = !w.ends_with(')') && !w.ends_with("),") && !w.ends_with(");");
            continue;
        }
        if w.len() >= 20 && w.as_bytes().get(10) == Some(&b'T') && w.contains('Z') {
            out.push("TIME".to_owned());
        } else if w == "(in" {
            skipping = true;
        } else {
            out.push(w.to_owned());
        }
    }
    out.join(" ")
}

#[test]
fn guessing_codes_runs_out_of_attempts_then_bans_and_no_reply_tells_who_exists() {
    let l = listener("[scoring]\nexempt = []\nthreshold = 5\nrecovery_guess = 1.0");
    l.add_user("bob");
    let _owner = owner_with_phone_and_question(&l);
    l.advance_clock(2);
    run(async {
        // A known account with a number, one without, and none at all: the same words.
        let alice = done_text(start("127.0.0.1", &l.addr, "alice").await, "alice");
        let bob = done_text(start("127.0.0.1", &l.addr, "bob").await, "bob");
        let nobody = done_text(start("127.0.0.1", &l.addr, "nobody").await, "nobody");
        assert_eq!(alice, bob);
        assert_eq!(alice, nobody);
        // Five wrong codes from a guesser use up the code (and get the guesser banned):
        // the right code after them is refused too.
        let (_, text) = text_with(&l, "to recover account alice");
        let right = code_in(&text);
        let guesser = "127.0.3.7";
        let mut tried = 0;
        for i in 0..5u32 {
            let guess = format!("{:08}", 20_000_000 + i);
            if guess == right {
                continue;
            }
            let r = finish_with(guesser, &l.addr, &guess).await;
            tried += 1;
            // The fifth reply may race the ban's close.
            if i < 4 {
                assert!(matches!(r, Some(Response::Error { code: ErrorCode::AuthFailed, .. })), "{r:?}");
            }
        }
        assert!(tried >= 4);
        let r = finish_with("127.0.0.9", &l.addr, &right).await;
        assert!(matches!(r, Some(Response::Error { code: ErrorCode::AuthFailed, .. })), "{r:?}");
        let start = Instant::now();
        while Raw::admitted_from(guesser, &l.addr).await {
            assert!(start.elapsed() < Duration::from_secs(5), "the guesser was not banned");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let log = l.log();
    assert!(log.contains("recovery_wrong_code"), "{log}");
}

#[test]
fn account_settings_are_checked_before_connecting_and_listed() {
    let l = listener(no_bans());
    let owner = owner_with_phone_and_question(&l);
    // A number that is not one is a usage error before any connection.
    let out = account(&owner, &["phone", "add"], None).arg("+34 12").output().expect("phone add");
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let v = show(&owner, None);
    assert_eq!(v["phones"][0]["number"], OWNER_PHONE);
    assert_eq!(v["phones"][0]["recovery"], true);
    assert_eq!(v["places"][0]["network"], "127.0.0.0/24");
    assert_eq!(v["places"][0]["known"], true);
    assert_eq!(v["here_known"], true);
    // Export says what is held, and never a hash.
    let out = ok(&account(&owner, &["export"], None).output().expect("export"));
    let export: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(export["account"], "alice");
    assert_eq!(export["secret_question"], "First pet?");
    assert!(!out.contains("argon2id$"), "{out}");
    // Sessions: listed, and revoked.
    let out = ok(&account(&owner, &["tokens", "list"], None).arg("--json").output().expect("tokens"));
    let sessions: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert!(!sessions["sessions"].as_array().expect("list").is_empty(), "{sessions}");
    let out = ok(&account(&owner, &["tokens", "revoke"], None).arg("--all").output().expect("revoke"));
    assert!(out.contains("ended"), "{out}");
    // A password change from a known place applies at once.
    let out = run_stdin(account(&owner, &["passwd"], None).arg("--new-password-stdin"), NEW_PASSWORD);
    assert!(ok(&out).contains("done: a new password"));
    assert_eq!(owner.cmd("inbox").output().expect("inbox").status.code(), Some(3));
}

#[test]
fn a_change_from_elsewhere_applies_at_once_with_a_code_texted_to_the_oldest_number() {
    let l = listener(no_bans());
    let owner = owner_with_phone_and_question(&l);
    // (A number verified today cannot authorise anything: the policy's unit tests. The
    // owner's was verified in her setup, 8 days ago: it is settled.)
    let away = Some("127.0.4.4");
    let mut c = account(&owner, &["passwd"], away);
    c.args(["--new-password-stdin", "--confirm-by-text", "--auth-code-stdin"]);
    let mut child = spawn_piped(&mut c);
    write_line(&mut child, NEW_PASSWORD);
    let (to, text) = text_with(&l, "to change account alice");
    assert_eq!(to, OWNER_PHONE);
    write_line(&mut child, &code_in(&text));
    let out = finish(child);
    assert!(ok(&out).contains("done: a new password"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn with_a_geoip_database_a_known_place_follows_its_own_network_and_nothing_else() {
    // (Issue 13 made any network of the same country and ISP a known place at its first
    // login; now GeoIP only lets a known place follow its own addresses: the database's
    // network with the same ASN, capped at /16, around the /24 where the place was earned.)
    let db = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/geoip-test.mmdb");
    let l = listener(&format!("{}\n[geoip]\ndatabases = [{:?}]", no_bans(), db.to_string_lossy()));
    let owner = owner_with_phone_and_question(&l);
    let v = show(&owner, None);
    assert_eq!(v["places"][0]["origin"], "ES, AS64500", "{v}");
    // 127.0.5.0/24 is a new network inside her place's /16 with the same ASN: her place
    // follows it (a carrier's addresses move), no new-place text, the change applies at once
    // (a password login: a fresh config directory).
    let before = texts(&l).len();
    let (fresh, other) = (User::new(&l, "alice"), User::new(&l, "alice"));
    let out = run_stdin(account(&fresh, &["passwd"], Some("127.0.5.5")).arg("--new-password-stdin"), NEW_PASSWORD);
    assert!(ok(&out).contains("done: a new password"), "{out:?}");
    assert!(!texts(&l)[before..].iter().any(|(_, t)| t.contains("new network")), "{:?}", texts(&l));
    // The same ISP (127.0.0.0/8, AS64500) outside her place's /16: a first login there is
    // no known place, and she is told of it.
    let before = texts(&l).len();
    let mut c = account(&other, &["passwd"], Some("127.1.5.5"));
    c.env("QXFER_PASSWORD", NEW_PASSWORD).arg("--new-password-stdin");
    let out = run_stdin(&mut c, PASSWORD);
    assert!(ok(&out).contains("takes effect at"), "{out:?}");
    assert!(texts(&l)[before..].iter().any(|(_, t)| t.contains("new network")), "{:?}", texts(&l));
}

#[test]
fn removing_an_account_purges_what_recovery_holds_and_renames_its_events() {
    let l = listener(no_bans());
    let _owner = owner_with_phone_and_question(&l);
    let audit = |user: &str| -> usize {
        let out = ok(&l.admin().args(["audit", "--user", user, "--json", "--since", "30d"]).output().expect("audit"));
        out.lines().filter(|line| !line.trim().is_empty()).count()
    };
    // The recorder writes in batches: wait for alice's events to land.
    let start = Instant::now();
    while audit("alice") == 0 {
        assert!(start.elapsed() < Duration::from_secs(10), "no events for alice");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1500));
    ok(&l.admin().args(["user", "remove", "alice"]).output().expect("remove"));
    assert_eq!(audit("alice"), 0, "events still name the removed account");
    let all = ok(&l.admin().args(["audit", "--json", "--since", "30d"]).output().expect("audit"));
    assert!(all.contains("removed-"), "{all}");
    assert!(!all.contains(OWNER_PHONE), "a full number in the activity log");
    // A new account of the same name starts with nothing.
    l.add_user("alice");
    let fresh = User::new(&l, "alice");
    let v = show(&fresh, None);
    assert_eq!(v["phones"].as_array().map(Vec::len), Some(0), "{v}");
    assert!(v["question"].is_null(), "{v}");
    // The name the listener's notices come from is not an account name.
    let out = shared::add_user(l.admin(), "qxfer").expect("user add");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("listener's own"));
}

#[test]
fn a_completed_recovery_drops_what_a_thief_left_pending() {
    let l = listener(no_bans());
    let owner = owner_with_phone_and_question(&l);
    l.advance_clock(30 * DAY);
    let thief = User::new(&l, "alice");
    let there = Some("127.0.1.2");
    ok(&account(&thief, &["phone", "add"], there).arg(THIEF_PHONE).output().expect("phone add"));
    let (_, text) = nth_text(&l, 1, |to, t| to == THIEF_PHONE && t.contains("to add this number"));
    let out =
        run_stdin(account(&thief, &["phone", "verify"], there).args([THIEF_PHONE, "--code-stdin"]), &code_in(&text));
    assert!(ok(&out).contains("takes effect at"));
    // The owner recovers from home: the thief's pending number goes with the old password.
    l.advance_clock(2);
    assert!(ok(&recover(&l, &owner, None, "tom the cat", false)).contains("done: recovery"));
    let fresh = User::new(&l, "alice");
    let mut c = account(&fresh, &["show"], None);
    let v: serde_json::Value =
        serde_json::from_str(ok(&c.env("QXFER_PASSWORD", NEW_PASSWORD).arg("--json").output().expect("show")).trim())
            .expect("json");
    assert_eq!(v["pending"].as_array().map(Vec::len), Some(0), "{v}");
    let phones: Vec<&str> =
        v["phones"].as_array().expect("phones").iter().filter_map(|p| p["number"].as_str()).collect();
    assert_eq!(phones, [OWNER_PHONE], "{v}");
    l.advance_clock(2 * DAY);
    let v: serde_json::Value = serde_json::from_str(
        ok(&account(&fresh, &["show"], None).env("QXFER_PASSWORD", NEW_PASSWORD).arg("--json").output().expect("show"))
            .trim(),
    )
    .expect("json");
    assert_eq!(v["phones"].as_array().map(Vec::len), Some(1), "{v}");
}

#[test]
fn strangers_cannot_use_up_the_owners_recovery_texts_or_replace_a_code_in_force() {
    let l = listener(no_bans());
    let owner = owner_with_phone_and_question(&l);
    l.advance_clock(2);
    run(async {
        // A stranger's start texts the owner a code; more starts while it is in force text
        // nothing and leave it working.
        start_text(start("127.0.6.1", &l.addr, "alice").await, "alice");
        start_text(start("127.0.6.1", &l.addr, "alice").await, "alice");
        start_text(start("127.0.6.2", &l.addr, "alice").await, "alice");
    });
    std::thread::sleep(Duration::from_millis(500));
    let sent = || texts(&l).iter().filter(|(_, t)| t.contains("to recover account")).count();
    assert_eq!(sent(), 1, "{:?}", texts(&l));
    // Strangers from many networks use up the account's texts for the day...
    for i in 2..8 {
        l.advance_clock(11 * 60);
        run(async { start_text(start(&format!("127.0.{}.1", 10 + i), &l.addr, "alice").await, "alice") });
    }
    std::thread::sleep(Duration::from_millis(500));
    // (Her number is settled: strangers draw at most the account's stranger share of the
    // owner reserve, 4, before the account's own daily cap of 5.)
    assert_eq!(sent(), 4, "the account's stranger share: {:?}", texts(&l));
    // ...but not the owner's, at a known place.
    l.advance_clock(11 * 60);
    let out = recover(&l, &owner, None, "tom the cat", false);
    assert!(ok(&out).contains("done: recovery"));
}

/// The attack on a budget shared by everyone: 50 accounts adding numbers spend the
/// day's texts for new numbers, and strangers from 50 networks start recoveries of the
/// owner's account; her own recovery code (from her known place) and the announcement of
/// the recovery still go out, from the owner reserve. A small budget (40 texts, 20 kept
/// for owners) so the flood runs past the general pool.
#[test]
fn fifty_accounts_adding_numbers_and_fifty_networks_cannot_stop_the_owners_code_or_announcement() {
    let l = Listener::with_config(&format!(
        "{}\n[challenges]\nmin_bits = 8\nmax_bits = 12\nchallenge_after = 1000\n\
         [sms]\ncooldown_secs = 1\ndaily_budget = 40\nowner_reserve = 20\n",
        no_bans()
    ));
    l.add_user("alice");
    let owner = owner_with_phone_and_question(&l);
    // Her number settles; the attack starts just after a UTC midnight (the listener's clock
    // is the system's moved forward by the test), so the whole attack falls in one day.
    l.advance_clock(8 * DAY);
    // 16 days moved so far (8 in the owner's setup).
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_secs() + 16 * DAY;
    l.advance_clock(DAY - now % DAY + 60);
    // 50 accounts, each adding a number from a network of its own.
    let phc = qxfer::accounts::hash_password(PASSWORD).expect("hash");
    let mut refused = 0;
    run(async {
        for i in 0..50u32 {
            let name = format!("flood{i}");
            let req = qxfer::wire::AdminRequest::AddUser { name: name.clone(), phc: phc.clone() };
            let reply = qxfer::admin::client::admin(&l.data_dir(), req).await.expect("admin socket");
            assert_eq!(reply, qxfer::wire::AdminResponse::Done);
            let mut raw = crate::raw::Raw::login_from(&format!("127.1.{i}.1"), &l.addr, &name).await;
            let add = qxfer::wire::AccountRequest::PhoneAdd {
                number: format!("+346123{:05}", 10_000 + i),
                password: PASSWORD.into(),
            };
            match raw.call(&Request::Account(add)).await {
                Some(Response::Account(AccountReply::Done { .. })) => {}
                Some(Response::Error { code: ErrorCode::Limit, .. }) => refused += 1,
                r => panic!("{r:?}"),
            }
        }
    });
    let added = || texts(&l).iter().filter(|(_, t)| t.contains("to add this number to account flood")).count();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!((added(), refused), (20, 30), "the general pool is spent, and only it");
    // Strangers from 50 networks start recoveries of her account, one every 11 minutes (no
    // code in force stops them): they spend the stranger part of her share, no more.
    for i in 0..50u32 {
        l.advance_clock(11 * 60);
        run(async { start_text(start(&format!("127.2.{i}.1"), &l.addr, "alice").await, "alice") });
    }
    std::thread::sleep(Duration::from_millis(500));
    let codes = texts(&l).iter().filter(|(_, t)| t.contains("to recover account alice")).count();
    assert_eq!(codes, 4, "the stranger part of her share (sms.stranger_share): {:?}", texts(&l));
    // The owner, from her known place, still gets her code and recovers...
    l.advance_clock(11 * 60);
    let out = recover(&l, &owner, None, "tom the cat", false);
    assert!(ok(&out).contains("done: recovery"));
    // ...and the recovery is announced to her number.
    let (to, text) = text_with(&l, "the account was recovered");
    assert_eq!(to, OWNER_PHONE, "{text}");
    let status = l.status();
    assert_eq!((status["texts_general_used"].as_u64(), status["texts_general"].as_u64()), (Some(20), Some(20)));
    assert_eq!(status["texts_reserve_used"].as_u64(), Some(6), "4 strangers' codes, hers and the announcement");
    let log = l.log();
    assert!(log.contains("text_budget_low"), "the spent general pool is reported");
    assert!(log.contains("texts_any_country"), "no country list: the start-up log warns");
}
