//! Keeps the IP rules in force current: the rules file is reloaded when its modification
//! time changes and on SIGHUP (edits through the admin socket install at once). A file that
//! does not parse is reported and the rules in force stay as they were.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tracing::{info, warn};

use super::Shared;
use crate::admin::rules;

/// How often the rules file's modification time is checked.
const POLL: Duration = Duration::from_secs(2);

fn mtime(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Reload the rules file on SIGHUP and whenever its modification time changes.
pub(crate) async fn watch(shared: Arc<Shared>) {
    use tokio::signal::unix::{signal, SignalKind};
    let path = shared.config().ip_rules.clone();
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
        match rules::load(&path) {
            Ok(list) => {
                info!(
                    event = "rules_reloaded",
                    rules = list.rules().len(),
                    "IP rules reloaded from {}",
                    path.display()
                );
                shared.install_rules(list);
            }
            Err(e) => warn!(event = "rules_invalid", "keeping the IP rules in force: {e}"),
        }
    }
}
