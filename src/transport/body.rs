//! A file's raw bytes on a stream: exactly `len` bytes, then a [`FileEnd`] frame with the
//! BLAKE3 hash of the whole file, then the end of the stream. The receiver never reads past
//! `len` into its buffers, so a peer that sends more only earns an error.
//!
//! Disk work runs on a blocking thread beside the stream: the sender's thread reads and
//! hashes while the async side encrypts and sends; the receiver's thread hashes and writes
//! while the async side receives. A bounded channel between them keeps memory flat: on the
//! sending side [`PIPELINE_DEPTH`] chunks of at most [`CHUNK`] bytes per file; on the
//! receiving side [`RECEIVE_QUEUE`] batches of the chunks quinn hands out (one per packet),
//! each batch about [`BATCH_BYTES`], so the channel and the disk thread's wake-ups cost once
//! per batch, not once per packet.
//!
//! The minimum rate is checked against a deadline: the clock is read when a window ends
//! (a read outlives the deadline), not per packet.

use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use quinn::{RecvStream, SendStream};
use tokio::sync::mpsc;

use super::framed::{self, FrameError};
use crate::files::SNIFF;
use crate::wire::{FileEnd, Hash, MAX_HEAD_FRAME};

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

struct Pace {
    min: Option<MinRate>,
    /// When the current window ends.
    deadline: tokio::time::Instant,
    bytes: u64,
}

/// A deadline for a transfer with no minimum rate: effectively never.
const NO_DEADLINE: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 3600);

impl Pace {
    fn new(min: Option<MinRate>) -> Self {
        let window = min.map_or(NO_DEADLINE, |m| m.window);
        Self { min, deadline: tokio::time::Instant::now() + window, bytes: 0 }
    }

    /// When the current window ends; a wait that outlives it calls [`Self::window_ended`].
    fn deadline(&self) -> tokio::time::Instant {
        self.deadline
    }

    fn add(&mut self, n: u64) {
        self.bytes = self.bytes.saturating_add(n);
    }

    /// Do not count `d` (a wait on this side) against the peer's rate.
    fn excuse(&mut self, d: std::time::Duration) {
        self.deadline += d;
    }

