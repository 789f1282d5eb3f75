//! Fuzz target: see `qxfer_proto::props::frame_roundtrip`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| qxfer_proto::props::frame_roundtrip(data));
