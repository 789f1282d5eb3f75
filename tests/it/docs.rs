//! The docs show the real thing. Every `qxfer …` command in README.md and docs/*.md (the
//! lines of their shell blocks and inline code that starts with `qxfer `) names commands
//! that exist and flags those commands take, and the concrete ones parse as written; the
//! lines and JSON objects that docs/commands.md's "Output lines" promise are what a real
//! listener and client print.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use crate::support::*;

mod markdown;
mod promises;

use crate::shell::{commands_in, Word};
use markdown::{anchors, command_lines, flags_shown, links, spans};
use promises::{doc_keys, fixed_start, matches, normal, pieces, real_keys, variants};

fn read(rel: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)).expect(rel)
}

/// README.md and every page of docs/, by path.
fn pages() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("docs/")
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|n| n.ends_with(".md"))
        .map(|n| format!("docs/{n}"))
        .collect();
    names.sort();
    names.insert(0, "README.md".into());
    names
        .into_iter()
        .map(|n| {
            let text = read(&n);
            (n, text)
        })
        .collect()
}

fn has_flag(cmd: &clap::Command, flag: &str) -> Option<bool> {
    let arg = match flag.strip_prefix("--") {
        Some(long) => cmd
            .get_arguments()
            .find(|a| a.get_long() == Some(long) || a.get_all_aliases().is_some_and(|al| al.contains(&long))),
        None => cmd.get_arguments().find(|a| flag.strip_prefix('-').and_then(|s| s.chars().next()) == a.get_short()),
    };
    arg.map(|a| a.get_action().takes_values())
}

/// Checks one command against clap's tree: each name on its path is a subcommand (`a|b`
/// in a synopsis: each of them), every flag is one of the command's (of one of them),
/// and a concrete command of a shell block (no placeholder, choice or substitution) parses.
fn check(root: &clap::Command, words: &[Word], inline: bool) -> Result<(), String> {
    let mut at: Vec<&clap::Command> = vec![root];
    let (mut path, mut positionals, mut i) = (vec!["qxfer".to_owned()], 0, 0);
    let mut flags = Vec::new();
    while i < words.len() {
        let w = &words[i];
        i += 1;
        let text = w.text.trim_matches(|c| matches!(c, '[' | ']' | '(' | ')'));
        if !w.quoted && text.starts_with('-') && text.len() > 1 && text != "--" {
            let name = text.split('=').next().unwrap_or(text).to_owned();
            let names: Vec<String> = match name.strip_prefix("--") {
                Some(_) => vec![name.clone()],
                None => name.chars().skip(1).map(|c| format!("-{c}")).collect(),
            };
            let takes = names.iter().any(|n| at.iter().any(|c| has_flag(c, n) == Some(true)));
            if takes && !text.contains('=') && !w.text.ends_with(']') && !w.text.ends_with(')') {
                i += 1;
            }
            flags.extend(names);
            continue;
        }
        if w.quoted || text.is_empty() || text == "|" || text.contains("...") || text.contains('…') {
            continue;
        }
        if at.iter().all(|c| c.has_subcommands()) {
            let found: Option<Vec<&clap::Command>> =
                text.split('|').map(|alt| at.iter().find_map(|c| c.find_subcommand(alt))).collect();
            match found {
                Some(found) => {
                    at = found;
                    path.push(text.to_owned());
                    positionals = 0;
                }
                None if at[0].get_positionals().count() > positionals => positionals += 1,
                None => return Err(format!("`{} {text}`: no such command", path.join(" "))),
            }
        }
    }
    for f in &flags {
        if !at.iter().any(|c| has_flag(c, f).is_some()) {
            return Err(format!("`{}` takes no {f}", path.join(" ")));
        }
    }
    let placeholder = |w: &Word| {
        !w.quoted
            && (w
                .text
                .chars()
                .zip(w.text.chars().skip(1))
                .any(|(a, b)| a.is_ascii_uppercase() && b.is_ascii_uppercase()))
    };
    let synopsis = |w: &Word| {
        w.text.contains("$(")
            || (!w.quoted && w.text.contains(['[', ']', '(', ')', '|', '…']) || w.text.contains("..."))
    };
    if inline || words.iter().any(|w| placeholder(w) || synopsis(w)) {
        return Ok(());
    }
    let argv = std::iter::once("qxfer".to_owned()).chain(words.iter().map(|w| w.text.clone()));
    match root.clone().try_get_matches_from(argv) {
        Err(e) if !matches!(e.kind(), clap::error::ErrorKind::DisplayHelp) => Err(format!("does not parse: {e}")),
        _ => Ok(()),
    }
}

