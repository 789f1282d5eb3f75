//! The terminal basics a new user trips on: Ctrl-C leaves its hint last on the screen (and
//! exits 130 at a password prompt too), `inbox` on a terminal marks what is new with human
//! sizes and previews while piped output keeps its columns, a message alone says so, `read`
//! after a fetch does not simply say to fetch, a resumed fetch says so, and a resumed send
//! checks what is held before it counts a rate. Terminal items run the real client in tmux
//! (skipped, with the reason printed, where tmux is missing).

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use qxfer::client::trust::NewHost;
use qxfer::client::{Client, ConnectOptions, Event, EventSink, ManifestOptions, PasswordSource, SendJob};

use crate::raw::run;
use crate::support::*;
use crate::tmux::{exit_code, Tmux};

/// A 120x30 terminal running `line` in `sh`, which survives Ctrl-C (`trap : INT`) to write
/// the command's exit code; `None` (and why, printed) without tmux.
fn start(dir: &Path, line: &str) -> Option<Tmux> {
    Tmux::installed().then(|| Tmux::start(dir, (120, 30), &format!("trap : INT; {line}; sleep 60")))
}

/// `qxfer SUB HOST --user NAME --accept-new ARGS` as a shell line for `user`, its exit code
/// written to `code`.
fn line(user: &User, sub: &str, args: &str, password: bool, code: &Path) -> String {
    format!(
        "cd {}; QXFER_CONFIG_DIR={} {} {} {sub} {} --user {} --accept-new {args}; echo $? > {}",
        user.work.path().display(),
        user.config.path().display(),
        if password { format!("QXFER_PASSWORD='{PASSWORD}'") } else { String::new() },
        env!("CARGO_BIN_EXE_qxfer"),
        user.addr,
        user.name,
        code.display()
    )
}

const HINT: &str = "qxfer: interrupted; run the same command again to resume";

/// Ctrl-C during a send: the bars go first, so the resume hint is the last thing on the
/// screen (it used to be drawn over), and the exit code is 130.
#[test]
fn ctrl_c_during_a_send_leaves_the_hint_last_on_the_screen() {
    let listener = Listener::start();
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    ok(&alice.cmd("inbox").output().expect("pin"));
    // A large sparse file: a few seconds of transfer at least.
    std::fs::File::create(alice.path("big.bin")).expect("file").set_len(3 << 30).expect("sparse");
    let code = alice.work.path().join("code");
    let Some(tmux) = start(alice.work.path(), &line(&alice, "send", "big.bin", true, &code)) else { return };
    tmux.wait_for("send 1 [", 30);
    std::thread::sleep(Duration::from_millis(500));
    tmux.run(&["send-keys", "C-c"]);
    assert_eq!(exit_code(&code), "130");
    std::thread::sleep(Duration::from_millis(300));
    let screen = tmux.screen();
    let lines: Vec<&str> = screen.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.last().copied(), Some(HINT), "the hint is not the last line:\n{screen}");
    assert!(!screen.contains("] "), "a progress bar is left on the screen:\n{screen}");
}

/// Ctrl-C at the password prompt: exit 130 with the same hint, not "reading password:
/// interrupted" and 1.
#[test]
fn ctrl_c_at_the_password_prompt_exits_130() {
    let listener = Listener::start();
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    let code = alice.work.path().join("code");
    let Some(tmux) = start(alice.work.path(), &line(&alice, "inbox", "", false, &code)) else { return };
    tmux.wait_for("Password for alice@", 30);
    tmux.run(&["send-keys", "C-c"]);
    assert_eq!(exit_code(&code), "130");
    let screen = tmux.wait_for(HINT, 5);
    assert!(!screen.contains("reading password"), "{screen}");
}

/// A mailbox with a message without subject, mail with a file, and a delivery already read.
fn mailbox(listener: &Listener) -> (User, User) {
    listener.add_user("alice");
    listener.add_user("bob");
    let (alice, bob) = (User::new(listener, "alice"), User::new(listener, "bob"));
    std::fs::write(alice.path("report.pdf"), pseudo_random(5000, 1)).expect("file");
    ok(&alice.cmd("send").args(["--to", "bob", "-m", "Lunch at\nnoon? The place by the station"]).output().expect("m"));
    ok(&alice.cmd("send").args(["--to", "bob", "-s", "The report", "report.pdf"]).output().expect("mail"));
    ok(&alice.cmd("send").args(["--to", "bob", "-m", "old news"]).output().expect("old"));
    ok(&bob.cmd("read").arg("3").output().expect("read"));
    (alice, bob)
}

