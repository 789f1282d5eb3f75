//! The checks every decoded value passes: the [`Validate`] trait, [`decode_checked`] (the
//! only way peer bytes become a message), and the field checks the message families share
//! (length caps, one-line and multi-line text without control, invisible or
//! direction-changing characters).

use serde::Serialize;

use super::caps::{MAX_BODY, MAX_ERROR_TEXT, MAX_SUBJECT};
use super::error::DecodeError;
use super::frame::decode_body;
use super::names::is_deceptive;

/// Values that check their own caps after decoding.
pub trait Validate {
    fn validate(&self) -> Result<(), DecodeError>;
}

/// Decode a frame body and validate it: the only way peer bytes become a message.
pub fn decode_checked<T>(body: &[u8]) -> Result<T, DecodeError>
where
    T: Validate + serde::de::DeserializeOwned + Serialize,
{
    let value: T = decode_body(body)?;
    value.validate()?;
    Ok(value)
}

pub(super) fn cap_str(s: &str, max: usize, field: &'static str) -> Result<(), DecodeError> {
    if s.len() > max {
        return Err(DecodeError::FieldTooLong { field, max });
    }
    Ok(())
}

pub(super) fn cap_len<T>(v: &[T], max: usize, field: &'static str) -> Result<(), DecodeError> {
    if v.len() > max {
        return Err(DecodeError::FieldTooLong { field, max });
    }
    Ok(())
}

pub(super) fn text(s: &str, max: usize, field: &'static str) -> Result<(), DecodeError> {
    cap_str(s, max, field)?;
    // Newlines and tabs are text; other control characters could drive a terminal, and
    // invisible or direction-changing ones could disguise what the text says.
    if s.chars().any(|c| (c.is_control() && c != '\n' && c != '\t' && c != '\r') || is_deceptive(c)) {
        return Err(DecodeError::Invalid(field));
    }
    Ok(())
}

pub(super) fn one_line(s: &str, max: usize, field: &'static str) -> Result<(), DecodeError> {
    cap_str(s, max, field)?;
    if s.chars().any(|c| c.is_control() || is_deceptive(c)) {
        return Err(DecodeError::Invalid(field));
    }
    Ok(())
}

/// Check a subject as the listener will: one line, at most `MAX_SUBJECT` bytes, no control,
/// invisible or direction-changing characters. The client checks before it connects.
pub fn check_subject(s: &str) -> Result<(), DecodeError> {
    one_line(s, MAX_SUBJECT, "subject")
}

/// Check a message body as the listener will: at most `MAX_BODY` bytes; newlines and tabs
/// are fine, other control, invisible or direction-changing characters are not.
pub fn check_body(s: &str) -> Result<(), DecodeError> {
    text(s, MAX_BODY, "body")
}

/// Truncate a string to at most `max` bytes on a char boundary, dropping control characters,
/// so a server-built error text always passes the peer's validation.
pub fn clean_error_text(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().filter(|&c| !c.is_control() && !is_deceptive(c)) {
        if out.len() + c.len_utf8() > MAX_ERROR_TEXT {
            break;
        }
        out.push(c);
    }
    out
}