/// Every command the docs show exists, with the flags they show; concrete ones parse; and
/// every flag named in code anywhere is one of some command's.
#[test]
fn every_command_the_docs_show_is_a_real_one() {
    fn longs(c: &clap::Command, out: &mut BTreeSet<String>) {
        out.extend(c.get_arguments().filter_map(|a| a.get_long()).map(|l| format!("--{l}")));
        c.get_subcommands().for_each(|s| longs(s, out));
    }
    let mut root = qxfer::cli::command();
    root.build();
    let mut known = BTreeSet::new();
    longs(&root, &mut known);
    let (mut checked, mut wrong) = (0, Vec::new());
    for (page, text) in pages().into_iter().filter(|(page, _)| page != "docs/benchmarks.md") {
        for flag in flags_shown(&text).into_iter().filter(|f| !known.contains(f)) {
            wrong.push(format!("{page}: {flag} is no flag of any qxfer command"));
        }
    }
    for (page, text) in pages() {
        for (line, inline) in command_lines(&text) {
            for cmd in commands_in(&line) {
                checked += 1;
                if let Err(e) = check(&root, &cmd, inline) {
                    wrong.push(format!("{page}: {line}\n    {e}"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "commands in the docs that are not the real ones:\n{}", wrong.join("\n"));
    assert!(checked > 80, "only {checked} commands found in the docs");
}

/// Every relative link of README.md and docs/ leads to a file that exists and, with an
/// anchor, to one of its headings (the pages were one README once: a link left behind
/// would point at nothing).
#[test]
fn every_link_between_the_pages_leads_somewhere() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut wrong = Vec::new();
    let mut count = 0;
    for (page, text) in pages() {
        let dir = Path::new(&page).parent().unwrap_or(Path::new(""));
        for link in links(&text) {
            count += 1;
            let (file, anchor) = link.split_once('#').unwrap_or((&link, ""));
            let target = if file.is_empty() { root.join(&page) } else { root.join(dir).join(file) };
            let Ok(body) = std::fs::read_to_string(&target) else {
                if !target.exists() {
                    wrong.push(format!("{page}: ({link}) leads to no file"));
                }
                continue;
            };
            if !anchor.is_empty() && !anchors(&body).iter().any(|a| a == anchor) {
                wrong.push(format!("{page}: ({link}) names no heading of {file}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(count >= 20, "only {count} links");
}

/// Lines the run below cannot print, and the test that sees each on a real run; for these
/// the source must hold the line's fixed start.
const NOT_IN_THIS_RUN: &[(&str, &str)] = &[
    ("(resumed:", "a resumed fetch: terminal.rs"),
    ("* new: not fetched or read yet", "inbox on a terminal: terminal.rs"),
    ("checking", "a resumed send's progress bar on a terminal: terminal.rs"),
    ("interrupted; run the same command again to resume", "Ctrl-C: terminal.rs, habits.rs"),
];

fn source_text() -> String {
    let mut text = String::new();
    let mut dirs = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("src").flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                text.push_str(&std::fs::read_to_string(&p).expect("source"));
            }
        }
    }
    text
}

/// docs/commands.md's "Output lines" against a real listener and client: each promised
/// line (a code span of three words or more that is not a command, JSON or a quoted
/// example) is a line the run printed, or one NOT_IN_THIS_RUN names; each JSON object
/// shown has the keys the real `--json` prints.
#[test]
fn the_output_lines_the_docs_promise_are_the_real_ones() {
    let page = read("docs/commands.md");
    let section = page.split("\n## Output lines\n").nth(1).and_then(|s| s.split("\n#").next()).expect("Output lines");

    let listener = Listener::start();
    for name in ["alice", "bob", "carol"] {
        listener.add_user(name);
    }
    let (alice, bob) = (User::new(&listener, "alice"), User::new(&listener, "bob"));
    std::fs::write(alice.path("a.txt"), "hello\n").expect("write");
    std::fs::write(alice.path("b.txt"), "world!\n").expect("write");
    // The ready line, as the listener printed it (support read and checked it).
    let mut printed = vec![format!("listening on {} fingerprint {}", listener.addr, listener.fingerprint)];
    let mut json: BTreeMap<&str, serde_json::Value> = BTreeMap::new();
    let mut run = |cmd: &mut Command, code: i32| -> String {
        let out = cmd.output().expect("run");
        let (o, e) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(code), "{cmd:?}\n{o}\n{e}");
        printed.extend(o.lines().chain(e.lines()).map(normal));
        o.into_owned()
    };
    // The first object printed (of a list: its first element).
    let first = |o: String| -> serde_json::Value {
        let v: serde_json::Value =
            serde_json::Deserializer::from_str(&o).into_iter().next().expect("json").expect("json");
        v.as_array().and_then(|a| a.first()).cloned().unwrap_or(v)
    };
    run(alice.cmd("send").args(["a.txt", "b.txt", "--to", "bob"]), 0);
    run(alice.cmd("send").args(["-m", "Lunch at noon?", "--to", "bob"]), 0);
    run(alice.cmd("send").args(["a.txt", "missing.txt", "--to", "bob", "--to", "carol"]), 6);
    json.insert("send", first(run(alice.cmd("send").args(["a.txt", "--to", "carol", "--json"]), 0)));
    run(&mut alice.cmd("inbox"), 0);
    run(&mut bob.cmd("inbox"), 0);
    json.insert("inbox", first(run(bob.cmd("inbox").arg("--json"), 0)));
    run(bob.cmd("read").arg("3"), 0);
    json.insert("read", first(run(bob.cmd("read").args(["3", "--json"]), 0)));
    run(bob.cmd("read").arg("3"), 0);
    run(bob.cmd("fetch").args(["--new", "-o", "dl"]), 0);
    json.insert("fetch", first(run(bob.cmd("fetch").args(["3", "-o", "dl", "--json"]), 0)));
    run(bob.cmd("inbox").arg("--new"), 0);
    run(bob.cmd("delete").arg("1"), 0);
    json.insert("delete", first(run(bob.cmd("delete").args(["2", "--json"]), 0)));
    run(listener.admin().args(["firewall", "ban", "192.0.2.0/24"]), 0);
    run(listener.admin().args(["firewall", "unban", "192.0.2.0/24"]), 0);

    let printed: Vec<Vec<char>> = printed.iter().map(|l| l.chars().collect()).collect();
    let source = source_text();
    let mut wrong = Vec::new();
    let mut promised = Vec::new();
    for bullet in section.split("\n- ") {
        let spans = spans(bullet);
        let command = spans.first().and_then(|s| s.strip_prefix("qxfer ")).and_then(|s| s.split(' ').next());
        for js in spans.iter().filter(|s| s.starts_with('{')) {
            let Some(real) = command.and_then(|c| json.get(c)) else {
                wrong.push(format!("{js}: no --json run of `qxfer {}` to compare with", command.unwrap_or("?")));
                continue;
            };
            for (key, inner) in std::iter::once((String::new(), doc_keys(js).into_keys().collect())).chain(doc_keys(js))
            {
                let value = if key.is_empty() { real } else { &real[key.as_str()] };
                if !inner.is_empty() && inner != real_keys(value) {
                    wrong.push(format!(
                        "`qxfer {}` --json{key}: the docs show {inner:?}, it prints {:?}",
                        command.unwrap_or("?"),
                        real_keys(value)
                    ));
                }
            }
        }
        let lines = spans.iter().filter(|s| {
            s.split_whitespace().count() >= 3 && !s.starts_with("qxfer ") && !s.starts_with(['-', '{', '"'])
        });
        promised.extend(lines.cloned());
    }
    for line in &promised {
        let literal = normal(line);
        let seen = printed.iter().any(|p| p.iter().collect::<String>() == literal)
            || variants(line).iter().any(|v| printed.iter().any(|p| matches(&pieces(v), p)));
        if seen {
            continue;
        }
        let start = fixed_start(line);
        match NOT_IN_THIS_RUN.iter().find(|(s, _)| start.starts_with(s)) {
            Some(_) if start.len() >= 3 && source.contains(&start) => {}
            Some(_) => wrong.push(format!("`{line}`: the source has no {start:?}")),
            None => wrong.push(format!("`{line}`: no line of the run is like it")),
        }
    }
    for (start, _) in NOT_IN_THIS_RUN {
        if !promised.iter().any(|l| fixed_start(l).starts_with(start)) {
            wrong.push(format!("NOT_IN_THIS_RUN names {start:?}, which the docs no longer promise"));
        }
    }
    let printed: Vec<String> = printed.iter().map(|p| p.iter().collect()).collect();
    assert!(wrong.is_empty(), "{}\n\nthe run printed:\n{}", wrong.join("\n"), printed.join("\n"));
    assert!(promised.len() >= 15, "{promised:#?}");
}