    /// A window ended: enough bytes in it starts the next one, too few is an error.
    fn window_ended(&mut self) -> Result<(), BodyError> {
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

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("transfer too slow: {got} bytes in {secs} s")]
    TooSlow { got: u64, secs: u64 },
    #[error("stream ended after {got} of {want} bytes")]
    Short { got: u64, want: u64 },
    #[error("stream carried more bytes than declared")]
    TooLong,
    #[error("hash mismatch: the data differs from what the sender hashed")]
    HashMismatch,
    #[error("{0}")]
    Frame(#[from] FrameError),
    #[error("reading stream: {0}")]
    Read(#[from] quinn::ReadError),
    #[error("writing stream: {0}")]
    Write(#[from] quinn::WriteError),
    #[error("file I/O: {0}")]
    Io(#[from] io::Error),
    #[error("cannot store the file: {0}")]
    Store(io::Error),
}

fn joined<T>(r: Result<io::Result<T>, tokio::task::JoinError>) -> io::Result<T> {
    r.map_err(io::Error::other)?
}

/// What a receiver stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub hash: Hash,
    /// The first bytes of the file, for media-type detection.
    pub head: Vec<u8>,
}

/// One file to receive.
pub struct Receive<'a, H> {
    /// The partial file written to.
    pub part: &'a Path,
    /// Where the verified file is renamed to (never replacing anything), if anywhere.
    pub dest: Option<PathBuf>,
    /// Bytes `part` already holds from an earlier attempt.
    pub offset: u64,
    /// Bytes to receive after `offset`.
    pub len: u64,
    /// Sync the file's data before returning.
    pub sync: bool,
    /// Kept until the disk thread is done with `part` (a lock guard, or `()`).
    pub hold: H,
    pub min_rate: Option<MinRate>,
    /// `part` already opened for reading and writing (by a caller that opens it without
    /// following links); otherwise it is opened by path.
    pub file: Option<File>,
}

/// Receive exactly `len` bytes into `part` (which holds `offset` bytes from an earlier
/// attempt), then the trailer; returns the verified hash of the whole file. With `sync`, the
/// file's data is on disk before this returns. With `dest`, the verified file is renamed
/// there (never replacing anything) by the disk thread, so a small file costs one trip to the
/// blocking pool. On any error, whatever arrived is flushed to `part`, so a later attempt can
/// resume from it.
///
/// `job.hold` lives on the disk thread until it is done with `part`, even if this future is
/// dropped half way: pass a lock guard there to keep other writers off `part` until then.
pub async fn receive_file<H: Send + 'static>(
    recv: &mut RecvStream,
    job: Receive<'_, H>,
    on_bytes: &mut (dyn FnMut(u64) + Send),
) -> Result<Received, BodyError> {
    let Receive { part, dest, offset, len, sync, hold, min_rate, file } = job;
    let (tx, rx) = mpsc::channel::<Vec<Bytes>>(RECEIVE_QUEUE);
    let (written_tx, written_rx) = tokio::sync::oneshot::channel::<io::Result<(blake3::Hasher, Vec<u8>)>>();
    let (verdict_tx, verdict_rx) = tokio::sync::oneshot::channel::<bool>();
    let writer = tokio::task::spawn_blocking({
        let part = part.to_owned();
        move || -> io::Result<()> {
            let written = write_part(&part, file, offset, len, rx, sync);
            let ok = written.is_ok();
            let _ = written_tx.send(written);
            // Rename only once the async side has checked the sender's hash.
            let result = match (ok, verdict_rx.blocking_recv(), dest) {
                (true, Ok(true), Some(dest)) => crate::files::rename_no_replace(&part, &dest),
                _ => Ok(()),
            };
            drop(hold);
            result
        }
    });
    let received = receive_body(recv, tx, len, min_rate, on_bytes).await;
    let written = match written_rx.await {
        Ok(w) => w,
        Err(_) => Err(io::Error::other("disk thread ended early")),
    };
    let verified = match (received, written) {
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => Err(BodyError::Io(e)),
        (Ok(end), Ok((hasher, head))) => {
            let hash = *hasher.finalize().as_bytes();
            if hash == end.hash {
                Ok(Received { hash, head })
            } else {
                Err(BodyError::HashMismatch)
            }
        }
    };
    let _ = verdict_tx.send(verified.is_ok());
    let stored = joined(writer.await);
    let received = verified?;
    stored.map_err(BodyError::Store)?;
    Ok(received)
}

/// The network side of a receive: exactly `len` bytes into the disk thread's channel, in
/// batches, then the trailer and the end of the stream. Whatever arrived is handed over even
/// when the receive fails, so a resume can start after it.
async fn receive_body(
    recv: &mut RecvStream,
    tx: mpsc::Sender<Vec<Bytes>>,
    len: u64,
    min_rate: Option<MinRate>,
    on_bytes: &mut (dyn FnMut(u64) + Send),
) -> Result<FileEnd, BodyError> {
    let mut got = 0u64;
    let mut pace = Pace::new(min_rate);
    let mut batch: Vec<Bytes> = Vec::new();
    let mut batched = 0usize;
    let ended = || BodyError::Io(io::Error::other("disk thread ended early"));
    let result = async {
        while got < len {
            let want = (len - got).min(CHUNK as u64) as usize;
            let read = match tokio::time::timeout_at(pace.deadline(), recv.read_chunk(want, true)).await {
                Ok(r) => r,
                Err(_) => {
                    pace.window_ended()?;
                    continue;
                }
            };
            let Some(chunk) = read? else {
                return Err(BodyError::Short { got, want: len });
            };
            let n = chunk.bytes.len() as u64;
            got += n;
            pace.add(n);
            batched += chunk.bytes.len();
            batch.push(chunk.bytes);
            on_bytes(n);
            if batched < BATCH_BYTES && got < len {
                continue;
            }
            batched = 0;
            // Time spent waiting for our own disk is not the peer's slowness (measured only
            // when the disk thread's queue is full).
            match tx.try_send(std::mem::take(&mut batch)) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(full)) => {
                    let waited = tokio::time::Instant::now();
                    tx.send(full).await.map_err(|_| ended())?;
                    pace.excuse(waited.elapsed());
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return Err(ended()),
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        if !batch.is_empty() {
            let _ = tx.send(batch).await;
        }
        return Err(e);
    }
    drop(tx);
    // The trailer and the end of the stream have a deadline of their own: a zero-byte file
    // has no body for the minimum rate to watch.
    let wait = min_rate.map_or(TRAILER_WAIT, |m| m.window);
    let stalled = |_| BodyError::TooSlow { got, secs: wait.as_secs() };
    let end: FileEnd = tokio::time::timeout(wait, framed::read_frame_max(recv, MAX_HEAD_FRAME))
        .await
        .map_err(stalled)?
        .map_err(|e| match e {
            FrameError::Decode(_) | FrameError::Body { .. } => BodyError::TooLong,
            other => BodyError::Frame(other),
        })?
        .ok_or(BodyError::Short { got, want: len })?;
    // Nothing may follow the trailer.
    if tokio::time::timeout(wait, recv.read_chunk(1, true)).await.map_err(stalled)??.is_some() {
        return Err(BodyError::TooLong);
    }
    Ok(end)
}

/// The disk side of a receive: hash and write what arrives, in large writes.
fn write_part(
    part: &Path,
    opened: Option<File>,
    offset: u64,
    len: u64,
    mut rx: mpsc::Receiver<Vec<Bytes>>,
    sync: bool,
) -> io::Result<(blake3::Hasher, Vec<u8>)> {
    if opened.is_none() {
        if let Some(dir) = part.parent() {
            std::fs::create_dir_all(dir)?;
        }
    }
    let mut hasher = blake3::Hasher::new();
    let mut head = Vec::new();
    let mut opened = opened;
    if offset > 0 {
        let mut f = match opened.as_ref() {
            Some(f) => f.try_clone()?,
            None => File::open(part)?,
        };
        f.seek(io::SeekFrom::Start(0))?;
        let copied = io::copy(&mut (&mut f).take(offset), &mut hasher)?;
        if copied != offset {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "partial file is shorter than its resume offset"));
        }
        f.seek(io::SeekFrom::Start(0))?;
        (&mut f).take(SNIFF as u64).read_to_end(&mut head)?;
    }
    let mut f = match opened.take() {
        Some(f) => f,
        None => {
            let _gate = crate::files::namespace_gate();
            std::fs::OpenOptions::new().create(true).write(true).truncate(offset == 0).open(part)?
        }
    };
    f.set_len(offset)?;
    f.seek(io::SeekFrom::Start(offset))?;
    // Sized to the file: a small file does not hold a whole CHUNK while it arrives.
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK.min(usize::try_from(len).unwrap_or(CHUNK)));
    let mut written = offset;
    let mut flushed = offset;
    // The window written before the last one started to disk: dropped from the cache next.
    let mut previous: Option<std::ops::Range<u64>> = None;
    let mut flush = |buf: &mut Vec<u8>, head: &mut Vec<u8>| -> io::Result<()> {
        if head.len() < SNIFF {
            let take = (SNIFF - head.len()).min(buf.len());
            head.extend_from_slice(buf.get(..take).unwrap_or_default());
        }
        hasher.update(buf);
        f.write_all(buf)?;
        written += buf.len() as u64;
        buf.clear();
        if sync && written - flushed >= WRITEBACK_WINDOW {
            crate::files::stream_to_disk(&f, flushed, written - flushed, previous.take());
            previous = Some(flushed..written);
            flushed = written;
        }
        Ok(())
    };
    while let Some(batch) = rx.blocking_recv() {
        for chunk in batch {
            buf.extend_from_slice(&chunk);
            if buf.len() >= CHUNK {
                flush(&mut buf, &mut head)?;
            }
        }
    }
    if !buf.is_empty() {
        flush(&mut buf, &mut head)?;
    }
    if sync {
        f.sync_data()?;
    }
    Ok((hasher, head))
}

