//! The command line without a listener: usage errors exit 2 with a message in the user's
//! terms, every `--help` example parses as written, completions and the man page.

use std::process::Command;

use crate::support::*;

fn code_and_err(args: &[&str]) -> (Option<i32>, String) {
    let work = tempfile::tempdir().expect("tempdir");
    std::fs::write(work.path().join("f.txt"), "x").expect("write");
    std::fs::create_dir(work.path().join("empty")).expect("mkdir");
    let out = qxfer()
        .current_dir(work.path())
        .env("QXFER_CONFIG_DIR", work.path().join("config"))
        .env("QXFER_PASSWORD", PASSWORD)
        .args(args)
        .output()
        .expect("run");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn short_password(args: &[&str]) -> (Option<i32>, String) {
    let work = tempfile::tempdir().expect("tempdir");
    let out = run_stdin(qxfer().current_dir(work.path()).args(args), "short");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn usage_errors_exit_2_and_say_what_to_do() {
    let cases: &[(&[&str], &str)] = &[
        (&["send", "alice@127.0.0.1:9", "f.txt", "--fingerprint", "md5:00"], "fingerprint"),
        (&["send", "alice@127.0.0.1:9", "f.txt", "--to", "Bad Name"], "--to \"Bad Name\""),
        (&["send", "alice@127.0.0.1:9"], "nothing to send"),
        (&["send", "alice@127.0.0.1:9", "empty"], "nothing to send"),
        (&["send", "alice@127.0.0.1:9", "f.txt", "-s", "a\ttab"], "the subject must be one line"),
        (&["send", "alice@127.0.0.1:9", "-m", "bell\u{7}"], "the message holds a control"),
        (&["send", "127.0.0.1:9", "f.txt"], "no account to log in as"),
        (&["send", "f.txt", "127.0.0.1"], "the first argument is the listener"),
        (&["send", "f.txt"], "the first argument is the listener"),
        (&["inbox", "Bad@127.0.0.1:9"], "account \"Bad\""),
        (&["audit", "--kind", "bogus"], "not a kind of event"),
        (&["audit", "--since", "5"], "has no unit"),
        (&["firewall", "ban", "192.0.2.1", "--for", "10"], "has no unit"),
        (&["firewall", "block", "not-a-net"], "not-a-net"),
        (&["fetch", "alice@127.0.0.1:9", "--all", "--overwrite", "--skip-existing"], "cannot be used with"),
        (&["listen", "--bind", "no-such-host.invalid"], "--bind"),
        (&["listen", "--threads", "0"], "--threads"),
        (&["send", "alice@127.0.0.1:9", "-m", "-", "--password-stdin"], "both read stdin"),
        (&["send", "alice@127.0.0.1:9", "f.txt", "-s", ""], "the subject is empty"),
        (&["inbox", "alice@127.0.0.1:99999"], "is not a port"),
        (&["inbox", "alice@127.0.0.1:abc"], "is not a port"),
        (&["inbox", "alice@127.0.0.1:9", "--connect-timeout", "0s"], "at least 1s"),
        (&["fetch", "alice@127.0.0.1:9"], "--new or --all"),
        (&["fetch", "alice@127.0.0.1:9", "abc"], "not a delivery id"),
        (&["read", "alice@127.0.0.1:9", "18446744073709551616"], "not a delivery id"),
        (&["user", "add", "eve", "--password-stdin", "--init", "--data", "d"], "8 to 1024 bytes"),
    ];
    for (args, want) in cases {
        let (code, err) = if args.contains(&"eve") { short_password(args) } else { code_and_err(args) };
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: want {want:?} in {err}");
        for internal in ["0x01", "invalid empty delivery", "Os {", "Custom {"] {
            assert!(!err.contains(internal), "{args:?}: internal wording {internal:?} in {err}");
        }
    }
}

#[test]
fn names_with_control_characters_are_escaped_in_messages() {
    let work = tempfile::tempdir().expect("tempdir");
    let dir = work.path().join("tree");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(dir.join("ok.txt"), "x").expect("write");
    std::fs::write(dir.join("evil\u{1b}[2J\nname"), "x").expect("write");
    let out = qxfer()
        .current_dir(work.path())
        .env("QXFER_CONFIG_DIR", work.path().join("config"))
        .args(["send", "alice@127.0.0.1:9", "tree", "--strict"])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("--strict sends nothing") && err.contains("evil\\u{1b}[2J\\nname"), "{err}");
    assert!(!err.contains('\u{1b}'), "a raw ESC reached the terminal");
}

#[test]
fn every_help_example_parses_as_written() {
    fn walk(cmd: &clap::Command, path: Vec<String>, found: &mut Vec<(Vec<String>, Vec<String>)>) {
        let help = cmd.get_after_help().map(|h| h.to_string()).unwrap_or_default();
        for line in help.lines().filter(|l| l.trim_start().starts_with("qxfer ") || l.contains("| qxfer ")) {
            for c in crate::shell::commands_in(line.trim()) {
                found.push((
                    path.clone(),
                    std::iter::once("qxfer".to_owned()).chain(c.into_iter().map(|w| w.text)).collect(),
                ));
            }
        }
        for sub in cmd.get_subcommands() {
            let mut p = path.clone();
            p.push(sub.get_name().to_owned());
            walk(sub, p, found);
        }
    }
    let mut found = Vec::new();
    walk(&qxfer::cli::command(), vec![], &mut found);
    assert!(found.len() > 30, "{found:?}");
    for (path, example) in found {
        let r = qxfer::cli::command().try_get_matches_from(&example);
        assert!(r.is_ok(), "`qxfer {}` help example {example:?} does not parse: {r:?}", path.join(" "));
    }
}

#[test]
fn audit_help_lists_every_kind() {
    let out = ok(&qxfer().args(["audit", "--help"]).output().expect("help"));
    for k in qxfer::policy::activity::Kind::ALL {
        assert!(out.split_whitespace().any(|w| w == k.name()), "{} missing from audit --help", k.name());
    }
}

#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish"] {
        let out = ok(&qxfer().args(["completions", shell]).output().expect("completions"));
        assert!(out.contains("qxfer") && out.contains("fetch") && out.contains("skip-existing"), "{shell}");
    }
    let man = ok(&qxfer().arg("man").output().expect("man"));
    assert!(man.starts_with(".ie") || man.contains(".TH qxfer"), "{}", &man[..man.len().min(200)]);
    assert!(man.contains("listen") && man.contains("fetch"));
    // A page per command, so `man qxfer-send` documents send's options.
    let dir = tempfile::tempdir().expect("tempdir");
    ok(&qxfer().args(["man", "--out"]).arg(dir.path()).output().expect("man --out"));
    let send = std::fs::read_to_string(dir.path().join("qxfer-send.1")).expect("qxfer-send.1");
    assert!(send.contains("strict") && send.contains("connect\\-timeout"), "{send}");
    assert!(dir.path().join("qxfer-firewall-unban.1").exists());
}

