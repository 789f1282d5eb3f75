//! The account's sessions and tokens: `TokenNew`/`TokenNewAuth` (a session token, or an
//! automation token for scripts), `TokensList` and `TokensRevoke`/`TokensRevokeAs`. A
//! session is named by the first 12 hex digits of its stored hash.
//!
//! Whoever has the password may be a thief. So a session token made from a place that is
//! not known is told to the owner (`account_guard::token_notices`); an automation token (a
//! year, exempt from the human-timing checks) is a protected change: with the code texted to
//! the oldest settled number it works at once, otherwise it is shown now but exists only
//! when the delay ends (announced with cancel codes; cancelling it means it never works).
//! Revoking needs the password (qxfer/5's `TokensRevoke` has none and keeps working), and
//! from a place that is not known ends only the tokens issued to the requester's network: a
//! thief cannot end the owner's sessions from his.

use std::sync::Arc;

use tracing::info;

use super::answer::{done, refuse, Reply};
use super::current_password::password_ok;
use crate::accounts;
use crate::clock::format_time;
use crate::policy::activity::Kind;
use crate::server::account_guard::token_notices::TokenTold;
use crate::server::conn::Conn;
use crate::server::requests::protected_change::apply_or_schedule;
use crate::server::Shared;
use crate::store::{token_id, Change, StoreError};
use crate::wire::{AccountReply, ErrorCode, SessionView, MAX_VIEW_ITEMS};

/// Which form a request came in: qxfer/5's, or qxfer/6's (which may carry a texted code and
/// takes the reply for a token that waits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Form {
    V5,
    V6,
}

/// `TokenNew`, `TokenNewAuth`: a new token, bound to the password it was asked for with.
pub(super) async fn new(
    conn: &Arc<Conn>,
    user: String,
    password: String,
    automation: bool,
    auth: Option<String>,
    form: Form,
) -> Reply {
    let sh = conn.shared.clone();
    let ip = conn.peer.ip();
    let now_ms = sh.clock().now_ms();
    let now = now_ms / 1000;
    let phc = match password_ok(conn, &user, password).await? {
        Ok(phc) => phc,
        Err(refused) => return Ok(refused),
    };
    let Ok(token) = accounts::new_token() else { return refuse(ErrorCode::Internal, "no system randomness") };
    let key = accounts::token_key(&token);
    let id = token_id(&key);
    let net = crate::policy::prefix_of(ip).to_string();
    if automation {
        let expires = now.saturating_add(accounts::AUTOMATION_TOKEN_LIFETIME_SECS);
        let change = Change::AutomationToken { key, phc: phc.clone(), expires, net };
        let token = hex::encode(token);
        return match apply_or_schedule(conn, &user, change, ip, auth, Some(phc)).await? {
            Ok(AccountReply::Changed { at: None, .. }) => {
                info!(peer = %conn.peer, %user, event = "token_issued", automation, "a new automation token");
                done(AccountReply::Token { token, id })
            }
            Ok(AccountReply::Changed { at: Some(at), .. }) => match form {
                Form::V6 => done(AccountReply::TokenFrom { token, id, at }),
                // A qxfer/5 client knows no reply for a token that waits: told in words.
                Form::V5 => done(AccountReply::Changed {
                    at: Some(at),
                    text: format!(
                        "automation token {id} (shown once): {token} - it works from {} (an automation token is a \
                         change: announced to the account's numbers, cancellable until then; a newer qxfer \
                         confirms it at once with --confirm-by-text)",
                        format_time(at)
                    ),
                }),
            },
            Ok(other) => done(other),
            Err(refused) => Ok(refused),
        };
    }
    let lifetime = accounts::TOKEN_LIFETIME_SECS;
    let u = user.clone();
    let (shc, tid) = (sh.clone(), id.clone());
    let kept = Shared::blocking(move || -> Result<Option<TokenTold>, StoreError> {
        if !shc.store().add_token(&key, &u, &phc, now.saturating_add(lifetime), Some(&net))? {
            return Ok(None);
        }
        shc.guard().tell_session_token(shc.store(), &u, ip, &tid, lifetime, now_ms).map(Some)
    })
    .await??;
    let Some(told) = kept else {
        return refuse(ErrorCode::AuthFailed, "the password changed meanwhile; no token was made");
    };
    conn.record(conn.activity(Kind::Request).detail(format!("new token {id}")));
    match told {
        TokenTold::KnownPlace => info!(peer = %conn.peer, %user, event = "token_issued", automation, "a new token"),
        TokenTold::Told { texted } => info!(
            peer = %conn.peer, %user, event = "token_issued", automation, texted,
            "a new token from a place that is not known: told to the owner"
        ),
    }
    done(AccountReply::Token { token: hex::encode(token), id })
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

/// `TokensRevoke` (no password: qxfer/5) and `TokensRevokeAs`: end one session (by its id),
/// or every one; from a place that is not known, only among those issued to this network.
pub(super) async fn revoke(conn: &Arc<Conn>, user: String, id: Option<String>, password: Option<String>) -> Reply {
    if let Some(password) = password {
        if let Err(refused) = password_ok(conn, &user, password).await? {
            return Ok(refused);
        }
    }
    let sh = conn.shared.clone();
    let ip = conn.peer.ip();
    let now = sh.clock().now_ms() / 1000;
    let all = id.is_none();
    let (revoked, known) = Shared::blocking(move || -> Result<(usize, bool), StoreError> {
        let known = sh.store().recovery(&user)?.is_some_and(|rec| sh.guard().known(&rec, ip, now));
        let here = crate::policy::prefix_of(ip).to_string();
        let doomed: Vec<[u8; 32]> = sh
            .store()
            .user_tokens_at(&user, now)?
            .into_iter()
            .filter(|t| known || t.net.as_deref() == Some(here.as_str()))
            .map(|t| t.key)
            .filter(|k| id.as_deref().is_none_or(|id| token_id(k) == id.to_ascii_lowercase()))
            .collect();
        Ok((sh.store().revoke_token_keys(&user, &doomed)?, known))
    })
    .await??;
    let only_here = "from a place the account does not know, only the tokens issued to this network are ended; the \
                     others from a known place, or by a new password";
    let detail =
        format!("revoking tokens ({}): {revoked} ended", if known { "a known place" } else { "this network's" });
    conn.record(conn.activity(Kind::Request).detail(detail));
    match (revoked, known) {
        (0, true) if all => refuse(ErrorCode::NotFound, "no session to end"),
        (0, true) => refuse(ErrorCode::NotFound, "no session with this id"),
        (0, false) if all => refuse(ErrorCode::NotFound, format!("no session to end here ({only_here})")),
        (0, false) => refuse(ErrorCode::NotFound, format!("no session with this id to end here ({only_here})")),
        (n, true) => done(AccountReply::Done { text: format!("ended {n} session(s); their tokens no longer work") }),
        (n, false) => done(AccountReply::Done {
            text: format!("ended {n} session(s); their tokens no longer work ({only_here})"),
        }),
    }
}
