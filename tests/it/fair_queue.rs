//! Password hashes are shared fairly: round robin by network, then by account (every name
//! no account has in one queue of its own), so a flood of logins cannot starve another
//! account's login, whatever work the flood attaches. The order is read from the
//! listener's debug log (`hash_queued`, `hash_granted`), written in the queue's own order.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use qxfer::challenge::pow;
use qxfer::policy::NetLimits;
use qxfer::transport::endpoint::client_endpoint;
use qxfer::transport::tls::Trust;
use qxfer::wire::{Credential, ErrorCode, Request, Response, Solution};

use crate::raw::{run, Raw};
use crate::support::*;

/// A raw connection from `bind` that waits as long as a real client (its idle timeout is
/// the default 30 s, not the raw client's 2 s): a login may wait in the queue.
pub async fn connect(bind: &str, addr: &str) -> Result<Raw, String> {
    let bind: std::net::IpAddr = bind.parse().expect("bind");
    let endpoint = client_endpoint(SocketAddr::new(bind, 0), Trust::Pin, &NetLimits::default()).expect("endpoint");
    let connecting = endpoint.connect(addr.parse().expect("addr"), "qxfer").map_err(|e| e.to_string())?;
    let conn = connecting.await.map_err(|e| e.to_string())?;
    let (send, recv) = conn.open_bi().await.map_err(|e| e.to_string())?;
    Ok(Raw { _endpoint: endpoint, conn, send, recv })
}

/// A solution for the work challenge the listener issues `raw`'s network for `user`.
pub async fn solved(raw: &mut Raw, user: &str) -> Option<Solution> {
    let reply = raw.call(&Request::Challenge { user: user.into() }).await;
    let Some(Response::Challenge { ticket, picture: None }) = reply else { return None };
    let counter = tokio::task::spawn_blocking({
        let ticket = ticket.clone();
        move || pow::solve_some(&ticket.nonce, ticket.bits, 0, u64::MAX).ok()
    })
    .await
    .ok()??;
    Some(Solution { ticket, counter, answer: None })
}

/// A password login from `bind` as the real client does it: without work, and when the
/// listener says it is under load, again on a fresh connection with the work it suggests.
pub async fn password_login(bind: &str, addr: &str, user: &str) -> Raw {
    try_password_login(bind, addr, user).await.unwrap_or_else(|r| panic!("login from {bind}: {r:?}"))
}

/// `password_login`, with the reply instead when it does not log in.
pub async fn try_password_login(bind: &str, addr: &str, user: &str) -> Result<Raw, Option<Response>> {
    let credential = Credential::Password(PASSWORD.into());
    let mut raw = connect(bind, addr).await.expect("connect");
    match raw.call(&Request::Login { user: user.into(), credential: credential.clone() }).await {
        Some(Response::LoggedIn { .. }) => return Ok(raw),
        Some(Response::Error { code: ErrorCode::ChallengeRequired, .. }) => {}
        r => return Err(r),
    }
    let solution = solved(&mut raw, user).await.expect("work");
    let mut raw = connect(bind, addr).await.expect("connect");
    match raw.call(&Request::LoginSolved { user: user.into(), credential, solution }).await {
        Some(Response::LoggedIn { .. }) => Ok(raw),
        r => Err(r),
    }
}

/// Flooding addresses, each on a /24 of its own, and logins each keeps in flight.
const FLOODERS: u32 = 120;
const IN_FLIGHT: u32 = 2;

fn flooder(i: u32) -> String {
    format!("127.1.{i}.1")
}

