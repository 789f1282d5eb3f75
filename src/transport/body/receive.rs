//! Receiving a file body: exactly `len` bytes from the stream, batched into a bounded
//! channel to a blocking thread that hashes and writes the partial file, then the trailer's
//! hash checked against the bytes written and the end of the stream; a verified file renamed
//! into place by the disk thread. Whatever arrived is kept for a resume.

use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use quinn::RecvStream;
use tokio::sync::mpsc;

use super::error::{joined, BodyError};
use super::flow::{MinRate, Pace, BATCH_BYTES, CHUNK, RECEIVE_QUEUE, TRAILER_WAIT, WRITEBACK_WINDOW};
use crate::files::SNIFF;
use crate::transport::framed::{self, FrameError};
use crate::wire::{FileEnd, Hash, MAX_HEAD_FRAME};

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
