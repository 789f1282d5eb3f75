//! Messages on the listener's local admin socket (`DATA/control.sock`, owner only), the way
//! `qxfer user …` and `qxfer status` reach a running listener. Same framing and the same
//! strictness as the network protocol. Passwords never travel here: the CLI hashes them.

use serde::{Deserialize, Serialize};

use super::account::check_phone_text;
use super::caps::MAX_ERROR_TEXT;
use super::error::DecodeError;
use super::names::validate_account;
use super::validate::Validate;

/// CLI → listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdminRequest {
    AddUser {
        name: String,
        phc: String,
    },
    RemoveUser {
        name: String,
    },
    SetPassword {
        name: String,
        phc: String,
    },
    ListUsers,
    Status,
    /// Add or replace the IP rule for a network (`allow` true, `block` false).
    SetRule {
        net: String,
        allow: bool,
    },
    /// Remove the IP rule for exactly this network.
    RemoveRule {
        net: String,
    },
    ListRules,
    /// Ban a network by hand, for `secs` (default: the scoring's escalating ban time).
    Ban {
        net: String,
        secs: Option<u64>,
    },
    /// Lift a ban now.
    Unban {
        net: String,
    },
    /// Bans in force.
    ListBans,
    /// What happened: see [`AuditQuery`].
    Audit(AuditQuery),
    /// Move the listener's clock forward by `secs`. Debug builds only: release builds
    /// refuse it. Tests of ban expiry and escalation use it instead of sleeping.
    AdvanceClock {
        secs: u64,
    },
    /// Create an account (`qxfer user add`) with the keyed hash of its one-time setup code
    /// (the CLI makes the code and prints it; only its hash travels), and a first number the
    /// operator vouches for (verified and settled at once), if any.
    CreateAccount {
        name: String,
        phc: String,
        setup_hash: [u8; 32],
        phone: Option<String>,
    },
    /// Give an account a number the operator vouches for (settled at once).
    PhoneAdd {
        name: String,
        number: String,
    },
    /// Take a number off an account.
    PhoneRemove {
        name: String,
        number: String,
    },
    /// Replace a lost or recycled number with one the operator vouches for.
    PhoneReplace {
        name: String,
        old: String,
        new: String,
    },
}

/// Filters of `qxfer audit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditQuery {
    /// Only events of the last this many seconds.
    pub since_secs: u64,
    /// Only events from this address or network.
    pub source: Option<String>,
    /// Only events about this account.
    pub user: Option<String>,
    /// Only events of this kind.
    pub kind: Option<String>,
}

/// One event as the audit shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventView {
    pub time_ms: u64,
    pub source: String,
    pub account: Option<String>,
    pub kind: String,
    pub bytes: u64,
    pub detail: String,
}

/// A ban as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanView {
    pub net: String,
    pub until: u64,
    pub level: u32,
    pub reason: String,
}

/// What `qxfer audit` prints.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AuditReport {
    /// Events matched (over the scanned range).
    pub matched: u64,
    /// Offending sources, highest score first.
    pub top_sources: Vec<SourceScore>,
    /// Accounts with offences, highest score first.
    pub top_accounts: Vec<AccountScore>,
    /// Event counts by kind.
    pub by_kind: Vec<KindCount>,
    /// Event counts per hour.
    pub by_hour: Vec<HourCount>,
    /// The latest matching events, newest first.
    pub latest: Vec<EventView>,
}

/// A source in the audit: its events and the sum of their offence weights.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceScore {
    pub source: String,
    pub events: u64,
    /// Thousandths of a point (weights may be fractions).
    pub score: u64,
}

/// An account in the audit and the sum of its offence weights.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountScore {
    pub account: String,
    /// Thousandths of a point.
    pub score: u64,
}

/// Events of one kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindCount {
    pub kind: String,
    pub count: u64,
}

/// Events in one hour (its start, in seconds since the epoch).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourCount {
    pub hour: u64,
    pub count: u64,
}

/// An account as `qxfer user list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub name: String,
    /// When it was created, seconds since the epoch.
    pub created: u64,
}

