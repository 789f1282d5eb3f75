//! The oldest settled number is the root of trust, on a real listener with the spool
//! gateway and its clock moved: a thief with the password, at a place he earned by logging
//! in on three days over a week, cannot add his number, remove hers, set a question, make
//! recovery codes or an automation token without her texted code: each waits, announced to
//! her number with a cancel code that cancels it; the new password he sets there applies
//! at once and her recovery from home undoes it. Tokens: a session token made from a place
//! that is not known is told to her; revoking needs the password, and from a place that is
//! not known ends only the tokens issued there (qxfer/5's form too); her own password
//! change at home is immediate and ends her other sessions. An automation token waits like
//! any change (shown at once, working only when the delay ends; cancelling it means it
//! never works), or works at once with her texted code.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use qxfer::wire::{AccountReply, AccountRequest, ErrorCode, Request, Response};

use crate::raw::{run, Raw};
use crate::recovery::{
    account, cancel_code_in, code_in, earn_place, finish, inbox_subjects, listener, log_in, no_bans, nth_text,
    owner_with_phone_and_question, recover, show, spawn_piped, texts, write_line, DAY, NEW_PASSWORD, OWNER_PHONE,
    THIEF_PHONE,
};
use crate::support::*;

/// The thief's network (where he earns a place), and a network the account does not know.
const THIEF_AT: &str = "127.0.7.7";
const AWAY: &str = "127.0.8.8";
const AWAY_TOO: &str = "127.0.9.9";

