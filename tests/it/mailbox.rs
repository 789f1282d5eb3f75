//! The mailbox for people who use it every day: read, delete (quota freed), what is new,
//! several ids at once, and files that keep their sender's mode and time.

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use crate::support::*;

fn send_json(user: &User, args: &[&str]) -> u64 {
    let out = ok(&user.cmd("send").args(args).arg("--json").output().expect("send"));
    serde_json::from_str::<serde_json::Value>(&out).expect("json")["id"].as_u64().expect("id")
}

fn inbox_ids(user: &User, new: bool) -> Vec<u64> {
    let mut cmd = user.cmd("inbox");
    cmd.arg("--json");
    if new {
        cmd.arg("--new");
    }
    let out = ok(&cmd.output().expect("inbox"));
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    v.as_array().expect("list").iter().map(|d| d["id"].as_u64().expect("id")).collect()
}

#[test]
fn read_delete_and_what_is_new() {
    let listener = Listener::with_config("[limits]\naccount_quota_bytes = 4096\n");
    listener.add_user("alice");
    listener.add_user("bob");
    let alice = User::new(&listener, "alice");
    let bob = User::new(&listener, "bob");
    std::fs::write(alice.path("a.txt"), vec![b'a'; 3000]).expect("write");
    let mail = send_json(&alice, &["--to", "bob", "-s", "Lunch?", "-m", "At noon.\nBring the report.", "a.txt"]);
    let note = send_json(&alice, &["--to", "bob", "-m", "second"]);
    assert_eq!(inbox_ids(&bob, true), [mail, note]);

    // read: headers, body and files on stdout; the delivery is then seen.
    let out = ok(&bob.cmd("read").arg(mail.to_string()).output().expect("read"));
    assert!(out.starts_with("From: alice\nTo: bob\nDate: "), "{out}");
    assert!(out.contains("Subject: Lunch?\n\nAt noon.\nBring the report.\n"), "{out}");
    assert!(out.contains("a.txt  3000 bytes  text/plain"), "{out}");
    assert_eq!(inbox_ids(&bob, true), [note]);
    let out = ok(&bob.cmd("read").args([&mail.to_string(), "--json"]).output().expect("read --json"));
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!((v["subject"].as_str(), v["body"].as_str()), (Some("Lunch?"), Some("At noon.\nBring the report.")));
    assert_eq!(v["files"][0]["path"], "a.txt");
    // fetch --new fetches only what is new, and marks it.
    let out = ok(&bob.cmd("fetch").args(["--new", "-o", "got", "--json"]).output().expect("fetch"));
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v.as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v[0]["id"].as_u64(), Some(note));
    let out = ok(&bob.cmd("inbox").arg("--new").output().expect("inbox"));
    assert_eq!(out.trim(), "no new deliveries in bob's mailbox");
    assert_eq!(inbox_ids(&bob, false), [mail, note]);

    // The quota is full: a further 3000 bytes are refused until something is deleted.
    let refused = alice.cmd("send").args(["--to", "bob", "a.txt"]).output().expect("send");
    assert!(!refused.status.success());
    // Deleting someone else's delivery, or one that does not exist, deletes nothing.
    let out = alice.cmd("delete").args([&mail.to_string(), "999"]).output().expect("delete");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("no delivery {mail} in alice's mailbox")));
    assert_eq!(inbox_ids(&bob, false), [mail, note]);
    // bob deletes his: its files go and its quota is freed; a mixed list is partial (6).
    let out = bob.cmd("delete").args([&mail.to_string(), "999", "--json"]).output().expect("delete");
    assert_eq!(out.status.code(), Some(6), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!((v["deleted"][0].as_u64(), v["missing"][0].as_u64()), (Some(mail), Some(999)), "{v}");
    assert!(!listener.data_dir().join("mail/bob").join(mail.to_string()).exists());
    assert_eq!(inbox_ids(&bob, false), [note]);
    let again = send_json(&alice, &["--to", "bob", "a.txt"]);
    assert_eq!(inbox_ids(&bob, true), [again]);
    let out = bob.cmd("read").arg(mail.to_string()).output().expect("read");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn files_keep_their_mode_and_time_but_never_set_id_bits() {
    let listener = Listener::start();
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    std::fs::create_dir(alice.path("d")).expect("mkdir");
    let script = alice.path("d/run.sh");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").expect("write");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o4755)).expect("chmod");
    let private = alice.path("d/private.txt");
    std::fs::write(&private, "secret").expect("write");
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    for f in [&script, &private] {
        std::fs::File::options().write(true).open(f).expect("open").set_modified(when).expect("mtime");
    }
    let id = send_json(&alice, &["d"]);
    // The listener stores every file 0600, whatever the sender's mode.
    let stored = listener.data_dir().join("mail/alice").join(id.to_string()).join("d/run.sh");
    assert_eq!(std::fs::metadata(&stored).expect("stored").mode() & 0o7777, 0o600);
    let mut fetch = alice.cmd("fetch");
    fetch.args([&id.to_string(), "-o", "got"]);
    ok(&fetch.output().expect("fetch"));
    let got = alice.path("got").join(id.to_string()).join("d");
    let run = std::fs::metadata(got.join("run.sh")).expect("run.sh");
    // mode & 0o777 & !umask (the test runner's umask is 022 or stricter): no setuid.
    assert_eq!(run.mode() & 0o7000, 0, "a set-id bit was applied");
    assert_eq!(run.mode() & 0o700, 0o700);
    assert_eq!(run.mtime(), 1_000_000_000);
    let private = std::fs::metadata(got.join("private.txt")).expect("private.txt");
    assert_eq!(private.mode() & 0o777, 0o600);
    assert_eq!(private.mtime(), 1_000_000_000);
}

/// `--to bob --to carol`: one upload, a delivery for each, charged to each; a recipient
/// without room is reported (exit 6) and the others still get theirs.
#[test]
fn several_recipients_get_one_upload_and_a_delivery_each() {
    let listener = Listener::with_config("[limits]\naccount_quota_bytes = 100000\n");
    for name in ["alice", "bob", "carol", "dave"] {
        listener.add_user(name);
    }
    let alice = User::new(&listener, "alice");
    let data: Vec<u8> = (0..60_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(alice.path("report.bin"), &data).expect("write");
    let before = listener.status()["bytes_received"].as_u64().expect("bytes");
    let out = ok(&alice
        .cmd("send")
        .args(["--to", "bob", "--to", "carol", "report.bin", "-s", "Q3", "--json"])
        .output()
        .expect("send"));
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!((lines[0]["to"].as_str(), lines[1]["to"].as_str()), (Some("bob"), Some("carol")));
    assert_ne!(lines[0]["id"], lines[1]["id"]);
    // One upload.
    let received = listener.status()["bytes_received"].as_u64().expect("bytes") - before;
    assert!((60_000..2 * 60_000).contains(&received), "{received} bytes received for one 60,000-byte upload");
    for (name, line) in [("bob", &lines[0]), ("carol", &lines[1])] {
        let user = User::new(&listener, name);
        let id = line["id"].as_u64().expect("id");
        let out = ok(&user.cmd("fetch").args([&id.to_string(), "-o", "got", "--json"]).output().expect("fetch"));
        let v: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert_eq!(std::fs::read(user.path("got").join(id.to_string()).join("report.bin")).expect("file"), data);
        // Each delivery says every recipient it was sent to.
        assert!(v[0]["text"].as_str().expect("text").contains("To: bob, carol\n"), "{name}: {v}");
    }
    // Each quota is charged: bob (60,000 of 100,000 used) cannot take it again, so the send
    // is refused before a byte is uploaded, naming him. Deleting bob's copy leaves carol's
    // intact.
    let out =
        alice.cmd("send").args(["--to", "carol", "--to", "bob", "--to", "dave", "report.bin"]).output().expect("send");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("bob's mailbox has no room"), "{err}");
    let bob = User::new(&listener, "bob");
    ok(&bob.cmd("delete").arg(lines[0]["id"].as_u64().expect("id").to_string()).output().expect("delete"));
    let carol = User::new(&listener, "carol");
    let id = lines[1]["id"].as_u64().expect("id");
    ok(&carol.cmd("fetch").args([&id.to_string(), "-o", "again", "--overwrite"]).output().expect("fetch"));
    assert_eq!(std::fs::read(carol.path("again").join(id.to_string()).join("report.bin")).expect("file"), data);
    // Usage errors: the same recipient twice.
    let out = alice.cmd("send").args(["--to", "bob", "--to", "bob", "report.bin"]).output().expect("send");
    assert_eq!(out.status.code(), Some(2));
}

/// `delete` does what it can, as `rm` does: of a delivery, a listener's notice still kept
/// and an id that is not there, the delivery goes and each other id is reported (stdout's
/// JSON: `deleted`, `missing`, `refused` with why; stderr: one line each), exit 6. Nothing
/// deleted at all is exit 1, as before. A client of an older protocol (plain `Delete`)
/// still has the whole request refused at the notice.
#[test]
fn delete_removes_what_may_go_and_reports_each_id_it_did_not() {
    let listener = Listener::start();
    listener.add_user("alice");
    listener.add_user("bob");
    let alice = User::new(&listener, "alice");
    let bob = User::new(&listener, "bob");
    let mail = send_json(&alice, &["--to", "bob", "-m", "hello"]);
    let kept = send_json(&alice, &["--to", "bob", "-m", "second"]);
    // The operator vouches for a number: bob's mailbox gets the listener's notice of it.
    ok(&listener.admin().args(["user", "phone", "bob", "add", "+34612345678"]).output().expect("phone"));
    let notice = *inbox_ids(&bob, false).last().expect("the notice");
    assert!(notice > kept);
    let old = crate::raw::run(async {
        let mut raw = crate::raw::Raw::login(&listener.addr, "bob").await;
        raw.call(&qxfer::wire::Request::Delete { ids: vec![kept, notice] }).await
    });
    assert!(
        matches!(&old, Some(qxfer::wire::Response::Error { message, .. }) if message.contains("it is kept until")),
        "{old:?}"
    );
    assert_eq!(inbox_ids(&bob, false), [mail, kept, notice], "the old request deleted something");

    let out = bob.cmd("delete").args([&mail.to_string(), &notice.to_string(), "999", "--json"]).output().expect("del");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["deleted"], serde_json::json!([mail]), "{v}");
    assert_eq!(v["missing"], serde_json::json!([999]), "{v}");
    assert_eq!(v["refused"][0]["id"].as_u64(), Some(notice), "{v}");
    assert!(v["refused"][0]["why"].as_str().is_some_and(|w| w.contains("notice") && w.contains("kept until")), "{v}");
    assert!(err.contains("no delivery 999 in bob's mailbox"), "{err}");
    assert!(err.contains(&format!("delivery {notice} not deleted: the listener's notice")), "{err}");
    assert!(err.contains("2 ids not deleted (listed above); the others were deleted"), "{err}");
    assert_eq!(inbox_ids(&bob, false), [kept, notice]);

    // Nothing deleted: each id reported, exit 1, stdout empty.
    let out = bob.cmd("delete").args([&notice.to_string(), "998"]).output().expect("delete");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    assert!(err.contains("no delivery 998") && err.contains(&format!("delivery {notice} not deleted")), "{err}");
    assert!(err.contains("nothing deleted"), "{err}");
    // All of them deleted: exit 0, a line each.
    let out = ok(&bob.cmd("delete").arg(kept.to_string()).output().expect("delete"));
    assert_eq!(out, format!("deleted delivery {kept}\n"));
}

