//! Fuzz target: see `qxfer::props::frame_roundtrip`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| qxfer::props::frame_roundtrip(data));
