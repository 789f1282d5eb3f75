//! A raw protocol client (the library's own codec over real QUIC + TLS) that does what a
//! forging attacker would: hostile names, requests out of order, size lies. Each case gets a
//! clear error, and nothing is written outside a mailbox.

use qxfer::transport::framed::{read_frame, write_frame};
use qxfer::wire::{Begin, Credential, ErrorCode, FileEntry, PutReply, Request, Response, StreamHead};

use crate::raw::{run, Raw};
use crate::support::*;

/// Files anywhere under `root` other than the listener's own.
fn outside_mailboxes(root: &std::path::Path) -> Vec<String> {
    tree(root)
        .into_iter()
        .filter(|f| {
            !(f.starts_with("d/mail/")
                || f.starts_with("d/spool/")
                || [
                    "d/qxfer.redb",
                    "d/cert.pem",
                    "d/key.pem",
                    "d/control.sock",
                    "d/recovery.key",
                    "listener.log",
                    "no-bans.toml",
                ]
                .contains(&f.as_str()))
        })
        .collect()
}

#[test]
fn hostile_names_are_refused_and_nothing_lands_outside() {
    let listener = Listener::start();
    listener.add_user("alice");
    run(async {
        for (i, name) in
            ["../x", "../../etc/x", "/etc/x", "a\0b", "CON", "dir/aux.txt", "a\u{7}b", "a\\..\\b", "x/../../y"]
                .iter()
                .enumerate()
        {
            let mut raw = Raw::login(&listener.addr, "alice").await;
            let id = raw.begin(1, 1, i as u8).await;
            let r = raw.call(&Request::AddFiles { entries: vec![FileEntry { path: (*name).into(), size: 1 }] }).await;
            match r {
                Some(Response::Error { code: ErrorCode::BadRequest, message }) => {
                    assert!(message.contains("name") || message.contains("component"), "{name:?}: {message}")
                }
                other => panic!("{name:?} accepted: {other:?}"),
            }
            // The connection is closed: uploading into that delivery is impossible.
            let put = raw.put(id, 0, b"x", *blake3::hash(b"x").as_bytes()).await;
            assert!(put.is_none() || matches!(put, Some(PutReply::Error { .. })), "{put:?}");
        }
    });
    assert!(outside_mailboxes(listener.data.path()).is_empty(), "{:?}", outside_mailboxes(listener.data.path()));
    assert!(listener.log().contains("protocol_violation"));
}

