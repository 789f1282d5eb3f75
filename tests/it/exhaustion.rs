//! One account must not be able to stop the listener: the findings of an audit, each
//! reproduced with a raw client against a real listener.

use std::time::{Duration, Instant};

use qxfer::transport::framed::{read_frame, write_frame};
use qxfer::wire::{FileEntry, PutReply, Request, Response, StreamHead};

use crate::raw::{run, Raw};
use crate::support::*;

/// Five connections of one account each open 110 zero-byte uploads and never send the
/// trailer, keeping their connections alive. Another account logs in with its saved token
/// and lists its inbox, again and again, and every time it works; the stalled uploads are
/// cut off by their deadline, and the listener never comes near the runtime's 512
/// blocking threads.
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
        let mut attackers = Vec::new();
        for c in 0..5u8 {
            let mut raw = Raw::login_from("127.0.0.91", &addr, "mallory").await;
            let id = raw.begin(110, 0, c).await;
            let entries = (0..110).map(|i| FileEntry { path: format!("f{i}"), size: 0 }).collect();
            let added = raw.call(&Request::AddFiles { entries }).await;
            assert!(matches!(added, Some(Response::FilesAdded { .. })), "{added:?}");
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
        for (_, streams) in &mut attackers {
            for (_, recv) in streams.iter_mut() {
                let left = Duration::from_secs(30).saturating_sub(start.elapsed());
                if tokio::time::timeout(left, read_frame::<PutReply>(recv)).await.is_ok() {
                    ended += 1;
                }
            }
        }
        (ended, max_threads)
    });
    assert_eq!(closed, 550, "stalled uploads were not cut off");
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
