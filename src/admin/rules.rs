//! The IP rules file (`DATA/ip-rules.txt` unless `--ip-rules` names another): read, written
//! atomically, and edited by `qxfer firewall allow|block|remove|list`. A missing file is an
//! empty list.

use std::path::{Path, PathBuf};

use crate::policy::{parse_net, IpList, ListError, NetError, Rule};
use crate::wire::{AdminRequest, AdminResponse, RuleView};

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("reading {0}: {1}")]
    Read(PathBuf, #[source] std::io::Error),
    #[error("in {0}: {1}")]
    Parse(PathBuf, #[source] ListError),
    #[error("writing {0}: {1}")]
    Write(PathBuf, #[source] std::io::Error),
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("no rule for {0}")]
    NoRule(String),
    #[error("not a rule request")]
    NotARuleRequest,
}

/// Read the rules file; a missing file is an empty list.
pub fn load(path: &Path) -> Result<IpList, RulesError> {
    match std::fs::read_to_string(path) {
        Ok(text) => IpList::parse(&text).map_err(|e| RulesError::Parse(path.to_owned(), e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(IpList::default()),
        Err(e) => Err(RulesError::Read(path.to_owned(), e)),
    }
}

/// Write the rules file atomically (a temporary file beside it, then a rename).
pub fn save(path: &Path, list: &IpList) -> Result<(), RulesError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, list.to_text()).map_err(|e| RulesError::Write(tmp.clone(), e))?;
    std::fs::rename(&tmp, path).map_err(|e| RulesError::Write(path.to_owned(), e))
}

/// Apply a rule request to the rules file. Returns the rules after the change.
pub fn edit(path: &Path, req: &AdminRequest) -> Result<IpList, RulesError> {
    let mut list = load(path)?;
    match req {
        AdminRequest::SetRule { net, allow } => {
            list.set(parse_net(net)?, if *allow { Rule::Allow } else { Rule::Block });
        }
        AdminRequest::RemoveRule { net } => {
            if !list.remove(&parse_net(net)?) {
                return Err(RulesError::NoRule(net.clone()));
            }
        }
        AdminRequest::ListRules => return Ok(list),
        _ => return Err(RulesError::NotARuleRequest),
    }
    save(path, &list)?;
    Ok(list)
}

/// The rules as the admin reply lists them.
pub fn reply(list: &IpList) -> AdminResponse {
    AdminResponse::Rules(
        list.rules().iter().map(|(n, r)| RuleView { net: n.to_string(), allow: *r == Rule::Allow }).collect(),
    )
}