#[test]
fn the_systemd_unit_verifies() {
    if Command::new("systemd-analyze").arg("--version").output().is_err() {
        eprintln!("systemd-analyze is not installed; skipped");
        return;
    }
    let unit = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/dist/qxfer.service")).expect("unit");
    assert!(unit.contains("ExecStart=/usr/local/bin/qxfer listen --data /var/lib/qxfer"));
    for hardening in ["ProtectSystem=strict", "StateDirectory=qxfer", "NoNewPrivileges=yes", "CapabilityBoundingSet="] {
        assert!(unit.contains(hardening), "{hardening}");
    }
    // Verified with the binary just built in place of the installed one.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("qxfer.service");
    std::fs::write(&path, unit.replace("/usr/local/bin/qxfer", env!("CARGO_BIN_EXE_qxfer"))).expect("write");
    let out = Command::new("systemd-analyze").args(["verify", "--man=no"]).arg(&path).output().expect("verify");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// The README's quick start, run as written (after `qxfer listen`, which runs here on a
/// free port of 127.0.0.1 with the default data directory of a fresh HOME): every command
/// succeeds and bob ends up with alice's note.
#[test]
fn the_readme_quick_start_runs_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    let quick = readme.split("## Quick start").nth(1).expect("quick start").split("## ").next().expect("section");
    let block = quick.split("```").nth(3).expect("second code block");
    let lines: Vec<&str> = block.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    assert!(lines.len() >= 6 && lines[0].starts_with("qxfer user add alice"), "{lines:?}");

    let home = tempfile::tempdir().expect("home");
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_qxfer")).parent().expect("bin dir").to_owned();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let env = |c: &mut Command| {
        c.env("HOME", home.path())
            .env("PATH", &path)
            .env("QXFER_PASSWORD", PASSWORD)
            .env_remove("QXFER_DATA_DIR")
            .env_remove("QXFER_CONFIG_DIR")
            .env_remove("QXFER_USER")
            .env_remove("XDG_DATA_HOME")
            .env_remove("XDG_CONFIG_HOME")
            .current_dir(home.path());
    };
    let mut listen = qxfer();
    env(&mut listen);
    let data = home.path().join(".local/share/qxfer");
    let started = shared::start_listener(listen, &data, "127.0.0.1:0", &[]).expect("listen");
    // Stopped however the test ends (a failed line must not leave a listener running).
    struct Stop(std::process::Child);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stop = Stop(started.child);
    for line in &lines {
        let line = line.replace("@127.0.0.1", &format!("@{}", started.addr));
        let mut sh = Command::new("sh");
        sh.args(["-c", &line]);
        env(&mut sh);
        let out = sh.output().expect("sh");
        assert!(
            out.status.success(),
            "{line}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    drop(stop);
    let got = std::fs::read_to_string(home.path().join("inbox/1/note.txt")).expect("bob's copy");
    assert_eq!(got, "hello from alice\n");
    let text = std::fs::read_to_string(home.path().join("inbox/1.txt")).expect("message");
    assert!(text.contains("Subject: Hello\n\nA first note\n"), "{text}");
}

/// The docs' list of activity kinds (docs/activity-and-bans.md) is `Kind::ALL`, the list
/// `qxfer audit --help` prints, in the same order: a kind added to the enum fails this test
/// until the page names it.
#[test]
fn the_docs_list_every_activity_kind() {
    let page = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/activity-and-bans.md");
    let page = std::fs::read_to_string(page).expect("docs/activity-and-bans.md");
    let listed = page.split("\nKinds: `").nth(1).and_then(|rest| rest.split('`').next()).expect("a Kinds: list");
    let listed: Vec<&str> = listed.split_whitespace().collect();
    let kinds: Vec<&str> = qxfer::policy::activity::Kind::ALL.iter().map(|k| k.name()).collect();
    assert_eq!(listed, kinds, "docs/activity-and-bans.md's Kinds: list should read:\nKinds: `{}`", kinds.join(" "));
    let help = ok(&qxfer().args(["audit", "--help"]).output().expect("audit --help"));
    let in_help: Vec<&str> = help.split("Kinds: ").nth(1).expect("kinds in --help").split_whitespace().collect();
    assert_eq!(in_help, kinds, "{help}");
}
