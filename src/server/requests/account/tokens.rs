//! The account's sessions and tokens: `TokenNew` (a session token, or an automation
//! token for scripts), `TokensList` and `TokensRevoke`. A session is named by the first
//! 12 hex digits of its stored hash.

use std::sync::Arc;

use tracing::info;

use super::answer::{done, refuse, Reply};
use super::current_password::password_ok;
use crate::accounts;
use crate::policy::activity::Kind;
use crate::server::conn::Conn;
use crate::server::Shared;
use crate::store::StoreError;
use crate::wire::{AccountReply, ErrorCode, SessionView, MAX_VIEW_ITEMS};

/// `TokenNew`: a new token, bound to the password it was asked for with.
pub(super) async fn new(conn: &Arc<Conn>, user: String, password: String, automation: bool) -> Reply {
    let sh = conn.shared.clone();
    let now = sh.clock().now_ms() / 1000;
    let phc = match password_ok(conn, &user, password).await? {
        Ok(phc) => phc,
        Err(refused) => return Ok(refused),
    };
    let Ok(token) = accounts::new_token() else { return refuse(ErrorCode::Internal, "no system randomness") };
    let key = accounts::token_key(&token);
    let lifetime = if automation { accounts::AUTOMATION_TOKEN_LIFETIME_SECS } else { accounts::TOKEN_LIFETIME_SECS };
    let u = user.clone();
    let net = crate::policy::prefix_of(conn.peer.ip()).to_string();
    let kept = Shared::blocking(move || -> Result<bool, StoreError> {
        if !sh.store().add_token(&key, &u, &phc, now.saturating_add(lifetime), Some(&net))? {
            return Ok(false);
        }
        if automation {
            sh.store().mark_automation(&key)?;
        }
        Ok(true)
    })
    .await??;
    if !kept {
        return refuse(ErrorCode::AuthFailed, "the password changed meanwhile; no token was made");
    }
    let kind = if automation { "automation token" } else { "token" };
    conn.record(conn.activity(Kind::Request).detail(format!("new {kind} {}", token_id(&key))));
    info!(peer = %conn.peer, %user, event = "token_issued", automation, "a new {kind}");
    done(AccountReply::Token { token: hex::encode(token), id: token_id(&key) })
}

/// `TokensList`: the account's sessions and when each ends.
pub(super) async fn list(conn: &Arc<Conn>, user: String) -> Reply {
    let sh = conn.shared.clone();
    let now = sh.clock().now_ms() / 1000;
    let sessions = Shared::blocking(move || sh.store().user_tokens(&user, now)).await??;
    let sessions = sessions
        .into_iter()
        .take(MAX_VIEW_ITEMS)
        .map(|(key, expires)| SessionView { id: token_id(&key), expires })
        .collect();
    done(AccountReply::Sessions { sessions })
}

/// `TokensRevoke`: end one session (by its id), or every one.
pub(super) async fn revoke(conn: &Arc<Conn>, user: String, id: Option<String>) -> Reply {
    let sh = conn.shared.clone();
    let now = sh.clock().now_ms() / 1000;
    let revoked = Shared::blocking(move || -> Result<usize, StoreError> {
        let tokens = sh.store().user_tokens(&user, now)?;
        let doomed: Vec<[u8; 32]> = tokens
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| id.as_deref().is_none_or(|id| token_id(k) == id.to_ascii_lowercase()))
            .collect();
        sh.store().revoke_token_keys(&user, &doomed)
    })
    .await??;
    if revoked == 0 {
        return refuse(ErrorCode::NotFound, "no session with this id");
    }
    done(AccountReply::Done { text: format!("ended {revoked} session(s); their tokens no longer work") })
}

/// How `qxfer account tokens` names a session: the first 12 hex digits of its stored hash.
fn token_id(key: &[u8; 32]) -> String {
    hex::encode(key.get(..6).unwrap_or_default())
}
