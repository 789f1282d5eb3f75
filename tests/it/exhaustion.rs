//! One account must not be able to stop the listener: the findings of an audit, each
//! reproduced with a raw client against a real listener.

use std::time::{Duration, Instant};

use qxfer::transport::framed::{read_frame, write_frame};
use qxfer::wire::{FileEntry, GetReply, PutReply, Request, Response, StreamHead};

use crate::raw::{run, Raw};
use crate::support::*;

/// Five connections of one account each open 110 zero-byte uploads and never send the
/// trailer, keeping their connections alive. Another account logs in with its saved token
/// and lists its inbox, again and again, and every time it works; the stalled uploads are
/// cut off by their deadline (past the account's 64 disk slots, refused at once), and the
/// listener never comes near the runtime's 512 blocking threads. (The files are declared
/// before any upload starts: an account at its cap of disk slots is refused `AddFiles` at
/// once, as declaring may hash on a resume.)
#[test]
fn stalled_zero_byte_uploads_of_one_account_cannot_starve_another() {
    let listener = Listener::with_config(
        "[limits]\nprogress_window_secs = 3\nmax_connections_per_ip = 16\nrequests_per_second_per_ip = 1000\n\
         request_burst = 1000\n[scoring]\nthreshold = 1000000\nprefix_threshold = 1000000\n",
    );
    listener.add_user("mallory");
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    ok(&alice.cmd("inbox").output().expect("inbox")); // pins the certificate, saves a token
    let addr = listener.addr.clone();
    let (closed, max_threads) = run(async {
        let mut declared = Vec::new();
        for c in 0..5u8 {
            let mut raw = Raw::login_from("127.0.0.91", &addr, "mallory").await;
            let id = raw.begin(110, 0, c).await;
            let entries = (0..110).map(|i| FileEntry { path: format!("f{i}"), size: 0 }).collect();
            let added = raw.call(&Request::AddFiles { entries }).await;
            assert!(matches!(added, Some(Response::FilesAdded { .. })), "{added:?}");
            declared.push((raw, id));
        }
        let mut attackers = Vec::new();
        for (raw, id) in declared {
            let mut streams = Vec::new();
            for index in 0..110 {
                let Ok((mut send, recv)) = raw.conn.open_bi().await else { break };
                let _ = write_frame(&mut send, &StreamHead::Put { id, index, offset: 0 }).await;
                streams.push((send, recv)); // no FileEnd, ever
            }
            attackers.push((raw, streams));
        }
        // The victim, repeatedly, while the uploads stall.
        let mut max_threads = 0;
        for _ in 0..5 {
            let mut inbox = alice.cmd("inbox");
            let out = tokio::task::spawn_blocking(move || inbox.output().expect("inbox")).await.expect("join");
            assert!(out.status.success(), "victim's inbox failed: {}", String::from_utf8_lossy(&out.stderr));
            max_threads = max_threads.max(listener.threads());
        }
        // Every stalled upload is cut off by a deadline: refused after waiting for a disk
        // slot, or cut off as too slow (which closes its connection). None hangs.
        let start = Instant::now();
        let mut ended = 0;
        let opened: usize = attackers.iter().map(|(_, s)| s.len()).sum();
        for (_, streams) in &mut attackers {
            for (_, recv) in streams.iter_mut() {
                let left = Duration::from_secs(30).saturating_sub(start.elapsed());
                if tokio::time::timeout(left, read_frame::<PutReply>(recv)).await.is_ok() {
                    ended += 1;
                }
            }
        }
        ((opened, ended), max_threads)
    });
    // All 550 are opened unless a host so slow that opening 110 streams takes longer than
    // the 3 s window cut a connection off first (then its last streams were never opened).
    // The point stands while there are far more stalled uploads than the account's 64 disk
    // slots.
    let (opened, closed) = closed;
    assert!(opened > 2 * 64, "only {opened} stalled uploads opened");
    assert_eq!(closed, opened, "stalled uploads were not cut off");
    assert!(max_threads < 400, "the listener ran {max_threads} threads");
    let log = listener.log();
    assert!(log.contains("too_slow") || log.contains("no disk slot"), "{log}");
    // The victim's waits were never scored against it.
    let audit = ok(&listener
        .admin()
        .args(["audit", "--user", "alice", "--kind", "timeout", "--json"])
        .output()
        .expect("audit"));
    assert!(!audit.contains("\"type\":\"event\""), "{audit}");
}

