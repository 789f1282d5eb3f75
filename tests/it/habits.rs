//! Habits of scp, rsync and ssh users: USER@HOST, host aliases, `.` and `..`, partial sends
//! that list what was skipped, fetch conflicts, --bind with names, -v, Ctrl-C and resume.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

/// `qxfer SUB` for `user` with nothing on the command line but what the test adds.
fn bare(user: &User, sub: &str) -> Command {
    let mut c = qxfer();
    c.current_dir(user.work.path())
        .env("QXFER_CONFIG_DIR", user.config.path())
        .env("QXFER_PASSWORD", PASSWORD)
        .arg(sub);
    c
}

fn inbox_json(user: &User) -> Vec<serde_json::Value> {
    let out = ok(&user.cmd("inbox").arg("--json").output().expect("inbox"));
    serde_json::from_str::<serde_json::Value>(&out).expect("json").as_array().cloned().unwrap_or_default()
}

/// Paths of a delivery's files, as fetch reports them, relative to the delivery directory.
fn fetched_paths(user: &User, id: u64) -> Vec<String> {
    let out = ok(&user.cmd("fetch").args([&id.to_string(), "-o", "got", "--json"]).output().expect("fetch"));
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let root = std::path::Path::new("got").join(id.to_string());
    let mut paths: Vec<String> = v[0]["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            let p = std::path::PathBuf::from(f["path"].as_str().expect("path"));
            p.strip_prefix(&root).expect("under the delivery").to_string_lossy().into_owned()
        })
        .collect();
    paths.sort();
    paths
}

