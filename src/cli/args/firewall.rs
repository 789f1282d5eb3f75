//! `qxfer firewall ...`: IP rules and bans of a listener.

use clap::Subcommand;

use super::data::DataArgs;
use super::values::parse_duration;

#[derive(Debug, Subcommand)]
pub enum FirewallCmd {
    /// Allow a network: it skips the per-address connection limits and is never blocked by a broader rule.
    #[command(after_help = "Example:\n  qxfer firewall allow 192.0.2.0/24")]
    Allow {
        /// An address or a network (CIDR).
        #[arg(value_name = "IP|CIDR")]
        net: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Block a network: its connection attempts are refused before the handshake, and its
    /// live connections are closed.
    #[command(after_help = "Example:\n  qxfer firewall block 203.0.113.7")]
    Block {
        /// An address or a network (CIDR).
        #[arg(value_name = "IP|CIDR")]
        net: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Remove the rule for exactly this network.
    #[command(after_help = "Example:\n  qxfer firewall remove 203.0.113.7/32")]
    Remove {
        /// An address or a network (CIDR).
        #[arg(value_name = "IP|CIDR")]
        net: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Ban an address or network now (refused before the handshake until the ban ends).
    #[command(
        after_help = "Examples:\n  qxfer firewall ban 203.0.113.7 --for 1h\n  qxfer firewall ban 198.51.100.0/24"
    )]
    Ban {
        /// An address or a network (CIDR).
        #[arg(value_name = "IP|CIDR")]
        net: String,
        /// How long (30s, 10m, 2h, 7d); default: the escalating ban time for this network.
        #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
        duration: Option<u64>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Lift a ban now (its level is kept, so a repeat offence still bans longer).
    #[command(after_help = "Example:\n  qxfer firewall unban 203.0.113.7")]
    Unban {
        /// An address or a network (CIDR).
        #[arg(value_name = "IP|CIDR")]
        net: String,
        #[command(flatten)]
        data: DataArgs,
    },
    /// List the rules and the bans in force.
    #[command(after_help = "Example:\n  qxfer firewall list --json")]
    List {
        #[command(flatten)]
        data: DataArgs,
        /// One JSON object per rule.
        #[arg(long)]
        json: bool,
    },
}
