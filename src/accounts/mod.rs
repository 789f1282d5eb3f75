//! Account secrets: argon2id password hashes (OWASP parameters: 19 MiB, 2 passes, 1 lane)
//! and session tokens. Passwords exist in memory only long enough to be hashed or checked;
//! only PHC hash strings are stored, and tokens are stored as their BLAKE3 hash.

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::wire::Token;

pub mod memory;
pub mod phone;

/// How long a session token stays valid.
pub const TOKEN_LIFETIME_SECS: u64 = 30 * 24 * 3600;
/// How long an automation token (`qxfer account tokens new --automation`) stays valid: a
/// year, so a script's token does not lapse every month (revoke it when the script goes).
pub const AUTOMATION_TOKEN_LIFETIME_SECS: u64 = 365 * 24 * 3600;

/// The argon2id cost (OWASP password storage cheat sheet): 19 MiB ([`memory::M_COST_KIB`]),
/// two passes, one lane.
const T_COST: u32 = 2;
const P_COST: u32 = 1;
/// Bytes of a hash's output.
const OUTPUT_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("password must be 8 to 1024 bytes long")]
    WeakPassword,
    #[error("password hashing failed: {0}")]
    Hash(String),
}

fn params() -> Params {
    Params::new(memory::M_COST_KIB, T_COST, P_COST, Some(OUTPUT_LEN)).unwrap_or_default()
}

/// argon2id of `secret` with `params` and `salt` into `out`, in a pooled buffer
/// ([`memory`]): the hash allocates nothing of its 19 MiB.
fn hash_into(params: &Params, version: Version, secret: &[u8], salt: &[u8], out: &mut [u8]) -> argon2::Result<()> {
    let argon2 = Argon2::new(Algorithm::Argon2id, version, params.clone());
    memory::with_buffer(params.block_count(), |blocks| argon2.hash_password_into_with_memory(secret, salt, out, blocks))
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
    let err = |e: &dyn std::fmt::Display| AccountError::Hash(e.to_string());
    let mut salt_bytes = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut salt_bytes)
        .map_err(|_| AccountError::Hash("no system randomness".into()))?;
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| err(&e))?;
    let params = params();
    let mut out = [0u8; OUTPUT_LEN];
    hash_into(&params, Version::V0x13, answer.as_bytes(), &salt_bytes, &mut out).map_err(|e| err(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| err(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| err(&e))?),
    };
    Ok(phc.to_string())
}

/// Whether `password` is the one `phc` (an argon2id PHC string) was made from: its
/// parameters and salt read from it, the hash recomputed in a pooled buffer, and the two
/// compared in constant time. Anything that is not such a string is no match.
fn matches(phc: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else { return false };
    if parsed.algorithm != Algorithm::Argon2id.ident() {
        return false;
    }
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or(Version::V0x13),
        Err(_) => return false,
    };
    let (Ok(params), Some(salt), Some(expected)) = (Params::try_from(&parsed), parsed.salt, parsed.hash) else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else { return false };
    let mut out = vec![0u8; expected.len()];
    if hash_into(&params, version, password.as_bytes(), salt, &mut out).is_err() {
        return false;
    }
    // `Output`'s equality is constant-time.
    Output::new(&out).is_ok_and(|computed| computed == expected)
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
    matches(phc, password) && stored.is_some()
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
        assert!(!verify_password(Some("$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA"), "correct horse"));
        assert!(!verify_password(Some("not a hash"), "correct horse"));
    }

    /// Hashes made before the pool (by the password-hash traits) still verify, and the
    /// pool's hashes verify with the traits: the PHC strings are the same kind.
    #[test]
    fn pooled_hashes_match_the_crates_own() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params());
        let salt = SaltString::encode_b64(&[7u8; 16]).expect("salt");
        let theirs = argon2.hash_password(b"correct horse", &salt).expect("hash").to_string();
        assert!(verify_password(Some(&theirs), "correct horse"));
        assert!(!verify_password(Some(&theirs), "correct horsf"));
        let ours = hash_password("correct horse").expect("hash");
        let parsed = PasswordHash::new(&ours).expect("phc");
        assert!(argon2.verify_password(b"correct horse", &parsed).is_ok());
        let started = std::time::Instant::now();
        assert!(verify_password(Some(&ours), "correct horse"));
        eprintln!("one hash took {:?}", started.elapsed());
    }
}
