//! The account's current password, checked before any change: a wrong one is a failed
//! login (recorded, and a step towards the captcha).

use std::sync::Arc;

use tracing::warn;

use crate::accounts;
use crate::policy::activity::Kind;
use crate::server::conn::Conn;
use crate::server::error::{error_reply, ServerError};
use crate::server::outcome::Outcome;
use crate::server::Shared;
use crate::store::StoreError;
use crate::wire::{ErrorCode, Response};

/// Check the account's current password (a memory-hard hash, in the bounded queue), and
/// return the hash it matched: a change is made only while the password is still that one.
/// `Err` is the refusal to send.
pub(super) async fn password_ok(
    conn: &Arc<Conn>,
    user: &str,
    password: String,
) -> Result<Result<String, Outcome<Response>>, ServerError> {
    let Some(_slot) = super::super::hash_wait::other_slot(conn, user, 0).await else {
        return Ok(Err(Outcome::reply(error_reply(ErrorCode::Limit, "the listener is busy; try again in a moment"))));
    };
    let sh = conn.shared.clone();
    let u = user.to_owned();
    let ok = Shared::blocking(move || -> Result<Option<String>, StoreError> {
        let phc = sh.store().password_hash(&u)?;
        Ok(accounts::verify_password(phc.as_deref(), &password).then_some(phc).flatten())
    })
    .await??;
    if let Some(phc) = ok {
        return Ok(Ok(phc));
    }
    let ip = conn.peer.ip();
    let scored = (!conn.shared.config().scoring.is_exempt(ip)).then_some(ip);
    conn.shared.challenges().failed(scored, user, conn.shared.clock().now_ms());
    conn.record(conn.activity(Kind::LoginFailed).detail("wrong current password for an account change"));
    warn!(peer = %conn.peer, %user, event = "auth_failure", "wrong current password for an account change");
    Ok(Err(Outcome::reply(error_reply(ErrorCode::AuthFailed, "wrong current password"))))
}
