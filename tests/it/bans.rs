//! Activity log, scoring and the automatic firewall against a real listener: offences from
//! one loopback address (127.0.0.x) earn it an escalating, persisted ban enforced before the
//! handshake, while allowed addresses and other users carry on.

use std::time::{Duration, Instant};

use qxfer::wire::{Credential, Request, Response};

use crate::raw::{run, Raw};
use crate::support::*;

/// fail2ban-like defaults. Tests watch bans expire by moving the listener's clock.
const SCORING: &str = "[limits]
failed_login_delay_ms = 50

[scoring]
threshold = 5
window_secs = 600
ban_secs = 600
ban_factor = 3
max_ban_secs = 3600

# These tests are about scores and bans: the step-up to a challenge stays out of the way
# (tests/it/challenges.rs shows the two together).
[challenges]
challenge_after = 1000
";

fn listener() -> Listener {
    let listener = Listener::with_config(SCORING);
    listener.add_user("alice");
    listener
}

/// Wrong passwords from `bind` (up to 3 per connection); returns how many were sent. The
/// last one's answer may never come: a ban closes the connection at once.
async fn wrong_passwords(bind: &str, addr: &str, n: usize) -> usize {
    let mut done = 0;
    while done < n {
        let Ok(mut raw) = Raw::connect_from(bind, addr).await else { return done };
        for _ in 0..3 {
            if done == n {
                break;
            }
            let req = Request::Login { user: "alice".into(), credential: Credential::Password("wrong guess!".into()) };
            done += 1;
            if !matches!(raw.call(&req).await, Some(Response::Error { .. })) {
                break;
            }
        }
    }
    done
}

/// Wait (bounded) until a connection from `bind` is refused or dropped.
async fn until_refused(bind: &str, addr: &str, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if !Raw::admitted_from(bind, addr).await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

fn bans(listener: &Listener) -> Vec<serde_json::Value> {
    let out = ok(&listener.admin().args(["firewall", "list", "--json"]).output().expect("list"));
    out.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
        .filter(|v| v["rule"] == "ban")
        .collect()
}

#[test]
fn five_wrong_passwords_ban_the_source_and_the_ban_escalates_and_expires() {
    let listener = listener();
    // The listener's clock: the system's, plus what the test moved it by.
    let system = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_secs();
    let began = system();
    run(async {
        assert_eq!(wrong_passwords("127.0.0.30", &listener.addr, 5).await, 5);
        assert!(until_refused("127.0.0.30", &listener.addr, Duration::from_secs(10)).await, "not banned");
        // Another address and a legitimate login are unaffected.
        let mut other = Raw::login_from("127.0.0.31", &listener.addr, "alice").await;
        assert!(matches!(other.call(&Request::Inbox { after: 0 }).await, Some(Response::InboxPage { .. })));
    });
    let first = bans(&listener);
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0]["net"], "127.0.0.30/32");
    assert_eq!(first[0]["level"], 1);
    assert!(listener.log().contains("event=\"ban\"") || listener.log().contains("event=ban"), "{}", listener.log());

    let mut moved = 0u64;
    // A ban of `secs` that began between `began` and now, on the listener's clock.
    let lasts = |b: &serde_json::Value, began: u64, secs: u64, moved: u64| {
        let until = b["until"].as_u64().expect("until");
        assert!((began + secs..=system() + moved + secs).contains(&until), "a ban of {secs} s: {b}");
    };
    // How long a ban lasts from now on the listener's clock (it began a few seconds ago).
    let left = |b: &serde_json::Value, moved: u64| b["until"].as_u64().expect("until").saturating_sub(system() + moved);
    let advance = |secs: u64, moved: &mut u64| {
        listener.advance_clock(secs);
        *moved += secs;
    };

    // The first ban lasts 600 s: ten seconds before its end the address is still refused,
    // after it the address connects again.
    lasts(&first[0], began, 600, moved);
    let first_left = left(&first[0], moved);
    advance(first_left - 10, &mut moved);
    run(async {
        assert!(!Raw::admitted_from("127.0.0.30", &listener.addr).await, "ban ended early");
    });
    advance(11, &mut moved);
    let began = system() + moved;
    let second = run(async {
        assert!(Raw::admitted_from("127.0.0.30", &listener.addr).await, "ban did not expire");
        // A second offence earns a longer ban (600 s x 3).
        assert_eq!(wrong_passwords("127.0.0.30", &listener.addr, 5).await, 5);
        assert!(until_refused("127.0.0.30", &listener.addr, Duration::from_secs(10)).await, "not banned again");
        bans(&listener)
    });
    assert_eq!(second[0]["level"], 2, "{second:?}");
    lasts(&second[0], began, 1800, moved);
    let second_left = left(&second[0], moved);
    // The third would be 600 s x 9; it is capped at max_ban_secs, 3600 s.
    advance(second_left + 1, &mut moved);
    let began = system() + moved;
    let third = run(async {
        assert_eq!(wrong_passwords("127.0.0.30", &listener.addr, 5).await, 5);
        assert!(until_refused("127.0.0.30", &listener.addr, Duration::from_secs(10)).await, "not banned a third time");
        bans(&listener)
    });
    assert_eq!(third[0]["level"], 3, "{third:?}");
    lasts(&third[0], began, 3600, moved);
    let third_left = left(&third[0], moved);
    // Offences older than the scoring window are forgotten: four more, a window later, ban nobody.
    advance(third_left + 1, &mut moved);
    run(async {
        assert!(Raw::admitted_from("127.0.0.30", &listener.addr).await, "third ban did not expire");
        assert_eq!(wrong_passwords("127.0.0.30", &listener.addr, 4).await, 4);
    });
    advance(601, &mut moved);
    let before = listener.recorded("127.0.0.30", "login_failed");
    run(async {
        assert_eq!(wrong_passwords("127.0.0.30", &listener.addr, 4).await, 4);
    });
    listener.wait_recorded("127.0.0.30", "login_failed", before + 4);
    run(async {
        assert!(Raw::admitted_from("127.0.0.30", &listener.addr).await, "old offences still counted");
    });
}