/// On a terminal, `inbox` marks what is new, gives sizes in KiB and previews a message
/// without subject.
#[test]
fn inbox_on_a_terminal_marks_new_deliveries_with_sizes_and_previews() {
    let listener = Listener::start();
    let (_alice, bob) = mailbox(&listener);
    let code = bob.work.path().join("code");
    let Some(tmux) = start(bob.work.path(), &line(&bob, "inbox", "", true, &code)) else { return };
    assert_eq!(exit_code(&code), "0");
    let screen = tmux.wait_for("SUBJECT", 5);
    let row = |id: &str| {
        screen.lines().find(|l| l.trim_start().starts_with(id)).unwrap_or_else(|| panic!("no row {id}:\n{screen}"))
    };
    assert!(screen.contains("  SIZE  SUBJECT"), "{screen}");
    assert!(row("1*").ends_with("\"Lunch at noon? The place by the station\""), "{screen}");
    assert!(row("2*").contains("4.9 KiB  The report"), "{screen}");
    assert!(row("3 ").ends_with("\"old news\""), "a read delivery is not new:\n{screen}");
    assert!(screen.contains("* new: not fetched or read yet"), "{screen}");
}

/// Piped, `inbox` keeps today's columns (bytes, no mark, no preview), and `--json` its fields.
#[test]
fn inbox_piped_keeps_its_columns() {
    let listener = Listener::start();
    let (_alice, bob) = mailbox(&listener);
    let out = ok(&bob.cmd("inbox").output().expect("inbox"));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[0].ends_with("FILES        BYTES  SUBJECT"), "{out}");
    assert!(lines[1].starts_with("     1  alice "), "{out}");
    assert!(lines[1].ends_with("      0            0  "), "{out}");
    assert!(lines[2].ends_with("      1         5000  The report"), "{out}");
    assert!(!out.contains('*') && !out.contains("Lunch"), "{out}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&bob.cmd("inbox").arg("--json").output().expect("json"))).expect("json");
    assert_eq!(json[1]["bytes"], 5000);
}

/// A message alone says "message" and its size, not "0 files, 0 bytes", with one recipient
/// or several.
#[test]
fn a_message_alone_says_message_and_its_bytes() {
    let listener = Listener::start();
    for name in ["alice", "bob", "carol"] {
        listener.add_user(name);
    }
    let alice = User::new(&listener, "alice");
    let out = ok(&alice.cmd("send").args(["--to", "bob", "-m", "hello there"]).output().expect("send"));
    assert_eq!(out, "sent delivery 1 to bob: message, 11 bytes\n");
    let out = ok(&alice.cmd("send").args(["--to", "bob", "--to", "carol", "-m", "hi"]).output().expect("send"));
    assert_eq!(out, "sent deliveries 2 to bob, 3 to carol: message, 2 bytes\n");
    std::fs::write(alice.path("a.txt"), "abc").expect("file");
    let out = ok(&alice.cmd("send").args(["--to", "bob", "-m", "with a file", "a.txt"]).output().expect("send"));
    assert_eq!(out, "sent delivery 4 to bob: 1 file, 3 bytes (3 bytes uploaded)\n");
}

