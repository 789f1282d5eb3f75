//! A file's raw bytes on a stream: exactly `len` bytes, then a
//! [`FileEnd`](crate::wire::FileEnd) frame with the BLAKE3 hash of the whole file, then the
//! end of the stream. The receiver never reads past `len` into its buffers, so a peer that
//! sends more only earns an error.
//!
//! Disk work runs on a blocking thread beside the stream: the sender's thread reads and
//! hashes while the async side encrypts and sends (`send.rs`); the receiver's thread hashes
//! and writes while the async side receives (`receive.rs`). A bounded channel between them
//! keeps memory flat: on the sending side [`PIPELINE_DEPTH`] chunks of at most [`CHUNK`]
//! bytes per file; on the receiving side [`RECEIVE_QUEUE`] batches of the chunks quinn hands
//! out (one per packet), each batch about [`BATCH_BYTES`], so the channel and the disk
//! thread's wake-ups cost once per batch, not once per packet (`flow.rs`, with the minimum
//! rate). Errors: `error.rs`.

mod error;
mod flow;
mod receive;
mod send;

pub use error::BodyError;
pub use flow::{MinRate, BATCH_BYTES, CHUNK, PIPELINE_DEPTH, RECEIVE_QUEUE, TRAILER_WAIT, WRITEBACK_WINDOW};
pub use receive::{receive_file, Receive, Received};
pub use send::send_file;
