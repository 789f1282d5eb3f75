//! Issue 20's scenario: a thief who has the password and weeks of patience, against an
//! owner who set her account up the day it was made. The listener's clock is moved (the
//! debug clock) and the listener restarted on the same data directory between visits, so
//! nothing here depends on what a listener process keeps in memory. Run without and with a
//! GeoIP database (whose test data puts all of 127.0.0.0/8 in one ISP: the thief comes from
//! another /16 of it).

use std::path::Path;

use crate::raw::run;
use crate::recovery::{
    account, cancel_code_in, code_in, listener, log_in, no_bans, nth_text, owner_with_phone_and_question, recover,
    show, start, start_text, text_with, texts, DAY, NEW_PASSWORD, OWNER_PHONE, THIEF_PHONE,
};
use crate::support::*;

/// The thief's network, and an address in it for each visit.
const THIEF_NET: &str = "127.9.0.0/24";
const THIEF_AT: &str = "127.9.0.5";

fn geoip_config() -> String {
    let db = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/geoip-test.mmdb");
    format!("{}\n[geoip]\ndatabases = [{:?}]", no_bans(), db.to_string_lossy())
}

/// The operator made `alice`; the owner, the same minute, adds her phone and question (the
/// setup window), then types her password at home on three days over a week.
fn owner_sets_up(l: &Listener) -> User {
    owner_with_phone_and_question(l)
}

/// One visit of the thief: a password login from his network (a config directory of his
/// own each time: only password logins count toward a place).
fn thief_visits(l: &Listener) -> User {
    let thief = User::new(l, "alice");
    log_in(&thief, Some(THIEF_AT));
    thief
}

