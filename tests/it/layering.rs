//! The architecture, checked: the pure core (`qxfer-proto`) depends on no runtime, socket,
//! TLS or database crate, and the fuzz targets build against it alone.

use std::process::Command;

fn normal_dependencies(package: &str, manifest: &str) -> String {
    let tree = |offline: bool| {
        let mut c = Command::new(env!("CARGO"));
        c.arg("tree");
        if offline {
            c.arg("--offline");
        }
        c.args(["-e", "normal", "--prefix", "none", "-p", package, "--manifest-path", manifest]);
        c.output().expect("cargo tree")
    };
    // Offline first (the build just fetched everything); online if the cache lacks the index.
    let mut out = tree(true);
    if !out.status.success() {
        out = tree(false);
    }
    assert!(out.status.success(), "cargo tree: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_protocol_crate_stays_pure() {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let tree = normal_dependencies("qxfer-proto", manifest);
    let crates: Vec<&str> = tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(crates.contains(&"postcard") && crates.contains(&"serde"), "unexpected tree:\n{tree}");
    for banned in ["tokio", "quinn", "quinn-proto", "rustls", "redb", "ring", "socket2", "governor"] {
        assert!(!crates.contains(&banned), "qxfer-proto depends on {banned}:\n{tree}");
    }
}

#[test]
fn fuzz_targets_build_against_the_protocol_crate_only() {
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/Cargo.toml")).expect("fuzz manifest");
    assert!(manifest.contains("qxfer-proto = { path = \"../proto\" }"), "{manifest}");
    assert!(!manifest.lines().any(|l| l.trim_start().starts_with("qxfer =")), "{manifest}");
}

/// The lines of a source file before its first `#[cfg(test)]`: its non-test code.
fn non_test_lines(text: &str) -> usize {
    text.lines().take_while(|l| !l.contains("#[cfg(test)]")).count()
}

fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// One job per file keeps files small: past 420 lines of non-test code a file is split by
/// job in the same change (ARCHITECTURE.md, "Keeping the shape").
#[test]
fn every_source_file_stays_under_420_lines_of_non_test_code() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("proto/src"), &mut files);
    assert!(files.len() > 50, "only {} files found", files.len());
    let mut over: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = non_test_lines(&std::fs::read_to_string(f).expect("read"));
            (n > 420).then(|| format!("{} ({n})", f.strip_prefix(root).unwrap_or(f).display()))
        })
        .collect();
    over.sort();
    assert!(over.is_empty(), "files over 420 lines of non-test code (split them by job): {}", over.join(", "));
}
