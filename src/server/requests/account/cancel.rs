//! `Cancel`: a logged-in account cancels one of its pending changes (announced to its
//! numbers and mailbox). A pending recovery is not cancelled this way: a thief has the
//! password too, so only the cancel code texted to the account's numbers cancels it.

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
    let cancelled = Shared::blocking(move || -> Result<Cancelled, StoreError> {
        let r = sh.store().update_recovery_as(&user, Some(&phc), |rec| {
            match rec.pending.iter().position(|p| p.id == id) {
                // A thief has the password too: a recovery is cancelled only with a
                // code texted to the account's numbers.
                Some(i) if matches!(rec.pending.get(i).map(|p| &p.change), Some(Change::Recover { .. })) => {
                    (Err(()), false)
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
            Some(Err(())) => return Ok(Cancelled::Recovery),
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
        Cancelled::Done(what) => {
            conn.record(conn.activity(Kind::RecoveryCancelled).detail(format!("{what}, by its account")));
            done(AccountReply::Done { text: format!("cancelled: {what}") })
        }
        Cancelled::NotFound => refuse(ErrorCode::NotFound, format!("no pending change {id}")),
    }
}