#[test]
fn client_refuses_to_send_unsafe_local_names() {
    let listener = Listener::start();
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    for name in ["CON", "bad\u{1b}[31mname", "trailing."] {
        std::fs::write(alice.path(name), "x").expect("write");
        let out = alice.cmd("send").arg(name).output().expect("send");
        // Skipped before connecting, with its reason, and nothing else to send.
        assert_eq!(out.status.code(), Some(1), "{name:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("skipped") && err.contains("cannot be stored"), "{name:?}: {err}");
        assert!(!err.contains('\u{1b}'), "a raw ESC reached the terminal: {err:?}");
    }
}

#[test]
fn nothing_before_login_and_no_second_login() {
    let listener = Listener::start();
    listener.add_user("alice");
    run(async {
        let mut raw = Raw::connect(&listener.addr).await;
        let r = raw.call(&Request::Inbox { after: 0 }).await;
        assert!(matches!(r, Some(Response::Error { code: ErrorCode::BadRequest, .. })), "{r:?}");
        let put = raw.put(1, 0, b"x", [0; 32]).await;
        assert!(matches!(put, Some(PutReply::Error { code: ErrorCode::BadRequest, .. })), "{put:?}");

        let mut raw = Raw::login(&listener.addr, "alice").await;
        let r = raw.call(&Request::Login { user: "bob".into(), credential: Credential::Token([0; 32]) }).await;
        assert!(matches!(r, Some(Response::Error { code: ErrorCode::BadRequest, .. })), "{r:?}");
        // Still alice, and nobody else's mail is reachable.
        let r = raw.call(&Request::Open { id: 1, from: 0 }).await;
        assert!(matches!(r, Some(Response::Error { code: ErrorCode::NotFound, .. })), "{r:?}");
    });
}

#[test]
fn size_lies_and_bad_hashes_leave_nothing_visible() {
    let listener = Listener::start();
    listener.add_user("alice");
    run(async {
        let mut raw = Raw::login(&listener.addr, "alice").await;
        let id = raw.begin(3, 30, 1).await;
        let entries = ["long", "short", "forged"].map(|p| FileEntry { path: p.into(), size: 10 }).to_vec();
        let r = raw.call(&Request::AddFiles { entries }).await;
        assert!(matches!(r, Some(Response::FilesAdded { .. })), "{r:?}");
        let eleven = [b'x'; 11];
        let r = raw.put(id, 0, &eleven, *blake3::hash(&eleven).as_bytes()).await;
        assert!(matches!(r, Some(PutReply::Error { code: ErrorCode::Integrity, .. })), "more bytes: {r:?}");
        let r = raw.put(id, 2, &[b'y'; 10], [7; 32]).await;
        assert!(matches!(r, Some(PutReply::Error { code: ErrorCode::Integrity, .. })), "forged hash: {r:?}");
        let r = raw.call(&Request::Commit).await;
        assert!(matches!(r, Some(Response::Error { code: ErrorCode::BadRequest, .. })), "commit: {r:?}");
        // Fewer bytes than declared, then the stream ends.
        let (mut send, mut recv) = raw.conn.open_bi().await.expect("stream");
        write_frame(&mut send, &StreamHead::Put { id, index: 1, offset: 0 }).await.expect("head");
        send.write_all(b"abc").await.expect("data");
        send.finish().expect("finish");
        let r = read_frame::<PutReply>(&mut recv).await.expect("reply");
        assert!(matches!(r, Some(PutReply::Error { code: ErrorCode::Integrity, .. })), "fewer bytes: {r:?}");
    });
    let staged = tree(&listener.data_dir().join("spool"));
    assert!(staged.iter().all(|f| f.ends_with(".qxfer-part")), "unverified data became visible: {staged:?}");
    assert!(tree(&listener.data_dir().join("mail")).is_empty());
}

#[test]
fn garbage_and_oversized_frames_close_only_that_connection() {
    let listener = Listener::start();
    listener.add_user("alice");
    run(async {
        let mut raw = Raw::connect(&listener.addr).await;
        // A forged length far above the cap: refused before any body byte is read.
        let r = raw.raw(&u32::MAX.to_be_bytes()).await;
        assert!(matches!(r, Some(Response::Error { code: ErrorCode::BadRequest, .. })), "{r:?}");
        let mut raw = Raw::connect(&listener.addr).await;
        let r = raw.raw(&[0, 0, 0, 3, 0x52, 0xff, 0xff]).await;
        assert!(matches!(r, Some(Response::Error { code: ErrorCode::BadRequest, .. })), "{r:?}");
        // Valid message with trailing bytes.
        let mut frame = qxfer::wire::encode_frame(&Request::Inbox { after: 0 }, 1024).expect("encode");
        frame.push(0);
        let len = (frame.len() - 4) as u32;
        frame[..4].copy_from_slice(&len.to_be_bytes());
        let mut raw = Raw::connect(&listener.addr).await;
        let r = raw.raw(&frame).await;
        assert!(matches!(r, Some(Response::Error { code: ErrorCode::BadRequest, .. })), "{r:?}");
        // The listener still serves everyone else.
        let mut ok_client = Raw::login(&listener.addr, "alice").await;
        assert!(matches!(ok_client.call(&Request::Inbox { after: 0 }).await, Some(Response::InboxPage { .. })));
    });
    assert!(listener.status()["protocol_violations"].as_u64().unwrap_or(0) >= 3);
}

#[test]
fn a_panic_closes_only_its_own_connection() {
    let data = tempfile::tempdir().expect("tempdir");
    // Debug builds panic on any request from this account (see handlers::fault_injection).
    let listener = Listener::start_with_env(data, "127.0.0.1:0", &[], &[("QXFER_FAULT_PANIC_USER", "crasher")]);
    listener.add_user("crasher");
    listener.add_user("alice");
    run(async {
        let mut bystander = Raw::login(&listener.addr, "alice").await;
        let mut victim = Raw::login(&listener.addr, "crasher").await;
        let r = victim.call(&Request::Inbox { after: 0 }).await;
        assert!(r.is_none(), "{r:?}");
        let reason = victim.conn.closed().await;
        assert!(
            matches!(&reason, quinn::ConnectionError::ApplicationClosed(c) if c.error_code.into_inner() == 4),
            "{reason:?}"
        );
        // The listener and the other connection carry on.
        assert!(matches!(bystander.call(&Request::Inbox { after: 0 }).await, Some(Response::InboxPage { .. })));
    });
    let log = listener.log();
    assert!(log.contains("event=\"panic\"") || log.contains("event=panic"), "{log}");
    let alice = User::new(&listener, "alice");
    ok(&alice.cmd("inbox").output().expect("inbox"));
}

/// Invisible and direction-changing characters are refused in names, subjects and bodies:
/// by the listener from a raw client, and by the client before it connects.
#[test]
fn invisible_and_direction_changing_characters_are_refused_on_both_sides() {
    let listener = Listener::start();
    listener.add_user("alice");
    run(async {
        let mut raw = Raw::login(&listener.addr, "alice").await;
        let begin = Begin {
            to: None,
            subject: Some("hello\u{2028}From: boss".into()),
            body: None,
            files: 0,
            bytes: 0,
            resume_key: [9; 32],
        };
        let r = raw.call(&Request::Begin(begin)).await;
        assert!(matches!(r, Some(Response::Error { code: ErrorCode::BadRequest, .. })), "{r:?}");
        let mut raw = Raw::login(&listener.addr, "alice").await;
        raw.begin(1, 1, 1).await;
        let entry = FileEntry { path: "invoice\u{202E}fdp.exe".into(), size: 1 };
        let r = raw.call(&Request::AddFiles { entries: vec![entry] }).await;
        assert!(matches!(r, Some(Response::Error { code: ErrorCode::BadRequest, .. })), "{r:?}");
    });
    let alice = User::new(&listener, "alice");
    let before = listener.status()["connections_total"].as_u64().expect("count");
    let out = alice.cmd("send").args(["-s", "hi\u{2028}From: boss", "-m", "x"]).output().expect("send");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("subject"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = alice.cmd("send").args(["-m", "a\u{202E}b"]).output().expect("send");
    assert!(String::from_utf8_lossy(&out.stderr).contains("message"), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(alice.path("invoice\u{202E}fdp.exe"), "x").expect("write");
    let out = alice.cmd("send").arg("invoice\u{202E}fdp.exe").output().expect("send");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("direction-changing"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(listener.status()["connections_total"].as_u64(), Some(before), "the client connected anyway");
}

/// `fetch -o DIR` where someone else can write DIR: links planted where a partial file, a
/// directory or the message file will go are refused by name, and what they point at is
/// never written.
#[test]
fn fetch_never_follows_links_planted_in_the_output_directory() {
    use std::os::unix::fs::symlink;
    let listener = Listener::start();
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    std::fs::create_dir_all(alice.path("t")).expect("mkdir");
    std::fs::write(alice.path("t/f.txt"), "mail from the attacker").expect("write");
    let out = ok(&alice.cmd("send").args(["t", "-s", "hi", "-m", "body", "--json"]).output().expect("send"));
    let id = serde_json::from_str::<serde_json::Value>(&out).expect("json")["id"].as_u64().expect("id").to_string();
    let victim = alice.path("bashrc");
    std::fs::write(&victim, "victim's own file").expect("write");

    // A link where the partial file goes.
    let dl = alice.path("dl");
    std::fs::create_dir_all(dl.join(&id).join("t")).expect("mkdir");
    symlink(&victim, dl.join(&id).join("t/.f.txt.qxfer-part")).expect("symlink");
    let out = alice.cmd("fetch").args([&id, "-o", "dl"]).output().expect("fetch");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("refused") && err.contains(".f.txt.qxfer-part"), "{err}");
    assert_eq!(std::fs::read_to_string(&victim).expect("read"), "victim's own file");

    // A link where a directory goes.
    let dl2 = alice.path("dl2");
    std::fs::create_dir_all(&dl2).expect("mkdir");
    std::fs::create_dir_all(alice.path("elsewhere")).expect("mkdir");
    symlink(alice.path("elsewhere"), dl2.join(&id)).expect("symlink");
    let out = alice.cmd("fetch").args([&id, "-o", "dl2"]).output().expect("fetch");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("refused"), "{err}");
    assert!(tree(&alice.path("elsewhere")).is_empty(), "wrote through the link");

    // A link where the message file's temporary goes is removed, never written through.
    let dl3 = alice.path("dl3");
    std::fs::create_dir_all(&dl3).expect("mkdir");
    symlink(&victim, dl3.join(format!(".{id}.txt.qxfer-part"))).expect("symlink");
    ok(&alice.cmd("fetch").args([&id, "-o", "dl3"]).output().expect("fetch"));
    assert_eq!(std::fs::read_to_string(&victim).expect("read"), "victim's own file");
    assert!(std::fs::read_to_string(dl3.join(format!("{id}.txt"))).expect("message").contains("body"));
    assert_eq!(std::fs::read_to_string(dl3.join(&id).join("t/f.txt")).expect("file"), "mail from the attacker");
}
