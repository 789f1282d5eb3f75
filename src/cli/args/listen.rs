//! `qxfer listen`'s flags: addresses, certificate, config file, limits and threads.

use std::path::PathBuf;

use clap::Args;

use super::data::DataArgs;

#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Address to listen on (UDP): IP or host name, with or without :PORT (default 4433);
    /// repeat for several. Port 0 picks a free port. Default: every IPv4 and IPv6 address.
    #[arg(long, value_name = "ADDR")]
    pub bind: Vec<String>,
    #[command(flatten)]
    pub data: DataArgs,
    /// PEM certificate chain to use instead of the generated self-signed one.
    #[arg(long, value_name = "PEM", requires = "key")]
    pub cert: Option<PathBuf>,
    /// PEM private key for --cert.
    #[arg(long, value_name = "PEM", requires = "cert")]
    pub key: Option<PathBuf>,
    /// TOML config file: [limits], [scoring], [challenges], [recovery], [sms], [geoip],
    /// [registration], [regularity] (described in docs/: listener.md, activity-and-bans.md,
    /// challenges.md, recovery.md, registration.md).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// IP allow/block rules file [default: DATA/ip-rules.txt]; reloaded on change and SIGHUP.
    #[arg(long, value_name = "FILE")]
    pub ip_rules: Option<PathBuf>,
    /// Open connections allowed from one IP address (limits.max_connections_per_ip).
    #[arg(long, value_name = "N")]
    pub max_connections_per_ip: Option<u32>,
    /// Seconds a connection may take to log in (limits.login_deadline_secs).
    #[arg(long, value_name = "SECS")]
    pub login_deadline: Option<u64>,
    /// Seconds of silence before a connection is closed (limits.idle_timeout_secs).
    #[arg(long, value_name = "SECS")]
    pub idle_timeout: Option<u64>,
    /// QUIC address validation: never, load (past limits.retry_above connections) or always.
    #[arg(long, value_name = "MODE")]
    pub retry: Option<RetryArg>,
    /// Threads that move packets [default: one per core]. With 1, every connection's packets
    /// stay on one thread: one big transfer is faster, but a flood of hostile connections
    /// competes with it for that thread (measured in docs/benchmarks.md).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
}

/// `--retry` values (mapped onto `policy::RetryMode`).
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RetryArg {
    Never,
    Load,
    Always,
}

/// Threads that move packets on a listener with `cores` cores, unless `--threads` says.
pub fn listen_threads(asked: Option<u16>, cores: usize) -> usize {
    asked.map_or(cores.max(1), usize::from)
}
