//! Logging in on the wire: the credentials a client proves itself with, and the challenges
//! a listener may ask for first (a signed ticket, a proof of work, a captcha picture) and
//! their solutions, with the checks they pass after decoding.

use serde::{Deserialize, Serialize};

pub use crate::challenge::{ChallengeKind, Ticket};

use super::caps::MAX_PASSWORD;
use super::error::DecodeError;
use super::validate::{cap_str, one_line};

/// A session token handed out after a password login.
pub type Token = [u8; 32];

/// A challenge handed back solved: the listener's ticket, the proof-of-work counter, and
/// the captcha's text as typed (for a captcha).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Solution {
    pub ticket: Ticket,
    pub counter: u64,
    pub answer: Option<String>,
}

/// A captcha picture: 1 bit per pixel, rows of `ceil(width / 8)` bytes, most significant
/// bit leftmost; bounded by `captcha::MAX_WIDTH` × `captcha::MAX_HEIGHT`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Picture {
    pub width: u16,
    pub height: u16,
    pub bits: Vec<u8>,
}

/// Longest captcha answer a listener reads.
pub const MAX_ANSWER: usize = 32;
/// Most proof-of-work bits a ticket may ask for (a listener never asks for more than its
/// cap; a client refuses anything above this).
pub const MAX_WORK_BITS: u8 = 40;

/// The listener's words for a password login refused by the per-account lockout against
/// places the account does not know: the same for a right password, a wrong one and a
/// name no account has (the code is `AuthFailed`, as for a wrong password).
pub const LOCKED_TEXT: &str = "this account takes no password from this network for now: too many failed logins \
     from networks it does not know; log in from a network you have used it from before, or try again later";

/// The listener's words when it is under load and asks a password login that carries no
/// work to attach the work it suggests (the code is `ChallengeRequired`: a client asks for a
/// `Challenge` and logs in again with the solution, which is served in its network's turn).
pub const LOADED_TEXT: &str = "the listener is busy checking passwords: attach the proof of work it suggests \
     (ask for a challenge) and log in again";

/// How a client proves who it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Credential {
    Password(String),
    Token(Token),
}

pub(super) fn validate_credential(credential: &Credential) -> Result<(), DecodeError> {
    if let Credential::Password(p) = credential {
        cap_str(p, MAX_PASSWORD, "password")?;
    }
    Ok(())
}

pub(super) fn validate_solution(solution: &Solution) -> Result<(), DecodeError> {
    validate_ticket(&solution.ticket)?;
    if let Some(a) = &solution.answer {
        one_line(a, MAX_ANSWER, "captcha answer")?;
    }
    Ok(())
}

pub(super) fn validate_ticket(t: &Ticket) -> Result<(), DecodeError> {
    if t.bits > MAX_WORK_BITS {
        return Err(DecodeError::Invalid("proof-of-work bits"));
    }
    if t.expires_ms < t.issued_ms {
        return Err(DecodeError::Invalid("ticket times"));
    }
    Ok(())
}

/// A captcha picture must be a bitmap the client can draw (within the captcha's bounds).
pub(super) fn validate_picture(p: &Picture) -> Result<(), DecodeError> {
    crate::challenge::captcha::Bitmap::from_wire(p.width, p.height, p.bits.clone())
        .map_err(|_| DecodeError::Invalid("captcha picture"))?;
    Ok(())
}
