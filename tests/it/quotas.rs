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

/// Begin a send of one file of `size` bytes to `to` and upload its first MiB, leaving the
/// upload stream open: its id, and the stream (dropped, it ends).
async fn part_of_a_file(raw: &mut Raw, to: &str, size: u64, key: u8) -> (u64, (quinn::SendStream, quinn::RecvStream)) {
    let id = match raw.call(&begin(to, size, key)).await {
        Some(Response::Began { id, .. }) => id,
        r => panic!("{r:?}"),
    };
    let entries = vec![qxfer::wire::FileEntry { path: "big".into(), size }];
    assert!(matches!(raw.call(&Request::AddFiles { entries }).await, Some(Response::FilesAdded { .. })));
    let (mut send, recv) = raw.conn.open_bi().await.expect("stream");
    qxfer::transport::framed::write_frame(&mut send, &qxfer::wire::StreamHead::Put { id, index: 0, offset: 0 })
        .await
        .expect("head");
    send.write_all(&vec![7u8; MIB as usize]).await.expect("bytes");
    (id, (send, recv))
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
        // Part of the file, then the sender disappears.
        let (_id, _stream) = part_of_a_file(&mut raw, "bob", 60 * MIB, 1).await;
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

/// `qxfer pending list|drop HOST ...` as `alice`, with the password in the environment.
fn pending(user: &User, words: &[&str]) -> std::process::Command {
    let mut c = qxfer();
    c.current_dir(user.work.path())
        .env("QXFER_CONFIG_DIR", user.config.path())
        .env("QXFER_PASSWORD", PASSWORD)
        .arg("pending")
        .arg(words[0])
        .args([&user.addr, "--user", &user.name, "--accept-new"])
        .args(&words[1..]);
    c
}

fn pending_json(user: &User) -> Vec<serde_json::Value> {
    let out = ok(&pending(user, &["list", "--json"]).output().expect("pending list"));
    serde_json::from_str::<serde_json::Value>(&out).expect("json").as_array().expect("a list").clone()
}

fn began(r: Option<Response>) -> u64 {
    match r {
        Some(Response::Began { id, .. }) => id,
        r => panic!("not begun: {r:?}"),
    }
}

fn no_room(r: &Option<Response>) -> bool {
    matches!(r, Some(Response::Error { code: ErrorCode::Limit, message }) if message.contains("no room"))
}

/// The attack: a sender starts sends to a victim and never finishes them. Its unfinished
/// sends hold the victim's room for an hour (`recipient_hold_secs`), then others can send
/// there again; starting more sends, or dropping them and starting again, holds nothing
/// more; and its own resume must then fit like any new send.
#[test]
fn a_sender_that_never_finishes_cannot_keep_a_mailbox_full_past_the_hold() {
    let listener = listener("");
    let alice = User::new(&listener, "alice");
    let first = run(async {
        let mut mallory = Raw::login(&listener.addr, "alice").await;
        let first = began(mallory.call(&begin("bob", 60 * MIB, 1)).await);
        let mut carol = Raw::login(&listener.addr, "carol").await;
        let r = carol.call(&begin("bob", 50 * MIB, 9)).await;
        assert!(no_room(&r), "the hold did not hold: {r:?}");
        first
    });
    let listed = pending_json(&alice);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!((listed[0]["id"].as_u64(), listed[0]["to"].as_str()), (Some(first), Some("bob")));
    assert_eq!(listed[0]["bytes"].as_u64(), Some(60 * MIB));
    let since = listed[0]["since"].as_u64().expect("since");
    assert_eq!(listed[0]["held_until"].as_u64(), Some(since + 3600), "{listed:?}");
    listener.advance_clock(3601);
    let second = run(async {
        // A second send of the same sender there fits, and holds nothing.
        let mut mallory = Raw::login(&listener.addr, "alice").await;
        let second = began(mallory.call(&begin("bob", 40 * MIB, 2)).await);
        // Bob's mailbox takes others' sends again.
        let mut carol = Raw::login(&listener.addr, "carol").await;
        began(carol.call(&begin("bob", 50 * MIB, 9)).await);
        // The first send, resumed, must fit now: 50 MiB held for carol, 60 more do not.
        let mut mallory = Raw::login(&listener.addr, "alice").await;
        let r = mallory.call(&begin("bob", 60 * MIB, 1)).await;
        assert!(
            matches!(&r, Some(Response::Error { message, .. }) if message.contains("no room for this delivery now")),
            "{r:?}"
        );
        second
    });
    let listed = pending_json(&alice);
    assert_eq!(listed.iter().map(|p| p["id"].as_u64()).collect::<Vec<_>>(), [Some(first), Some(second)]);
    assert!(listed.iter().all(|p| p["held_until"].is_null()), "{listed:?}");
    // Dropping them and starting again renews no hold.
    let out = ok(&pending(&alice, &["drop", &first.to_string(), &second.to_string()]).output().expect("drop"));
    assert_eq!(out, format!("dropped unfinished send {first}\ndropped unfinished send {second}\n"));
    let third = run(async {
        let mut mallory = Raw::login(&listener.addr, "alice").await;
        began(mallory.call(&begin("bob", 40 * MIB, 3)).await)
    });
    let listed = pending_json(&alice);
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0]["id"].as_u64(), listed[0]["held_until"].is_null()), (Some(third), true), "{listed:?}");
    run(async {
        let mut carol = Raw::login(&listener.addr, "carol").await;
        began(carol.call(&begin("bob", 50 * MIB, 10)).await);
    });
}