/// Every change that could take the account over, tried by the thief: none applies at
/// once; each waits and is announced to the owner's number with a cancel code. Returns the
/// cancel codes texted to her.
fn thief_tries_everything(l: &Listener, thief: &User) -> Vec<String> {
    let there = Some(THIEF_AT);
    let before = texts(l).len();
    ok(&account(thief, &["phone", "add"], there).arg(THIEF_PHONE).output().expect("phone add"));
    let earlier = texts(l)[..before].iter().filter(|(to, t)| to == THIEF_PHONE && t.contains("to add")).count();
    let (_, text) = nth_text(l, earlier + 1, |to, t| to == THIEF_PHONE && t.contains("to add this number"));
    let tries: Vec<(&str, std::process::Output)> = vec![
        (
            "add phone",
            run_stdin(account(thief, &["phone", "verify"], there).args([THIEF_PHONE, "--code-stdin"]), &code_in(&text)),
        ),
        ("remove phone", account(thief, &["phone", "remove"], there).arg(OWNER_PHONE).output().expect("remove")),
        (
            "a new secret question",
            run_stdin(
                account(thief, &["question", "set"], there).args(["--question", "Mine?", "--answer-stdin"]),
                "the thief's answer",
            ),
        ),
        ("new recovery codes", run_stdin(&mut account(thief, &["codes", "new"], there), "")),
    ];
    for (what, out) in &tries {
        let said = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        assert!(!said.contains("done:"), "{what} applied at once for the thief: {said}");
        assert!(said.contains("takes effect at") || said.contains("They work from"), "{what}: {said}");
    }
    // Each was announced to her number with a cancel code; nothing to his. The texts are
    // written to the spool by the listener's own thread, after the replies: waited for.
    let announced = || -> Vec<(String, String)> {
        texts(l)[before..].iter().filter(|(_, t)| t.contains("recover cancel")).cloned().collect()
    };
    let start = std::time::Instant::now();
    while announced().len() < 4 && start.elapsed() < std::time::Duration::from_secs(30) {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let announced = announced();
    assert_eq!(announced.len(), 4, "{announced:?}");
    assert!(announced.iter().all(|(to, _)| to == OWNER_PHONE), "{announced:?}");
    announced.iter().map(|(_, t)| cancel_code_in(t)).collect()
}

/// The owner cancels with her texted codes, from anywhere.
fn owner_cancels(l: &Listener, owner: &User, codes: &[String]) {
    for code in codes {
        let mut c = qxfer();
        c.env("QXFER_CONFIG_DIR", owner.config.path()).args(["recover", "cancel", &l.addr, code]);
        let out = ok(&c.output().expect("cancel"));
        assert!(out.contains("cancelled"), "{out}");
    }
    let v = show(owner, None);
    assert_eq!(v["pending"], serde_json::json!([]), "{v}");
    assert_eq!(v["phones"].as_array().map(Vec::len), Some(1), "{v}");
}

/// The thief asks for a recovery: a code, if one is texted at all (his own announcements
/// may have used the account's share of texts that strangers can cause), goes to her
/// number, never to his.
fn thief_gets_no_recovery_code(l: &Listener) {
    let before = texts(l).len();
    run(async {
        start_text(start(THIEF_AT, &l.addr, "alice").await, "alice");
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    let codes: Vec<_> = texts(l)[before..].iter().filter(|(_, t)| t.contains("to recover account")).cloned().collect();
    assert!(codes.iter().all(|(to, _)| to == OWNER_PHONE), "{codes:?}");
}

fn thief_place(v: &serde_json::Value) -> Option<serde_json::Value> {
    v["places"].as_array()?.iter().find(|p| p["network"] == THIEF_NET).cloned()
}

fn patient_thief(extra: &str) {
    let l = listener(extra);
    let owner = owner_sets_up(&l);
    // The thief's first login: she is told at once, by text with a disown code, and in her
    // mailbox.
    let _first = thief_visits(&l);
    let (to, told) = text_with(&l, "new network");
    assert_eq!(to, OWNER_PHONE);
    let disown = told
        .split("recover disown ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().nth(1))
        .expect("a disown code")
        .to_owned();
    let subjects = ok(&owner.cmd("inbox").output().expect("inbox"));
    assert!(subjects.contains("New sign-in"), "{subjects}");
    // A restart between visits: nothing of the listener's memory carries the story.
    let l = l.restart();
    // Eight days later, from the same network: not a known place; everything waits.
    l.advance_clock(8 * DAY);
    let thief = thief_visits(&l);
    let v = show(&thief, Some(THIEF_AT));
    assert!(!v.to_string().contains("5678"), "her number shown to an unknown place: {v}");
    assert_eq!(v["places"], serde_json::json!([]), "{v}");
    let codes = thief_tries_everything(&l, &thief);
    owner_cancels(&l, &owner, &codes);
    thief_gets_no_recovery_code(&l);
    // Thirty days after his first login, a third visit: his network is now a known place
    // (three days, spanning a week) ...
    let l = l.restart();
    l.advance_clock(22 * DAY);
    let thief = thief_visits(&l);
    let v = show(&owner, None);
    assert_eq!(thief_place(&v).map(|p| p["known"].clone()), Some(serde_json::json!(true)), "{v}");
    // ... and still the root of trust holds: every dangerous change waits, announced to her.
    let codes = thief_tries_everything(&l, &thief);
    owner_cancels(&l, &owner, &codes);
    thief_gets_no_recovery_code(&l);
    // From his known place a new password applies at once ...
    let his = "the-thiefs-own-password";
    let out = run_stdin(account(&thief, &["passwd"], Some(THIEF_AT)).arg("--new-password-stdin"), his);
    assert!(ok(&out).contains("done: a new password"), "{out:?}");
    // ... and her recovery from home undoes it: the code goes to her number.
    l.advance_clock(DAY);
    let out = recover(&l, &owner, None, "tom the cat", false);
    assert!(ok(&out).contains("done: recovery"), "{out:?}");
    let mut c = thief.cmd("inbox");
    c.env("QXFER_PASSWORD", his).args(["--bind", THIEF_AT]);
    assert_eq!(c.output().expect("inbox").status.code(), Some(3));
    // She disowns his network with the code texted about his first login: it is never
    // known again, and his tokens stop working.
    let mut c = qxfer();
    c.env("QXFER_CONFIG_DIR", owner.config.path()).args(["recover", "disown", &l.addr, &disown]);
    let out = ok(&c.output().expect("disown"));
    assert!(out.contains("disowned"), "{out}");
    let fresh = User::new(&l, "alice");
    let mut c = account(&fresh, &["show"], None);
    c.env("QXFER_PASSWORD", NEW_PASSWORD).arg("--json");
    let v: serde_json::Value = serde_json::from_str(ok(&c.output().expect("show")).trim()).expect("json");
    assert_eq!(thief_place(&v).map(|p| p["known"].clone()), Some(serde_json::json!(false)), "{v}");
}

#[test]
fn a_patient_thief_never_takes_the_account_over() {
    patient_thief(no_bans());
}

#[test]
fn a_patient_thief_never_takes_the_account_over_with_geoip() {
    patient_thief(&geoip_config());
}

/// The second run: the thief logs in with the password every day for thirty days.
fn daily_thief(extra: &str) {
    let mut l = listener(extra);
    let owner = owner_sets_up(&l);
    let mut thief = thief_visits(&l);
    for day in 1..=30 {
        l.advance_clock(DAY);
        if day == 15 {
            // (Halfway, a restart.)
            l = l.restart();
        }
        thief = thief_visits(&l);
    }
    let v = show(&owner, None);
    assert_eq!(thief_place(&v).map(|p| p["known"].clone()), Some(serde_json::json!(true)), "{v}");
    // Only one new-place text, on his first day.
    let told: Vec<_> = texts(&l).into_iter().filter(|(_, t)| t.contains("new network")).collect();
    assert_eq!(told.len(), 1, "{told:?}");
    let codes = thief_tries_everything(&l, &thief);
    owner_cancels(&l, &owner, &codes);
    thief_gets_no_recovery_code(&l);
}

#[test]
fn a_thief_logging_in_every_day_for_a_month_never_takes_the_account_over() {
    daily_thief(no_bans());
}

#[test]
fn a_thief_logging_in_every_day_for_a_month_never_takes_the_account_over_with_geoip() {
    daily_thief(&geoip_config());
}
