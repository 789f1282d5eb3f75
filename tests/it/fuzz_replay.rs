//! Replays the fuzzers' committed seeds and every crash they ever found (fuzz/seeds/<target>,
//! fuzz/regressions/<target>) through the same property checks, so `cargo test` keeps them
//! fixed without the fuzzer.

use std::path::PathBuf;

fn replay(target: &str, check: fn(&[u8])) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut count = 0;
    for dir in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else { continue };
        for e in entries.flatten() {
            let data = std::fs::read(e.path()).expect("read input");
            check(&data);
            count += 1;
        }
    }
    assert!(count > 0, "no inputs for {target}");
}

#[test]
fn frame_decode_inputs() {
    replay("frame_decode", qxfer::props::frame_roundtrip);
}

#[test]
fn names_inputs() {
    replay("names", qxfer::props::name_rules);
}

#[test]
fn session_inputs() {
    replay("session", qxfer::props::session_ops);
}

#[test]
fn envelope_inputs() {
    replay("envelope", qxfer::props::envelope_rules);
}
