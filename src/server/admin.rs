//! The admin socket: `DATA/control.sock`, mode 0600 inside a 0700 data directory, and peers
//! must run as the listener's own user. `qxfer user …` and `qxfer status` talk to a running
//! listener through it, since the database admits one process at a time.

use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tracing::{debug, info, warn};

use super::{now, Shared};
use crate::files::Layout;
use crate::store::Store;
use crate::wire::{self, AdminRequest, AdminResponse, Status, LEN_PREFIX, MAX_FRAME};

pub(crate) fn serve(shared: Arc<Shared>) -> Result<tokio::task::JoinHandle<()>> {
    use std::os::unix::fs::PermissionsExt;
    let path = shared.layout.control_socket();
    // A socket left by a listener that died is stale: we hold the database lock, so no
    // other listener uses this directory.
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).with_context(|| format!("binding {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let shared = shared.clone();
            tokio::spawn(async move {
                if let Err(e) = client(stream, shared).await {
                    debug!("admin client: {e:#}");
                }
            });
        }
    }))
}

async fn client(mut stream: UnixStream, shared: Arc<Shared>) -> Result<()> {
    let cred = stream.peer_cred()?;
    if cred.uid() != rustix::process::geteuid().as_raw() {
        warn!(uid = cred.uid(), event = "admin_refused", "admin socket peer runs as another user");
        return Ok(());
    }
    let req: AdminRequest = read(&mut stream).await?;
    if matches!(req, AdminRequest::SetRule { .. } | AdminRequest::RemoveRule { .. } | AdminRequest::ListRules) {
        let response = match super::firewall::edit(&shared.config.ip_rules, &req) {
            Ok(Some(list)) => {
                if !matches!(req, AdminRequest::ListRules) {
                    info!(event = "rules_changed", "IP rules changed: {req:?}");
                    super::firewall::install(&shared, list.clone());
                }
                super::firewall::rules_reply(&list)
            }
            Ok(None) => AdminResponse::Error("not a rule request".into()),
            Err(e) => AdminResponse::Error(wire::clean_error_text(&format!("{e:#}"))),
        };
        return write(&mut stream, &response).await;
    }
    let sh = shared.clone();
    let response = tokio::task::spawn_blocking(move || live_request(&sh, req)).await?;
    write(&mut stream, &response).await
}

/// Carry out one admin request on the database (used by the socket and, when no listener
/// runs, directly by the CLI). `status` is the running listener's counters, if any.
pub fn apply(store: &Store, layout: &Layout, status: Option<Status>, req: AdminRequest) -> AdminResponse {
    let result = match req {
        AdminRequest::AddUser { name, phc } => store.add_user(&name, &phc, now()).map(|_| {
            info!(user = %name, event = "user_added", "account created");
            AdminResponse::Done
        }),
        AdminRequest::RemoveUser { name } => store.remove_user(&name).map(|_| {
            let _ = std::fs::remove_dir_all(layout.mailbox(&name));
            info!(user = %name, event = "user_removed", "account removed");
            AdminResponse::Done
        }),
        AdminRequest::SetPassword { name, phc } => store.set_password(&name, &phc).map(|_| {
            info!(user = %name, event = "password_changed", "password changed; sessions revoked");
            AdminResponse::Done
        }),
        AdminRequest::ListUsers => {
            store.list_users().map(|u| AdminResponse::Users(u.into_iter().map(|u| (u.name, u.created)).collect()))
        }
        AdminRequest::Status => Ok(match status {
            Some(s) => AdminResponse::Status(s),
            None => AdminResponse::Error("no listener is running".into()),
        }),
        // With no listener running, bans are written for its next start.
        AdminRequest::Ban { net, secs } => {
            return ban_in_store(store, &crate::policy::ScoreConfig::default(), &net, secs);
        }
        AdminRequest::Unban { net } => {
            return match crate::policy::parse_net(&net) {
                Ok(parsed) => match store.lift_ban(&parsed.to_string(), now()) {
                    Ok(true) => bans_reply(store),
                    Ok(false) => AdminResponse::Error(format!("no ban in force for {parsed}")),
                    Err(e) => AdminResponse::Error(wire::clean_error_text(&e.to_string())),
                },
                Err(e) => AdminResponse::Error(e),
            };
        }
        AdminRequest::ListBans => return bans_reply(store),
        AdminRequest::Audit(q) => {
            return match super::audit::audit(store, &crate::policy::ScoreConfig::default(), &q, now() * 1000) {
                Ok(r) => AdminResponse::Audit(r),
                Err(e) => AdminResponse::Error(wire::clean_error_text(&e)),
            };
        }
        AdminRequest::SetRule { .. } | AdminRequest::RemoveRule { .. } | AdminRequest::ListRules => {
            let path = layout.root().join("ip-rules.txt");
            return match super::firewall::edit(&path, &req) {
                Ok(Some(list)) => super::firewall::rules_reply(&list),
                Ok(None) => AdminResponse::Error("not a rule request".into()),
                Err(e) => AdminResponse::Error(wire::clean_error_text(&format!("{e:#}"))),
            };
        }
    };
    result.unwrap_or_else(|e| AdminResponse::Error(wire::clean_error_text(&e.to_string())))
}