/// Send `len` bytes of the file at `path` from `offset` (the part the receiver holds is
/// hashed but not sent), then the trailer. Returns the hash of the whole file.
pub async fn send_file(
    send: &mut SendStream,
    path: &Path,
    offset: u64,
    len: u64,
    min_rate: Option<MinRate>,
    on_bytes: &mut (dyn FnMut(u64) + Send),
) -> Result<Hash, BodyError> {
    let (tx, mut rx) = mpsc::channel::<Bytes>(PIPELINE_DEPTH);
    let reader = tokio::task::spawn_blocking({
        let path: PathBuf = path.to_owned();
        move || read_file(&path, offset, len, tx)
    });
    let mut sent = 0u64;
    let mut pace = Pace::new(min_rate);
    loop {
        // Time spent waiting for our own disk is not the peer's slowness.
        let waited = tokio::time::Instant::now();
        let Some(chunk) = rx.recv().await else { break };
        pace.excuse(waited.elapsed());
        let n = chunk.len() as u64;
        let mut write = std::pin::pin!(send.write_chunk(chunk));
        loop {
            match tokio::time::timeout_at(pace.deadline(), &mut write).await {
                Ok(r) => {
                    r?;
                    break;
                }
                Err(_) => pace.window_ended()?,
            }
        }
        sent += n;
        pace.add(n);
        on_bytes(n);
    }
    let hash = joined(reader.await)?;
    if sent != len {
        return Err(BodyError::Io(io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank while it was being sent")));
    }
    // The trailer too has a deadline: a peer that stops granting credit cannot hold us.
    let wait = min_rate.map_or(TRAILER_WAIT, |m| m.window);
    tokio::time::timeout(wait, framed::write_frame(send, &FileEnd { hash }))
        .await
        .map_err(|_| BodyError::TooSlow { got: len, secs: wait.as_secs() })??;
    Ok(hash)
}

fn read_file(path: &Path, offset: u64, len: u64, tx: mpsc::Sender<Bytes>) -> io::Result<Hash> {
    let mut f = File::open(path)?;
    let mut hasher = blake3::Hasher::new();
    if offset > 0 {
        let copied = io::copy(&mut (&mut f).take(offset), &mut hasher)?;
        if copied != offset {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file is shorter than the part already sent"));
        }
    }
    let mut left = len;
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        // Read into spare capacity: no zeroing of a buffer the read overwrites anyway.
        let mut buf = Vec::with_capacity(n);
        (&mut f).take(n as u64).read_to_end(&mut buf)?;
        if buf.len() != n {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank while it was being sent"));
        }
        hasher.update(&buf);
        if tx.blocking_send(Bytes::from(buf)).is_err() {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "stream closed"));
        }
        left -= n as u64;
    }
    Ok(*hasher.finalize().as_bytes())
}
