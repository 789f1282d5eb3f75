//! Fuzz target: see `qxfer::props::envelope_rules`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| qxfer::props::envelope_rules(data));