fn said(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

/// Run `cmd` (with `--confirm-by-text --auth-code-stdin`), answering with the code texted
/// to the account once it arrives (the `n`-th "to change account" text).
fn with_texted_code(l: &Listener, cmd: &mut Command, n: usize) -> Output {
    let mut child = spawn_piped(cmd);
    let (to, text) = nth_text(l, n, |_, t| t.contains("to change account alice"));
    assert_eq!(to, OWNER_PHONE, "the code goes to her number");
    write_line(&mut child, &code_in(&text));
    finish(child)
}

fn authorisations(l: &Listener) -> usize {
    texts(l).iter().filter(|(_, t)| t.contains("to change account alice")).count()
}

/// Cancel a pending change with a texted cancel code (no login).
fn cancel_with_code(l: &Listener, u: &User, code: &str) -> String {
    let mut c = qxfer();
    c.env("QXFER_CONFIG_DIR", u.config.path()).args(["recover", "cancel", &l.addr, code, "--accept-new"]);
    ok(&c.output().expect("cancel"))
}

/// A script logging in with `token` (its own config directory, no password).
fn with_token(l: &Listener, token: &str) -> Output {
    let script = User::new(l, "alice");
    script.cmd("inbox").env_remove("QXFER_PASSWORD").env("QXFER_TOKEN", token).output().expect("inbox")
}

/// The announcements with a cancel code texted since `from` (an index into `texts`).
fn cancel_texts_since(l: &Listener, from: usize, n: usize) -> Vec<(String, String)> {
    let start = Instant::now();
    loop {
        let found: Vec<_> = texts(l)[from..].iter().filter(|(_, t)| t.contains("recover cancel")).cloned().collect();
        if found.len() >= n {
            return found;
        }
        assert!(start.elapsed() < Duration::from_secs(15), "{n} announcements were not texted: {:?}", texts(l));
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn token_ids(u: &User, bind: Option<&str>) -> Vec<String> {
    let out = ok(&account(u, &["tokens", "list"], bind).arg("--json").output().expect("tokens list"));
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    v["sessions"].as_array().into_iter().flatten().filter_map(|s| s["id"].as_str().map(str::to_owned)).collect()
}

#[test]
fn a_thief_at_a_place_he_earned_moves_nothing_without_her_code() {
    let l = listener(no_bans());
    let owner = owner_with_phone_and_question(&l);
    let thief = User::new(&l, "alice");
    let there = Some(THIEF_AT);
    earn_place(&l, &thief, there);
    assert_eq!(show(&thief, there)["here_known"], true, "his network became a known place");

    // Her code is texted to her number, never his: a guess at it is refused.
    let asked = authorisations(&l);
    let mut c = account(&thief, &["phone", "remove"], there);
    c.args([OWNER_PHONE, "--confirm-by-text", "--auth-code-stdin"]);
    let out = run_stdin(&mut c, "12345678");
    assert_eq!(out.status.code(), Some(3), "{}", said(&out));
    assert!(said(&out).contains("the texted code was not accepted"), "{}", said(&out));
    let (to, _) = nth_text(&l, asked + 1, |_, t| t.contains("to change account alice"));
    assert_eq!(to, OWNER_PHONE);

    // Each change waits, and says truthfully why: a known place is not enough.
    let before = texts(&l).len();
    ok(&account(&thief, &["phone", "add"], there).arg(THIEF_PHONE).output().expect("phone add"));
    let (_, text) = nth_text(&l, 1, |to, t| to == THIEF_PHONE && t.contains("to add this number"));
    let tries = [
        run_stdin(account(&thief, &["phone", "verify"], there).args([THIEF_PHONE, "--code-stdin"]), &code_in(&text)),
        account(&thief, &["phone", "remove"], there).arg(OWNER_PHONE).output().expect("phone remove"),
        run_stdin(
            account(&thief, &["question", "set"], there).args(["--question", "Mine?", "--answer-stdin"]),
            "the thief's answer",
        ),
        run_stdin(&mut account(&thief, &["codes", "new"], there), ""),
    ];
    for out in &tries {
        let said = said(out);
        assert!(out.status.success() && !said.contains("done:"), "{said}");
        assert!(said.contains("takes effect at") || said.contains("They work from"), "{said}");
        assert!(!said.contains("this network is not a known place"), "an untrue reason: {said}");
        assert!(said.contains("run it again with --confirm-by-text"), "{said}");
    }
    assert!(said(&tries[0]).contains("a known place too, this change needs the code texted"), "{}", said(&tries[0]));
    // Each was announced to her number with a cancel code, none to his; her codes cancel them.
    let told = cancel_texts_since(&l, before, 4);
    assert_eq!(told.len(), 4, "{told:?}");
    assert!(told.iter().all(|(to, _)| to == OWNER_PHONE), "{told:?}");
    for what in ["add phone +44", "remove phone +34", "a new secret question", "new recovery codes"] {
        assert!(told.iter().any(|(_, t)| t.contains(what)), "{what}: {told:?}");
    }
    for (_, text) in &told {
        assert!(cancel_with_code(&l, &owner, &cancel_code_in(text)).contains("cancelled:"));
    }
    // The next day (her share of texts that others' requests may cause is four a day), an
    // automation token: shown to him, announced to her, cancelled by her.
    l.advance_clock(DAY);
    let before = texts(&l).len();
    let out = account(&thief, &["tokens", "new"], there).arg("--automation").output().expect("tokens new");
    let token = ok(&out).trim().to_owned();
    assert!(said(&out).contains("works from"), "{}", said(&out));
    let told = cancel_texts_since(&l, before, 1);
    assert_eq!(told[0].0, OWNER_PHONE, "{told:?}");
    assert!(told[0].1.contains("a new automation token"), "{told:?}");
    assert!(cancel_with_code(&l, &owner, &cancel_code_in(&told[0].1)).contains("cancelled:"));
    l.advance_clock(DAY + 60);
    let v = show(&owner, None);
    assert_eq!(v["pending"], serde_json::json!([]), "{v}");
    let phones: Vec<&str> =
        v["phones"].as_array().expect("phones").iter().filter_map(|p| p["number"].as_str()).collect();
    assert_eq!(phones, [OWNER_PHONE], "{v}");
    assert_eq!(v["question"], "First pet?", "{v}");
    assert_eq!(v["recovery_codes_left"], 0, "{v}");
    assert_eq!(with_token(&l, &token).status.code(), Some(3), "a cancelled automation token works");

    // A new password from his known place applies at once, and ends her session at home...
    let his = "the-thiefs-own-password";
    let out = run_stdin(account(&thief, &["passwd"], there).arg("--new-password-stdin"), his);
    assert!(ok(&out).contains("done: a new password"), "{}", said(&out));
    let out = owner.cmd("inbox").env_remove("QXFER_PASSWORD").output().expect("inbox");
    assert_eq!(out.status.code(), Some(3), "{}", said(&out));
    // ...and her recovery from home undoes it: its code goes to her number.
    let out = recover(&l, &owner, None, "tom the cat", false);
    assert!(ok(&out).contains("done: recovery"), "{}", said(&out));
    let mut c = thief.cmd("inbox");
    c.env("QXFER_PASSWORD", his).args(["--bind", THIEF_AT]);
    assert_eq!(c.output().expect("inbox").status.code(), Some(3));
}

#[test]
fn tokens_from_elsewhere_are_told_and_revoked_only_where_they_were_issued() {
    let l = listener(no_bans());
    let owner = owner_with_phone_and_question(&l);
    // At home (a known place) a session token is made quietly.
    let before = texts(&l).len();
    let out = ok(&account(&owner, &["tokens", "new"], None).output().expect("tokens new"));
    assert_eq!(out.trim().len(), 64, "{out}");
    let home_ids = token_ids(&owner, None);

    // From a network the account does not know: told to her mailbox every time, texted to
    // her number once a day.
    let thief = User::new(&l, "alice");
    let away = Some(AWAY);
    let first = ok(&account(&thief, &["tokens", "new"], away).output().expect("tokens new")).trim().to_owned();
    let second = ok(&account(&thief, &["tokens", "new"], away).output().expect("tokens new")).trim().to_owned();
    let (to, text) = nth_text(&l, 1, |_, t| t.contains("a session token was made"));
    assert_eq!(to, OWNER_PHONE);
    assert!(text.contains("from 127.0.0.0/16"), "networks are named coarsely: {text}");
    std::thread::sleep(Duration::from_millis(500));
    let told = texts(&l)[before..].iter().filter(|(_, t)| t.contains("a session token was made")).count();
    assert_eq!(told, 1, "{:?}", texts(&l));
    let told =
        inbox_subjects(&owner, PASSWORD).iter().filter(|s| s.contains("New session token for your account")).count();
    assert_eq!(told, 2);

    // From there, revoking needs the password and ends only what was issued there.
    let out = account(&thief, &["tokens", "revoke"], away).arg(&home_ids[0]).output().expect("revoke");
    assert!(!out.status.success(), "{}", said(&out));
    assert!(said(&out).contains("no session with this id to end here"), "{}", said(&out));
    let out = ok(&account(&thief, &["tokens", "revoke"], away).arg("--all").output().expect("revoke"));
    assert!(out.contains("ended 3 session(s)") && out.contains("only the tokens issued to this network"), "{out}");
    assert_eq!(with_token(&l, &first).status.code(), Some(3));
    assert_eq!(with_token(&l, &second).status.code(), Some(3));
    let ids = token_ids(&owner, None);
    assert!(home_ids.iter().all(|id| ids.contains(id)), "her tokens were ended: {home_ids:?} {ids:?}");
    ok(&owner.cmd("inbox").env_remove("QXFER_PASSWORD").output().expect("her saved session"));

    // The same over the wire, and qxfer/5's form without a password: a wrong password ends
    // nothing; the old form from elsewhere ends only that network's tokens.
    let kept = ok(&account(&thief, &["tokens", "new"], away).output().expect("tokens new")).trim().to_owned();
    run(async {
        let mut raw = Raw::login_from(AWAY_TOO, &l.addr, "alice").await;
        let wrong = AccountRequest::TokensRevokeAs { id: None, password: "not-the-password".into() };
        let r = raw.call(&Request::Account(wrong)).await;
        assert!(matches!(r, Some(Response::Error { code: ErrorCode::AuthFailed, .. })), "{r:?}");
        let r = raw.call(&Request::Account(AccountRequest::TokensRevoke { id: None })).await;
        match r {
            Some(Response::Account(AccountReply::Done { text })) => {
                assert!(text.starts_with("ended 1 session(s)"), "only its own login's: {text}")
            }
            r => panic!("{r:?}"),
        }
    });
    ok(&with_token(&l, &kept));
    let ids = token_ids(&owner, None);
    assert!(home_ids.iter().all(|id| ids.contains(id)), "{home_ids:?} {ids:?}");

    // At home, any: the token made elsewhere ends too.
    let out = ok(&account(&owner, &["tokens", "revoke"], None).arg("--all").output().expect("revoke"));
    assert!(out.contains("ended") && !out.contains("only the tokens"), "{out}");
    assert_eq!(with_token(&l, &kept).status.code(), Some(3));

    // Her own new password at home applies at once and ends her other sessions.
    let other = User::new(&l, "alice");
    log_in(&other, None);
    let out = run_stdin(account(&owner, &["passwd"], None).arg("--new-password-stdin"), NEW_PASSWORD);
    assert!(ok(&out).contains("done: a new password"), "{}", said(&out));
    let out = other.cmd("inbox").env_remove("QXFER_PASSWORD").output().expect("inbox");
    assert_eq!(out.status.code(), Some(3), "{}", said(&out));
    assert!(said(&out).contains("the saved session for alice was ended"), "{}", said(&out));
}

#[test]
fn an_automation_token_waits_like_any_change_unless_her_code_confirms_it() {
    let l = listener(no_bans());
    let owner = owner_with_phone_and_question(&l);
    let new_token = |u: &User| -> (String, String) {
        let out = account(u, &["tokens", "new"], None).arg("--automation").output().expect("tokens new");
        (ok(&out).trim().to_owned(), said(&out))
    };
    // From home too: shown now, announced to her number with a cancel code, working only
    // when the delay ends.
    let before = texts(&l).len();
    let (cancelled_by_code, stderr) = new_token(&owner);
    assert_eq!(cancelled_by_code.len(), 64);
    assert!(stderr.contains("works from") && stderr.contains("pending change"), "{stderr}");
    let told = cancel_texts_since(&l, before, 1);
    assert!(told[0].1.contains("a new automation token"), "{told:?}");
    assert_eq!(with_token(&l, &cancelled_by_code).status.code(), Some(3), "it works before its time");
    // A second, cancelled with the password from home (known before it was asked for).
    let (cancelled_at_home, _) = new_token(&owner);
    let v = show(&owner, None);
    let pending = v["pending"].as_array().cloned().unwrap_or_default();
    assert_eq!(pending.len(), 2, "{v}");
    assert!(pending.iter().all(|p| p["what"].as_str().is_some_and(|w| w.starts_with("a new automation token "))));
    let id = pending[1]["id"].as_u64().expect("id").to_string();
    let out = ok(&account(&owner, &["cancel"], None).arg(&id).output().expect("cancel"));
    assert!(out.contains("cancelled: a new automation token"), "{out}");
    // The first, with her texted cancel code.
    assert!(cancel_with_code(&l, &owner, &cancel_code_in(&told[0].1)).contains("cancelled: a new automation token"));
    // A third, left alone: it works once the delay ended; the cancelled ones never do.
    let (waited, _) = new_token(&owner);
    l.advance_clock(DAY + 60);
    ok(&with_token(&l, &waited));
    assert_eq!(with_token(&l, &cancelled_by_code).status.code(), Some(3));
    assert_eq!(with_token(&l, &cancelled_at_home).status.code(), Some(3));

    // With the code texted to her number it works at once.
    let mut c = account(&owner, &["tokens", "new"], None);
    c.args(["--automation", "--confirm-by-text", "--auth-code-stdin"]);
    let out = with_texted_code(&l, &mut c, authorisations(&l) + 1);
    let confirmed = ok(&out).trim().to_owned();
    assert!(!said(&out).contains("works from"), "{}", said(&out));
    ok(&with_token(&l, &confirmed));

    // A qxfer/5 client (no code, no reply for a token that waits) is told in words.
    run(async {
        let mut raw = Raw::login(&l.addr, "alice").await;
        let req = AccountRequest::TokenNew { password: PASSWORD.into(), automation: true };
        match raw.call(&Request::Account(req)).await {
            Some(Response::Account(AccountReply::Changed { at: Some(_), text })) => {
                assert!(text.starts_with("automation token ") && text.contains("it works from"), "{text}");
                let hex = text.split_whitespace().find(|w| w.len() == 64).expect("the token, shown once");
                assert!(hex.bytes().all(|b| b.is_ascii_hexdigit()), "{text}");
            }
            r => panic!("{r:?}"),
        }
    });
}
