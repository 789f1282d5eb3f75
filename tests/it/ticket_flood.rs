//! The spent set cannot be filled (issue 21): networks spending tickets as fast as they can
//! (recovery starts for names that do not exist, the attack measured there) never turn
//! challenges off for anyone else; a source past its share of tickets is refused alone; and
//! the listener's memory fuse, when it blows, is "busy" and never held against anyone.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use qxfer::challenge::pow;
use qxfer::wire::{AccountReply, Credential, ErrorCode, Request, Response, Solution, Ticket};

use crate::fair_queue::connect;
use crate::raw::run;
use crate::support::*;

/// Flooding networks, each a /24 of its own.
const NETWORKS: u32 = 64;
/// The flood's ceiling: it stops once this many tickets were spent, or at the deadline.
const FLOOD_SPENDS: u64 = 6_000;
const FLOOD_DEADLINE: Duration = Duration::from_secs(60);
/// The memory fuse of the flood test, tickets a second: over ten times what this 2-core
/// machine's debug build hands out to the flood below at full speed (measured: 320 a second).
const FUSE_PER_SEC: u64 = 4_000;
const PERSON: &str = "127.41.0.1";

fn solve(ticket: &Ticket) -> u64 {
    pow::solve_some(&ticket.nonce, ticket.bits, 0, u64::MAX).expect("solved")
}

/// What one flooder saw.
#[derive(Default)]
struct Counts {
    spent: AtomicU64,
    /// Challenges refused at the listener's memory fuse.
    busy: AtomicU64,
    other: AtomicU64,
}

/// Until `stop`, network `i` asks for challenges for made-up names and spends each on a
/// recovery start, four a connection (the session's cap), as fast as it can.
fn flooder(i: u32, addr: String, stop: Arc<AtomicBool>, counts: Arc<Counts>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let from = format!("127.40.{i}.1");
        let mut n = 0u64;
        while !stop.load(Relaxed) {
            let Ok(mut raw) = connect(&from, &addr).await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            for _ in 0..4 {
                n += 1;
                let user = format!("ghost{i}x{n}");
                let ticket = match raw.call(&Request::Challenge { user: user.clone() }).await {
                    Some(Response::Challenge { ticket, .. }) => ticket,
                    Some(Response::Error { message, .. }) if message.contains("handing out") => {
                        counts.busy.fetch_add(1, Relaxed);
                        break;
                    }
                    _ => {
                        counts.other.fetch_add(1, Relaxed);
                        break;
                    }
                };
                let solution = Solution { counter: solve(&ticket), answer: None, ticket };
                match raw.call(&Request::RecoverStart { user, solution }).await {
                    Some(Response::Error { code: ErrorCode::ChallengeFailed, .. }) | None => {
                        counts.other.fetch_add(1, Relaxed);
                        break;
                    }
                    // Spent, whatever recovery then said (a code "texted", the network's
                    // starts used, recovery's own slots busy).
                    Some(_) => {
                        counts.spent.fetch_add(1, Relaxed);
                    }
                }
            }
            raw.conn.close(0u32.into(), b"done");
        }
    })
}

/// A person's recovery start for `alice` from `PERSON`, with the work the listener asks.
async fn person_recovery_start(addr: &str) -> Option<Response> {
    let mut raw = connect(PERSON, addr).await.expect("connect");
    let ticket = match raw.call(&Request::Challenge { user: "alice".into() }).await {
        Some(Response::Challenge { ticket, .. }) => ticket,
        r => return r,
    };
    let solution = Solution { counter: solve(&ticket), answer: None, ticket };
    raw.call(&Request::RecoverStart { user: "alice".into(), solution }).await
}

