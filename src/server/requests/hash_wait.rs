//! A password login's place in the hash queue (where it comes from, as its account sees
//! it), its wait for a hash slot, and the listener's "busy". The slots are shared
//! fairly (`hash_queue`): the login waits as its network and its account (every name no
//! account has as one), from one of the account's known places or not, with the work it
//! carries. Under load (more logins waiting than there are slots) a login that carries no
//! work is asked to attach the work the listener suggests, and the real client does.
//!
//! "Busy" (the queue full, a fairer newcomer taking the place, the login still waiting at
//! twice the login deadline, no room to spend a ticket) is the listener's load, never the
//! peer's offence: recorded as `refused`, never scored, never a failed login.

use std::sync::Arc;

use tracing::info;

use crate::policy::activity::Kind;
use crate::policy::challenges::Place;
use crate::policy::fair_queue::{Owner, Want};
use crate::server::conn::Conn;
use crate::server::error::{error_reply, ServerError};
use crate::server::hash_queue::HashSlot;
use crate::server::outcome::{Close, Outcome};
use crate::server::Shared;
use crate::store::StoreError;
use crate::transport::{close, tls};
use crate::wire::{ErrorCode, Response, LOADED_TEXT};

/// What the listener says when it is too busy to serve a request now.
pub(super) const BUSY_TEXT: &str = "the listener is busy checking passwords; try again in a moment";

/// A refusal for load: recorded (not scored), logged, answered `Limit` with words; with
/// `close`, the connection closes after the reply (its login deadline has passed).
pub(super) fn busy(conn: &Arc<Conn>, user: &str, why: &str, close: bool) -> Outcome<Response> {
    conn.record(conn.activity(Kind::Refused).account(user).detail(format!("busy: {why}")));
    info!(peer = %conn.peer, %user, event = "login_busy", "{why}; answered busy, not scored");
    let close = close.then_some(Close { code: close::LIMIT, reason: "the listener is busy" });
    Outcome::reply(error_reply(ErrorCode::Limit, BUSY_TEXT)).close(close)
}

/// Where a password login comes from, as its account sees it: one of its known places, or
/// elsewhere (always, for a name no account has); and whether an account has the name.
/// The step-up and the hash queue go by both.
pub(super) async fn place_of(conn: &Arc<Conn>, user: &str) -> Result<(Place, bool), ServerError> {
    let (sh, u, ip) = (conn.shared.clone(), user.to_owned(), conn.peer.ip());
    Ok(Shared::blocking(move || -> Result<(Place, bool), StoreError> {
        let now = sh.clock().now();
        let known = sh.store().recovery(&u)?.is_some_and(|rec| sh.guard().known(&rec, ip, now));
        Ok((if known { Place::Known } else { Place::Elsewhere }, sh.store().user_exists(&u)?))
    })
    .await??)
}

/// Whether the client can answer a challenge (qxfer/4 and later).
fn can_solve(conn: &Conn) -> bool {
    matches!(
        tls::negotiated_protocol(&conn.connection).as_deref(),
        Some(crate::wire::ALPN | crate::wire::ALPN_V5 | crate::wire::ALPN_V4)
    )
}

/// A hash slot for a password login of `user` (`exists`: an account has the name) from
/// `place`, carrying `effort` bits of work (`None`: no solution); or the reply instead.
pub(super) async fn slot<'a>(
    conn: &'a Arc<Conn>,
    user: &str,
    (place, exists): (Place, bool),
    effort: Option<u8>,
) -> Result<HashSlot<'a>, Outcome<Response>> {
    let slots = conn.shared.hash_slots();
    if effort.is_none() && slots.loaded() && can_solve(conn) {
        // Not a failed login and not an offence: the client is told what to attach.
        conn.record(conn.activity(Kind::Request).account(user).detail("asked for work: the listener is under load"));
        info!(peer = %conn.peer, %user, event = "login_work_asked", "under load; the login is asked to attach work");
        return Err(Outcome::reply(error_reply(ErrorCode::ChallengeRequired, LOADED_TEXT)));
    }
    let ip = conn.peer.ip();
    let owner = if exists { Owner::Account(user.to_owned()) } else { Owner::MadeUp };
    let want = Want {
        net: crate::policy::prefix_of(ip),
        owner,
        known: exists && place == Place::Known,
        effort: effort.unwrap_or(0),
    };
    match tokio::time::timeout_at(conn.login_ceiling(), slots.acquire(conn.peer, want)).await {
        Ok(Ok(slot)) => {
            test_hold(user).await;
            Ok(slot)
        }
        Ok(Err(_)) => Err(busy(conn, user, "the login queue is full", false)),
        Err(_) => Err(busy(conn, user, "no hash slot within twice the login deadline", true)),
    }
}

/// A hash slot for a request other than a login (a registration's new password, an
/// account change's current password or answer, a recovery's answer or new password) of
/// `user` from this connection: in the same fair queue as the logins, as its network and
/// its account (a name no account has with the network's made-up names), from one of the
/// account's known places or not, with `effort` bits of work; waiting at most twice the
/// login deadline. `None`: the listener is busy (its load, never the peer's offence).
pub(super) async fn other_slot<'a>(conn: &'a Arc<Conn>, user: &str, effort: u8) -> Option<HashSlot<'a>> {
    let (place, exists) = place_of(conn, user).await.ok()?;
    let want = Want {
        net: crate::policy::prefix_of(conn.peer.ip()),
        owner: if exists { Owner::Account(user.to_owned()) } else { Owner::MadeUp },
        known: exists && place == Place::Known,
        effort,
    };
    let wait = 2 * std::time::Duration::from_secs(conn.shared.limits().login_deadline_secs);
    conn.shared.hash_slot(conn.peer, want, tokio::time::Instant::now() + wait).await
}

/// Debug builds only: with `QXFER_TEST_HASH_HOLD` set, a login as `holdMS` (`hold3000`)
/// keeps its hash slot MS milliseconds before its hash, so the tests can hold the queue as
/// long as they need, on any machine. Release builds have no such hook.
#[cfg(debug_assertions)]
async fn test_hold(user: &str) {
    let ms = user.strip_prefix("hold").and_then(|ms| ms.parse().ok());
    if let (Some(ms), Some(_)) = (ms, std::env::var_os("QXFER_TEST_HASH_HOLD")) {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
}

#[cfg(not(debug_assertions))]
async fn test_hold(_: &str) {}
