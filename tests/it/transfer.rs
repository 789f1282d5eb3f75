//! Files, trees, messages and mail: to yourself and to another user, listed and fetched back
//! with equal bytes and hashes.

use crate::support::*;

#[test]
fn file_tree_and_mail_to_another_user() {
    let listener = Listener::start();
    listener.add_user("alice");
    listener.add_user("bob");
    let alice = User::new(&listener, "alice");
    let bob = User::new(&listener, "bob");

    std::fs::write(alice.path("big.bin"), pseudo_random(3 << 20, 1)).expect("write");
    std::fs::create_dir_all(alice.path("tree/sub/deeper")).expect("mkdir");
    std::fs::write(alice.path("tree/a.txt"), "alpha\n").expect("write");
    std::fs::write(alice.path("tree/sub/b.bin"), pseudo_random(70_000, 2)).expect("write");
    std::fs::write(alice.path("tree/sub/deeper/empty"), "").expect("write");
    std::fs::write(alice.path("tree/photo.png"), b"\x89PNG\r\n\x1a\n\0\0\0\rIHDRxxxx").expect("write");

    let out = ok(&alice
        .cmd("send")
        .args(["big.bin", "tree", "--to", "bob", "-s", "Holiday", "-m", "Pictures\nattached", "--json"])
        .output()
        .expect("send"));
    let report: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(report["to"], "bob");
    assert_eq!(report["files"], 5);
    let id = report["id"].as_u64().expect("id");

    // Alice's own mailbox stays empty; bob sees the delivery.
    let mine: serde_json::Value =
        serde_json::from_str(&ok(&alice.cmd("inbox").arg("--json").output().expect("inbox"))).expect("json");
    assert_eq!(mine.as_array().map(Vec::len), Some(0));
    let inbox: serde_json::Value =
        serde_json::from_str(&ok(&bob.cmd("inbox").arg("--json").output().expect("inbox"))).expect("json");
    let item = &inbox[0];
    assert_eq!(item["id"].as_u64(), Some(id));
    assert_eq!(item["from"], "alice");
    assert_eq!(item["subject"], "Holiday");
    assert_eq!(item["files"], 5);
    assert_eq!(item["bytes"].as_u64(), Some((3 << 20) + 6 + 70_000 + 20));

    let out = ok(&bob.cmd("fetch").args([&id.to_string(), "-o", "got", "--json"]).output().expect("fetch"));
    let fetched: serde_json::Value = serde_json::from_str(&out).expect("json");
    let got = bob.path("got").join(id.to_string());
    assert_eq!(tree(&got), ["big.bin", "tree/a.txt", "tree/photo.png", "tree/sub/b.bin", "tree/sub/deeper/empty"]);
    for (mine, theirs) in [
        ("big.bin", "big.bin"),
        ("tree/a.txt", "tree/a.txt"),
        ("tree/sub/b.bin", "tree/sub/b.bin"),
        ("tree/sub/deeper/empty", "tree/sub/deeper/empty"),
    ] {
        assert_eq!(hash(&alice.path(mine)), hash(&got.join(theirs)), "{mine}");
    }
    let types: Vec<&str> =
        fetched[0]["files"].as_array().expect("files").iter().filter_map(|f| f["media_type"].as_str()).collect();
    assert!(types.contains(&"image/png"), "{types:?}");
    let message = std::fs::read_to_string(bob.path("got").join(format!("{id}.txt"))).expect("message");
    assert!(message.starts_with("From: alice\nTo: bob\n"), "{message}");
    assert!(message.contains("Subject: Holiday\n\nPictures\nattached\n"), "{message}");

    // Fetching again changes nothing and overwrites nothing.
    ok(&bob.cmd("fetch").args([&id.to_string(), "-o", "got"]).output().expect("fetch again"));
    assert_eq!(hash(&alice.path("big.bin")), hash(&got.join("big.bin")));

    // The listener's files sit in bob's mailbox, and nothing was left in the spool.
    let stored = listener.data_dir().join("mail/bob").join(id.to_string());
    assert_eq!(hash(&stored.join("big.bin")), hash(&alice.path("big.bin")));
    assert!(tree(&listener.data_dir().join("spool")).is_empty());
    assert!(listener.log().contains("delivery committed"));
}

