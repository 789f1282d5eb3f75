//! The client's config file, `QXFER_CONFIG_DIR/config.toml`: host aliases like
//! `~/.ssh/config`'s `Host` blocks, so `qxfer send office report.pdf` needs no address,
//! port, user or fingerprint on the command line.
//!
//! ```toml
//! [hosts.office]
//! address = "files.example.com"   # a name or an IP address
//! port = 4433                      # optional (default 4433)
//! user = "alice"                   # optional
//! fingerprint = "sha256:…"         # optional: pin this certificate
//! ca = "/etc/qxfer/ca.pem"         # optional: trust a private CA instead
//! ```
//!
//! What the command line says wins over the alias: `USER@office`, `--user`, `--fingerprint`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The config file's name in the config directory.
pub const FILE: &str = "config.toml";

/// One alias.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostAlias {
    pub address: String,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub fingerprint: Option<String>,
    pub ca: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    #[serde(default)]
    pub hosts: BTreeMap<String, HostAlias>,
}

/// A config file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AliasError {
    #[error("reading {path:?}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path:?}: {message}")]
    Syntax { path: PathBuf, message: SyntaxError },
}

/// What is wrong inside the file.
#[derive(Debug, thiserror::Error)]
pub enum SyntaxError {
    #[error("{0}")]
    Toml(String),
    #[error("hosts.{0}: address is empty")]
    EmptyAddress(String),
}

impl ClientConfig {
    /// Parse the file's text.
    pub fn parse(text: &str) -> Result<Self, SyntaxError> {
        let c: ClientConfig = toml::from_str(text).map_err(|e| SyntaxError::Toml(e.message().to_owned()))?;
        for (name, h) in &c.hosts {
            if h.address.is_empty() {
                return Err(SyntaxError::EmptyAddress(name.clone()));
            }
        }
        Ok(c)
    }

    /// Load `DIR/config.toml`; a missing file is an empty config.
    pub fn load(dir: &Path) -> Result<Self, AliasError> {
        let path = dir.join(FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text).map_err(|message| AliasError::Syntax { path, message }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(AliasError::Read { path, source }),
        }
    }

    pub fn alias(&self, name: &str) -> Option<&HostAlias> {
        self.hosts.get(name)
    }
}

impl HostAlias {
    /// `address:port` as `resolve` takes it (IPv6 addresses bracketed).
    pub fn hostport(&self) -> String {
        let port = self.port.unwrap_or(crate::wire::DEFAULT_PORT);
        let addr = self.address.trim_matches(['[', ']']);
        if addr.parse::<std::net::Ipv6Addr>().is_ok() {
            format!("[{addr}]:{port}")
        } else {
            format!("{addr}:{port}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_parse_and_resolve() {
        let c = ClientConfig::parse(
            "[hosts.office]\naddress = \"files.example.com\"\nuser = \"alice\"\n\n[hosts.lab]\naddress = \"::1\"\nport = 9000\n",
        )
        .expect("parse");
        let office = c.alias("office").expect("office");
        assert_eq!(office.hostport(), "files.example.com:4433");
        assert_eq!(office.user.as_deref(), Some("alice"));
        assert_eq!(c.alias("lab").expect("lab").hostport(), "[::1]:9000");
        assert!(c.alias("home").is_none());
        assert!(ClientConfig::parse("[hosts.x]\naddress = \"a\"\nbogus = 1\n").is_err());
        assert!(ClientConfig::parse("[hosts.x]\naddress = \"\"\n").is_err());
        assert_eq!(ClientConfig::parse("").expect("empty"), ClientConfig::default());
    }
}
