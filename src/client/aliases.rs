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
//! bind = "192.0.2.7"               # optional: send from this local address (`--bind`)
//! ```
//!
//! What the command line says wins over the alias: `USER@office`, `--user`, `--fingerprint`,
//! `--ca`, `--bind`. A word that is no alias is matched to the nearest one, for the message.

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
    /// The local address to send from, as `--bind` takes it.
    pub bind: Option<String>,
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

    /// The alias `name` is most likely a typo of: the nearest by edit distance, if it is
    /// within two edits and a third of the longer word.
    pub fn nearest(&self, name: &str) -> Option<&str> {
        self.hosts
            .keys()
            .map(|alias| (edits(name, alias), alias.as_str()))
            .filter(|(d, alias)| *d <= 2 && 3 * d <= name.chars().count().max(alias.chars().count()))
            .min_by_key(|(d, _)| *d)
            .map(|(_, alias)| alias)
    }
}

/// Levenshtein distance between `a` and `b`, by characters, case folded.
fn edits(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().flat_map(char::to_lowercase).collect();
    let b: Vec<char> = b.chars().flat_map(char::to_lowercase).collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for ca in &a {
        let mut diagonal = row.first().copied().unwrap_or(0);
        if let Some(first) = row.first_mut() {
            *first += 1;
        }
        for (j, cb) in b.iter().enumerate() {
            let above = row.get(j + 1).copied().unwrap_or(usize::MAX);
            let left = row.get(j).copied().unwrap_or(usize::MAX);
            let best = (diagonal + usize::from(ca != cb)).min(above.saturating_add(1)).min(left.saturating_add(1));
            diagonal = above;
            if let Some(cell) = row.get_mut(j + 1) {
                *cell = best;
            }
        }
    }
    row.last().copied().unwrap_or(0)
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

    #[test]
    fn a_typo_finds_the_nearest_alias_and_bind_is_a_key() {
        let c = ClientConfig::parse(
            "[hosts.office]\naddress = \"a\"\nbind = \"127.0.0.2\"\n[hosts.lab]\naddress = \"b\"\n",
        )
        .expect("parse");
        assert_eq!(c.alias("office").and_then(|h| h.bind.as_deref()), Some("127.0.0.2"));
        assert_eq!(c.nearest("offfice"), Some("office"));
        assert_eq!(c.nearest("Ofice"), Some("office"));
        assert_eq!(c.nearest("lb"), Some("lab"));
        assert_eq!(c.nearest("nas"), None);
        assert_eq!(edits("kitten", "sitting"), 3);
        assert_eq!(edits("", "ab"), 2);
    }
}