/// `To:` names every recipient of a send to several, in the sender's order, in `read` (and
/// `--json`'s `recipients`) and in what `fetch` writes; a copy keeps the list when the
/// first recipient deletes hers, and a delivery to one still says just that one. A client
/// of an older protocol (`OpenMeta`) gets the envelope as before.
#[test]
fn to_shows_every_recipient_of_a_send_to_several() {
    let listener = Listener::start();
    for name in ["alice", "bob", "carol", "dave"] {
        listener.add_user(name);
    }
    let alice = User::new(&listener, "alice");
    let out = ok(&alice
        .cmd("send")
        .args(["--to", "carol", "--to", "bob", "--to", "dave", "-s", "Plans", "-m", "Friday?", "--json"])
        .output()
        .expect("send"));
    let ids: Vec<u64> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json")["id"].as_u64().expect("id"))
        .collect();
    let (carol_id, bob_id) = (ids[0], ids[1]);
    let carol = User::new(&listener, "carol");
    ok(&carol.cmd("delete").arg(carol_id.to_string()).output().expect("delete"));
    let bob = User::new(&listener, "bob");
    let out = ok(&bob.cmd("read").arg(bob_id.to_string()).output().expect("read"));
    assert!(out.starts_with("From: alice\nTo: carol, bob, dave\nDate: "), "{out}");
    let v: serde_json::Value =
        serde_json::from_str(&ok(&bob.cmd("read").args([&bob_id.to_string(), "--json"]).output().expect("read")))
            .expect("json");
    assert_eq!(v["to"], "bob", "{v}");
    assert_eq!(v["recipients"], serde_json::json!(["carol", "bob", "dave"]), "{v}");
    ok(&bob.cmd("fetch").args([&bob_id.to_string(), "-o", "got"]).output().expect("fetch"));
    let text = std::fs::read_to_string(bob.path("got").join(format!("{bob_id}.txt"))).expect("message");
    assert!(text.contains("\nTo: carol, bob, dave\n"), "{text}");
    // A delivery to one says that one.
    let single = send_json(&alice, &["--to", "bob", "-m", "just you"]);
    let out = ok(&bob.cmd("read").arg(single.to_string()).output().expect("read"));
    assert!(out.starts_with("From: alice\nTo: bob\nDate: "), "{out}");
    // The request of qxfer/5 and before answers as it did.
    let old = crate::raw::run(async {
        let mut raw = crate::raw::Raw::login(&listener.addr, "bob").await;
        raw.call(&qxfer::wire::Request::OpenMeta { id: bob_id, from: 0 }).await
    });
    assert!(
        matches!(&old, Some(qxfer::wire::Response::EnvelopeMeta { envelope, .. }) if envelope.to == "bob"),
        "{old:?}"
    );
}
