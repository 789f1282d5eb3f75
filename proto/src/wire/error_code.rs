//! The error classes a reply carries (on the control stream and on file streams); the
//! client maps them to exit codes. Variant order is the wire contract.

use serde::{Deserialize, Serialize};

/// Error classes; the client maps them to exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    /// Malformed or out-of-order request.
    BadRequest,
    /// Wrong user, password or token (indistinguishable on purpose).
    AuthFailed,
    /// No such recipient or delivery, or not yours (indistinguishable on purpose).
    NotFound,
    /// A size, count or rate limit.
    Limit,
    /// The data did not match its declared size or hash.
    Integrity,
    /// The server failed; the request may be retried.
    Internal,
    /// This login needs a solved challenge first (ask for one with `Challenge`).
    ChallengeRequired,
    /// The challenge was not solved: wrong or missing work or answer, expired, used, forged.
    ChallengeFailed,
}
