//! `Disown`: the owner says a place of the account is not hers. It is never a known place
//! again, and every token issued there (session and automation) is revoked. From a known
//! place it is done at once; from anywhere else it is a change like any other (the code
//! texted to the oldest settled number, or the delay, announced). No one disowns the
//! network their own request comes from, nor a place known before theirs was first seen:
//! a thief who earned a place cannot disown the owner's older home. The disown code texted
//! about a new place is taken by `qxfer recover disown` (`requests::recover`).

use std::sync::Arc;

use tracing::info;

use super::answer::{change, done, refuse, Reply};
use super::current_password::password_ok;
use crate::policy::activity::Kind;
use crate::policy::places::may_disown;
use crate::server::account_guard::policy_view::places;
use crate::server::account_guard::AccountGuard;
use crate::server::conn::Conn;
use crate::server::Shared;
use crate::store::{Change, StoreError};
use crate::wire::{AccountReply, ErrorCode};

/// What the record said of the place.
enum Found {
    /// Disowned now: how many tokens issued there were revoked.
    Now(usize),
    /// Not from a known place: a protected change.
    Elsewhere,
    Refused(&'static str),
}

pub(super) async fn disown(
    conn: &Arc<Conn>,
    user: String,
    net: String,
    password: String,
    auth: Option<String>,
) -> Reply {
    let ip = conn.peer.ip();
    let phc = match password_ok(conn, &user, password).await? {
        Ok(phc) => phc,
        Err(refused) => return Ok(refused),
    };
    let Ok(target) = net.parse::<ipnet::IpNet>() else { return refuse(ErrorCode::BadRequest, "not a network") };
    let target = target.trunc();
    let net = target.to_string();
    let sh = conn.shared.clone();
    let now_ms = sh.clock().now_ms();
    let (u, n, checked) = (user.clone(), net.clone(), phc.clone());
    let found = Shared::blocking(move || -> Result<Found, StoreError> {
        let guard = sh.guard();
        let now = now_ms / 1000;
        let change = Change::Disown { net: n.clone() };
        let r = sh.store().update_recovery_as(&u, Some(&checked), |rec| {
            if let Some(why) = may_disown(&places(rec), &target, ip, guard.config(), now) {
                return (Found::Refused(why), false);
            }
            if !guard.known(rec, ip, now) {
                return (Found::Elsewhere, false);
            }
            AccountGuard::apply_to_record(rec, &change, now, now);
            (Found::Now(0), true)
        })?;
        let Some(found) = r else { return Ok(Found::Refused("the password changed meanwhile; nothing was changed")) };
        if let Found::Now(_) = found {
            let tokens = AccountGuard::beyond_the_record(sh.store(), &u, &change)?;
            if let Some(rec) = sh.store().recovery(&u)? {
                guard.announce_applied(sh.store(), &u, &rec, &change, 0, false, now_ms);
            }
            return Ok(Found::Now(tokens));
        }
        Ok(found)
    })
    .await??;
    match found {
        Found::Refused(why) => refuse(ErrorCode::BadRequest, format!("{net} was not disowned: {why}")),
        Found::Elsewhere => change(conn, &user, Change::Disown { net }, ip, auth, phc).await,
        Found::Now(tokens) => {
            conn.record(conn.activity(Kind::RecoveryCompleted).account(&user).detail(format!("disowned {net}")));
            info!(peer = %conn.peer, %user, event = "place_disowned", %net, tokens, "disowned from a known place");
            done(AccountReply::Changed {
                at: None,
                text: format!(
                    "done: disowned the network {net}: it is never a known place again; {tokens} token(s) issued \
                     there were revoked"
                ),
            })
        }
    }
}
