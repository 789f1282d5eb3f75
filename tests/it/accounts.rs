//! Accounts and authentication: wrong password, unknown user, unknown recipient, and user
//! commands against a running listener.

use crate::support::*;

#[test]
fn wrong_password_and_unknown_user_fail_alike_with_exit_3() {
    let listener = Listener::start();
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    let out = alice.cmd("inbox").env("QXFER_PASSWORD", "not the password").output().expect("inbox");
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let wrong = String::from_utf8_lossy(&out.stderr).replace("alice", "USER");

    let ghost = User::new(&listener, "ghost");
    let out = ghost.cmd("inbox").output().expect("inbox");
    assert_eq!(out.status.code(), Some(3));
    let unknown = String::from_utf8_lossy(&out.stderr).replace("ghost", "USER");
    // The messages must not tell which accounts exist.
    assert_eq!(wrong.lines().last(), unknown.lines().last());
    assert!(wrong.contains("authentication failed"), "{wrong}");
    assert!(listener.log().contains("login failed"));
    assert_eq!(listener.status()["auth_failures"], 2);
}

#[test]
fn unknown_recipient_is_a_clean_error() {
    let listener = Listener::start();
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    let out = alice.cmd("send").args(["--to", "nobody", "-m", "hello?"]).output().expect("send");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such recipient"));
}

#[test]
fn user_commands_work_while_the_listener_runs() {
    let listener = Listener::start();
    listener.add_user("alice");
    listener.add_user("bob");
    let out = ok(&listener.admin().args(["user", "list", "--json"]).output().expect("list"));
    let names: Vec<String> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json")["name"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(names, ["alice", "bob"]);

    let dup = run_stdin(listener.admin().args(["user", "add", "alice", "--password-stdin"]), PASSWORD);
    assert_eq!(dup.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));

    // A session token is issued at the first login; a password change revokes it.
    let alice = User::new(&listener, "alice");
    ok(&alice.cmd("inbox").output().expect("inbox"));
    let out = alice.cmd("inbox").env_remove("QXFER_PASSWORD").output().expect("inbox with token");
    assert!(out.status.success(), "token login: {}", String::from_utf8_lossy(&out.stderr));
    let out = run_stdin(listener.admin().args(["user", "passwd", "alice", "--password-stdin"]), "a new long password");
    assert!(out.status.success());
    let out = alice.cmd("inbox").env_remove("QXFER_PASSWORD").output().expect("inbox after passwd");
    assert!(!out.status.success(), "token survived a password change");
    let out = alice.cmd("inbox").env("QXFER_PASSWORD", "a new long password").output().expect("inbox");
    assert!(out.status.success());

    ok(&listener.admin().args(["user", "remove", "bob"]).output().expect("remove"));
    let bob = User::new(&listener, "bob");
    assert_eq!(bob.cmd("inbox").output().expect("inbox").status.code(), Some(3));
}

#[test]
fn passwords_are_stored_as_argon2id_only() {
    let listener = Listener::start();
    listener.add_user("alice");
    let mut listener = listener;
    assert!(listener.stop().success());
    let db = std::fs::read(listener.data_dir().join("qxfer.redb")).expect("db");
    let text = String::from_utf8_lossy(&db);
    assert!(text.contains("$argon2id$v=19$m=19456,t=2,p=1$"));
    assert!(!text.contains(PASSWORD));
}

#[test]
fn mailbox_quota_refuses_before_data_flows() {
    let listener = Listener::with_config("[limits]\naccount_quota_bytes = 1000000\n");
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    std::fs::write(alice.path("a.bin"), pseudo_random(600_000, 1)).expect("write");
    std::fs::write(alice.path("b.bin"), pseudo_random(600_000, 2)).expect("write");
    ok(&alice.cmd("send").arg("a.bin").output().expect("send"));
    let before = listener.status()["bytes_received"].as_u64().expect("counter");
    let out = alice.cmd("send").arg("b.bin").output().expect("send");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no room"), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(listener.status()["bytes_received"].as_u64(), Some(before), "data flowed into a full mailbox");
    // Messages without files still fit.
    ok(&alice.cmd("send").args(["-m", "still here"]).output().expect("message"));
}