#[test]
fn allowed_addresses_are_never_banned() {
    let listener = listener();
    ok(&listener.admin().args(["firewall", "allow", "127.0.0.40"]).output().expect("allow"));
    run(async {
        assert_eq!(wrong_passwords("127.0.0.40", &listener.addr, 10).await, 10);
    });
    listener.wait_recorded("127.0.0.40", "login_failed", 10);
    run(async {
        assert!(Raw::admitted_from("127.0.0.40", &listener.addr).await, "an allowed address was banned");
    });
    assert!(bans(&listener).is_empty());
}

#[test]
fn bans_survive_a_restart_and_can_be_lifted_by_hand() {
    let listener =
        Listener::with_config("[scoring]\nthreshold = 5\nban_secs = 3600\n[challenges]\nchallenge_after = 1000\n");
    listener.add_user("alice");
    run(async {
        assert_eq!(wrong_passwords("127.0.0.50", &listener.addr, 5).await, 5);
        assert!(until_refused("127.0.0.50", &listener.addr, Duration::from_secs(10)).await, "not banned");
    });
    let listener = listener.restart();
    run(async {
        assert!(!Raw::admitted_from("127.0.0.50", &listener.addr).await, "ban lost in a restart");
    });
    // What happened is in the audit, with the account name that was tried.
    let out = ok(&listener.admin().args(["audit", "--source", "127.0.0.50", "--json"]).output().expect("audit"));
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).expect("json")).collect();
    let failed = lines.iter().filter(|v| v["type"] == "event" && v["kind"] == "login_failed").count();
    assert_eq!(failed, 5, "{out}");
    assert!(lines.iter().any(|v| v["type"] == "event" && v["kind"] == "ban"), "{out}");
    assert!(lines.iter().any(|v| v["type"] == "event" && v["account"] == "alice"), "{out}");
    assert!(lines.iter().any(|v| v["type"] == "source" && v["source"] == "127.0.0.50" && v["score"] == 5.0), "{out}");
    let table = ok(&listener.admin().args(["audit", "--since", "1h"]).output().expect("audit table"));
    assert!(table.contains("OFFENDING SOURCES") && table.contains("127.0.0.50"), "{table}");
    // No password ever reaches the log or the database.
    assert!(!out.contains("wrong guess!"));

    ok(&listener.admin().args(["firewall", "unban", "127.0.0.50"]).output().expect("unban"));
    run(async {
        assert!(Raw::admitted_from("127.0.0.50", &listener.addr).await, "unban did not lift the ban");
    });
    assert!(bans(&listener).is_empty());
    assert!(listener.log().contains("event=\"unban\"") || listener.log().contains("event=unban"));
}

#[test]
fn a_hand_made_ban_closes_live_connections() {
    let listener = listener();
    run(async {
        let live = Raw::login_from("127.0.0.60", &listener.addr, "alice").await;
        ok(&listener.admin().args(["firewall", "ban", "127.0.0.60", "--for", "1h"]).output().expect("ban"));
        let closed = tokio::time::timeout(Duration::from_secs(5), live.conn.closed()).await;
        assert!(closed.is_ok(), "the banned address's connection stayed open");
        assert!(!Raw::admitted_from("127.0.0.60", &listener.addr).await);
    });
    let b = bans(&listener);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0]["reason"], "banned by hand");
}

#[test]
fn protocol_garbage_earns_a_ban_and_the_audit_says_what_arrived() {
    let listener = listener();
    run(async {
        for _ in 0..5 {
            let Ok(mut raw) = Raw::connect_from("127.0.0.70", &listener.addr).await else { break };
            // A byte 0x52 where a login message belongs.
            let _ = raw.raw(&[0, 0, 0, 3, 0x52, 0xff, 0xff]).await;
        }
        assert!(until_refused("127.0.0.70", &listener.addr, Duration::from_secs(10)).await, "not banned");
    });
    let out = ok(&listener.admin().args(["audit", "--kind", "violation", "--json"]).output().expect("audit"));
    assert!(out.contains("expected a login request") && out.contains("0x52"), "{out}");
    assert_eq!(bans(&listener)[0]["net"], "127.0.0.70/32");
}

/// `firewall list --json` is JSON Lines, an object per rule or ban: with nothing in force it
/// prints no line (a `[]` would be a line that is no rule) and says so on stderr; each line
/// of a non-empty list is one object.
#[test]
fn an_empty_firewall_list_in_json_is_no_lines_and_says_so_on_stderr() {
    let listener = listener();
    let out = listener.admin().args(["firewall", "list", "--json"]).output().expect("list");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no IP rules and no bans in force"), "{out:?}");
    let plain = ok(&listener.admin().args(["firewall", "list"]).output().expect("list"));
    assert_eq!(plain, "no IP rules and no bans in force\n");
    ok(&listener.admin().args(["firewall", "block", "192.0.2.0/24"]).output().expect("block"));
    ok(&listener.admin().args(["firewall", "ban", "198.51.100.7", "--for", "1h"]).output().expect("ban"));
    let out = listener.admin().args(["firewall", "list", "--json"]).output().expect("list");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("one object")).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!((lines[0]["rule"].as_str(), lines[0]["net"].as_str()), (Some("block"), Some("192.0.2.0/24")));
    assert_eq!((lines[1]["rule"].as_str(), lines[1]["net"].as_str()), (Some("ban"), Some("198.51.100.7/32")));
}