#[test]
fn user_at_host_and_host_aliases() {
    let listener = Listener::start();
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    std::fs::write(alice.path("f.txt"), "hello").expect("write");
    // USER@HOST[:PORT], as ssh and scp write it.
    let out = ok(&bare(&alice, "send")
        .args([&format!("alice@{}", listener.addr), "f.txt", "--accept-new"])
        .output()
        .expect("send"));
    assert!(out.starts_with("sent delivery ") && out.contains(": 1 file, 5 bytes"), "{out}");
    // An alias with address, port, user and fingerprint: nothing else on the command line.
    let (ip, port) = listener.addr.rsplit_once(':').expect("addr");
    let config = format!(
        "[hosts.office]\naddress = \"{ip}\"\nport = {port}\nuser = \"alice\"\nfingerprint = \"{}\"\n",
        listener.fingerprint
    );
    let fresh = User::new(&listener, "alice");
    std::fs::write(fresh.config.path().join("config.toml"), config).expect("config");
    std::fs::write(fresh.path("g.txt"), "world").expect("write");
    ok(&bare(&fresh, "send").args(["office", "g.txt"]).output().expect("send via alias"));
    let out = ok(&bare(&fresh, "inbox").arg("office").output().expect("inbox via alias"));
    assert_eq!(out.lines().count(), 3, "{out}");
    // A wrong fingerprint in the alias is refused like one on the command line.
    let wrong = format!(
        "[hosts.office]\naddress = \"{ip}\"\nport = {port}\nuser = \"alice\"\nfingerprint = \"sha256:{}\"\n",
        "0".repeat(64)
    );
    let other = User::new(&listener, "alice");
    std::fs::write(other.config.path().join("config.toml"), wrong).expect("config");
    let out = bare(&other, "inbox").arg("office").output().expect("inbox");
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn dot_and_dotdot_arrive_under_their_real_names_and_an_empty_mailbox_says_so() {
    let listener = Listener::start();
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    let out = ok(&alice.cmd("inbox").output().expect("inbox"));
    assert_eq!(out.trim(), "no deliveries in alice's mailbox");
    std::fs::create_dir_all(alice.path("proj/src")).expect("mkdir");
    std::fs::write(alice.path("proj/src/main.rs"), "fn main() {}").expect("write");
    std::fs::create_dir_all(alice.path("other")).expect("mkdir");
    std::fs::write(alice.path("other/o.txt"), "o").expect("write");
    let mut send = alice.cmd("send");
    send.current_dir(alice.path("proj")).args([".", "../other", "--json"]);
    let out = ok(&send.output().expect("send"));
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let id = v["id"].as_u64().expect("id");
    assert_eq!(fetched_paths(&alice, id), ["other/o.txt", "proj/src/main.rs"]);
}

/// The tree: good files, an unreadable one, a dangling link (followed with -L) and a name
/// Windows cannot store. Like rsync: the rest is sent, each skip listed, exit 6; --strict
/// sends nothing.
#[test]
fn a_partial_send_lists_what_it_skipped() {
    let listener = Listener::start();
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    let t = alice.path("tree");
    std::fs::create_dir_all(t.join("sub")).expect("mkdir");
    std::fs::write(t.join("a.txt"), "a").expect("write");
    std::fs::write(t.join("sub/b.txt"), "b").expect("write");
    std::fs::write(t.join("secret.txt"), "s").expect("write");
    std::fs::set_permissions(t.join("secret.txt"), std::os::unix::fs::PermissionsExt::from_mode(0o000)).expect("chmod");
    std::os::unix::fs::symlink("/nonexistent/target", t.join("dangling")).expect("symlink");
    std::fs::write(t.join("what?.txt"), "w").expect("write");
    // As root, file permissions do not bind: run the client without the capabilities that
    // bypass them, as an ordinary user would be.
    let client = |args: &[&str]| {
        let mut c = alice.cmd("send");
        let argv: Vec<String> = c.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        if rustix::process::geteuid().is_root() {
            let mut s = Command::new("setpriv");
            s.args(["--bounding-set=-dac_override,-dac_read_search", env!("CARGO_BIN_EXE_qxfer")]);
            s.args(&argv).args(args);
            for (k, v) in c.get_envs() {
                match v {
                    Some(v) => s.env(k, v),
                    None => s.env_remove(k),
                };
            }
            s.current_dir(alice.work.path());
            c = s;
        } else {
            c.args(args);
        }
        c.output().expect("send")
    };
    let before = inbox_json(&alice).len();
    let strict = client(&["tree", "-L", "--strict"]);
    let err = String::from_utf8_lossy(&strict.stderr);
    assert_eq!(strict.status.code(), Some(1), "{err}");
    assert!(err.contains("--strict sends nothing"), "{err}");
    assert_eq!(inbox_json(&alice).len(), before, "--strict sent something");

    let out = client(&["tree", "-L", "--json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(err.contains("secret.txt\": permission denied"), "{err}");
    assert!(err.contains("dangling\": dangling symbolic link"), "{err}");
    assert!(err.contains("what?.txt\": its name cannot be stored on every system"), "{err}");
    assert!(err.contains("3 paths not sent"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let id = v["id"].as_u64().expect("id");
    assert_eq!(fetched_paths(&alice, id), ["tree/a.txt", "tree/sub/b.txt"]);
}

#[test]
fn fetch_goes_on_past_conflicts_and_can_skip_or_overwrite() {
    let listener = Listener::start();
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    std::fs::write(alice.path("f.txt"), "new content").expect("write");
    let first = ok(&alice.cmd("send").args(["f.txt", "--json"]).output().expect("send"));
    let id1 = serde_json::from_str::<serde_json::Value>(&first).expect("json")["id"].as_u64().expect("id");
    let second = ok(&alice.cmd("send").args(["-s", "Note", "-m", "hi", "--json"]).output().expect("send"));
    let id2 = serde_json::from_str::<serde_json::Value>(&second).expect("json")["id"].as_u64().expect("id");
    let dest = alice.path("out").join(id1.to_string());
    std::fs::create_dir_all(&dest).expect("mkdir");
    std::fs::write(dest.join("f.txt"), "old content").expect("write");

    let out = alice.cmd("fetch").args(["--all", "-o", "out", "--json"]).output().expect("fetch");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(err.contains(&format!("delivery {id1}:")) && err.contains("exists with other content"), "{err}");
    assert_eq!(std::fs::read_to_string(dest.join("f.txt")).expect("read"), "old content");
    // The other delivery came, and its JSON carries the text itself.
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v[0]["id"].as_u64(), Some(id2));
    assert!(v[0]["text"].as_str().expect("text").ends_with("Subject: Note\n\nhi\n"), "{v}");
    assert!(v[0]["message"].as_str().expect("message").ends_with(&format!("{id2}.txt")));

    // One delivery alone with a conflict: partial too (its other files are fetched).
    let out = alice.cmd("fetch").args([&id1.to_string(), "-o", "out"]).output().expect("fetch");
    assert_eq!(out.status.code(), Some(6), "{}", String::from_utf8_lossy(&out.stderr));
    let out = ok(&alice.cmd("fetch").args(["--all", "-o", "out", "--skip-existing"]).output().expect("fetch"));
    assert!(out.contains(&format!("fetched delivery {id1}")), "{out}");
    assert_eq!(std::fs::read_to_string(dest.join("f.txt")).expect("read"), "old content");

    // --overwrite replaces the name, never what a link there points to.
    let outside = alice.path("outside.txt");
    std::fs::write(&outside, "keep me").expect("write");
    std::fs::remove_file(dest.join("f.txt")).expect("rm");
    std::os::unix::fs::symlink(&outside, dest.join("f.txt")).expect("symlink");
    ok(&alice.cmd("fetch").args([&id1.to_string(), "-o", "out", "--overwrite"]).output().expect("fetch"));
    assert_eq!(std::fs::read_to_string(&outside).expect("read"), "keep me");
    let meta = std::fs::symlink_metadata(dest.join("f.txt")).expect("meta");
    assert!(meta.is_file(), "the link was not replaced");
    assert_eq!(std::fs::read_to_string(dest.join("f.txt")).expect("read"), "new content");
}

#[test]
fn bind_takes_names_and_ports_and_v_shows_the_steps() {
    let data = tempfile::tempdir().expect("tempdir");
    let listener = Listener::start_on(data, "localhost:0", &[]);
    assert!(listener.addr.starts_with("127.0.0.1:") || listener.addr.starts_with("[::1]:"), "{}", listener.addr);
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    let out = alice.cmd("inbox").args(["--bind", "localhost"]).env_remove("QXFER_LOG").output().expect("inbox");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("INFO"), "logs without -v: {err}");
    let out = alice.cmd("inbox").arg("-v").env_remove("QXFER_LOG").output().expect("inbox");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("connecting to") && err.contains("handshake") && err.contains("logged in as alice"), "{err}");
    let out = alice.cmd("inbox").arg("-vv").env_remove("QXFER_LOG").output().expect("inbox");
    assert!(String::from_utf8_lossy(&out.stderr).contains("request: inbox"));
}

