//! Fuzz target: see `qxfer_proto::props::session_ops`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| qxfer_proto::props::session_ops(data));
