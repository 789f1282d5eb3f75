//! What every file transfer (upload or download) shares: how many streams run at once and
//! the slowest rate a stream may keep before the command gives up on it.

/// A download slower than this is a stalled listener: the command fails (and can resume).
pub const MIN_RATE: crate::transport::body::MinRate =
    crate::transport::body::MinRate { bytes_per_sec: 4096, window: std::time::Duration::from_secs(20) };

/// Upload or download streams in flight at once.
pub const PARALLEL_STREAMS: usize = 32;
