//! Password hashing's memory is bounded by a formula of the limits, after any number of
//! logins: argon2 runs in a fixed pool of `max_concurrent_hashes` buffers of 19 MiB, made
//! once and reused (the allocator kept every freed buffer before: 600 logins left a listener
//! at 340-880 MB). Measured on the listener's peak resident memory (VmHWM).

use std::time::{Duration, Instant};

use qxfer::transport::framed::{read_frame, write_frame};
use qxfer::wire::{ErrorCode, GetReply, Response, StreamHead};

use crate::fair_queue::{password_login, try_password_login};
use crate::raw::run;
use crate::raw::Raw;
use crate::support::*;

/// Hashes at once: the default `max_concurrent_hashes`, so the pool is two buffers.
const HASHES: u64 = 2;
/// One pooled buffer: argon2id's 19 MiB (m = 19456 KiB).
const BUFFER: u64 = 19 << 20;
/// The test's `connection_window`: what one connection can make the listener buffer.
const WINDOW: u64 = 1 << 20;
/// Logins in flight at once, each on a connection of its own.
const CLIENTS: u64 = 16;
/// A download flood: connections, streams on each, and the size of the file they fetch.
const FLOOD_CONNECTIONS: u64 = 4;
const FLOOD_STREAMS: u64 = 16;
const FILE: u64 = 256 << 10;
/// Threads' stacks, the runtime, the database's cache, allocator rounding.
const SLACK: u64 = 24 << 20;

fn config() -> String {
    format!(
        "[limits]\nmax_concurrent_hashes = {HASHES}\nconnection_window = {WINDOW}\nstream_window = 262144\n\
         connections_per_second_per_ip = 1000\nconnection_burst_per_ip = 1000\nrequests_per_second_per_ip = 1000\n\
         requests_per_second_per_account = 1000\nrequest_burst = 1000\n\
         [scoring]\nthreshold = 1000000\nprefix_threshold = 1000000\n"
    )
}

fn kib(field: &str, pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_default().to_owned();
    line.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) * 1024
}

