//! Behaviour judged per address first, on a real listener: a neighbour on a timer raises
//! its own challenges and not those of another address of its /24; three addresses of a /24
//! on a timer raise the whole /24's; a burst of password logins, whatever its gaps, raises
//! the address's.

use std::time::Duration;

use qxfer::wire::{Credential, Request, Response};

use crate::raw::{run, Raw};
use crate::support::*;

/// Loopback judged like any network, nobody banned, light work, no step-up.
fn listener() -> Listener {
    let l = Listener::with_config(
        "[scoring]\nexempt = []\nthreshold = 1000000\nprefix_threshold = 1000000\n\
         [challenges]\nmin_bits = 8\nmax_bits = 20\nchallenge_after = 1000\n",
    );
    l.add_user("alice");
    l
}

/// The work a login challenge from `from` asks for now.
async fn bits(from: &str, addr: &str) -> u8 {
    let mut raw = Raw::connect_from(from, addr).await.expect("connect");
    match raw.call(&Request::Challenge { user: "alice".into() }).await {
        Some(Response::Challenge { ticket, .. }) => ticket.bits,
        r => panic!("{from}: {r:?}"),
    }
}

/// `n` challenge requests from each of `froms` every `period` on the dot (each connection
/// opened ahead of its tick, so connecting is not part of the cadence).
async fn challenges_on_a_timer(froms: &[&str], addr: &str, n: u32, period: Duration) {
    let start = tokio::time::Instant::now() + Duration::from_millis(800);
    let mut tasks = Vec::new();
    for i in 0..n {
        let tick = start + period * i;
        tokio::time::sleep_until(tick - Duration::from_millis(400)).await;
        for from in froms {
            let (from, addr) = (from.to_string(), addr.to_owned());
            tasks.push(tokio::spawn(async move {
                let mut raw = Raw::connect_from(&from, &addr).await.expect("connect");
                let late = tokio::time::Instant::now().saturating_duration_since(tick);
                assert!(late < Duration::from_millis(100), "the host is too slow to keep a timer ({late:?} late)");
                tokio::time::sleep_until(tick).await;
                let r = raw.call(&Request::Challenge { user: "alice".into() }).await;
                assert!(matches!(r, Some(Response::Challenge { .. })), "{r:?}");
            }));
        }
    }
    for t in tasks {
        t.await.expect("task");
    }
}

#[test]
fn a_regular_neighbour_does_not_raise_another_addresss_effort() {
    let l = listener();
    let addr = l.addr.clone();
    let (before, after, bot) = run(async {
        let before = bits("127.0.80.9", &addr).await;
        // The attack of issue 21: 16 unauthenticated challenge requests at a fixed 500 ms,
        // from another address of the same /24.
        challenges_on_a_timer(&["127.0.80.2"], &addr, 16, Duration::from_millis(500)).await;
        (before, bits("127.0.80.9", &addr).await, bits("127.0.80.2", &addr).await)
    });
    println!("the innocent address: {before} bits before, {after} after; the neighbour on a timer: {bot}");
    assert_eq!(after, before, "a neighbour's timer raised another address's effort");
    assert!(bot > before, "the address on a timer was not challenged harder ({bot} bits)");
    let log = l.log();
    assert!(log.contains("challenge requests from address 127.0.80.2/32"), "{log}");
    assert!(!log.contains("address 127.0.80.9/32"), "the innocent address was judged: {log}");
}

#[test]
fn three_regular_addresses_raise_their_networks_effort() {
    let l = listener();
    let addr = l.addr.clone();
    let (before, after, elsewhere) = run(async {
        let before = bits("127.0.81.9", &addr).await;
        challenges_on_a_timer(&["127.0.81.2", "127.0.81.3", "127.0.81.4"], &addr, 6, Duration::from_millis(500)).await;
        (before, bits("127.0.81.9", &addr).await, bits("127.0.82.9", &addr).await)
    });
    println!("an address of the /24: {before} bits before, {after} after; another /24: {elsewhere}");
    assert!(after > before, "three regular addresses did not raise their /24 ({after} bits)");
    assert_eq!(elsewhere, before, "another network was raised");
}

#[test]
fn a_burst_of_password_logins_raises_the_addresss_effort_whatever_its_gaps() {
    let l = listener();
    let addr = l.addr.clone();
    let (before, after) = run(async {
        let before = bits("127.0.83.5", &addr).await;
        // 15 password logins in about 2.9 s with uneven gaps (the attack's), each on its own
        // connection.
        let gaps = [120u64, 340, 90, 260, 180, 410, 60, 230, 150, 300, 110, 270, 200, 180];
        for gap in std::iter::once(0).chain(gaps) {
            tokio::time::sleep(Duration::from_millis(gap)).await;
            let mut raw = Raw::connect_from("127.0.83.5", &addr).await.expect("connect");
            let login = Request::Login { user: "alice".into(), credential: Credential::Password(PASSWORD.into()) };
            let r = raw.call(&login).await;
            assert!(matches!(r, Some(Response::LoggedIn { .. })), "{r:?}");
        }
        (before, bits("127.0.83.5", &addr).await)
    });
    println!("after a burst of password logins: {before} bits before, {after} after");
    assert!(after > before, "a burst of password logins was not judged ({after} bits)");
    let log = l.log();
    assert!(log.contains("logins from address 127.0.83.5/32") && log.contains("faster than a person types"), "{log}");
}
