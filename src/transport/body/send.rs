//! Sending a file body: a blocking thread reads and hashes the file (the part the receiver
//! already holds hashed, not sent) into a bounded channel while the stream sends it, then
//! the trailer with the hash of the whole file.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use quinn::SendStream;
use tokio::sync::mpsc;

use super::error::{joined, BodyError};
use super::flow::{MinRate, Pace, CHUNK, PIPELINE_DEPTH, TRAILER_WAIT};
use crate::transport::framed;
use crate::wire::{FileEnd, Hash};

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
