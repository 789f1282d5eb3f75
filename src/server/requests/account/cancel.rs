//! `Cancel`: a logged-in account cancels one of its pending changes (announced to its
//! numbers and mailbox), only from a place that was known before the change was asked for:
//! a thief has the password too, and must not cancel the owner's own changes from a place
//! of his. A pending recovery is not cancelled this way at all; the cancel code texted to
//! the account's numbers cancels anything (`qxfer recover cancel HOST CODE`).

use std::sync::Arc;

use super::answer::{done, refuse, Reply};
use super::current_password::password_ok;
use crate::policy::activity::Kind;
use crate::server::account_guard::AccountGuard;
use crate::server::conn::Conn;
use crate::server::Shared;
use crate::store::{Change, StoreError};
use crate::wire::{AccountReply, ErrorCode};

/// What cancelling found.
enum Cancelled {
    /// The change cancelled, described.
    Done(String),
    /// A pending recovery: not cancelled with the password.
    Recovery,
    /// Not from a place known before the change was asked for.
    NotKnownBefore,
    /// No pending change with this id (or the password changed meanwhile).
    NotFound,
}

pub(super) async fn cancel(conn: &Arc<Conn>, user: String, id: u64, password: String) -> Reply {
    let sh = conn.shared.clone();
    let now_ms = sh.clock().now_ms();
    let phc = match password_ok(conn, &user, password).await? {
        Ok(phc) => phc,
        Err(refused) => return Ok(refused),
    };
    let ip = conn.peer.ip();
    let cancelled = Shared::blocking(move || -> Result<Cancelled, StoreError> {
        let now = now_ms / 1000;
        let known_since = sh.store().recovery(&user)?.and_then(|rec| sh.guard().known_since(&rec, ip, now));
        let r = sh.store().update_recovery_as(&user, Some(&phc), |rec| {
            match rec.pending.iter().position(|p| p.id == id) {
                // A thief has the password too: a recovery is cancelled only with a
                // code texted to the account's numbers.
                Some(i) if matches!(rec.pending.get(i).map(|p| &p.change), Some(Change::Recover { .. })) => {
                    (Err(Cancelled::Recovery), false)
                }
                // Whole seconds: known in the second it was asked for is known before it.
                Some(i) if rec.pending.get(i).is_none_or(|p| known_since.is_none_or(|k| k > p.requested)) => {
                    (Err(Cancelled::NotKnownBefore), false)
                }
                Some(i) => {
                    let p = rec.pending.remove(i);
                    AccountGuard::forget_cancelled(rec, &p.change);
                    (Ok(Some((p, rec.clone()))), true)
                }
                None => (Ok(None), false),
            }
        })?;
        let (p, rec) = match r {
            Some(Ok(Some(found))) => found,
            Some(Err(why)) => return Ok(why),
            _ => return Ok(Cancelled::NotFound),
        };
        let what = p.change.describe();
        sh.guard().announce(
            sh.store(),
            &user,
            &rec,
            &format!("Cancelled: {what}"),
            &format!("{what}, asked for from {}, was cancelled by a logged-in session.", p.from),
            now_ms,
        );
        Ok(Cancelled::Done(what))
    })
    .await??;
    match cancelled {
        Cancelled::Recovery => refuse(
            ErrorCode::BadRequest,
            "a pending recovery is cancelled only with the cancel code texted to the account's numbers \
             (qxfer recover cancel HOST CODE)",
        ),
        Cancelled::NotKnownBefore => refuse(
            ErrorCode::BadRequest,
            format!(
                "change {id} can be cancelled with the password only from a place the account knew before it was \
                 asked for; cancel it with the code texted to the account's numbers (qxfer recover cancel HOST CODE)"
            ),
        ),
        Cancelled::Done(what) => {
            conn.record(conn.activity(Kind::RecoveryCancelled).detail(format!("{what}, by its account")));
            done(AccountReply::Done { text: format!("cancelled: {what}") })
        }
        Cancelled::NotFound => refuse(ErrorCode::NotFound, format!("no pending change {id}")),
    }
}
