//! Recovery before login: `RecoverStart` texts a code to the account's oldest settled
//! number (`recover_finish` takes it, with the secret answer or a recovery code), and
//! `CancelChange` cancels a pending change with a texted cancel code.
//!
//! Whatever costs a text or a hash needs a solved challenge for the account first (a
//! captcha when the step-up applies). Replies never tell whether an account or a number
//! exists: a name that cannot be texted goes through the same steps as an account
//! (`account_guard::starts`), every reply to a start comes after the same time, and each
//! says what really happened and when the next code can be texted (`recover_words`).

use std::sync::Arc;

use tracing::{info, warn};

use super::recover_words::Words;
use super::solved::{record_solved, refused};
use crate::policy::activity::Kind;
use crate::server::account_guard::new_place::DisownedByCode;
use crate::server::account_guard::starts::Stop;
use crate::server::account_guard::AccountGuard;
use crate::server::conn::Conn;
use crate::server::error::{error_reply, ServerError};
use crate::server::outcome::Outcome;
use crate::server::Shared;
use crate::store::StoreError;
use crate::wire::{AccountReply, ErrorCode, Response, Solution};

/// The words of this listener's recovery replies for `user`, asked from `net`.
pub(super) fn words<'a>(sh: &'a Shared, user: &'a str, net: &'a str, now: u64) -> Words<'a> {
    let guard = sh.guard();
    let rules = guard.start_rules();
    Words { user, host: guard.host(), net, now, per_network: rules.per_network, per_account: rules.per_account }
}

/// Check and spend the solved challenge a recovery request carries; the refusal when it
/// does not pass. A name no account has goes through the very same steps (the ticket was
/// issued, and counted against the source's share, like any other), and a busy listener is
/// never held against the asker (`solved::refused`).
pub(super) fn challenge_passed(conn: &Arc<Conn>, user: &str, s: &Solution) -> Option<Outcome<Response>> {
    let sh = &conn.shared;
    let ip = conn.peer.ip();
    let now_ms = sh.clock().now_ms();
    let scored = (!sh.config().scoring.is_exempt(ip)).then_some(ip);
    let stepped_up = sh.challenges().needed(scored, user, now_ms);
    let checked = sh.challenges().check(s, user, ip, stepped_up, now_ms).and_then(|solved| {
        sh.challenges().spend(s, now_ms)?;
        Ok(solved)
    });
    match checked {
        Ok(solved) => {
            record_solved(conn, user, &solved);
            None
        }
        Err(e) => Some(refused(conn, user, "recovery", s, e)),
    }
}

/// A guess that failed: its event, and a step towards the captcha for the source and account.
pub(super) fn wrong(conn: &Arc<Conn>, user: &str, kind: Kind, detail: &str) {
    let sh = &conn.shared;
    let ip = conn.peer.ip();
    let scored = (!sh.config().scoring.is_exempt(ip)).then_some(ip);
    sh.challenges().failed(scored, user, sh.clock().now_ms());
    conn.record(conn.activity(kind).account(user).detail(detail));
    warn!(peer = %conn.peer, %user, event = kind.name(), "{detail}");
}

pub(super) async fn start(
    conn: &Arc<Conn>,
    user: String,
    solution: Solution,
) -> Result<Outcome<Response>, ServerError> {
    if let Some(refused) = challenge_passed(conn, &user, &solution) {
        return Ok(refused);
    }
    let sh = conn.shared.clone();
    let now_ms = sh.clock().now_ms();
    let now = now_ms / 1000;
    let began = tokio::time::Instant::now();
    let ip = conn.peer.ip();
    let net = crate::policy::prefix_of(ip).to_string();
    let Some(slot) = sh.guard().background_slot() else {
        warn!(peer = %conn.peer, %user, event = "recovery_busy", "too many recovery starts at once; this one does nothing");
        let text = format!(
            "no code was texted: the listener is busy with other recoveries; try again in a minute: qxfer recover {} \
             --user {user}",
            sh.guard().host()
        );
        return Ok(Outcome::reply(error_reply(ErrorCode::Limit, text)));
    };
    let (shb, u) = (sh.clone(), user.clone());
    let (started, what) = Shared::blocking(move || -> Result<_, StoreError> {
        let _slot = slot;
        shb.guard().start_recovery(shb.store(), &u, ip, now_ms)
    })
    .await??;
    conn.record(conn.activity(Kind::RecoveryRequested).account(&user).detail(format!("recovery start: {what}")));
    info!(peer = %conn.peer, %user, event = "recovery_requested", "recovery start: {what}");
    // Every start is answered after the same time, whether a text went (a database write)
    // or the name cannot be texted (a read).
    let floor = std::time::Duration::from_millis(sh.limits().failed_login_delay_ms);
    tokio::time::sleep_until(began + floor).await;
    let words = words(&sh, &user, &net, now);
    Ok(Outcome::reply(match started {
        Ok(until) => Response::Account(AccountReply::Done { text: words.texted(until) }),
        // The code in force still works: the person types it.
        Err(Stop::InForce { asked, until }) => {
            Response::Account(AccountReply::Done { text: words.in_force(asked, until) })
        }
        Err(stop) => error_reply(ErrorCode::Limit, words.stopped(&stop)),
    }))
}