/// Until `stop`, every flooder keeps `IN_FLIGHT` solved password logins in flight, as
/// `name(i)` with the right password; counts the logins answered.
fn flood(
    addr: &str,
    name: fn(u32) -> String,
    stop: &Arc<AtomicBool>,
    answered: &Arc<AtomicU64>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for i in 0..FLOODERS {
        for _ in 0..IN_FLIGHT {
            let (addr, stop, answered, user) = (addr.to_owned(), stop.clone(), answered.clone(), name(i));
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut raw) = connect(&flooder(i), &addr).await else {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    };
                    let Some(solution) = solved(&mut raw, &user).await else { continue };
                    let credential = Credential::Password(PASSWORD.into());
                    if raw.call(&Request::LoginSolved { user: user.clone(), credential, solution }).await.is_some() {
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                    raw.conn.close(0u32.into(), b"done");
                }
            }));
        }
    }
    tasks
}

/// One `hash_queued` or `hash_granted` event of the listener's log: which, for whom (the
/// peer's address and port: one login), and how many logins waited when it was queued.
#[derive(Debug, Clone)]
struct Event {
    queued: bool,
    peer: String,
    waiting: usize,
    effort: u8,
}

/// The hash queue's events in `log`, in the queue's order.
fn events(log: &str) -> Vec<Event> {
    log.lines()
        .filter_map(|l| {
            let queued = if l.contains("event=\"hash_queued\"") {
                true
            } else if l.contains("event=\"hash_granted\"") {
                false
            } else {
                return None;
            };
            let words = || l.split_whitespace();
            let peer = words().find_map(|w| w.strip_prefix("peer="))?.to_owned();
            let waiting = words().find_map(|w| w.strip_prefix("waiting=")?.parse().ok()).unwrap_or(0);
            let effort = words().find_map(|w| w.strip_prefix("effort=")?.parse().ok()).unwrap_or(0);
            Some(Event { queued, peer, waiting, effort })
        })
        .collect()
}

/// Asserts that in `events` the victim's login (the last one queued from 127.0.0.1) was
/// granted a hash before any login queued after it, and came with work (the real client
/// attaches the listener's suggestion under load). Returns how many logins waited when it
/// was queued, and how many (all queued before it) were granted while it waited.
fn served_in_turn(events: &[Event]) -> (usize, usize) {
    let at = events.iter().rposition(|e| e.queued && e.peer.starts_with("127.0.0.1:")).expect("the victim queued");
    let victim = &events[at];
    assert!(victim.effort > 0, "under load ({} waiting), the real client's login carried no work", victim.waiting);
    let queued_at: HashMap<&str, usize> =
        events.iter().enumerate().filter(|(_, e)| e.queued).map(|(i, e)| (e.peer.as_str(), i)).collect();
    let granted = events
        .iter()
        .enumerate()
        .skip(at)
        .find(|(_, e)| !e.queued && e.peer == victim.peer)
        .map(|(i, _)| i)
        .expect("the victim's login was granted a hash");
    let mut before = 0;
    for e in events[at..granted].iter().filter(|e| !e.queued) {
        // Logins queued before the log was read from count as queued before the victim's.
        let queued = queued_at.get(e.peer.as_str()).copied().unwrap_or(0);
        assert!(queued < at, "{}, queued after the victim's login, was granted a hash before it", e.peer);
        before += 1;
    }
    (victim.waiting, before)
}

fn listener() -> Listener {
    // Work at a fixed 16 bits (the effort never rises: within one network's queue more work
    // goes first, which the unit tests check, and this test reads arrival order), no
    // step-up or lockout for the flood's made-up names, no bans, and a login deadline long
    // enough that a slow machine's queue never reaches the ceiling (order is the point).
    Listener::with_config_env(
        "[challenges]\ncapacity = 1000000\nchallenge_after = 1000000\nlockout_after = 1000000\n\
         [limits]\nlogin_deadline_secs = 30\nfailed_login_delay_ms = 50\nrequests_per_second_per_ip = 1000\n\
         request_burst = 1000\n\
         requests_per_second_per_account = 1000\n\
         [scoring]\nthreshold = 1000000\nprefix_threshold = 1000000\n",
        &[("QXFER_LOG", "qxfer=debug,warn")],
    )
}

