//! A new account setting itself up, on a real listener with the spool gateway: within the
//! setup window, from the network of its first password login or with the operator's
//! one-time setup code, its first number, question and codes apply at once; anything else
//! (another network, after the window, a second number) waits the delay as before. The
//! operator's numbers (`user add --phone`, `user phone`) are settled at once, with and
//! without a running listener. `user add` refuses a short password before asking again.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::recovery::{account, texts};
use crate::support::*;

const DAY: u64 = 86_400;
const PHONE: &str = "+34612345678";
const PHONE2: &str = "+34698765432";
const AWAY: &str = "127.0.1.2";

fn listener() -> Listener {
    Listener::with_config(
        "[scoring]\nthreshold = 1000000\nprefix_threshold = 1000000\n\
         [challenges]\nmin_bits = 8\nmax_bits = 12\nchallenge_after = 1000\n[sms]\ncooldown_secs = 1\n",
    )
}

/// Wait for the `n`-th text (from 1) to `to` (any number when empty) that contains
/// `needle`; its eight-digit code.
fn nth_code(l: &Listener, n: usize, to: &str, needle: &str) -> String {
    let start = Instant::now();
    loop {
        let found: Vec<_> =
            texts(l).into_iter().filter(|(n, t)| (to.is_empty() || n == to) && t.contains(needle)).collect();
        if let Some((_, t)) = found.get(n - 1) {
            return t.split(|c: char| !c.is_ascii_digit()).find(|w| w.len() == 8).expect("code").to_owned();
        }
        assert!(start.elapsed() < Duration::from_secs(15), "no text with {needle:?}: {:?}", texts(l));
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Add `number` and verify it with the code texted to it (the `n`-th such text), from
/// `bind`, with `extra` flags and stdin lines after the code; the command's output.
fn add_and_verify(
    l: &Listener,
    u: &User,
    number: &str,
    n: usize,
    bind: Option<&str>,
    extra: &[&str],
    after: &str,
) -> std::process::Output {
    ok(&account(u, &["phone", "add"], bind).arg(number).output().expect("phone add"));
    let code = nth_code(l, n, number, "to add this number");
    let input = if after.is_empty() { code } else { format!("{code}\n{after}") };
    run_stdin(account(u, &["phone", "verify"], bind).args([number, "--code-stdin"]).args(extra), &input)
}

fn show(u: &User, bind: Option<&str>) -> serde_json::Value {
    let out = ok(&account(u, &["show"], bind).arg("--json").output().expect("show"));
    serde_json::from_str(out.trim()).expect("json")
}

fn subjects(u: &User) -> Vec<String> {
    let out = ok(&u.cmd("inbox").arg("--json").output().expect("inbox"));
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    let items = v.as_array().cloned().or_else(|| v["items"].as_array().cloned()).unwrap_or_default();
    items.iter().map(|i| i["subject"].as_str().unwrap_or_default().to_owned()).collect()
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs()
}

/// `qxfer user add NAME --password-stdin ARGS...` on `data`; its stdout.
fn user_add(mut admin: Command, name: &str, args: &[&str]) -> String {
    ok(&run_stdin(admin.args(["user", "add", name, "--password-stdin"]).args(args), PASSWORD))
}

fn setup_code_in(out: &str) -> String {
    let line = out.lines().find(|l| l.starts_with("setup code for")).expect("a setup code line");
    line.split(|c: char| !c.is_ascii_digit()).find(|w| w.len() == 8).expect("eight digits").to_owned()
}

#[test]
fn a_new_account_sets_itself_up_at_once_from_its_first_network() {
    let l = listener();
    let out = user_add(l.admin(), "alice", &[]);
    assert!(out.contains("added user alice") && out.contains("setup code for alice: "), "{out}");
    let owner = User::new(&l, "alice");
    // The first password login (this command's) is from 127.0.0.1: its /24 is noted.
    let out = ok(&add_and_verify(&l, &owner, PHONE, 1, None, &[], ""));
    assert!(
        out.contains(
            "done: add phone +34•••••5678: the first number of a new account is set up at once (from the network \
             it first logged in from, within 1 d of its creation)"
        ),
        "{out}"
    );
    let out = ok(&run_stdin(
        account(&owner, &["question", "set"], None).args(["--question", "First pet?", "--answer-stdin"]),
        "Tom the Cat",
    ));
    assert!(out.contains("done: a new secret question: the first secret question of a new account is set up at once"));
    let out = ok(&account(&owner, &["codes", "new"], None).arg("--json").output().expect("codes"));
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert!(v["at"].is_null(), "the codes apply at once: {v}");
    assert_eq!(v["codes"].as_array().map(Vec::len), Some(10));
    // Announced to the mailbox.
    let s = subjects(&owner);
    for what in ["add phone +34", "a new secret question", "new recovery codes"] {
        assert!(s.iter().any(|s| s.starts_with("Account changed: ") && s.contains(what)), "{what}: {s:?}");
    }
    // Verified seconds ago; nothing pending.
    let v = show(&owner, None);
    let verified = v["phones"][0]["verified"].as_u64().expect("verified");
    assert!(now().abs_diff(verified) < 120, "{v}");
    assert_eq!(v["pending"].as_array().map(Vec::len), Some(0), "{v}");
    // The number settles after new_phone_days: before, no code confirms a change from
    // elsewhere; after, one does.
    let out = run_stdin(
        account(&owner, &["question", "set"], Some(AWAY)).args([
            "--question",
            "Street?",
            "--answer-stdin",
            "--confirm-by-text",
            "--auth-code-stdin",
        ]),
        "Elm Street",
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no phone number verified more than 7 days ago"), "{out:?}");
    l.advance_clock(7 * DAY + 60);
    let mut c = account(&owner, &["question", "set"], Some(AWAY));
    c.args(["--question", "Street?", "--answer-stdin", "--confirm-by-text", "--auth-code-stdin"]);
    let mut child = c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
    use std::io::Write;
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "Elm Street").expect("answer");
    let code = nth_code(&l, 1, "", "to change account alice");
    writeln!(stdin, "{code}").expect("code");
    drop(stdin);
    let out = child.wait_with_output().expect("question");
    assert!(ok(&out).contains("done: a new secret question"), "{out:?}");
}

#[test]
fn only_a_new_account_and_only_what_it_lacks_is_set_up_at_once() {
    let l = listener();
    l.add_user("alice");
    l.add_user("bob");
    // From another network than the first login: the number waits the delay.
    let alice = User::new(&l, "alice");
    ok(&alice.cmd("inbox").output().expect("first login"));
    let out = ok(&add_and_verify(&l, &alice, PHONE, 1, Some(AWAY), &[], ""));
    assert!(out.contains("takes effect at"), "{out}");
    // After the delay it is verified from when its code was taken, not from the delay's end.
    l.advance_clock(DAY + 60);
    let v = show(&alice, None);
    let verified = v["phones"][0]["verified"].as_u64().expect("verified");
    assert!(now() + DAY + 60 - verified >= DAY, "verified when the code was taken: {v}");
    // After the window, even from the first network: bob logged in first long ago.
    let bob = User::new(&l, "bob");
    let out = ok(&add_and_verify(&l, &bob, PHONE2, 1, None, &[], ""));
    assert!(out.contains("takes effect at"), "past the window: {out}");
    // Inside the window, a second number waits once one is verified.
    let l2 = listener();
    l2.add_user("carol");
    let carol = User::new(&l2, "carol");
    assert!(ok(&add_and_verify(&l2, &carol, PHONE, 1, None, &[], "")).contains("done: add phone"));
    l2.advance_clock(120);
    let out = ok(&add_and_verify(&l2, &carol, PHONE2, 1, None, &[], ""));
    assert!(out.contains("takes effect at"), "a second number: {out}");
}

#[test]
fn the_setup_code_works_from_any_network_within_the_window_once() {
    let l = listener();
    let code = setup_code_in(&user_add(l.admin(), "alice", &[]));
    let owner = User::new(&l, "alice");
    ok(&owner.cmd("inbox").output().expect("first login"));
    // A wrong setup code is a wrong code, and changes nothing.
    let wrong = if code == "11111111" { "22222222" } else { "11111111" };
    let out = add_and_verify(&l, &owner, PHONE, 1, Some(AWAY), &["--setup-code", "--auth-code-stdin"], wrong);
    assert!(String::from_utf8_lossy(&out.stderr).contains("the setup code was not accepted"), "{out:?}");
    l.advance_clock(2);
    let out = add_and_verify(&l, &owner, PHONE, 2, Some(AWAY), &["--setup-code", "--auth-code-stdin"], &code);
    assert!(ok(&out).contains("with the operator's one-time setup code, within 1 d of its creation"), "{out:?}");
    // Once: from a third network the same code is not taken.
    let out = run_stdin(
        account(&owner, &["question", "set"], Some("127.0.2.3")).args([
            "--question",
            "First pet?",
            "--answer-stdin",
            "--setup-code",
            "--auth-code-stdin",
        ]),
        &format!("Tom the Cat\n{code}"),
    );
    assert!(!out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not accepted"), "{out:?}");
}

#[test]
fn the_operators_numbers_are_settled_at_once_with_a_running_listener() {
    let l = listener();
    let out = user_add(l.admin(), "dave", &["--phone", PHONE]);
    assert!(out.contains("phone +34612345678: verified and settled at once"), "{out}");
    let dave = User::new(&l, "dave");
    // Settled: a code confirming a change goes to it at once.
    let out = ok(&account(&dave, &["phone", "list"], None).output().expect("list"));
    assert!(out.contains("vouched for by the operator"), "{out}");
    let mut c = account(&dave, &["codes", "new"], Some(AWAY));
    let mut child = c
        .args(["--confirm-by-text", "--auth-code-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let code = nth_code(&l, 1, "", "to change account dave");
    use std::io::Write;
    writeln!(child.stdin.take().expect("stdin"), "{code}").expect("code");
    assert!(ok(&child.wait_with_output().expect("codes")).contains("Recovery codes"));
    // Replace, then remove: each settled at once, each told to the mailbox.
    let out = ok(&l.admin().args(["user", "phone", "dave", "replace", PHONE, PHONE2]).output().expect("replace"));
    assert!(out.contains("replaced +34612345678 with +34698765432 on dave, settled at once"), "{out}");
    let v = show(&dave, None);
    // From a network that is not a known place the numbers are hidden (not one digit).
    assert_eq!(v["phones"][0]["number"], "+••••••••••", "{v}");
    assert_eq!(v["phones"][0]["verified"], 0, "vouched: {v}");
    ok(&l.admin().args(["user", "phone", "dave", "remove", PHONE2]).output().expect("remove"));
    ok(&l.admin().args(["user", "phone", "dave", "add", PHONE]).output().expect("add"));
    let out = l.admin().args(["user", "phone", "dave", "remove", "+34600000001"]).output().expect("remove");
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not on the account"), "{out:?}");
    let s = subjects(&dave);
    let by_operator = s.iter().filter(|s| s.starts_with("Account changed by the operator")).count();
    assert_eq!(by_operator, 4, "{s:?}");
}

#[test]
fn the_operators_numbers_are_settled_at_once_without_a_listener() {
    let data = tempfile::tempdir().expect("tempdir");
    let dir = data.path().join("d");
    let admin = || {
        let mut c = qxfer();
        c.env("QXFER_DATA_DIR", &dir);
        c
    };
    let out = user_add(admin(), "erin", &["--init", "--phone", PHONE]);
    assert!(out.contains("settled at once") && out.contains("setup code for erin"), "{out}");
    ok(&admin().args(["user", "phone", "erin", "replace", PHONE, PHONE2]).output().expect("replace"));
    ok(&admin().args(["user", "phone", "erin", "add", PHONE]).output().expect("add"));
    let l = Listener::start_in(data, &[]);
    let erin = User::new(&l, "erin");
    let v = show(&erin, None);
    let phones: Vec<&str> =
        v["phones"].as_array().expect("phones").iter().filter_map(|p| p["number"].as_str()).collect();
    assert_eq!(phones, ["+••••••••••"; 2], "{v}");
    let s = subjects(&erin);
    assert_eq!(s.iter().filter(|s| s.starts_with("Account changed by the operator")).count(), 3, "{s:?}");
}

#[test]
fn user_add_refuses_a_short_password_before_asking_again() {
    // The prompt reads the terminal: `script` gives the command one.
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("no `script` here to give the prompt a terminal; skipped");
        return;
    }
    let data = tempfile::tempdir().expect("tempdir");
    let cmd = format!(
        "{} user add eve --init --data {}",
        env!("CARGO_BIN_EXE_qxfer"),
        data.path().join("d").to_string_lossy()
    );
    let mut child = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env_remove("QXFER_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script");
    std::thread::sleep(Duration::from_millis(1500));
    use std::io::Write;
    let mut stdin = child.stdin.take().expect("stdin");
    let _ = stdin.write_all(b"short\n");
    let _ = stdin.flush();
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("user add asked again (or hung) after a short password");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(stdin);
    let out = child.wait_with_output().expect("output");
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(all.contains("8 to 1024 bytes"), "{all}");
    assert!(!all.contains("Again"), "asked again: {all}");
}
