//! How a client command reaches and logs in to a listener: the flags every client command
//! shares.

use std::path::PathBuf;

use clap::Args;

use super::values::parse_timeout;

/// How a client reaches and logs in to a listener.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// The listener: [USER@]HOST[:PORT] (default port 4433), or an alias from
    /// QXFER_CONFIG_DIR/config.toml.
    #[arg(value_name = "[USER@]HOST[:PORT]")]
    pub host: String,
    /// Account to log in as (else USER@ in the host, else the alias's user).
    #[arg(long, env = "QXFER_USER")]
    pub user: Option<String>,
    /// Read the password from the first line of stdin (else QXFER_PASSWORD, else a prompt).
    #[arg(long)]
    pub password_stdin: bool,
    /// Local address to send from (like ssh -b): an IP or a host name, with or without :PORT
    /// (else the alias's `bind`).
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
    /// How long to wait for the listener to answer (default 5s; raise it on slow links): a
    /// duration (10s, 1m) or a number of seconds.
    #[arg(long, value_name = "DURATION", value_parser = parse_timeout)]
    pub connect_timeout: Option<u64>,
    /// Trust the listener only if its certificate has this fingerprint, and pin it
    /// (`SHA256:HEX`, as ssh capitalises it, is the same).
    #[arg(long, value_name = "sha256:HEX")]
    pub fingerprint: Option<String>,
    /// Pin an unknown listener's certificate without asking (trust on first use).
    #[arg(long)]
    pub accept_new: bool,
    /// Trust listeners whose certificate is signed by this CA (PEM) instead of pinning.
    #[arg(long, value_name = "PEM")]
    pub ca: Option<PathBuf>,
    /// If the listener asks for a captcha (after failed logins), also write it to this PNG
    /// file, for a viewer other than the terminal (its text is still typed on the terminal).
    #[arg(long, value_name = "PNG")]
    pub captcha_file: Option<PathBuf>,
    /// One machine-readable JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
}
