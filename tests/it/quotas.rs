//! Quotas that hold: room is reserved when a delivery begins (concurrent sends cannot all
//! pass), message text counts, a sender's unfinished deliveries count against the sender,
//! abandoned deliveries expire and give their room back, and a nearly full disk refuses new
//! deliveries.

use qxfer::wire::{Begin, ErrorCode, Request, Response};

use crate::raw::{run, Raw};
use crate::support::*;

const MIB: u64 = 1 << 20;

fn listener(extra: &str) -> Listener {
    let listener = Listener::with_config(&format!(
        "[limits]\naccount_quota_bytes = {}\nrequests_per_second_per_ip = 1000\nrequest_burst = 1000\n{extra}\n\
         [scoring]\nthreshold = 1000000\nprefix_threshold = 1000000\n",
        100 * MIB
    ));
    for name in ["alice", "bob", "carol"] {
        listener.add_user(name);
    }
    listener
}

fn begin(to: &str, bytes: u64, key: u8) -> Request {
    Request::Begin(Begin { to: Some(to.into()), subject: None, body: None, files: 1, bytes, resume_key: [key; 32] })
}

#[test]
fn concurrent_sends_cannot_all_fit_one_quota() {
    let listener = listener("");
    let answers = run(async {
        let mut tasks = Vec::new();
        for key in 0..3u8 {
            let addr = listener.addr.clone();
            tasks.push(tokio::spawn(async move {
                let mut raw = Raw::login(&addr, "alice").await;
                raw.call(&begin("bob", 90 * MIB, key)).await
            }));
        }
        let mut answers = Vec::new();
        for t in tasks {
            answers.push(t.await.expect("join"));
        }
        answers
    });
    let began = answers.iter().filter(|a| matches!(a, Some(Response::Began { .. }))).count();
    let refused = answers
        .iter()
        .filter(
            |a| matches!(a, Some(Response::Error { code: ErrorCode::Limit, message }) if message.contains("no room")),
        )
        .count();
    assert_eq!((began, refused), (1, 2), "{answers:?}");
}

#[test]
fn message_text_counts_against_the_quota() {
    let listener = listener("");
    let alice = User::new(&listener, "alice");
    let body = "x".repeat(60_000);
    // 100 MiB of quota: a 99.9 MiB file fits, then a 60 kB message does not.
    std::fs::write(alice.path("big.bin"), pseudo_random((100 * MIB - 50_000) as usize, 1)).expect("write");
    ok(&alice.cmd("send").args(["big.bin", "--to", "bob"]).output().expect("send"));
    let out = alice.cmd("send").args(["--to", "bob", "-m", &body]).output().expect("send");
    assert!(!out.status.success(), "the message fit a full mailbox");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no room"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn unfinished_deliveries_count_against_their_sender_and_expire() {
    let listener = listener("spool_expiry_secs = 3600");
    run(async {
        let mut raw = Raw::login(&listener.addr, "alice").await;
        let id = match raw.call(&begin("bob", 60 * MIB, 1)).await {
            Some(Response::Began { id, .. }) => id,
            r => panic!("{r:?}"),
        };
        let entries = vec![qxfer::wire::FileEntry { path: "big".into(), size: 60 * MIB }];
        assert!(matches!(raw.call(&Request::AddFiles { entries }).await, Some(Response::FilesAdded { .. })));
        // Part of the file, then the sender disappears.
        let (mut send, _recv) = raw.conn.open_bi().await.expect("stream");
        qxfer::transport::framed::write_frame(&mut send, &qxfer::wire::StreamHead::Put { id, index: 0, offset: 0 })
            .await
            .expect("head");
        send.write_all(&vec![7u8; MIB as usize]).await.expect("bytes");
        // Dropped only once the listener has stored some of it.
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_secs(30) {
            let status = tokio::task::block_in_place(|| listener.status());
            if status["bytes_received"].as_u64().unwrap_or(0) > 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        drop(raw);
        // Alice's unfinished 60 MiB count against her own quota: 60 more to carol do not fit.
        let mut raw = Raw::login(&listener.addr, "alice").await;
        let r = raw.call(&begin("carol", 60 * MIB, 2)).await;
        assert!(matches!(&r, Some(Response::Error { message, .. }) if message.contains("unfinished")), "{r:?}");
    });
    let spool = listener.data_dir().join("spool");
    assert!(!tree(&spool).is_empty(), "nothing was spooled");
    // Three days later (here: the hour configured), the abandoned delivery is gone and its
    // room is free again.
    listener.advance_clock(3601);
    assert_eq!(tree(&spool), Vec::<String>::new());
    assert!(listener.log().contains("delivery_expired"), "{}", listener.log());
    run(async {
        let mut raw = Raw::login(&listener.addr, "alice").await;
        assert!(matches!(raw.call(&begin("bob", 90 * MIB, 3)).await, Some(Response::Began { .. })));
    });
}

#[test]
fn a_nearly_full_disk_refuses_new_deliveries() {
    let listener = listener("min_free_disk_bytes = 1152921504606846976");
    let alice = User::new(&listener, "alice");
    let out = alice.cmd("send").args(["-m", "hello"]).output().expect("send");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("low on disk space"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A resume must ask for what its delivery reserved: the same resume key with another
/// recipient or size is refused, and one sender's unfinished deliveries are capped in
/// number, so nobody can hold another's mailbox room with endless empty deliveries.
#[test]
fn a_resume_cannot_grow_its_reservation_and_unfinished_deliveries_are_capped() {
    let listener = listener("max_open_deliveries_per_account = 2");
    run(async {
        let mut raw = Raw::login(&listener.addr, "alice").await;
        assert!(matches!(raw.call(&begin("alice", 1, 7)).await, Some(Response::Began { .. })));
        drop(raw);
        let mut raw = Raw::login(&listener.addr, "alice").await;
        let r = raw.call(&begin("bob", 2, 7)).await;
        assert!(matches!(&r, Some(Response::Error { message, .. }) if message.contains("does not match")), "{r:?}");
        let mut raw = Raw::login(&listener.addr, "alice").await;
        assert!(matches!(raw.call(&begin("bob", 1, 8)).await, Some(Response::Began { .. })));
        drop(raw);
        let mut raw = Raw::login(&listener.addr, "alice").await;
        let r = raw.call(&begin("carol", 1, 9)).await;
        assert!(matches!(&r, Some(Response::Error { message, .. }) if message.contains("unfinished")), "{r:?}");
    });
}
