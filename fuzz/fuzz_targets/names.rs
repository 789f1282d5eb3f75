//! Fuzz target: see `qxfer_proto::props::name_rules`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| qxfer_proto::props::name_rules(data));