/// Add `names` as accounts, eight at a time.
pub fn add_users(listener: &Listener, names: Vec<String>) {
    let mut lanes: Vec<Vec<(std::process::Command, String)>> = (0..8).map(|_| Vec::new()).collect();
    for (i, name) in names.into_iter().enumerate() {
        lanes[i % 8].push((listener.admin(), name));
    }
    let threads: Vec<_> = lanes
        .into_iter()
        .map(|lane| {
            std::thread::spawn(move || {
                for (cmd, name) in lane {
                    let out = shared::add_user(cmd, &name).expect("user add");
                    assert!(out.status.success(), "user add: {}", String::from_utf8_lossy(&out.stderr));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("user add thread");
    }
}

/// With `FLOODERS` networks flooding solved logins as `name(i)`, alice's password login
/// (the real client's: asked for work under load, it attaches it) is granted a hash before
/// any flooding login queued after it, five times of five.
fn victim_served_before_later_floods(what: &str, listener: &Listener, name: fn(u32) -> String) {
    let addr = listener.addr.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    run(async {
        let tasks = flood(&addr, name, &stop, &answered);
        // The queue fills: most flooding logins wait for a hash.
        let started = Instant::now();
        while events(&listener.log()).len() < 400 && started.elapsed() < Duration::from_secs(60) {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        for round in 0..5 {
            let from = listener.log().len();
            let alice = User::new(listener, "alice");
            let mut inbox = alice.cmd("inbox");
            let t = Instant::now();
            let out = tokio::task::spawn_blocking(move || inbox.output().expect("inbox")).await.expect("join");
            let took = t.elapsed();
            ok(&out);
            let log = listener.log();
            let (waiting, before) = served_in_turn(&events(&log[from..]));
            eprintln!(
                "{what}, round {round}: alice's inbox took {:.2} s; her login found {waiting} waiting, {before} of \
                 them (one a network) were served first, none that came after it; {} flooding logins answered so far",
                took.as_secs_f64(),
                answered.load(Ordering::Relaxed)
            );
        }
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.abort();
        }
    });
}

#[test]
fn a_login_is_served_before_floods_of_one_account_that_arrive_after_it() {
    let listener = listener();
    listener.add_user("alice");
    listener.add_user("target");
    victim_served_before_later_floods("one account", &listener, |_| "target".into());
}

#[test]
fn a_login_is_served_before_floods_of_many_accounts_that_arrive_after_it() {
    let listener = listener();
    listener.add_user("alice");
    add_users(&listener, (0..FLOODERS).map(|i| format!("acct{i}")).collect());
    victim_served_before_later_floods("120 accounts", &listener, |i| format!("acct{i}"));
}

#[test]
fn a_login_is_served_before_floods_of_made_up_names_that_arrive_after_it() {
    let listener = listener();
    listener.add_user("alice");
    victim_served_before_later_floods("120 made-up names", &listener, |i| format!("nobody{i}"));
}

/// Send a solved password login as `user` from `bind` and wait for nothing: the reply is
/// read later. Returns the connection, its login sent.
async fn login_sent(bind: &str, addr: &str, user: &str) -> Raw {
    let mut raw = connect(bind, addr).await.expect("connect");
    let solution = solved(&mut raw, user).await.expect("work");
    let credential = Credential::Password(PASSWORD.into());
    let req = Request::LoginSolved { user: user.into(), credential, solution };
    qxfer::transport::framed::write_frame(&mut raw.send, &req).await.expect("send");
    raw
}

async fn reply(raw: &mut Raw) -> Option<Response> {
    qxfer::transport::framed::read_frame::<Response>(&mut raw.recv).await.ok().flatten()
}

/// A login the listener is still serving at its deadline is answered; at twice the login
/// deadline, if it still has no hash, with "busy" (`Limit`, in words), then the connection
/// closes. Busy is recorded as refused, never as an offence (a limit or a timeout) of the
/// address that met it. One hash at a time; a login as `holdMS` keeps the slot MS ms (the
/// debug build's test hook), so the waits do not depend on the machine's speed.
#[test]
fn a_login_waiting_past_its_deadline_is_answered_and_busy_at_twice_it_not_scored() {
    let listener = Listener::with_config_env(
        "[challenges]\ncapacity = 1000000\n[limits]\nlogin_deadline_secs = 2\nmax_concurrent_hashes = 1\n\
         [scoring]\nexempt = []\nthreshold = 1000000\nprefix_threshold = 1000000\n",
        &[("QXFER_LOG", "qxfer=debug,warn"), ("QXFER_TEST_HASH_HOLD", "1")],
    );
    listener.add_user("target");
    let addr = listener.addr.clone();
    let (late, busy, closed) = run(async {
        // A login holds the one slot 3 s; one queued behind it is served after its 2 s
        // deadline, before the 4 s ceiling: answered.
        let mut hold = login_sent("127.5.1.1", &addr, "hold3000").await;
        let mut late = login_sent("127.5.2.1", &addr, "target").await;
        let t = Instant::now();
        let late_reply = reply(&mut late).await;
        eprintln!("served past the deadline: answered after {:.2} s: {late_reply:?}", t.elapsed().as_secs_f64());
        let _ = reply(&mut hold).await;
        // A login holds it 6 s; one queued behind it is still waiting at its ceiling: busy.
        let _hold = login_sent("127.5.3.1", &addr, "hold6000").await;
        let mut busy = login_sent("127.5.4.1", &addr, "target").await;
        let t = Instant::now();
        let busy_reply = reply(&mut busy).await;
        eprintln!("waiting at the ceiling: answered after {:.2} s: {busy_reply:?}", t.elapsed().as_secs_f64());
        let closed = tokio::time::timeout(Duration::from_secs(5), busy.conn.closed()).await;
        (late_reply, busy_reply, closed.map(|e| e.to_string()))
    });
    assert!(matches!(late, Some(Response::LoggedIn { .. })), "{late:?}");
    assert!(
        matches!(&busy, Some(Response::Error { code: ErrorCode::Limit, message }) if message.contains("busy")),
        "{busy:?}"
    );
    assert!(closed.is_ok(), "the connection stayed open after the busy answer");
    let victim = "127.5.4.1";
    listener.wait_recorded(victim, "refused", 1);
    assert_eq!(listener.recorded(victim, "timeout"), 0, "the listener's wait was scored as the peer's timeout");
    assert_eq!(listener.recorded(victim, "limit"), 0, "busy was scored as the peer's limit");
    assert_eq!(listener.recorded("127.5.2.1", "timeout"), 0, "a login served late was scored as a timeout");
    assert!(listener.log().contains("no hash slot within twice the login deadline"), "{}", listener.log());
}

/// Every memory-hard hash, not only a login's, waits in the fair queue as its network and
/// its account: an account change's password check and its new answer are queued as
/// alice's, from her network, from her known place (never in one shared queue that a
/// flood of other requests could fill for everyone).
#[test]
fn an_account_change_waits_as_its_account_and_network() {
    let listener = listener();
    add_users(&listener, vec!["alice".to_owned()]);
    let alice = User::new(&listener, "alice");
    ok(&alice.cmd("inbox").output().expect("inbox"));
    let out = run_stdin(
        crate::recovery::account(&alice, &["question", "set"], None).args([
            "--question",
            "First pet?",
            "--answer-stdin",
        ]),
        "a cat called Moss",
    );
    assert!(ok(&out).contains("a new secret question"), "{out:?}");
    let log = listener.log();
    let queued: Vec<&str> = log.lines().filter(|l| l.contains("event=\"hash_queued\"")).collect();
    // The login, the change's password check, and the answer's hash.
    assert_eq!(queued.len(), 3, "{log}");
    for line in queued {
        assert!(line.contains("owner=Account(\"alice\")") && line.contains("net=127.0.0.0/24"), "{line}");
    }
}
