//! `Login`: a session token or a password. Password hashes are memory-hard, so they run on
//! the blocking pool, a bounded number at a time. A failed login is recorded, delayed, and
//! after `max_login_attempts` closes the connection.

use std::sync::Arc;

use tracing::{info, warn};

use crate::accounts;
use crate::policy::activity::Kind;
use crate::server::conn::Conn;
use crate::server::counters::bump;
use crate::server::error::{error_reply, ServerError};
use crate::server::outcome::{Close, Outcome};
use crate::server::Shared;
use crate::store::StoreError;
use crate::transport::{close, endpoint};
use crate::wire::{Credential, ErrorCode, Response, Token};

/// What checking the credentials found.
enum Check {
    /// Good credentials; a password login gets a new session token.
    Accepted { token: Option<Token> },
    /// Wrong credentials; `known` tells whether the account exists (for the record only).
    Refused { known: bool },
}

pub(super) async fn handle(
    conn: &Arc<Conn>,
    user: String,
    credential: Credential,
) -> Result<Outcome<Response>, ServerError> {
    let sh = conn.shared.clone();
    let check = match credential {
        Credential::Token(token) => {
            let key = accounts::token_key(&token);
            let u = user.clone();
            Shared::blocking(move || -> Result<Check, StoreError> {
                let owner = sh.store().token_user(&key, sh.now())?;
                Ok(if owner.as_deref() == Some(u.as_str()) {
                    Check::Accepted { token: None }
                } else {
                    Check::Refused { known: true }
                })
            })
            .await??
        }
        Credential::Password(password) => {
            let _slot = conn.shared.hash_slot().await?;
            let u = user.clone();
            Shared::blocking(move || -> Result<Check, StoreError> {
                let phc = sh.store().password_hash(&u)?;
                if !accounts::verify_password(phc.as_deref(), &password) {
                    return Ok(Check::Refused { known: phc.is_some() });
                }
                let token = accounts::new_token().map_err(|_| StoreError::Corrupt("token"))?;
                let expires = sh.now() + accounts::TOKEN_LIFETIME_SECS;
                // The password (or the account) may have changed while it was being checked.
                let phc = phc.unwrap_or_default();
                if !sh.store().add_token(&accounts::token_key(&token), &u, &phc, expires)? {
                    return Ok(Check::Refused { known: true });
                }
                Ok(Check::Accepted { token: Some(token) })
            })
            .await??
        }
    };
    Ok(match check {
        Check::Accepted { token } => {
            conn.session(|s| s.logged_in(&user));
            conn.shared.logged_in(&conn.connection, &user);
            conn.record(conn.activity(Kind::LoginOk).account(&user));
            endpoint::grant(&conn.connection, &conn.shared.limits().net());
            info!(peer = %conn.peer, %user, event = "login", "logged in");
            Outcome::reply(Response::LoggedIn { user, token })
        }
        Check::Refused { known } => {
            bump(&conn.shared.counters().auth_failures);
            let kind = if known { Kind::LoginFailed } else { Kind::UnknownUser };
            conn.record(conn.activity(kind).account(&user));
            warn!(peer = %conn.peer, %user, event = "auth_failure", "login failed");
            // Slow down guessing; other connections are not held up.
            let delay = std::time::Duration::from_millis(conn.shared.limits().failed_login_delay_ms);
            tokio::time::sleep(delay).await;
            let close = conn
                .session(|s| s.login_failed())
                .then_some(Close { code: close::AUTH, reason: "too many failed logins" });
            Outcome::reply(error_reply(ErrorCode::AuthFailed, "wrong user name or password")).close(close)
        }
    })
}