/// A person's stepped-up login: three wrong passwords from `PERSON`, then the captcha read
/// (the debug-build answer hook) in a person's time, and the right password with it.
async fn person_stepped_up_login(addr: &str, answers: &std::path::Path) -> Option<Response> {
    for _ in 0..3 {
        let mut raw = connect(PERSON, addr).await.expect("connect");
        let wrong = Request::Login { user: "alice".into(), credential: Credential::Password("wrong!!!".into()) };
        let r = raw.call(&wrong).await;
        assert!(matches!(r, Some(Response::Error { code: ErrorCode::AuthFailed, .. })), "{r:?}");
    }
    let mut raw = connect(PERSON, addr).await.expect("connect");
    let ticket = match raw.call(&Request::Challenge { user: "alice".into() }).await {
        Some(Response::Challenge { ticket, picture: Some(_) }) => ticket,
        r => panic!("a captcha for the stepped-up login: {r:?}"),
    };
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let nonce = hex::encode(ticket.nonce);
    let text = std::fs::read_to_string(answers).expect("answers");
    let answer = text.lines().find_map(|l| l.strip_prefix(&format!("{nonce} "))).expect("answer").to_owned();
    let solution = Solution { counter: solve(&ticket), answer: Some(answer), ticket };
    let mut raw = connect(PERSON, addr).await.expect("connect");
    let credential = Credential::Password(PASSWORD.into());
    raw.call(&Request::LoginSolved { user: "alice".into(), credential, solution }).await
}

/// The largest `spent_set` size the listener's debug log reports: (bytes, tickets).
fn largest_spent_set(log: &str) -> (u64, u64) {
    let field = |l: &str, k: &str| -> u64 {
        l.split(&format!("{k}=")).nth(1).and_then(|r| r.split(' ').next()).and_then(|v| v.parse().ok()).unwrap_or(0)
    };
    log.lines()
        .filter(|l| l.contains("event=\"spent_set\""))
        .map(|l| (field(l, "bytes"), field(l, "tickets")))
        .max()
        .unwrap_or((0, 0))
}

