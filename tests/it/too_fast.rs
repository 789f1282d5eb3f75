//! The real client and the floor under which a captcha answer is refused (issue 21): it
//! never sends an answer sooner than a person could type it (an instant answer, as pasted,
//! waits and logs in), and when a listener's operator set a higher floor than the client
//! knows, the refusal says what happened and what to do.

use std::time::Instant;

use crate::support::*;

/// A listener that scores 127.0.0.0/8 (no exemption, no bans) with `challenges` lines, and
/// writes each captcha's text for the tests (the debug-build answer hook), which the
/// client then answers from at once: a pasted answer.
fn listener(challenges: &str) -> (Listener, tempfile::TempDir) {
    let hooks = tempfile::tempdir().expect("tempdir");
    let answers = hooks.path().join("answers.txt").to_str().expect("utf8").to_owned();
    let data = tempfile::tempdir().expect("tempdir");
    let config = data.path().join("too-fast.toml");
    std::fs::write(
        &config,
        format!("[scoring]\nexempt = []\nthreshold = 1000\nprefix_threshold = 1000\n[challenges]\n{challenges}"),
    )
    .expect("config");
    let config = config.to_str().expect("utf8").to_owned();
    let l = Listener::start_with_env(
        data,
        "127.0.0.1:0",
        &["--config", &config],
        &[("QXFER_TEST_CAPTCHA_ANSWERS", answers.as_str())],
    );
    l.add_user("alice");
    (l, hooks)
}

fn stepped_up(alice: &User) {
    for _ in 0..3 {
        let out = alice.cmd("inbox").env("QXFER_PASSWORD", "not-the-password").output().expect("inbox");
        assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn the_real_client_never_answers_sooner_than_a_person_and_says_so_when_a_listener_asks_longer() {
    // The default floor: an instant answer waits it out and logs in.
    let (l, hooks) = listener("min_bits = 8\nmax_bits = 12\n");
    let alice = User::new(&l, "alice");
    stepped_up(&alice);
    let answers = hooks.path().join("answers.txt");
    let started = Instant::now();
    let out = alice.cmd("inbox").env("QXFER_TEST_CAPTCHA_ANSWERS", &answers).output().expect("inbox");
    println!("logged in through a pasted captcha answer in {:?}", started.elapsed());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(l.recorded("127.0.0.1", "too_fast"), 0);
    let audit = ok(&l.admin().args(["audit", "--kind", "refused", "--json"]).output().expect("audit"));
    assert!(!audit.contains("too fast"), "{audit}");

    // An operator's floor above the client's (6 s for five characters): refused, in words,
    // exit 7 (a challenge not passed).
    let (l, hooks) = listener("min_bits = 8\nmax_bits = 12\nmin_human_ms = 5000\nper_char_ms = 200\n");
    let alice = User::new(&l, "alice");
    stepped_up(&alice);
    let answers = hooks.path().join("answers.txt");
    let out = alice.cmd("inbox").env("QXFER_TEST_CAPTCHA_ANSWERS", &answers).output().expect("inbox");
    let err = String::from_utf8_lossy(&out.stderr);
    println!("{err}");
    assert_eq!(out.status.code(), Some(7), "{err}");
    assert!(err.contains("faster than a person can read and type it") && err.contains("ask for a new one"), "{err}");
}