/// Anyone can plant a delivery of many files with long names in another's mailbox; asking
/// for its files must cost the same as for a small one: each download reads one row, each
/// listing one page.
#[test]
fn a_huge_delivery_costs_no_more_per_request_than_a_small_one() {
    let listener = Listener::with_config(
        "[limits]\nrequests_per_second_per_ip = 1000\nrequest_burst = 1000\n\
         [scoring]\nthreshold = 1000000\nprefix_threshold = 1000000\n",
    );
    listener.add_user("mallory");
    listener.add_user("alice");
    let mallory = User::new(&listener, "mallory");
    // 2,000 empty files under three levels of 200-character directory names: 1.3 MB of
    // names in one delivery.
    let deep = ["a", "b", "c"].map(|c| c.repeat(200)).join("/");
    let dir = mallory.path("t").join(&deep);
    std::fs::create_dir_all(&dir).expect("mkdir");
    for i in 0..2000 {
        std::fs::write(dir.join(format!("{i:0>60}")), b"").expect("write");
    }
    let out = ok(&mallory.cmd("send").args(["--to", "alice", "t", "--json"]).output().expect("send"));
    let id = serde_json::from_str::<serde_json::Value>(&out).expect("json")["id"].as_u64().expect("id");
    let addr = listener.addr.clone();
    let pid = listener.pid();
    let peak = run(async move {
        let raw = Raw::login(&addr, "alice").await;
        shared::reset_peak(pid);
        let mut gets = Vec::new();
        for index in 0..120u32 {
            let conn = raw.conn.clone();
            gets.push(tokio::spawn(async move {
                let (mut send, mut recv) = conn.open_bi().await.ok()?;
                write_frame(&mut send, &StreamHead::Get { id, index: index * 16, offset: 0 }).await.ok()?;
                let _ = send.finish();
                read_frame::<GetReply>(&mut recv).await.ok().flatten()
            }));
        }
        for g in gets {
            let reply = g.await.expect("join");
            assert!(matches!(reply, Some(GetReply::Ready { len: 0 })), "{reply:?}");
        }
        shared::peak_rss_kib(pid).unwrap_or(0)
    });
    // Decoding the whole delivery for each of the 120 downloads took hundreds of MiB.
    assert!(peak < 64 * 1024, "listener peak RSS {peak} KiB during 120 downloads");
    // The listing pages through it in bounded pages, and the fetch gets every file.
    let alice = User::new(&listener, "alice");
    ok(&alice.cmd("fetch").args([&id.to_string(), "-o", "got"]).output().expect("fetch"));
    assert_eq!(tree(&alice.path("got")).len(), 2000);
}

