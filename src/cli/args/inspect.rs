//! `qxfer audit` and `qxfer status`: what a listener reports about what happened and what
//! it counts.

use clap::Args;

use super::data::DataArgs;
use super::values::parse_duration;

/// `audit --help`'s text: examples and every event kind.
pub(super) fn audit_help() -> String {
    let kinds: Vec<&str> = crate::policy::activity::Kind::ALL.iter().map(|k| k.name()).collect();
    format!(
        "Examples:\n  qxfer audit --since 1h\n  qxfer audit --source 203.0.113.0/24 --kind login_failed --json\nKinds: {}",
        kinds.join(" ")
    )
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only the last DURATION (30s, 10m, 2h, 7d).
    #[arg(long, value_name = "DURATION", default_value = "1d", value_parser = parse_duration)]
    pub since: u64,
    /// Only this address or network.
    #[arg(long, value_name = "IP|CIDR")]
    pub source: Option<String>,
    /// Only this account.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Only this kind of event.
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// JSON lines on stdout (one per event, source, account, kind and hour).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// JSON on stdout.
    #[arg(long)]
    pub json: bool,
}