/// `Begin` of one 5-byte file to `to`; returns the delivery id.
async fn begin_to(raw: &mut crate::raw::Raw, to: &str, key: u8) -> u64 {
    use qxfer::wire::{Begin, Request, Response};
    let begin = Begin { to: Some(to.into()), subject: None, body: None, files: 1, bytes: 5, resume_key: [key; 32] };
    match raw.call(&Request::Begin(begin)).await {
        Some(Response::Began { id, .. }) => id,
        r => panic!("{r:?}"),
    }
}

/// Begin a delivery of one 5-byte file to `to`, declare and upload it, but do not commit.
async fn upload_to(raw: &mut crate::raw::Raw, to: &str, key: u8) -> u64 {
    use qxfer::wire::{FileEntry, Request, Response};
    let id = begin_to(raw, to, key).await;
    let entries = vec![FileEntry { path: "f".into(), size: 5 }];
    assert!(matches!(raw.call(&Request::AddFiles { entries }).await, Some(Response::FilesAdded { .. })));
    assert!(raw.put(id, 0, b"hello", *blake3::hash(b"hello").as_bytes()).await.is_some());
    id
}

/// Removing an account or changing its password ends its live sessions; a delivery under
/// way to a removed account never lands, and a new account with the same name starts
/// empty, inheriting nothing of the old one.
#[test]
fn removing_an_account_ends_its_sessions_and_its_deliveries() {
    use crate::raw::{run, Raw};
    use qxfer::wire::{Request, Response};
    let listener = Listener::start();
    for name in ["alice", "bob", "carol", "dave", "erin"] {
        listener.add_user(name);
    }
    run(async {
        // Dave's delivery to erin is under way when erin's account is removed and made anew:
        // the connection sending it is closed, and the delivery never lands.
        let mut dave = Raw::login(&listener.addr, "dave").await;
        upload_to(&mut dave, "erin", 5).await;
        ok(&listener.admin().args(["user", "remove", "erin"]).output().expect("remove"));
        listener.add_user("erin");
        let closed = tokio::time::timeout(std::time::Duration::from_secs(5), dave.conn.closed()).await;
        assert!(closed.is_ok(), "the connection sending to a removed account stayed open");
        let r = dave.call(&Request::Commit).await;
        assert!(!matches!(r, Some(Response::Committed { .. })), "{r:?}");

        let alice = Raw::login(&listener.addr, "alice").await;
        let bob = Raw::login(&listener.addr, "bob").await;
        // Bob opens a delivery to carol and uploads its file, but has not committed yet.
        let mut sender = Raw::login(&listener.addr, "bob").await;
        let id = upload_to(&mut sender, "carol", 4).await;

        ok(&listener.admin().args(["user", "remove", "alice"]).output().expect("remove"));
        let closed = tokio::time::timeout(std::time::Duration::from_secs(5), alice.conn.closed()).await;
        assert!(closed.is_ok(), "alice's session outlived her account");
        let out = run_stdin(listener.admin().args(["user", "passwd", "bob", "--password-stdin"]), PASSWORD);
        assert!(out.status.success());
        let closed = tokio::time::timeout(std::time::Duration::from_secs(5), bob.conn.closed()).await;
        assert!(closed.is_ok(), "bob's session outlived his password");

        ok(&listener.admin().args(["user", "remove", "carol"]).output().expect("remove"));
        listener.add_user("carol");
        // Removing carol dropped the delivery under way to her, with its spool: the same
        // send, run again, is a new delivery to whoever holds the name now, inheriting
        // nothing of the old one (nothing is held for it).
        let mut again = Raw::login(&listener.addr, "bob").await;
        assert_ne!(begin_to(&mut again, "carol", 4).await, id);
        assert!(!listener.data_dir().join("spool").join(id.to_string()).exists(), "the old spool stayed");
        let entries = vec![qxfer::wire::FileEntry { path: "f".into(), size: 5 }];
        let r = again.call(&Request::AddFiles { entries }).await;
        assert_eq!(r, Some(Response::FilesAdded { have: vec![qxfer::wire::Have::Partial(0)] }));
    });
    for name in ["carol", "erin"] {
        let user = User::new(&listener, name);
        let inbox = ok(&user.cmd("inbox").arg("--json").output().expect("inbox"));
        assert_eq!(inbox.trim(), "[]", "the new {name} inherited {inbox}");
    }
    assert!(!listener.data_dir().join("mail/carol").join("1").exists());
}
