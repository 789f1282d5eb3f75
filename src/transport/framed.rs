//! Frames on QUIC streams: read a prefix, check it against the cap, only then read the body
//! into a buffer of exactly that size, decode and validate.

use quinn::{RecvStream, SendStream};
use serde::{de::DeserializeOwned, Serialize};

use crate::wire::{self, DecodeError, Validate, LEN_PREFIX, MAX_FRAME};

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("{0}")]
    Decode(#[from] DecodeError),
    /// The body was read but is not a valid message; `first` is its first byte (postcard's
    /// variant index), for the record of what arrived.
    #[error("{error} (body starts with 0x{first:02x})")]
    Body { error: DecodeError, first: u8 },
    #[error("stream ended in the middle of a frame")]
    Truncated,
    #[error("reading: {0}")]
    Read(#[from] quinn::ReadError),
    #[error("writing: {0}")]
    Write(#[from] quinn::WriteError),
    #[error("stream closed: {0}")]
    Closed(#[from] quinn::ClosedStream),
}

impl From<quinn::ReadExactError> for FrameError {
    fn from(e: quinn::ReadExactError) -> Self {
        match e {
            quinn::ReadExactError::FinishedEarly(_) => FrameError::Truncated,
            quinn::ReadExactError::ReadError(e) => FrameError::Read(e),
        }
    }
}

/// Read one frame; `Ok(None)` if the stream ended cleanly before a new frame began.
pub async fn read_frame<T>(recv: &mut RecvStream) -> Result<Option<T>, FrameError>
where
    T: Validate + DeserializeOwned + Serialize,
{
    read_frame_max(recv, MAX_FRAME).await
}

/// Read one frame whose body may be at most `max` bytes (checked before it is read).
pub async fn read_frame_max<T>(recv: &mut RecvStream, max: usize) -> Result<Option<T>, FrameError>
where
    T: Validate + DeserializeOwned + Serialize,
{
    let mut prefix = [0u8; LEN_PREFIX];
    match recv.read_exact(&mut prefix).await {
        Ok(()) => {}
        Err(quinn::ReadExactError::FinishedEarly(0)) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = wire::frame_len(prefix, max.min(MAX_FRAME))?;
    let mut body = vec![0u8; len.get()];
    recv.read_exact(&mut body).await?;
    match wire::decode_checked(&body) {
        Ok(v) => Ok(Some(v)),
        Err(error) => Err(FrameError::Body { error, first: body.first().copied().unwrap_or(0) }),
    }
}

/// Read one frame that must be there.
pub async fn expect_frame<T>(recv: &mut RecvStream) -> Result<T, FrameError>
where
    T: Validate + DeserializeOwned + Serialize,
{
    read_frame(recv).await?.ok_or(FrameError::Truncated)
}

pub async fn write_frame<T: Serialize>(send: &mut SendStream, value: &T) -> Result<(), FrameError> {
    let bytes = wire::encode_frame(value, MAX_FRAME)?;
    send.write_all(&bytes).await?;
    Ok(())
}
