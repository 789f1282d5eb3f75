//! Which listener certificates this client trusts: a `known_hosts` file in the config
//! directory (`host:port sha256:<hex>` per line), pinned on first use like ssh's.

use std::path::{Path, PathBuf};

use super::error::{local, ClientError, Result};
use crate::transport::tls::{format_fingerprint, parse_fingerprint, Fingerprint};

/// How to treat a listener whose fingerprint is not pinned yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewHost {
    /// Refuse (scripts without `--accept-new`).
    Refuse,
    /// Pin it and say so (`--accept-new`).
    Accept,
    /// Show the fingerprint and ask on the terminal.
    Ask,
}

pub struct KnownHosts {
    path: PathBuf,
}

impl KnownHosts {
    pub fn new(config_dir: &Path) -> Self {
        Self { path: config_dir.join("known_hosts") }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn get(&self, host: &str) -> Option<Fingerprint> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        text.lines().find_map(|line| {
            let mut parts = line.split_whitespace();
            (parts.next() == Some(host)).then(|| parts.next().and_then(|fp| parse_fingerprint(fp).ok()))?
        })
    }

    /// Pin `fp` for `host`, replacing any earlier line for it.
    pub fn pin(&self, host: &str, fp: &Fingerprint) -> Result<()> {
        let old = std::fs::read_to_string(&self.path).unwrap_or_default();
        let mut out: String =
            old.lines().filter(|l| l.split_whitespace().next() != Some(host)).map(|l| format!("{l}\n")).collect();
        out.push_str(&format!("{host} {}\n", format_fingerprint(fp)));
        if let Some(dir) = self.path.parent() {
            crate::files::create_private_dir(dir).map_err(local("creating", dir))?;
        }
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, out).map_err(local("writing", &tmp))?;
        std::fs::rename(&tmp, &self.path).map_err(local("writing", &self.path))
    }

    /// Decide whether to trust `seen` for `host`. Runs after the handshake proved the peer
    /// holds the certificate's key, and before any request is sent.
    pub fn check(
        &self,
        host: &str,
        seen: &Fingerprint,
        explicit: Option<&Fingerprint>,
        new_host: NewHost,
    ) -> Result<()> {
        let seen_s = format_fingerprint(seen);
        if let Some(expected) = explicit {
            if expected != seen {
                return Err(ClientError::FingerprintMismatch {
                    host: host.to_owned(),
                    seen: seen_s,
                    expected: format_fingerprint(expected),
                });
            }
            if self.get(host).as_ref() != Some(seen) {
                self.pin(host, seen)?;
                eprintln!("pinned {host} {seen_s}");
            }
            return Ok(());
        }
        match self.get(host) {
            Some(pinned) if &pinned == seen => Ok(()),
            Some(pinned) => Err(ClientError::HostKeyMismatch {
                host: host.to_owned(),
                seen: seen_s,
                pinned: format_fingerprint(&pinned),
                known_hosts: self.path.display().to_string(),
            }),
            None => match new_host {
                NewHost::Refuse => Err(ClientError::UnknownHost { host: host.to_owned(), seen: seen_s }),
                NewHost::Accept => {
                    self.pin(host, seen)?;
                    eprintln!("pinned {host} {seen_s}");
                    Ok(())
                }
                NewHost::Ask => {
                    eprintln!("The listener {host} is not known yet. Its certificate fingerprint is\n  {seen_s}");
                    eprintln!("Compare it with `qxfer fingerprint` on the listener.");
                    eprint!("Trust and pin it? [y/N] ");
                    let mut answer = String::new();
                    std::io::stdin().read_line(&mut answer).map_err(ClientError::Password)?;
                    if matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
                        self.pin(host, seen)?;
                        eprintln!("pinned {host} {seen_s}");
                        Ok(())
                    } else {
                        Err(ClientError::HostRejected)
                    }
                }
            },
        }
    }
}
