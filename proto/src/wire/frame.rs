//! Framing: a 4-byte big-endian length prefix, then a postcard body of exactly that many
//! bytes. The prefix is checked against the cap before any body byte is read or allocated.

use serde::{de::DeserializeOwned, Serialize};

use super::DecodeError;

/// Size of the length prefix.
pub const LEN_PREFIX: usize = 4;

/// A checked body length: never larger than the cap it was checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLen(usize);

impl FrameLen {
    pub fn get(self) -> usize {
        self.0
    }
}

/// Read and check a length prefix. Zero-length bodies are refused: no message encodes empty.
pub fn frame_len(prefix: [u8; LEN_PREFIX], max: usize) -> Result<FrameLen, DecodeError> {
    let len = u32::from_be_bytes(prefix) as usize;
    if len > max {
        return Err(DecodeError::TooLarge { len, max });
    }
    if len == 0 {
        return Err(DecodeError::Malformed);
    }
    Ok(FrameLen(len))
}

/// Decode one body; every byte must belong to the message, and the body must be the one
/// canonical encoding of its value (postcard alone accepts overlong varints, which would
/// let two different byte strings mean the same message).
pub fn decode_body<T: DeserializeOwned + Serialize>(body: &[u8]) -> Result<T, DecodeError> {
    let (value, rest) = postcard::take_from_bytes::<T>(body).map_err(|_| DecodeError::Malformed)?;
    if !rest.is_empty() {
        return Err(DecodeError::TrailingBytes(rest.len()));
    }
    let canonical = postcard::to_stdvec(&value).map_err(|_| DecodeError::Malformed)?;
    if canonical != body {
        return Err(DecodeError::NonCanonical);
    }
    Ok(value)
}

/// Decode one whole frame (prefix and body) that must fill `buf` exactly.
pub fn decode_frame<T: DeserializeOwned + Serialize>(buf: &[u8], max: usize) -> Result<T, DecodeError> {
    let (prefix, body) = buf.split_first_chunk::<LEN_PREFIX>().ok_or(DecodeError::Truncated)?;
    let len = frame_len(*prefix, max)?.get();
    match body.len().cmp(&len) {
        std::cmp::Ordering::Less => Err(DecodeError::Truncated),
        std::cmp::Ordering::Greater => Err(DecodeError::TrailingBytes(body.len() - len)),
        std::cmp::Ordering::Equal => decode_body(body),
    }
}

/// Encode a value as prefix + body. Fails only if the encoding exceeds `max`, which is a bug
/// in the caller (it must respect the same caps the decoder enforces).
pub fn encode_frame<T: Serialize>(value: &T, max: usize) -> Result<Vec<u8>, DecodeError> {
    let mut out = vec![0u8; LEN_PREFIX];
    out = postcard::to_extend(value, out).map_err(|_| DecodeError::Malformed)?;
    let len = out.len() - LEN_PREFIX;
    if len > max {
        return Err(DecodeError::TooLarge { len, max });
    }
    let prefix = u32::try_from(len).map_err(|_| DecodeError::TooLarge { len, max })?;
    out[..LEN_PREFIX].copy_from_slice(&prefix.to_be_bytes());
    Ok(out)
}
