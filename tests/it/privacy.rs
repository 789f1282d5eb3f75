//! What the listener's side stores is private: 0700 directories and 0600 files, from
//! whichever command creates them, and `listen` refuses a data directory others can open.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;

use crate::support::*;

/// Every path below `dir` (and `dir` itself) that group or others can use.
fn open_to_others(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&p) else { continue };
        if meta.file_type().is_symlink() || meta.file_type().is_socket() {
            continue;
        }
        if meta.permissions().mode() & 0o077 != 0 {
            out.push(format!("{} {:o}", p.display(), meta.permissions().mode() & 0o7777));
        }
        if meta.is_dir() {
            stack.extend(std::fs::read_dir(&p).into_iter().flatten().flatten().map(|e| e.path()));
        }
    }
    out
}

#[test]
fn commands_that_create_the_data_directory_make_it_private() {
    for args in [&["user", "add", "alice", "--password-stdin", "--init"][..], &["fingerprint", "--init"][..]] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let data = tmp.path().join("fresh");
        let out = run_stdin(qxfer().env("QXFER_DATA_DIR", &data).args(args), PASSWORD);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(data.exists());
        assert_eq!(open_to_others(&data), Vec::<String>::new(), "{args:?}");
    }
}

#[test]
fn commands_on_a_missing_data_directory_say_so_and_create_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("typo");
    for args in [
        &["user", "add", "alice", "--password-stdin"][..],
        &["fingerprint"][..],
        &["firewall", "list"][..],
        &["firewall", "ban", "192.0.2.1"][..],
        &["user", "list"][..],
        &["audit"][..],
    ] {
        let out = run_stdin(qxfer().env("QXFER_DATA_DIR", &data).args(args), PASSWORD);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("no listener data directory") && err.contains("--init"), "{args:?}: {err}");
        assert!(!data.exists(), "{args:?} created {data:?}");
    }
}

#[test]
fn listen_on_a_file_says_it_is_not_a_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("note.txt");
    std::fs::write(&file, "x").expect("write");
    let out = qxfer().args(["listen", "--bind", "127.0.0.1:0", "--data"]).arg(&file).output().expect("listen");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("not a directory") && !err.contains("chmod"), "{err}");
}

#[test]
fn listen_refuses_a_data_directory_others_can_open() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("d");
    std::fs::create_dir(&data).expect("mkdir");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = qxfer().args(["listen", "--bind", "127.0.0.1:0", "--data"]).arg(&data).output().expect("listen");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("chmod 700") && err.contains("755"), "{err}");
}

#[test]
fn what_a_running_listener_stores_is_private() {
    let listener = Listener::start();
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    std::fs::write(alice.path("f.txt"), "hello").expect("write");
    ok(&alice.cmd("send").args(["f.txt", "-s", "subject"]).output().expect("send"));
    ok(&listener.admin().args(["firewall", "block", "203.0.113.9"]).output().expect("block"));
    assert_eq!(open_to_others(&listener.data_dir()), Vec::<String>::new());
}