/// `read` says to fetch only while nothing was fetched or read; after that its hint is true
/// either way.
#[test]
fn read_after_a_fetch_does_not_just_say_to_fetch() {
    let listener = Listener::start();
    listener.add_user("alice");
    listener.add_user("bob");
    let (alice, bob) = (User::new(&listener, "alice"), User::new(&listener, "bob"));
    std::fs::write(alice.path("a.txt"), "abc").expect("file");
    ok(&alice.cmd("send").args(["--to", "bob", "-s", "Hi", "a.txt"]).output().expect("send"));
    let first = ok(&bob.cmd("read").arg("1").output().expect("read"));
    assert!(first.ends_with(&format!("(qxfer fetch {} 1 downloads it)\n", listener.addr)), "{first}");
    ok(&bob.cmd("fetch").arg("1").output().expect("fetch"));
    let again = ok(&bob.cmd("read").arg("1").output().expect("read"));
    assert!(
        again.ends_with(&format!(
            "(qxfer fetch {} 1 downloads it, if not done already: this delivery was read or fetched before)\n",
            listener.addr
        )),
        "{again}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(&bob.cmd("read").args(["1", "--json"]).output().expect("json"))).expect("json");
    assert_eq!(json["seen_before"], true);
}

/// A fetch that continues partial files says so: "(resumed: N bytes already here)", and
/// `resumed`/`held` in `--json`.
#[test]
fn a_resumed_fetch_says_resumed() {
    const SIZE: usize = 64 << 20;
    let listener = Listener::start();
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    std::fs::write(alice.path("big.bin"), pseudo_random(SIZE, 11)).expect("write");
    ok(&alice.cmd("send").arg("big.bin").output().expect("send"));
    let mut child = alice
        .cmd("fetch")
        .args(["1", "-o", "back"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("fetch");
    let part = alice.path("back").join("1").join(".big.bin.qxfer-part");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::metadata(&part).map_or(0, |m| m.len()) < 4 << 20 {
        assert!(Instant::now() < deadline, "the fetch never got going");
        std::thread::sleep(Duration::from_millis(5));
    }
    signal(&child, "-KILL");
    let _ = child.wait();
    let out = ok(&alice.cmd("fetch").args(["1", "-o", "back"]).output().expect("fetch again"));
    assert!(out.starts_with("fetched delivery 1 from alice: 1 file, "), "{out}");
    assert!(out.contains(" bytes downloaded (resumed: ") && out.ends_with(" bytes already here)\n"), "{out}");
    assert_eq!(hash(&alice.path("back/1/big.bin")), hash(&alice.path("big.bin")));
}

/// A resumed send re-checks what the listener holds ("checking") before it counts a rate:
/// `Checking` before `Start`, `Checked` before the first new byte.
#[test]
fn a_resumed_send_checks_before_it_counts_new_bytes() {
    const SIZE: usize = 64 << 20;
    let listener = Listener::start();
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    std::fs::write(alice.path("big.bin"), pseudo_random(SIZE, 12)).expect("write");
    let opts = ConnectOptions {
        host: listener.addr.clone(),
        bind: Vec::new(),
        user: "alice".into(),
        password: PasswordSource::Given(PASSWORD.into()),
        config_dir: alice.config.path().to_owned(),
        fingerprint: None,
        new_host: NewHost::Accept,
        ca: None,
        net: qxfer::policy::NetLimits::default(),
        connect_timeout: qxfer::client::CONNECT_TIMEOUT,
        captcha_file: None,
        token: None,
        work_progress: EventSink::default(),
    };
    let manifest = qxfer::client::Manifest::build(&[alice.path("big.bin")], ManifestOptions::default()).expect("build");
    let job = SendJob { manifest, ..SendJob::default() };
    // The first send stops once the listener holds a good part of the file.
    run(async {
        let mut client = Client::connect(&opts).await.expect("connect");
        tokio::select! {
            r = client.send(&job, qxfer::client::no_events()) => panic!("the send finished first: {r:?}"),
            _ = async {
                while listener.status()["bytes_received"].as_u64().unwrap_or(0) < 16 << 20 {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            } => {}
        }
    });
    let seen: Arc<Mutex<Vec<Event>>> = Arc::default();
    let report = run(async {
        let mut client = Client::connect(&opts).await.expect("connect");
        let record = seen.clone();
        let events = Arc::new(move |e: Event| {
            if let Ok(mut v) = record.lock() {
                v.push(e);
            }
        });
        let report = client.send(&job, events).await.expect("resumed send");
        client.close().await;
        report
    });
    assert!(report.resumed && report.uploaded < SIZE as u64, "{report:?}");
    let seen = seen.lock().expect("events");
    let at = |f: &dyn Fn(&Event) -> bool| seen.iter().position(f).unwrap_or_else(|| panic!("missing event: {seen:?}"));
    let checking = at(&|e| matches!(e, Event::Checking { bytes } if *bytes > 0));
    let start = at(&|e| matches!(e, Event::Start { .. }));
    let checked = at(&|e| matches!(e, Event::Checked));
    let first_byte = at(&|e| matches!(e, Event::Bytes { .. }));
    assert!(checking < start && start < checked && checked < first_byte, "{seen:?}");
}
