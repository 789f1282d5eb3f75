//! Frames on the local admin socket (`DATA/control.sock`): the network protocol's framing
//! and strictness (cap checked before the body is read, canonical bytes only).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::wire::{self, DecodeError, LEN_PREFIX, MAX_FRAME};

#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("admin socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("admin socket: {0}")]
    Decode(#[from] DecodeError),
}

/// Read one frame.
pub async fn read<T: wire::Validate + serde::de::DeserializeOwned + serde::Serialize>(
    stream: &mut UnixStream,
) -> Result<T, SocketError> {
    let mut prefix = [0u8; LEN_PREFIX];
    stream.read_exact(&mut prefix).await?;
    let len = wire::frame_len(prefix, MAX_FRAME)?;
    let mut body = vec![0u8; len.get()];
    stream.read_exact(&mut body).await?;
    Ok(wire::decode_checked(&body)?)
}

/// Write one frame.
pub async fn write<T: serde::Serialize>(stream: &mut UnixStream, value: &T) -> Result<(), SocketError> {
    stream.write_all(&wire::encode_frame(value, MAX_FRAME)?).await?;
    Ok(())
}
