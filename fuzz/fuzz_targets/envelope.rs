//! Fuzz target: see `qxfer_proto::props::envelope_rules`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| qxfer_proto::props::envelope_rules(data));