/// `qxfer pending list` shows an interrupted send (recipient, size, since, held until,
/// expiry); `qxfer pending drop` abandons it: the connection still writing it is closed,
/// its partial files are removed and the room it held is free. Only its sender can drop
/// it; an id that is no unfinished send of the caller's is reported (exit 1).
#[test]
fn pending_lists_and_drops_an_interrupted_send() {
    let listener = listener("");
    let alice = User::new(&listener, "alice");
    let bob = User::new(&listener, "bob");
    let out = ok(&pending(&alice, &["list"]).output().expect("list"));
    assert_eq!(out, "no unfinished sends by alice\n");
    run(async {
        let mut raw = Raw::login(&listener.addr, "alice").await;
        let (id, _stream) = part_of_a_file(&mut raw, "bob", 90 * MIB, 1).await;
        let spool = listener.data_dir().join("spool");
        let start = std::time::Instant::now();
        while tree(&spool).is_empty() && start.elapsed() < std::time::Duration::from_secs(30) {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(!tree(&spool).is_empty(), "nothing was spooled");
        tokio::task::block_in_place(|| {
            let out = ok(&pending(&alice, &["list"]).output().expect("list"));
            let row = out.lines().nth(1).expect("a row");
            assert!(out.starts_with("    ID  TO "), "{out}");
            assert!(
                row.contains(&id.to_string()) && row.contains(" bob ") && row.contains(&(90 * MIB).to_string()),
                "{out}"
            );
            // Bob cannot drop alice's send, whatever id he tries.
            let out = pending(&bob, &["drop", &id.to_string()]).output().expect("drop");
            assert_eq!(out.status.code(), Some(1), "{out:?}");
            assert!(
                String::from_utf8_lossy(&out.stderr).contains(&format!("no unfinished send {id} by bob")),
                "{out:?}"
            );
            let out = ok(&pending(&alice, &["drop", &id.to_string(), "--json"]).output().expect("drop"));
            let v: serde_json::Value = serde_json::from_str(&out).expect("json");
            assert_eq!(v, serde_json::json!({ "dropped": [id], "missing": [] }));
        });
        let closed = tokio::time::timeout(std::time::Duration::from_secs(5), raw.conn.closed()).await;
        let reason = closed.expect("the connection writing the dropped send stayed open");
        assert!(reason.to_string().contains("dropped by its sender"), "{reason}");
        assert_eq!(tree(&spool), Vec::<String>::new(), "partial files left");
    });
    assert!(listener.log().contains("pending_dropped"), "{}", listener.log());
    let out = ok(&pending(&alice, &["list"]).output().expect("list"));
    assert_eq!(out, "no unfinished sends by alice\n");
    let out = pending(&alice, &["drop", "12345"]).output().expect("drop");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing dropped"), "{out:?}");
    // The room it held is free: bob's whole mailbox takes another send.
    run(async {
        let mut carol = Raw::login(&listener.addr, "carol").await;
        began(carol.call(&begin("bob", 100 * MIB, 9)).await);
    });
}
