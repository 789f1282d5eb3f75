//! Fuzz target: see `qxfer::props::name_rules`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| qxfer::props::name_rules(data));
