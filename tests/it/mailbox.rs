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
    let out = bob.cmd("delete").args([&mail.to_string(), "999"]).output().expect("delete");
    assert_eq!(out.status.code(), Some(6), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("deleted delivery {mail}")));
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