#[test]
fn with_64_networks_spending_tickets_as_fast_as_they_can_a_person_still_recovers_and_logs_in() {
    // Scaled to this machine: light work, tickets good for 8 s (epochs of 2 s), no rate
    // limit but the tickets' own per source (set high: the flood spends as fast as it can),
    // no bans, and the memory fuse at ten times what the flood can reach.
    let data = tempfile::tempdir().expect("tempdir");
    let answers = data.path().join("answers.txt");
    let config = data.path().join("flood.toml");
    std::fs::write(
        &config,
        format!(
            "[scoring]\nexempt = []\nthreshold = 1000000\nprefix_threshold = 1000000\n\
             [challenges]\nttl_secs = 8\nmin_bits = 4\nmax_bits = 8\ntickets_per_minute_per_source = 100000\n\
             max_tickets_per_sec = {FUSE_PER_SEC}\n\
             [limits]\nfailed_login_delay_ms = 0\nconnections_per_second_per_ip = 10000\n\
             connection_burst_per_ip = 10000\nrequests_per_second_per_ip = 100000\n\
             requests_per_second_per_account = 100000\nrequest_burst = 100000\nmax_connections = 1024\n"
        ),
    )
    .expect("config");
    let hook = answers.to_str().expect("utf8").to_owned();
    let config = config.to_str().expect("utf8").to_owned();
    let listener = Listener::start_with_env(
        data,
        "127.0.0.1:0",
        &["--config", &config],
        &[("QXFER_TEST_CAPTCHA_ANSWERS", hook.as_str()), ("QXFER_LOG", "qxfer=debug,warn")],
    );
    listener.add_user("alice");
    let addr = listener.addr.clone();
    let (started, spent, busy, other, recovery, login) = run(async {
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(Counts::default());
        let started = Instant::now();
        let flood: Vec<_> = (0..NETWORKS).map(|i| flooder(i, addr.clone(), stop.clone(), counts.clone())).collect();
        // The flood first fills what the old set held for one network, several times over.
        while counts.spent.load(Relaxed) < 2_000 && started.elapsed() < FLOOD_DEADLINE / 2 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let recovery = person_recovery_start(&addr).await;
        let login = person_stepped_up_login(&addr, &answers).await;
        while counts.spent.load(Relaxed) < FLOOD_SPENDS && started.elapsed() < FLOOD_DEADLINE {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        stop.store(true, Relaxed);
        for f in flood {
            f.await.expect("flooder");
        }
        (started, counts.spent.load(Relaxed), counts.busy.load(Relaxed), counts.other.load(Relaxed), recovery, login)
    });
    let secs = started.elapsed().as_secs_f64();
    // An upkeep pass (every 10 s) reports the set's size; wait for one if the flood was quicker.
    let waited = Instant::now();
    while largest_spent_set(&listener.log()).1 == 0 && waited.elapsed() < Duration::from_secs(11) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let (bytes, tickets) = largest_spent_set(&listener.log());
    println!(
        "{NETWORKS} networks spent {spent} tickets in {secs:.1} s ({:.0} a second; fuse {FUSE_PER_SEC} a second), \
         {busy} busy, {other} other refusals; the spent set held at most {bytes} bytes for {tickets} tickets \
         (formula: tickets / 8 in 1 KiB chunks per epoch)",
        spent as f64 / secs
    );
    assert!(
        matches!(&recovery, Some(Response::Account(AccountReply::Done { .. }))),
        "the person's recovery start: {recovery:?}"
    );
    assert!(matches!(&login, Some(Response::LoggedIn { .. })), "the person's stepped-up login: {login:?}");
    assert!(spent >= 2_000, "the flood spent only {spent} tickets in {secs:.1} s");
    assert_eq!(busy, 0, "the flood met the fuse: it is to be ten times what the flood can reach");
    // The set never refused a spend, and held one bit a ticket (plus a 1 KiB chunk per epoch).
    assert!(bytes <= tickets / 8 + 5 * 1024, "{bytes} bytes for {tickets} tickets");
    assert_eq!(listener.recorded(PERSON, "challenge_failed"), 0);
}

#[test]
fn a_source_past_its_share_of_tickets_is_refused_alone_and_the_fuse_is_never_scored() {
    let l = Listener::with_config(
        "[scoring]\nexempt = []\nthreshold = 1000000\nprefix_threshold = 1000000\n\
         [challenges]\nmin_bits = 4\nmax_bits = 8\ntickets_per_minute_per_source = 5\n",
    );
    let addr = l.addr.clone();
    run(async {
        let ask = |from: &'static str, user: String| {
            let addr = addr.clone();
            async move {
                let mut raw = connect(from, &addr).await.expect("connect");
                raw.call(&Request::Challenge { user }).await
            }
        };
        // Five for made-up names and real ones alike, then no more for this address.
        for n in 0..5 {
            let user = if n % 2 == 0 { format!("nobody{n}") } else { "alice".into() };
            assert!(matches!(ask("127.50.0.1", user).await, Some(Response::Challenge { .. })));
        }
        let r = ask("127.50.0.1", "alice".into()).await;
        assert!(
            matches!(&r, Some(Response::Error { code: ErrorCode::Limit, message })
                if message.contains("too many challenges asked from this address")),
            "{r:?}"
        );
        // Its neighbour in the same /24 is not held to its share.
        assert!(matches!(ask("127.50.0.2", "alice".into()).await, Some(Response::Challenge { .. })));
    });
    l.wait_recorded("127.50.0.1", "limit", 1);
    assert_eq!(l.recorded("127.50.0.2", "limit"), 0);

    // The fuse: two tickets an epoch here. Past it, "busy" for whoever asks, recorded as
    // refused and never as an offence; the next epoch hands them out again.
    let l = Listener::with_config(
        "[scoring]\nexempt = []\nthreshold = 1000000\nprefix_threshold = 1000000\n\
         [challenges]\nmin_bits = 4\nmax_bits = 8\nttl_secs = 8\nmax_tickets_per_sec = 1\n",
    );
    let addr = l.addr.clone();
    run(async {
        for from in ["127.51.0.1", "127.51.1.1"] {
            let mut raw = connect(from, &addr).await.expect("connect");
            assert!(matches!(
                raw.call(&Request::Challenge { user: "x".into() }).await,
                Some(Response::Challenge { .. })
            ));
        }
        let mut raw = connect("127.51.2.1", &addr).await.expect("connect");
        let r = raw.call(&Request::Challenge { user: "x".into() }).await;
        assert!(
            matches!(&r, Some(Response::Error { code: ErrorCode::Limit, message }) if message.contains("too many challenges")),
            "{r:?}"
        );
    });
    l.wait_recorded("127.51.2.1", "refused", 1);
    for kind in ["limit", "challenge_failed"] {
        assert_eq!(l.recorded("127.51.2.1", kind), 0, "{kind}");
    }
    l.advance_clock(3);
    run(async {
        let mut raw = connect("127.51.2.1", &addr).await.expect("connect");
        assert!(matches!(raw.call(&Request::Challenge { user: "x".into() }).await, Some(Response::Challenge { .. })));
    });
}