/// A delivery's names are capped all together, and a mailbox's file count is a quota:
/// zero-byte files are not free.
#[test]
fn path_bytes_and_file_counts_are_capped() {
    let listener = Listener::with_config(
        "[limits]\nmax_delivery_path_bytes = 10000\naccount_max_files = 40\n\
         [scoring]\nthreshold = 1000000\nprefix_threshold = 1000000\n",
    );
    listener.add_user("alice");
    run(async {
        let mut raw = Raw::login(&listener.addr, "alice").await;
        raw.begin(20, 0, 1).await;
        let long = |i: i32| format!("{i}/{}/{}", "x".repeat(250), "y".repeat(250));
        let entries = (0..20).map(|i| FileEntry { path: long(i), size: 0 }).collect();
        let r = raw.call(&Request::AddFiles { entries }).await;
        assert!(matches!(&r, Some(Response::Error { message, .. }) if message.contains("names")), "{r:?}");
    });
    let alice = User::new(&listener, "alice");
    std::fs::create_dir_all(alice.path("many")).expect("mkdir");
    for i in 0..39 {
        std::fs::write(alice.path(&format!("many/{i}")), b"").expect("write");
    }
    std::fs::write(alice.path("a"), b"").expect("write");
    std::fs::write(alice.path("b"), b"").expect("write");
    ok(&alice.cmd("send").args(["a", "b"]).output().expect("send"));
    // 2 + 39 empty files is more than the 40 the mailbox may hold.
    let out = alice.cmd("send").arg("many").output().expect("send");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no room"), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The listener's memory under the worst case the limits allow stays within the bound the
/// docs/listener.md gives as a formula of those limits: every connection at its window with its
/// largest declared delivery, and every upload slot buffering while its disk thread writes.
#[test]
fn memory_under_the_worst_case_stays_within_the_documented_bound() {
    const CONNECTIONS: u64 = 4;
    const WINDOW: u64 = 1 << 20;
    const PATH_BYTES: u64 = 1 << 20;
    const PUTS: u64 = 8;
    const FILES: u64 = 4000;
    let listener = Listener::with_config(&format!(
        "[limits]\nmax_connections = {CONNECTIONS}\nconnection_window = {WINDOW}\nstream_window = 262144\n\
         max_puts_in_flight = {PUTS}\nmax_uploads_per_account = {PUTS}\nmax_delivery_path_bytes = {PATH_BYTES}\n\
         min_transfer_rate = 1\nprogress_window_secs = 30\nrequests_per_second_per_ip = 1000\nrequest_burst = 1000\n\
         [scoring]\nthreshold = 1000000\nprefix_threshold = 1000000\n"
    ));
    for c in 0..CONNECTIONS {
        listener.add_user(&format!("mallory{c}"));
    }
    let pid = listener.pid();
    let rss = |field: &str| -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_default().to_owned();
        line.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) * 1024
    };
    let addr = listener.addr.clone();
    let (before, peak) = run(async move {
        // Warm the listener up (TLS, the runtime, a login) so the baseline is fair.
        drop(Raw::login(&addr, "mallory0").await);
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Logins first: a password check's memory-hard hash (19 MiB, at most
        // max_concurrent_hashes at once) is its own term of the bound, not this test's.
        let mut raws = Vec::new();
        for c in 0..CONNECTIONS {
            // An account per connection: each gets its own `max_uploads_per_account` slots.
            raws.push(Raw::login_from(&format!("127.0.0.{}", 81 + c), &addr, &format!("mallory{c}")).await);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = rss("VmRSS:");
        shared::reset_peak(pid);
        let mut held = Vec::new();
        for (c, mut raw) in (0..CONNECTIONS).zip(raws) {
            let big = 64u64 << 20;
            let id = raw.begin(FILES as u32, PUTS * big, c as u8).await;
            // Names up to the cap: the uploads first, then empty files with long names.
            let mut entries: Vec<FileEntry> =
                (0..PUTS).map(|i| FileEntry { path: format!("u{i}"), size: big }).collect();
            let long = |i: u64| format!("{i:0>4}/{}", "n".repeat(245));
            entries.extend((PUTS..FILES).map(|i| FileEntry { path: long(i), size: 0 }));
            for batch in entries.chunks(1000) {
                let r = raw.call(&Request::AddFiles { entries: batch.to_vec() }).await;
                assert!(matches!(r, Some(Response::FilesAdded { .. })), "{r:?}");
            }
            // Every upload slot streaming as fast as the windows allow.
            for index in 0..PUTS as u32 {
                let conn = raw.conn.clone();
                held.push(tokio::spawn(async move {
                    let (mut send, _recv) = conn.open_bi().await.ok()?;
                    write_frame(&mut send, &StreamHead::Put { id, index, offset: 0 }).await.ok()?;
                    let chunk = bytes::Bytes::from(vec![0x5a; 256 << 10]);
                    for _ in 0..16 {
                        send.write_chunk(chunk.clone()).await.ok()?;
                    }
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    Some(send)
                }));
            }
            held.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(8)).await;
                drop(raw);
                None
            }));
        }
        tokio::time::sleep(Duration::from_secs(4)).await;
        let peak = rss("VmHWM:");
        for h in held {
            h.abort();
        }
        (before, peak)
    });
    // The bound, as docs/listener.md writes it: per connection its window and its declared
    // delivery's state; per upload slot a disk buffer and a receive queue.
    use qxfer::transport::body::{BATCH_BYTES, CHUNK, RECEIVE_QUEUE};
    const ENTRY_STATE: u64 = 160; // a declared file's state in the session, besides its name
    const MAX_DATAGRAM: u64 = 1500;
    let per_connection = WINDOW + PATH_BYTES + FILES * ENTRY_STATE;
    // The disk buffer, the queued batches and the one being filled.
    let per_upload = CHUNK as u64 + (RECEIVE_QUEUE as u64 + 1) * (BATCH_BYTES as u64 + MAX_DATAGRAM);
    let slack = 16 << 20; // threads' stacks, the runtime, allocator rounding
    let bound = CONNECTIONS * per_connection + CONNECTIONS * PUTS * per_upload + slack;
    let grew = peak.saturating_sub(before);
    eprintln!("listener RSS grew {} KiB under the worst case; the bound is {} KiB", grew >> 10, bound >> 10);
    assert!(grew <= bound, "listener RSS grew {grew} bytes; the bound is {bound}");
}