/// `RecoverCancel`: a texted code that cancels a pending change, or (texted about a new
/// place) disowns that place: `qxfer recover cancel` and `qxfer recover disown` send the
/// same request, and the code says which it is.
pub(super) async fn cancel(conn: &Arc<Conn>, code: String) -> Result<Outcome<Response>, ServerError> {
    let sh = conn.shared.clone();
    let hash = sh.guard().cancel_hash(&code);
    let now_ms = sh.clock().now_ms();
    let ip = conn.peer.ip();
    let shd = sh.clone();
    let disowned = Shared::blocking(move || shd.guard().disown_by_code(shd.store(), &hash, ip, now_ms)).await??;
    match disowned {
        Some(DisownedByCode::Done { user, net, tokens }) => {
            conn.record(
                conn.activity(Kind::RecoveryCompleted).account(&user).detail(format!("disowned {net}, by code")),
            );
            info!(peer = %conn.peer, %user, event = "place_disowned", %net, tokens, "disowned by its texted code");
            return Ok(Outcome::reply(Response::Account(AccountReply::Done {
                text: format!(
                    "disowned: the network {net} is never a known place of {user} again; {tokens} token(s) issued \
                 there were revoked. Change the password too: whoever logged in from there has it"
                ),
            })));
        }
        Some(DisownedByCode::Refused(why)) => {
            return Ok(Outcome::reply(error_reply(ErrorCode::BadRequest, format!("not disowned: {why}"))));
        }
        None => {}
    }
    let found = Shared::blocking(move || -> Result<Option<(String, String)>, StoreError> {
        let Some(owner) = sh.store().cancel_owner(&hash)? else { return Ok(None) };
        let done = sh.store().update_recovery(&owner, |rec| {
            match rec.pending.iter().position(|p| p.cancels.contains(&hash)) {
                Some(i) => {
                    let p = rec.pending.remove(i);
                    AccountGuard::forget_cancelled(rec, &p.change);
                    (Some((p, rec.clone())), true)
                }
                None => (None, false),
            }
        })?;
        let Some(Some((pending, rec))) = done else { return Ok(None) };
        let what = pending.change.describe();
        sh.guard().announce(
            sh.store(),
            &owner,
            &rec,
            &format!("Cancelled: {what}"),
            &format!("{what}, asked for from {}, was cancelled with a texted cancel code.", pending.from),
            now_ms,
        );
        Ok(Some((owner, what)))
    })
    .await??;
    match found {
        Some((owner, what)) => {
            conn.record(
                conn.activity(Kind::RecoveryCancelled).account(&owner).detail(format!("{what}, by cancel code")),
            );
            info!(peer = %conn.peer, user = %owner, event = "recovery_cancelled", "{what}: cancelled by code");
            Ok(Outcome::reply(Response::Account(AccountReply::Done { text: format!("cancelled: {what}") })))
        }
        None => {
            conn.record(conn.activity(Kind::RecoveryWrongCode).detail("no pending change has this cancel code"));
            warn!(peer = %conn.peer, event = "recovery_wrong_code", "unknown cancel code");
            Ok(Outcome::reply(error_reply(
                ErrorCode::NotFound,
                "no pending change or new place has this code (it may have taken effect, been cancelled or used \
                 already)",
            )))
        }
    }
}
