//! Sends in progress, remembered in the client's config directory
//! (`CONFIG/pending/<key>`, 0600): a send's resume key mixes a random nonce into what it
//! carries, kept until the listener says the delivery was committed. Running the same
//! command again after an interruption (a killed client, a crashed listener) reuses the
//! nonce, so it resumes the same delivery, or learns it was already delivered; running it
//! again after it finished makes a new delivery, as scp would.

use std::path::{Path, PathBuf};

use super::error::{local, ClientError, Result};
use crate::wire::Hash;

pub struct Pending {
    path: PathBuf,
}

impl Pending {
    /// The record of the send whose content key is `base`.
    pub fn new(config_dir: &Path, base: &Hash) -> Self {
        Self { path: config_dir.join("pending").join(hex::encode(base)) }
    }

    /// The resume key to send: `base` with this send's nonce (a new one, remembered, if
    /// this send has none yet).
    pub fn resume_key(&self, base: &Hash) -> Result<Hash> {
        let nonce = match std::fs::read_to_string(&self.path).ok().and_then(|t| hex::decode(t.trim()).ok()) {
            Some(n) => n,
            None => {
                let n = crate::accounts::new_token().map_err(|e| ClientError::Protocol(e.to_string()))?;
                if let Some(dir) = self.path.parent() {
                    crate::files::create_private_dir(dir).map_err(local("creating", dir))?;
                }
                write_nonce(&self.path, &n).map_err(local("writing", &self.path))?;
                n.to_vec()
            }
        };
        let mut h = blake3::Hasher::new();
        h.update(base);
        h.update(&nonce);
        Ok(*h.finalize().as_bytes())
    }

    /// The listener committed the delivery: forget the nonce.
    pub fn done(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Write a nonce, owner-only, replacing a leftover. Not synced: a nonce lost in a crash of
/// this machine only means the next run makes a new delivery.
fn write_nonce(path: &Path, nonce: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(hex::encode(nonce).as_bytes())
}
