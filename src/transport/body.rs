//! A file's raw bytes on a stream: exactly `len` bytes, then a [`FileEnd`] frame with the
//! BLAKE3 hash of the whole file, then the end of the stream. The receiver never reads past
//! `len` into its buffers, so a peer that sends more only earns an error.

use bytes::Bytes;
use quinn::{RecvStream, SendStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::framed::{self, FrameError};
use crate::wire::{FileEnd, Hash};

/// Chunk size for file reads and writes.
pub const CHUNK: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
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
    Io(#[from] std::io::Error),
}

/// Receive exactly `len` bytes into `file`, feeding `hasher` (already primed with any resumed
/// prefix), then the trailer; returns the verified hash. `on_bytes` sees each chunk's size.
pub async fn receive(
    recv: &mut RecvStream,
    file: &mut tokio::fs::File,
    len: u64,
    hasher: &mut blake3::Hasher,
    on_bytes: &mut (dyn FnMut(u64) + Send),
) -> Result<Hash, BodyError> {
    let mut got = 0u64;
    let mut pending: Vec<u8> = Vec::with_capacity(CHUNK.min(len as usize));
    while got < len {
        let want = (len - got).min(CHUNK as u64) as usize;
        let Some(chunk) = recv.read_chunk(want, true).await? else {
            return Err(BodyError::Short { got, want: len });
        };
        let n = chunk.bytes.len() as u64;
        got += n;
        hasher.update(&chunk.bytes);
        pending.extend_from_slice(&chunk.bytes);
        if pending.len() >= CHUNK {
            file.write_all(&pending).await?;
            pending.clear();
        }
        on_bytes(n);
    }
    if !pending.is_empty() {
        file.write_all(&pending).await?;
    }
    file.flush().await?;
    let end: FileEnd = framed::read_frame(recv)
        .await
        .map_err(|e| match e {
            FrameError::Decode(_) => BodyError::TooLong,
            other => BodyError::Frame(other),
        })?
        .ok_or(BodyError::Short { got, want: len })?;
    // Nothing may follow the trailer.
    if recv.read_chunk(1, true).await?.is_some() {
        return Err(BodyError::TooLong);
    }
    let hash = *hasher.finalize().as_bytes();
    if hash != end.hash {
        return Err(BodyError::HashMismatch);
    }
    Ok(hash)
}

/// Send exactly `len` bytes from `file` (positioned at the resume offset), feeding `hasher`
/// (primed with the prefix), then the trailer. Returns the hash sent.
pub async fn send(
    send: &mut SendStream,
    file: &mut tokio::fs::File,
    len: u64,
    hasher: &mut blake3::Hasher,
    on_bytes: &mut (dyn FnMut(u64) + Send),
) -> Result<Hash, BodyError> {
    let mut sent = 0u64;
    while sent < len {
        let want = (len - sent).min(CHUNK as u64) as usize;
        let mut buf = vec![0u8; want];
        let n = file.read(&mut buf).await?;
        if n == 0 {
            return Err(BodyError::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "file shrank while it was being sent",
            )));
        }
        buf.truncate(n);
        hasher.update(&buf);
        send.write_chunk(Bytes::from(buf)).await?;
        sent += n as u64;
        on_bytes(n as u64);
    }
    let hash = *hasher.finalize().as_bytes();
    framed::write_frame(send, &FileEnd { hash }).await?;
    Ok(hash)
}

/// Hash the first `len` bytes of a file (the part already transferred before a resume).
pub async fn hash_prefix(path: &std::path::Path, len: u64) -> std::io::Result<blake3::Hasher> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut hasher = blake3::Hasher::new();
        let f = std::fs::File::open(&path)?;
        let mut limited = f.take(len);
        let copied = std::io::copy(&mut limited, &mut hasher)?;
        if copied != len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "file is shorter than its resumed part",
            ));
        }
        Ok(hasher)
    })
    .await
    .map_err(std::io::Error::other)?
}
