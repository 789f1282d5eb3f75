//! Fuzz target: see `qxfer::props::session_ops`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| qxfer::props::session_ops(data));