/// An IP rule as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleView {
    pub net: String,
    /// `allow` (true) or `block` (false).
    pub allow: bool,
}

/// Listener → CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdminResponse {
    Done,
    Users(Vec<UserView>),
    Status(Status),
    Rules(Vec<RuleView>),
    Bans(Vec<BanView>),
    Audit(AuditReport),
    Error(String),
}

/// Counters a running listener reports.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Status {
    pub connections_total: u64,
    pub connections_open: u64,
    pub bytes_received: u64,
    pub bytes_sent: u64,
    pub deliveries: u64,
    pub protocol_violations: u64,
    pub auth_failures: u64,
    pub refused: u64,
    pub rate_limited: u64,
    pub timeouts: u64,
    /// Today's texts from the general pool, and its size (`[sms]`).
    pub texts_general_used: u32,
    pub texts_general: u32,
    /// Today's texts from the owner reserve, and its size.
    pub texts_reserve_used: u32,
    pub texts_reserve: u32,
}

const MAX_PHC: usize = 256;
/// Longest network text (`2001:db8::/32` and the like) in an admin request.
const MAX_NET_TEXT: usize = 64;
/// Longest audit filter (source, account, kind).
const MAX_AUDIT_FILTER: usize = 64;

impl Validate for AdminRequest {
    fn validate(&self) -> Result<(), DecodeError> {
        match self {
            AdminRequest::AddUser { name, phc } | AdminRequest::SetPassword { name, phc } => {
                validate_account(name)?;
                if phc.len() > MAX_PHC || !phc.starts_with("$argon2id$") {
                    return Err(DecodeError::Invalid("password hash"));
                }
                Ok(())
            }
            AdminRequest::RemoveUser { name } => validate_account(name).map(|_| ()).map_err(Into::into),
            AdminRequest::CreateAccount { name, phc, phone, .. } => {
                validate_account(name)?;
                if phc.len() > MAX_PHC || !phc.starts_with("$argon2id$") {
                    return Err(DecodeError::Invalid("password hash"));
                }
                phone.as_deref().map_or(Ok(()), check_phone_text)
            }
            AdminRequest::PhoneAdd { name, number } | AdminRequest::PhoneRemove { name, number } => {
                validate_account(name)?;
                check_phone_text(number)
            }
            AdminRequest::PhoneReplace { name, old, new } => {
                validate_account(name)?;
                check_phone_text(old)?;
                check_phone_text(new)
            }
            AdminRequest::SetRule { net, .. } | AdminRequest::RemoveRule { net } => {
                if net.len() > MAX_NET_TEXT || crate::policy::parse_net(net).is_err() {
                    return Err(DecodeError::Invalid("network"));
                }
                Ok(())
            }
            AdminRequest::Ban { net, .. } | AdminRequest::Unban { net } => {
                if net.len() > MAX_NET_TEXT || crate::policy::parse_net(net).is_err() {
                    return Err(DecodeError::Invalid("network"));
                }
                Ok(())
            }
            AdminRequest::Audit(q) => {
                let too_long = [&q.source, &q.user, &q.kind]
                    .iter()
                    .any(|f| f.as_ref().is_some_and(|v| v.len() > MAX_AUDIT_FILTER));
                if too_long {
                    return Err(DecodeError::FieldTooLong { field: "audit filter", max: MAX_AUDIT_FILTER });
                }
                Ok(())
            }
            AdminRequest::ListUsers
            | AdminRequest::Status
            | AdminRequest::ListRules
            | AdminRequest::ListBans
            | AdminRequest::AdvanceClock { .. } => Ok(()),
        }
    }
}

impl Validate for AdminResponse {
    fn validate(&self) -> Result<(), DecodeError> {
        match self {
            AdminResponse::Users(u) => {
                for user in u {
                    validate_account(&user.name)?;
                }
                Ok(())
            }
            AdminResponse::Error(e) if e.len() > MAX_ERROR_TEXT => {
                Err(DecodeError::FieldTooLong { field: "error", max: MAX_ERROR_TEXT })
            }
            _ => Ok(()),
        }
    }
}
