//! The IP rules file in force: loaded at start, reloaded when it changes or on SIGHUP, and
//! edited through the admin socket (`qxfer firewall …`). A new block rule also closes the
//! live connections it matches. A file that does not parse is reported and the rules in
//! force stay as they were.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use tracing::{info, warn};

use super::Shared;
use crate::policy::{IpList, Rule};
use crate::transport::close;

/// How often the rules file's modification time is checked.
const POLL: Duration = Duration::from_secs(2);

/// Read the rules file; a missing file is an empty list.
pub fn load(path: &Path) -> Result<IpList> {
    match std::fs::read_to_string(path) {
        Ok(text) => IpList::parse(&text).with_context(|| format!("in {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(IpList::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Write the rules file atomically.
pub fn save(path: &Path, list: &IpList) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, list.to_text()).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Install new rules and close live connections they now block.
pub(crate) fn install(shared: &Shared, list: IpList) {
    let blocked: Vec<quinn::Connection> = match shared.live.lock() {
        Ok(live) => {
            live.values().filter(|c| list.lookup(c.remote_address().ip()) == Some(Rule::Block)).cloned().collect()
        }
        Err(_) => Vec::new(),
    };
    if let Ok(mut l) = shared.ip_list.write() {
        *l = list;
    }
    for c in blocked {
        info!(peer = %c.remote_address(), event = "blocked_live", "closing a connection from a newly blocked address");
        c.close(close::LIMIT.into(), b"address blocked");
    }
}

/// Apply a rule change to the rules file (and, with a running listener, to the rules in
/// force). Returns the rules after the change.
pub fn edit(path: &Path, req: &crate::wire::AdminRequest) -> Result<Option<IpList>> {
    use crate::wire::AdminRequest;
    let mut list = load(path)?;
    match req {
        AdminRequest::SetRule { net, allow } => {
            let net = crate::policy::parse_net(net).map_err(anyhow::Error::msg)?;
            list.set(net, if *allow { Rule::Allow } else { Rule::Block });
        }
        AdminRequest::RemoveRule { net } => {
            let parsed = crate::policy::parse_net(net).map_err(anyhow::Error::msg)?;
            if !list.remove(&parsed) {
                anyhow::bail!("no rule for {net}");
            }
        }
        AdminRequest::ListRules => return Ok(Some(list)),
        _ => return Ok(None),
    }
    save(path, &list)?;
    Ok(Some(list))
}

pub fn rules_reply(list: &IpList) -> crate::wire::AdminResponse {
    crate::wire::AdminResponse::Rules(list.rules().iter().map(|(n, r)| (n.to_string(), *r == Rule::Allow)).collect())
}

/// Reload the rules file on SIGHUP and whenever its modification time changes.
pub(crate) async fn watch(shared: Arc<Shared>) {
    use tokio::signal::unix::{signal, SignalKind};
    let path = shared.config.ip_rules.clone();
    let mut hup = signal(SignalKind::hangup()).ok();
    let mut seen = mtime(&path);
    loop {
        let by_signal = match hup.as_mut() {
            Some(h) => tokio::select! {
                _ = h.recv() => true,
                _ = tokio::time::sleep(POLL) => false,
            },
            None => {
                tokio::time::sleep(POLL).await;
                false
            }
        };
        let now = mtime(&path);
        if !by_signal && now == seen {
            continue;
        }
        seen = now;
        match load(&path) {
            Ok(list) => {
                info!(
                    event = "rules_reloaded",
                    rules = list.rules().len(),
                    "IP rules reloaded from {}",
                    path.display()
                );
                install(&shared, list);
            }
            Err(e) => warn!(event = "rules_invalid", "keeping the IP rules in force: {e:#}"),
        }
    }
}
