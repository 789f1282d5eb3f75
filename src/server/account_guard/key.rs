//! The listener's recovery key: 32 random bytes in `DATA/recovery.key` (0600), apart from
//! the database, that every texted code's and recovery code's hash is keyed with. A copy
//! of the database alone does not let anyone test guesses of codes against their hashes
//! offline.

use std::path::Path;

use crate::server::challenges::{random, NoRandomness};

/// Why the recovery key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("recovery key {0}: {1}")]
    Io(std::path::PathBuf, #[source] std::io::Error),
    #[error("recovery key {0} is not 32 bytes: remove it to make a new one (codes in force stop working)")]
    Length(std::path::PathBuf),
    #[error(transparent)]
    Random(#[from] NoRandomness),
}

/// Read `path`, or make it (32 random bytes, 0600).
pub fn load_or_create_key(path: &Path) -> Result<[u8; 32], KeyError> {
    match std::fs::read(path) {
        Ok(bytes) => bytes.try_into().map_err(|_| KeyError::Length(path.to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = random::<32>()?;
            crate::transport::tls::write_private(path, &key)
                .map_err(|e| KeyError::Io(path.to_owned(), std::io::Error::other(e.to_string())))?;
            Ok(key)
        }
        Err(e) => Err(KeyError::Io(path.to_owned(), e)),
    }
}