#[test]
fn message_to_self_and_fetch_all() {
    let listener = Listener::start();
    listener.add_user("carol");
    let carol = User::new(&listener, "carol");
    let out = ok(&carol.cmd("send").args(["-m", "note to self"]).output().expect("send"));
    assert!(out.starts_with("sent delivery "), "{out}");
    assert!(out.contains(" to carol: message, 12 bytes"), "{out}");
    std::fs::write(carol.path("x.txt"), "x").expect("write");
    ok(&carol.cmd("send").arg("x.txt").output().expect("send file"));
    let out = ok(&carol.cmd("fetch").args(["--all", "-o", "all"]).output().expect("fetch"));
    assert_eq!(out.lines().filter(|l| l.starts_with("fetched delivery")).count(), 2, "{out}");
    let files = tree(&carol.path("all"));
    assert_eq!(files.len(), 2, "{files:?}");
    let note = files.iter().find(|f| f.ends_with(".txt") && !f.contains('/')).expect("message file");
    assert!(std::fs::read_to_string(carol.path("all").join(note)).expect("read").ends_with("\nnote to self\n"));
    assert!(files.iter().any(|f| f.ends_with("/x.txt")));
}

#[test]
fn many_small_files_in_one_send() {
    let listener = Listener::start();
    listener.add_user("dave");
    let dave = User::new(&listener, "dave");
    for i in 0..300 {
        let dir = dave.path(&format!("many/d{}", i % 7));
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join(format!("f{i}")), pseudo_random(1000 + i, i as u64)).expect("write");
    }
    let out = ok(&dave.cmd("send").args(["many", "--json"]).output().expect("send"));
    let report: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(report["files"], 300);
    let id = report["id"].as_u64().expect("id").to_string();
    ok(&dave.cmd("fetch").args([&id, "-o", "back"]).output().expect("fetch"));
    let back = dave.path("back").join(&id);
    assert_eq!(tree(&back), tree(&dave.path(".")).into_iter().filter(|f| f.starts_with("many/")).collect::<Vec<_>>());
    for f in tree(&back) {
        assert_eq!(hash(&back.join(&f)), hash(&dave.path(&f)), "{f}");
    }
}

#[test]
fn sigterm_stops_the_listener_cleanly() {
    let mut listener = Listener::start();
    let status = listener.stop();
    assert!(status.success(), "{status:?}");
    assert!(listener.log().contains("shutting down"));
}

/// A listener with one packet thread (`listen --threads 1`) receives a file that spans
/// several writeback windows (each started to disk, the one before dropped from the page
/// cache) and hands back the same bytes.
#[test]
fn one_thread_listener_streams_a_large_file_to_disk() {
    let listener = Listener::start_in(tempfile::tempdir().expect("tempdir"), &["--threads", "1"]);
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    let size = 3 * qxfer::transport::body::WRITEBACK_WINDOW as usize + 12_345;
    std::fs::write(alice.path("big.bin"), pseudo_random(size, 7)).expect("write");
    let out = ok(&alice.cmd("send").args(["big.bin", "--json"]).output().expect("send"));
    let report: serde_json::Value = serde_json::from_str(&out).expect("json");
    let id = report["id"].as_u64().expect("id");
    ok(&alice.cmd("fetch").args([&id.to_string(), "-o", "got"]).output().expect("fetch"));
    let got = alice.path("got").join(id.to_string()).join("big.bin");
    assert_eq!(hash(&alice.path("big.bin")), hash(&got));
    assert_eq!(std::fs::metadata(&got).expect("fetched").len(), size as u64);
}