fn ban_views(bans: &[crate::policy::Ban], now: u64) -> Vec<wire::BanView> {
    bans.iter()
        .filter(|b| b.until > now)
        .take(1000)
        .map(|b| wire::BanView {
            net: b.net.to_string(),
            until: b.until,
            level: b.level,
            reason: wire::clean_error_text(&b.reason),
        })
        .collect()
}

fn bans_reply(store: &Store) -> AdminResponse {
    match store.bans() {
        Ok(bans) => AdminResponse::Bans(ban_views(&bans, now())),
        Err(e) => AdminResponse::Error(wire::clean_error_text(&e.to_string())),
    }
}

/// The ban a hand-made `firewall ban` gets: one level above the network's last.
fn manual_ban(
    store: &Store,
    scoring: &crate::policy::ScoreConfig,
    net: &str,
    secs: Option<u64>,
) -> Result<crate::policy::Ban, String> {
    let net = crate::policy::parse_net(net)?;
    let level =
        store.bans().map_err(|e| e.to_string())?.iter().filter(|b| b.net == net).map(|b| b.level).max().unwrap_or(0)
            + 1;
    let secs = secs.unwrap_or_else(|| scoring.ban_length(level));
    Ok(crate::policy::Ban { net, until: now().saturating_add(secs), level, reason: "banned by hand".into() })
}

fn ban_in_store(store: &Store, scoring: &crate::policy::ScoreConfig, net: &str, secs: Option<u64>) -> AdminResponse {
    match manual_ban(store, scoring, net, secs).and_then(|b| store.put_ban(&b).map_err(|e| e.to_string())) {
        Ok(()) => bans_reply(store),
        Err(e) => AdminResponse::Error(wire::clean_error_text(&e)),
    }
}

/// Bans and audits against the running listener (its bans in memory, its scoring).
fn live_request(shared: &Shared, req: AdminRequest) -> AdminResponse {
    match req {
        AdminRequest::Ban { net, secs } => match manual_ban(&shared.store, &shared.config.scoring, &net, secs) {
            Ok(ban) => {
                if let Err(e) = shared.store.put_ban(&ban) {
                    return AdminResponse::Error(wire::clean_error_text(&e.to_string()));
                }
                let event = super::recorder::install_ban(shared, ban);
                shared.recorder.record(event);
                bans_reply(&shared.store)
            }
            Err(e) => AdminResponse::Error(wire::clean_error_text(&e)),
        },
        AdminRequest::Unban { net } => match crate::policy::parse_net(&net) {
            Ok(parsed) => {
                let in_memory = super::recorder::lift_ban(shared, parsed);
                match shared.store.lift_ban(&parsed.to_string(), now()) {
                    Ok(stored) if stored || in_memory => bans_reply(&shared.store),
                    Ok(_) => AdminResponse::Error(format!("no ban in force for {parsed}")),
                    Err(e) => AdminResponse::Error(wire::clean_error_text(&e.to_string())),
                }
            }
            Err(e) => AdminResponse::Error(e),
        },
        AdminRequest::ListBans => match shared.bans.read() {
            Ok(b) => AdminResponse::Bans(ban_views(&b, now())),
            Err(_) => AdminResponse::Error("bans unavailable".into()),
        },
        AdminRequest::Audit(q) => match super::audit::audit(&shared.store, &shared.config.scoring, &q, now() * 1000) {
            Ok(r) => AdminResponse::Audit(r),
            Err(e) => AdminResponse::Error(wire::clean_error_text(&e)),
        },
        other => apply(&shared.store, &shared.layout, Some(shared.counters.snapshot()), other),
    }
}

/// Read one frame from a local stream (cap checked before the body is read).
pub async fn read<T: wire::Validate + serde::de::DeserializeOwned + serde::Serialize>(
    stream: &mut UnixStream,
) -> Result<T> {
    let mut prefix = [0u8; LEN_PREFIX];
    stream.read_exact(&mut prefix).await?;
    let len = wire::frame_len(prefix, MAX_FRAME)?;
    let mut body = vec![0u8; len.get()];
    stream.read_exact(&mut body).await?;
    Ok(wire::decode_checked(&body)?)
}

pub async fn write<T: serde::Serialize>(stream: &mut UnixStream, value: &T) -> Result<()> {
    stream.write_all(&wire::encode_frame(value, MAX_FRAME)?).await?;
    Ok(())
}
