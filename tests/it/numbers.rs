//! Whoever has the password may be a thief looking for the number behind the account's
//! (a SIM swap needs it): every phone request answers alike whether the number is the
//! owner's or not on the account at all, the account has a daily allowance of them,
//! guesses at numbers not on the account are scored, and an unknown place sees neither
//! digits nor known places.

use crate::recovery::{
    account, listener, log_in, no_bans, owner_with_phone_and_question, show, text_with, texts, DAY, OWNER_PHONE,
};
use crate::support::*;

/// The reply of a phone request as the person sees it: exit code, stdout and the
/// `qxfer:` lines of stderr (not the timestamped log), with `number` written as `N` so two
/// numbers' replies can be compared.
fn reply(out: &std::process::Output, number: &str) -> (Option<i32>, String, String) {
    let strip = |b: &[u8]| String::from_utf8_lossy(b).replace(number, "N");
    let said: String = strip(&out.stderr).lines().filter(|l| l.starts_with("qxfer:")).collect::<Vec<_>>().join("\n");
    (out.status.code(), strip(&out.stdout), said)
}

#[test]
fn phone_requests_answer_alike_for_the_owners_number_and_any_other() {
    let l = listener(no_bans());
    let owner = owner_with_phone_and_question(&l);
    l.advance_clock(30 * DAY);
    let thief = User::new(&l, "alice");
    let there = Some("127.0.1.2");
    let other = "+34698765432";
    // The thief's first login from his network: the owner is texted of it, with a code that
    // disowns it.
    log_in(&thief, there);
    let (to, told) = text_with(&l, "new network");
    assert_eq!(to, OWNER_PHONE);
    assert!(told.contains("qxfer recover disown"), "{told}");
    let texted = texts(&l).len();

    // Adding: the owner's verified number reads as a new one, and nothing is texted to it.
    let mine = account(&thief, &["phone", "add"], there).arg(OWNER_PHONE).output().expect("add");
    let (code, out, _) = reply(&mine, OWNER_PHONE);
    assert_eq!(code, Some(0), "{mine:?}");
    assert!(out.contains("a code was texted to N (unless the account has it verified already)"), "{out}");
    assert_eq!(texts(&l).len(), texted, "no text for a number verified already");

    // Verifying with a made-up code: the owner's number (no code waiting) and a number not
    // on the account read the same.
    let a = run_stdin(account(&thief, &["phone", "verify"], there).args([OWNER_PHONE, "--code-stdin"]), "12345678");
    let b = run_stdin(account(&thief, &["phone", "verify"], there).args([other, "--code-stdin"]), "12345678");
    assert_eq!(reply(&a, OWNER_PHONE), reply(&b, other));
    assert!(reply(&a, OWNER_PHONE).2.contains("the code was not accepted: no code is waiting"), "{a:?}");
    // The guess at a number not on the account is scored; the owner's own is not.
    l.wait_recorded("127.0.1.2", "recovery_wrong_code", 1);

    // Removing: both are changes put off and announced, worded alike.
    let a = account(&thief, &["phone", "remove"], there).arg(OWNER_PHONE).output().expect("remove");
    let b = account(&thief, &["phone", "remove"], there).arg(other).output().expect("remove");
    let (ca, oa, _) = reply(&a, OWNER_PHONE);
    let (cb, ob, _) = reply(&b, other);
    assert_eq!((ca, cb), (Some(0), Some(0)), "{a:?} {b:?}");
    let shape = |s: &str| -> Vec<String> {
        s.split_whitespace().filter(|w| !w.chars().any(|c| c.is_ascii_digit())).map(str::to_owned).collect()
    };
    assert_eq!(shape(&oa), shape(&ob), "{oa} / {ob}");
    assert!(oa.contains("takes effect at"), "{oa}");

    // From there: no digits, no places, and the pending removals without numbers.
    let v = show(&thief, there);
    assert!(!v.to_string().contains("5678") && !v.to_string().contains("127.0.0.0"), "{v}");
    let pending = v["pending"].as_array().cloned().unwrap_or_default();
    assert_eq!(pending.len(), 2, "{v}");
    assert!(pending.iter().all(|p| p["what"] == "remove phone +••••••••••"), "{v}");
    // The owner at home still sees everything.
    let v = show(&owner, None);
    assert_eq!(v["phones"][0]["number"], OWNER_PHONE, "{v}");
}

#[test]
fn phone_requests_have_a_daily_allowance_per_account() {
    let l = listener(no_bans());
    let _owner = owner_with_phone_and_question(&l);
    let thief = User::new(&l, "alice");
    let there = Some("127.0.1.3");
    // The owner's setup was days ago: twelve pass, the next is refused.
    let mut refused = None;
    for i in 0..13 {
        let out = run_stdin(
            account(&thief, &["phone", "verify"], there).args([&format!("+3469876{i:04}"), "--code-stdin"]),
            "12345678",
        );
        if String::from_utf8_lossy(&out.stderr).contains("requests about phone numbers for today") {
            refused = Some(i);
            break;
        }
    }
    assert_eq!(refused, Some(12), "the allowance is 12 a day (the owner's setup was another day)");
    // A day later it is back.
    l.advance_clock(DAY);
    let out = run_stdin(account(&thief, &["phone", "verify"], there).args(["+34698760099", "--code-stdin"]), "1");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("for today"), "{out:?}");
}
