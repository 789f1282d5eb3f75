//! Messages on the listener's local admin socket (`DATA/control.sock`, owner only), the way
//! `qxfer user …` and `qxfer status` reach a running listener. Same framing and the same
//! strictness as the network protocol. Passwords never travel here: the CLI hashes them.

use serde::{Deserialize, Serialize};

use super::{validate_account, DecodeError, Validate, MAX_ERROR_TEXT};

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
}

/// Listener → CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdminResponse {
    Done,
    Users(Vec<(String, u64)>),
    Status(Status),
    /// IP rules: (network, allow).
    Rules(Vec<(String, bool)>),
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
}

const MAX_PHC: usize = 256;

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
            AdminRequest::SetRule { net, .. } | AdminRequest::RemoveRule { net } => {
                if net.len() > 64 || crate::policy::parse_net(net).is_err() {
                    return Err(DecodeError::Invalid("network"));
                }
                Ok(())
            }
            AdminRequest::ListUsers | AdminRequest::Status | AdminRequest::ListRules => Ok(()),
        }
    }
}

impl Validate for AdminResponse {
    fn validate(&self) -> Result<(), DecodeError> {
        match self {
            AdminResponse::Users(u) => {
                for (name, _) in u {
                    validate_account(name)?;
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
