//! Interrupted transfers continue where they stopped: a killed `send`, a listener restarted
//! mid-send, a killed `fetch`. The final hash still covers the whole file.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::*;

const SIZE: usize = 96 << 20;

/// Wait until `probe` (a listener counter) reaches `at_least`; bounded.
fn wait_for(listener: &Listener, field: &str, at_least: u64) -> u64 {
    let start = Instant::now();
    loop {
        let v = listener.status()[field].as_u64().unwrap_or(0);
        if v >= at_least || start.elapsed() > Duration::from_secs(60) {
            return v;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn killed_send_resumes_and_sends_less_the_second_time() {
    let listener = Listener::start();
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    std::fs::write(alice.path("big.bin"), pseudo_random(SIZE, 7)).expect("write");
    // Pin first, so the interrupted run does only the transfer.
    ok(&alice.cmd("inbox").output().expect("inbox"));

    let mut child = alice.cmd("send").arg("big.bin").stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("send");
    let got = wait_for(&listener, "bytes_received", 8 << 20);
    signal(&child, "-KILL");
    let _ = child.wait();
    assert!(got >= 8 << 20, "transfer never got going");
    let before = listener.status()["bytes_received"].as_u64().expect("counter");
    assert!(before < SIZE as u64, "the first run finished before it was killed; make the file bigger");

    let out = ok(&alice.cmd("send").args(["big.bin", "--json"]).output().expect("send again"));
    let report: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(report["resumed"], true, "{out}");
    let uploaded = report["uploaded"].as_u64().expect("uploaded");
    let after = listener.status()["bytes_received"].as_u64().expect("counter");
    assert!(after - before < SIZE as u64, "second run received {} of {SIZE}", after - before);
    assert!(uploaded < SIZE as u64, "{out}");
    // The killed client's connection was still open: the resumed send took the delivery over.
    assert!(listener.log().contains("superseded"), "{}", listener.log());

    let id = report["id"].as_u64().expect("id").to_string();
    ok(&alice.cmd("fetch").args([&id, "-o", "back"]).output().expect("fetch"));
    assert_eq!(hash(&alice.path("back").join(&id).join("big.bin")), hash(&alice.path("big.bin")));
}

#[test]
fn listener_restart_mid_send_resumes() {
    let listener = Listener::start();
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    std::fs::write(alice.path("big.bin"), pseudo_random(SIZE, 8)).expect("write");
    ok(&alice.cmd("inbox").output().expect("inbox"));
    let mut child = alice.cmd("send").arg("big.bin").stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("send");
    wait_for(&listener, "bytes_received", 8 << 20);
    let listener = listener.restart();
    let first = wait_timeout(&mut child, Duration::from_secs(30)).expect("client ends");
    assert!(!first.success(), "the interrupted send must not report success");

    let out = ok(&alice.cmd("send").args(["big.bin", "--json"]).output().expect("send again"));
    let report: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(report["resumed"], true, "{out}");
    assert!(report["uploaded"].as_u64().expect("uploaded") < SIZE as u64, "{out}");
    let id = report["id"].as_u64().expect("id");
    let stored = listener.data_dir().join("mail/alice").join(id.to_string()).join("big.bin");
    assert_eq!(hash(&stored), hash(&alice.path("big.bin")));
}

#[test]
fn killed_fetch_resumes() {
    let listener = Listener::start();
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    std::fs::write(alice.path("big.bin"), pseudo_random(SIZE, 9)).expect("write");
    let out = ok(&alice.cmd("send").args(["big.bin", "--json"]).output().expect("send"));
    let id = serde_json::from_str::<serde_json::Value>(&out).expect("json")["id"].as_u64().expect("id").to_string();

    let mut child = alice
        .cmd("fetch")
        .args([&id, "-o", "back"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("fetch");
    wait_for(&listener, "bytes_sent", 8 << 20);
    signal(&child, "-KILL");
    let _ = child.wait();
    let before = listener.status()["bytes_sent"].as_u64().expect("counter");
    let dest = alice.path("back").join(&id).join("big.bin");
    assert!(!dest.exists(), "a partial download must not be visible under its final name");

    let out = ok(&alice.cmd("fetch").args([&id, "-o", "back", "--json"]).output().expect("fetch again"));
    let after = listener.status()["bytes_sent"].as_u64().expect("counter");
    assert!(after - before < SIZE as u64, "second fetch downloaded {} of {SIZE}: {out}", after - before);
    assert_eq!(hash(&dest), hash(&alice.path("big.bin")));
    assert!(tree(&alice.path("back")).iter().all(|f| !f.ends_with(".qxfer-part")));
}

/// A file that changed after an interrupted send (same size and time, as `cp -p` leaves
/// it) is sent again, not "resumed" with its old content: the listener returns the hash of
/// what it holds, and the client compares.
#[test]
fn a_file_changed_since_the_interrupted_send_is_sent_again() {
    let listener = Listener::start();
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    std::fs::create_dir_all(alice.path("t")).expect("mkdir");
    std::fs::write(alice.path("t/a.txt"), "old content, 25 bytes...").expect("write");
    std::fs::write(alice.path("t/big.bin"), pseudo_random(SIZE, 10)).expect("write");
    let mtime = std::fs::metadata(alice.path("t/a.txt")).and_then(|m| m.modified()).expect("mtime");
    ok(&alice.cmd("inbox").output().expect("inbox"));

    let mut child = alice.cmd("send").arg("t").stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("send");
    wait_for(&listener, "bytes_received", 8 << 20);
    signal(&child, "-KILL");
    let _ = child.wait();

    // Same size, same modification time, other bytes.
    std::fs::write(alice.path("t/a.txt"), "NEW content, 25 bytes!!!").expect("write");
    let f = std::fs::File::options().write(true).open(alice.path("t/a.txt")).expect("open");
    f.set_modified(mtime).expect("set mtime");
    drop(f);

    let out = ok(&alice.cmd("send").args(["t", "--json"]).output().expect("send again"));
    let report: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(report["resumed"], true, "{out}");
    let id = report["id"].as_u64().expect("id").to_string();
    ok(&alice.cmd("fetch").args([&id, "-o", "back"]).output().expect("fetch"));
    let back = alice.path("back").join(&id).join("t");
    assert_eq!(std::fs::read_to_string(back.join("a.txt")).expect("read"), "NEW content, 25 bytes!!!");
    assert_eq!(hash(&back.join("big.bin")), hash(&alice.path("t/big.bin")));
}

/// The listener crashes (a debug-build fault, as a kill -9) at each step of a commit; after
/// a restart, the same `qxfer send` finishes the delivery exactly once, uploading nothing
/// again, and nothing is left orphaned in the spool or the mailbox.
#[test]
fn a_crash_at_any_step_of_a_commit_is_finished_or_rolled_back() {
    for step in ["before_move", "after_move", "after_commit"] {
        let data = tempfile::tempdir().expect("tempdir");
        let listener = Listener::start_with_env(data, "127.0.0.1:0", &[], &[("QXFER_FAULT_COMMIT", step)]);
        listener.add_user("alice");
        let alice = User::new(&listener, "alice");
        std::fs::create_dir_all(alice.path("t")).expect("mkdir");
        std::fs::write(alice.path("t/a.txt"), "first file").expect("write");
        std::fs::write(alice.path("t/b.bin"), pseudo_random(300_000, 3)).expect("write");
        let out = alice.cmd("send").arg("t").output().expect("send");
        assert!(!out.status.success(), "{step}: the listener did not crash");

        let listener = listener.restart_after_crash();
        let out = ok(&alice.cmd("send").args(["t", "--json"]).output().expect("send again"));
        let report: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert_eq!(report["uploaded"], 0, "{step}: {out}");
        assert_eq!(report["already_delivered"], step == "after_commit", "{step}: {out}");
        let inbox = ok(&alice.cmd("inbox").arg("--json").output().expect("inbox"));
        let items: Vec<serde_json::Value> = serde_json::from_str(&inbox).expect("json");
        assert_eq!(items.len(), 1, "{step}: {inbox}");
        let id = report["id"].as_u64().expect("id").to_string();
        ok(&alice.cmd("fetch").args([&id, "-o", "back"]).output().expect("fetch"));
        let back = alice.path("back").join(&id).join("t");
        assert_eq!(hash(&back.join("b.bin")), hash(&alice.path("t/b.bin")), "{step}");
        // Nothing orphaned: no spool left, one delivery directory.
        let d = listener.data_dir();
        assert_eq!(tree(&d.join("spool")), Vec::<String>::new(), "{step}");
        let deliveries: Vec<_> = std::fs::read_dir(d.join("mail/alice")).expect("mailbox").flatten().collect();
        assert_eq!(deliveries.len(), 1, "{step}");
        // A deliberate second run of the same command, after it finished, is a new delivery.
        let out = ok(&alice.cmd("send").args(["t", "--json"]).output().expect("send a second time"));
        let again: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert_ne!(again["id"], report["id"], "{step}: {out}");
    }
}

/// A send to several recipients whose listener crashes right after the first recipient's
/// delivery is recorded: on restart the copies owed to the others are made, once.
#[test]
fn copies_owed_to_further_recipients_survive_a_crash() {
    let data = tempfile::tempdir().expect("tempdir");
    let listener = Listener::start_with_env(data, "127.0.0.1:0", &[], &[("QXFER_FAULT_COMMIT", "after_commit")]);
    for name in ["alice", "bob", "carol"] {
        listener.add_user(name);
    }
    let alice = User::new(&listener, "alice");
    std::fs::write(alice.path("f.bin"), pseudo_random(100_000, 5)).expect("write");
    let out = alice.cmd("send").args(["--to", "bob", "--to", "carol", "f.bin"]).output().expect("send");
    assert!(!out.status.success(), "the listener did not crash");
    let listener = listener.restart_after_crash();
    for name in ["bob", "carol"] {
        let user = User::new(&listener, name);
        let inbox = ok(&user.cmd("inbox").arg("--json").output().expect("inbox"));
        let items: Vec<serde_json::Value> = serde_json::from_str(&inbox).expect("json");
        assert_eq!(items.len(), 1, "{name}: {inbox}");
        let id = items[0]["id"].as_u64().expect("id").to_string();
        ok(&user.cmd("fetch").args([&id, "-o", "got"]).output().expect("fetch"));
        assert_eq!(hash(&user.path("got").join(&id).join("f.bin")), hash(&alice.path("f.bin")), "{name}");
    }
    // A restart makes no further copies.
    let listener = listener.restart();
    let carol = User::new(&listener, "carol");
    let inbox = ok(&carol.cmd("inbox").arg("--json").output().expect("inbox"));
    assert_eq!(serde_json::from_str::<Vec<serde_json::Value>>(&inbox).expect("json").len(), 1);
    assert!(
        listener.log().contains("finished the copies")
            || std::fs::read_to_string(listener.data.path().join("listener.old.log"))
                .unwrap_or_default()
                .contains("finished the copies")
    );
}
