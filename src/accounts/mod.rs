//! Account secrets: argon2id password hashes (OWASP parameters: 19 MiB, 2 passes, 1 lane)
//! and session tokens. Passwords exist in memory only long enough to be hashed or checked;
//! only PHC hash strings are stored, and tokens are stored as their BLAKE3 hash.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::wire::Token;

pub mod phone;

/// How long a session token stays valid.
pub const TOKEN_LIFETIME_SECS: u64 = 30 * 24 * 3600;
/// How long an automation token (`qxfer account tokens new --automation`) stays valid: a
/// year, so a script's token does not lapse every month (revoke it when the script goes).
pub const AUTOMATION_TOKEN_LIFETIME_SECS: u64 = 365 * 24 * 3600;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("password must be 8 to 1024 bytes long")]
    WeakPassword,
    #[error("password hashing failed: {0}")]
    Hash(String),
}

fn argon2() -> Argon2<'static> {
    // OWASP password storage cheat sheet: m=19 MiB, t=2, p=1.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hash a new password into a PHC string.
pub fn hash_password(password: &str) -> Result<String, AccountError> {
    if password.len() < crate::wire::MIN_PASSWORD || password.len() > crate::wire::MAX_PASSWORD {
        return Err(AccountError::WeakPassword);
    }
    hash_secret(password)
}

/// Hash a secret (a password once its length is checked, or a normalised secret answer):
/// argon2id with a random salt, as a PHC string.
pub fn hash_secret(answer: &str) -> Result<String, AccountError> {
    let mut salt_bytes = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt_bytes)
        .map_err(|_| AccountError::Hash("no system randomness".into()))?;
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| AccountError::Hash(e.to_string()))?;
    argon2()
        .hash_password(answer.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Hash(e.to_string()))
}

/// Check a password against a stored PHC string. `None` (unknown user) still spends the same
/// work against a fixed hash, so timing does not tell which accounts exist.
pub fn verify_password(stored: Option<&str>, password: &str) -> bool {
    let dummy;
    let phc = match stored {
        Some(s) => s,
        None => {
            dummy = dummy_hash();
            dummy.as_str()
        }
    };
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let ok = argon2().verify_password(password.as_bytes(), &parsed).is_ok();
    ok && stored.is_some()
}

fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("qxfer-dummy-password").unwrap_or_default()).clone()
}

/// A fresh random session token.
pub fn new_token() -> Result<Token, AccountError> {
    let mut token = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut token)
        .map_err(|_| AccountError::Hash("no system randomness".into()))?;
    Ok(token)
}

/// What the server stores for a token: its hash, so a stolen database yields no tokens.
pub fn token_key(token: &Token) -> [u8; 32] {
    *blake3::hash(token).as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash_password("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password(Some(&h), "correct horse"));
        assert!(!verify_password(Some(&h), "wrong horse"));
        assert!(!verify_password(None, "qxfer-dummy-password"));
        assert!(hash_password("short").is_err());
    }
}