/// `n` password logins for `user`, `CLIENTS` at a time, each from an address of 127.0.3.0/24
/// on a connection of its own.
async fn logins(addr: &str, user: &str, n: u64) {
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..CLIENTS {
        let (addr, user) = (addr.to_owned(), user.to_owned());
        let share = n / CLIENTS + u64::from(c < n % CLIENTS);
        tasks.spawn(async move {
            for _ in 0..share {
                let raw = login_past_busy(&format!("127.0.3.{}", c + 1), &addr, &user).await;
                raw.conn.close(0u32.into(), b"done");
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("login task");
    }
}

/// A password login that, when the listener is busy (a machine so loaded that a login
/// waited past twice its deadline), tries again, up to ten times: the memory, not the
/// machine's speed, is what this test measures.
async fn login_past_busy(bind: &str, addr: &str, user: &str) -> Raw {
    for _ in 0..9 {
        match try_password_login(bind, addr, user).await {
            Ok(raw) => return raw,
            Err(Some(Response::Error { code: ErrorCode::Limit, message })) if message.contains("busy") => {
                eprintln!("busy, again: {message}");
            }
            Err(r) => panic!("login from {bind}: {r:?}"),
        }
    }
    password_login(bind, addr, user).await
}

/// `FLOOD_CONNECTIONS` connections of `user`, each fetching delivery `id`'s file on
/// `FLOOD_STREAMS` streams at once, to the end.
async fn get_flood(addr: &str, user: &str, id: u64) {
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..FLOOD_CONNECTIONS {
        let raw = login_past_busy(&format!("127.0.4.{}", c + 1), addr, user).await;
        for _ in 0..FLOOD_STREAMS {
            let conn = raw.conn.clone();
            tasks.spawn(async move {
                let (mut send, mut recv) = conn.open_bi().await.ok()?;
                write_frame(&mut send, &StreamHead::Get { id, index: 0, offset: 0 }).await.ok()?;
                let _ = send.finish();
                let Some(GetReply::Ready { len }) = read_frame::<GetReply>(&mut recv).await.ok().flatten() else {
                    return None;
                };
                let mut got = 0u64;
                while let Ok(Some(chunk)) = recv.read_chunk(1 << 20, true).await {
                    got += chunk.bytes.len() as u64;
                }
                Some(got >= len)
            });
        }
        tasks.spawn(async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
            drop(raw);
            None
        });
    }
    let mut fetched = 0;
    while let Some(done) = tasks.join_next().await {
        fetched += u64::from(done.expect("get task") == Some(true));
        if fetched == FLOOD_CONNECTIONS * FLOOD_STREAMS {
            break;
        }
    }
    tasks.abort_all();
    assert_eq!(fetched, FLOOD_CONNECTIONS * FLOOD_STREAMS, "downloads of the flood failed");
}

/// After 600 password logins, and after 16 rounds of download floods with password logins
/// between them, the listener's peak memory is within the formula the docs give: what it
/// used before the first hash (and the first connection), plus the pool (`max_concurrent_hashes × 19 MiB`), plus each
/// connection's window, plus each download's read-ahead (the file, at most
/// `(PIPELINE_DEPTH + 2) × CHUNK`) and its connection's send window.
#[test]
fn hashing_memory_stays_within_the_pool_after_any_number_of_logins() {
    let listener = Listener::with_config(&config());
    listener.add_user("alice");
    // Before any hash: the pool is empty.
    std::thread::sleep(Duration::from_millis(300));
    let before = kib("VmRSS:", listener.pid());
    let alice = User::new(&listener, "alice");
    std::fs::write(alice.path("file"), pseudo_random(FILE as usize, 7)).expect("write");
    let out = ok(&alice.cmd("send").args(["--to", "alice", "file", "--json"]).output().expect("send"));
    let id = serde_json::from_str::<serde_json::Value>(&out).expect("json")["id"].as_u64().expect("id");
    let (pid, addr) = (listener.pid(), listener.addr.clone());
    let per_download =
        FILE.min((qxfer::transport::body::PIPELINE_DEPTH as u64 + 2) * qxfer::transport::body::CHUNK as u64);
    let send_window = WINDOW.max(8 << 20);
    let flood = FLOOD_CONNECTIONS * (send_window + FLOOD_STREAMS * per_download);
    let (after_logins, after_floods) = run(async move {
        shared::reset_peak(pid);
        let started = Instant::now();
        logins(&addr, "alice", 600).await;
        let after_logins = kib("VmHWM:", pid);
        eprintln!("600 logins: {:.1} s, VmHWM {} KiB", started.elapsed().as_secs_f64(), after_logins >> 10);
        let started = Instant::now();
        for round in 0..16 {
            get_flood(&addr, "alice", id).await;
            logins(&addr, "alice", 20).await;
            eprintln!("round {round}: VmHWM {} KiB, VmRSS {} KiB", kib("VmHWM:", pid) >> 10, kib("VmRSS:", pid) >> 10);
        }
        eprintln!("16 rounds: {:.1} s", started.elapsed().as_secs_f64());
        (after_logins, kib("VmHWM:", pid))
    });
    let pool = HASHES * BUFFER;
    let connections = CLIENTS * WINDOW;
    let logins_bound = before + pool + connections + SLACK;
    let floods_bound = logins_bound + flood;
    eprintln!(
        "listener VmRSS before {} KiB; VmHWM after 600 logins {} KiB (bound {} KiB: + pool {} KiB + connections \
         {} KiB + slack {} KiB); after 16 rounds of floods and logins {} KiB (bound {} KiB: + downloads {} KiB)",
        before >> 10,
        after_logins >> 10,
        logins_bound >> 10,
        pool >> 10,
        connections >> 10,
        SLACK >> 10,
        after_floods >> 10,
        floods_bound >> 10,
        flood >> 10
    );
    assert!(after_logins <= logins_bound, "VmHWM {after_logins} after 600 logins; the bound is {logins_bound}");
    assert!(after_floods <= floods_bound, "VmHWM {after_floods} after the floods; the bound is {floods_bound}");
}
