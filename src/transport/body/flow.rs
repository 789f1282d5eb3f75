//! How a body flows: the chunk and batch sizes, the queue depths between a stream and its
//! disk thread, the wait for a trailer, and the minimum rate a peer must keep ([`MinRate`]),
//! checked against a deadline: the clock is read when a window ends (a read outlives the
//! deadline), not per packet.

use super::error::BodyError;

/// Disk read and write size.
pub const CHUNK: usize = 1 << 20;
/// Chunks of [`CHUNK`] bytes in flight from the disk thread to the stream, per file sent.
pub const PIPELINE_DEPTH: usize = 4;
/// Batches of received chunks queued from the stream to the disk thread, per file received.
pub const RECEIVE_QUEUE: usize = 4;
/// A batch is handed to the disk thread once it holds this many bytes (or the file ends):
/// at most this plus one packet.
pub const BATCH_BYTES: usize = 64 << 10;
/// With `sync`, writeback to disk starts every this many bytes.
pub const WRITEBACK_WINDOW: u64 = 8 << 20;

/// How long the end of a file (its trailer, then the end of the stream) may take to arrive
/// after its last byte when no minimum rate is given.
pub const TRAILER_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

/// Minimum progress of a transfer: at least `bytes_per_sec × window` bytes in every
/// `window` (a trickling peer is cut off, RFC 9000 §21.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinRate {
    pub bytes_per_sec: u64,
    pub window: std::time::Duration,
}

/// The minimum rate of one transfer, checked as its windows end.
pub(super) struct Pace {
    min: Option<MinRate>,
    /// When the current window ends.
    deadline: tokio::time::Instant,
    bytes: u64,
}

/// A deadline for a transfer with no minimum rate: effectively never.
const NO_DEADLINE: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 3600);

impl Pace {
    pub(super) fn new(min: Option<MinRate>) -> Self {
        let window = min.map_or(NO_DEADLINE, |m| m.window);
        Self { min, deadline: tokio::time::Instant::now() + window, bytes: 0 }
    }

    /// When the current window ends; a wait that outlives it calls [`Self::window_ended`].
    pub(super) fn deadline(&self) -> tokio::time::Instant {
        self.deadline
    }

    pub(super) fn add(&mut self, n: u64) {
        self.bytes = self.bytes.saturating_add(n);
    }

    /// Do not count `d` (a wait on this side) against the peer's rate.
    pub(super) fn excuse(&mut self, d: std::time::Duration) {
        self.deadline += d;
    }

    /// A window ended: enough bytes in it starts the next one, too few is an error.
    pub(super) fn window_ended(&mut self) -> Result<(), BodyError> {
        let Some(m) = self.min else {
            self.deadline = tokio::time::Instant::now() + NO_DEADLINE;
            return Ok(());
        };
        let need = m.bytes_per_sec.saturating_mul(m.window.as_secs().max(1));
        if self.bytes < need {
            return Err(BodyError::TooSlow { got: self.bytes, secs: m.window.as_secs() });
        }
        self.deadline = tokio::time::Instant::now() + m.window;
        self.bytes = 0;
        Ok(())
    }
}