#[test]
fn ctrl_c_says_how_to_resume_and_the_same_command_resumes() {
    let listener = Listener::start();
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    let big = std::fs::File::create(alice.path("big.bin")).expect("create");
    big.set_len(256 << 20).expect("sparse file");
    drop(big);
    let child = alice
        .cmd("send")
        .args(["big.bin", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Interrupt once the listener holds a megabyte of the file (its part file is made
    // before the first byte arrives).
    let spool = listener.data_dir().join("spool");
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        let held = tree(&spool)
            .iter()
            .filter(|p| p.ends_with(".qxfer-part"))
            .any(|p| std::fs::metadata(spool.join(p)).is_ok_and(|m| m.len() >= 1 << 20));
        if held {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(&child, "-INT");
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(0) {
        eprintln!("the send finished before the interrupt; nothing to resume");
        return;
    }
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted; run the same command again to resume"), "{err}");
    let out = ok(&alice.cmd("send").args(["big.bin", "--json"]).output().expect("resume"));
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["resumed"], true, "{v}");
    assert!(v["uploaded"].as_u64().expect("uploaded") < 256 << 20, "{v}");
}

/// On a terminal without a saved session token the password is asked for before the
/// client connects: a person who takes longer to type than the listener's login deadline
/// still logs in.
#[test]
fn a_slow_typist_is_not_cut_off_by_the_login_deadline() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("script(1) is not installed; skipped");
        return;
    }
    let data = tempfile::tempdir().expect("tempdir");
    let listener = Listener::start_in(data, &["--login-deadline", "2"]);
    listener.add_user("bob");
    let bob = User::new(&listener, "bob");
    let line = format!("{} inbox bob@{} --accept-new", env!("CARGO_BIN_EXE_qxfer"), listener.addr);
    let mut child = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env("QXFER_CONFIG_DIR", bob.config.path())
        .env_remove("QXFER_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script");
    // Typed three seconds later: past the two-second login deadline.
    std::thread::sleep(Duration::from_secs(3));
    use std::io::Write;
    child.stdin.take().expect("stdin").write_all(format!("{PASSWORD}\n").as_bytes()).expect("type");
    let out = child.wait_with_output().expect("wait");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("Password for bob@") && text.contains("no deliveries in bob's mailbox"), "{text}");
}
