//! Sends in progress. Here, remembered in the client's config directory
//! (`CONFIG/pending/<key>`, 0600): a send's resume key mixes a random nonce into what it
//! carries, kept until the listener says the delivery was committed. Running the same
//! command again after an interruption (a killed client, a crashed listener) reuses the
//! nonce, so it resumes the same delivery, or learns it was already delivered; running it
//! again after it finished makes a new delivery, as scp would. On the listener (qxfer/6):
//! the caller's unfinished sends, listed, and one of them abandoned.

use std::path::{Path, PathBuf};

use super::control::{unexpected, Client};
use super::error::{local, ClientError, Result};
use crate::wire::{Hash, PendingSend, Request, Response};

/// Most unfinished sends `pending list` accepts from a listener (a listing is kept in
/// memory; a listener allows one account far fewer).
pub const MAX_PENDING: usize = 100_000;

impl Client {
    fn require_v6(&self, what: &str) -> Result<()> {
        if self.v6 {
            return Ok(());
        }
        Err(ClientError::Protocol(format!(
            "the listener {} speaks an older qxfer protocol (before qxfer/6) without {what}: upgrade qxfer on the \
             listener",
            self.hostport
        )))
    }

    /// The caller's unfinished sends on the listener, in id order.
    pub async fn pending_sends(&mut self) -> Result<Vec<PendingSend>> {
        self.require_v6("a list of unfinished sends")?;
        let mut all: Vec<PendingSend> = Vec::new();
        let mut after = 0;
        loop {
            match self.call(&Request::PendingSends { after }).await? {
                Response::PendingPage { items, more } => {
                    // Ids only go up, and the listing has a cap.
                    if items.iter().any(|p| p.id <= after) {
                        return Err(ClientError::Protocol("the listener listed unfinished sends out of order".into()));
                    }
                    after = items.last().map_or(after, |p| p.id);
                    let got = items.len();
                    all.extend(items);
                    if all.len() > MAX_PENDING {
                        return Err(ClientError::Protocol(format!(
                            "the listener listed more than {MAX_PENDING} unfinished sends; stopping"
                        )));
                    }
                    if !more || got == 0 {
                        return Ok(all);
                    }
                }
                other => return Err(unexpected(&other)),
            }
        }
    }

    /// Abandon the caller's unfinished send `id`: whether the listener dropped it (`false`:
    /// it is not one of the caller's unfinished sends).
    pub async fn drop_pending(&mut self, id: u64) -> Result<bool> {
        self.require_v6("abandoning unfinished sends")?;
        match self.call(&Request::DropPending { id }).await {
            Ok(Response::Affected { ids }) => Ok(ids == [id]),
            Ok(other) => Err(unexpected(&other)),
            Err(ClientError::Remote { code: crate::wire::ErrorCode::NotFound, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

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
