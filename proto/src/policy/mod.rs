//! Pure policy decisions, no I/O and no clock: every limit in one place ([`Limits`]), IP
//! allow and block lists in CIDR form ([`IpList`]), whether to admit a new connection
//! before any handshake work ([`Admission`]), and suspicion scores that turn offences into
//! escalating bans ([`Scorer`]). The server glue asks; these answer.

pub mod account_setup;
pub mod activity;
mod admission;
pub mod challenges;
pub mod disk_slots;
pub mod fair_queue;
mod iplist;
mod limits;
pub mod lockout;
pub mod places;
pub mod recovery;
pub mod recovery_start;
pub mod registration;
pub mod regularity;
mod score;
pub mod sms;

pub use admission::{prefix_of, Admission, BanNotices, Verdict};
pub use iplist::{canonical, parse_net, IpList, ListError, NetError, Rule};
pub use limits::{Limits, LimitsError, NetLimits, RetryMode};
pub use score::{default_exempt, milli, points, Ban, Offence, ScoreConfig, Scorer, ESCALATION_MEMORY_SECS};

#[cfg(test)]
mod test_ip;
