//! Recovery before login: `RecoverStart` texts a code to the account's oldest settled
//! number, `RecoverFinish` takes that code with the secret answer or a recovery code and
//! sets a new password (now from a known place, after the delay from anywhere else), and
//! `CancelChange` cancels a pending change with a texted cancel code.
//!
//! Whatever costs a text or a hash needs a solved challenge for the account first (a
//! captcha when the step-up applies). Replies never tell whether an account or a number
//! exists: the start's reply is one sentence for everyone, and a wrong or missing code is
//! "wrong or expired" for everyone.

use std::sync::Arc;

use tracing::{info, warn};

use super::solved::record_solved;
use crate::accounts;
use crate::policy::activity::Kind;
use crate::policy::recovery::{mask_phone, normalise_secret_answer, CodeError};
use crate::server::account_guard::codes::RECOVER;
use crate::server::account_guard::new_place::DisownedByCode;
use crate::server::account_guard::AccountGuard;
use crate::server::conn::Conn;
use crate::server::error::{error_reply, ServerError};
use crate::server::outcome::Outcome;
use crate::server::Shared;
use crate::store::{Change, RecentKind, StoreError};
use crate::wire::{AccountReply, ErrorCode, Proof, Response, Solution};

/// The one reply to a recovery start.
fn started_text(user: &str, ttl: u64) -> String {
    format!(
        "if {user} exists and has a verified phone number, a code was texted to its oldest one \
         (unless one went in the last {} min, or the day's texts for it are used up); it works for {} min",
        ttl / 60,
        ttl / 60
    )
}

/// Check and spend the solved challenge a recovery request carries; the refusal when it
/// does not pass.
fn challenge_passed(conn: &Arc<Conn>, user: &str, s: &Solution) -> Option<Outcome<Response>> {
    let sh = &conn.shared;
    let ip = conn.peer.ip();
    let now_ms = sh.clock().now_ms();
    let scored = (!sh.config().scoring.is_exempt(ip)).then_some(ip);
    let stepped_up = sh.challenges().needed(scored, user, now_ms);
    let checked = sh.challenges().check(s, user, ip, stepped_up, now_ms).and_then(|solved| {
        sh.challenges().spend(s, &solved, ip, now_ms)?;
        Ok(solved)
    });
    match checked {
        Ok(solved) => {
            record_solved(conn, user, &solved);
            None
        }
        Err(e) => {
            conn.record(conn.activity(Kind::ChallengeFailed).account(user).detail(format!("recovery: {e}")));
            warn!(peer = %conn.peer, %user, event = "challenge_failed", "recovery without a solved challenge: {e}");
            Some(Outcome::reply(error_reply(ErrorCode::ChallengeFailed, format!("challenge not solved: {e}"))))
        }
    }
}

/// A guess that failed: its event, and a step towards the captcha for the source and account.
fn wrong(conn: &Arc<Conn>, user: &str, kind: Kind, detail: &str) {
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
    conn.record(conn.activity(Kind::RecoveryRequested).account(&user));
    info!(peer = %conn.peer, %user, event = "recovery_requested", "account recovery asked for");
    // The reply goes out before the work is done, so its timing says nothing about
    // whether the account or a number exists (a text means a database write).
    let u = user.clone();
    let event = conn.activity(Kind::TextSent).account(&user);
    let peer = conn.peer;
    let ip = peer.ip();
    let Some(slot) = sh.guard().background_slot() else {
        warn!(%peer, %user, event = "recovery_busy", "too many recovery starts at once; this one does nothing");
        let ttl = conn.shared.guard().config().code_ttl_secs;
        return Ok(Outcome::reply(Response::Account(AccountReply::Done { text: started_text(&user, ttl) })));
    };
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let guard = sh.guard();
        let outcome = sh.store().update_recovery(&u, |rec| {
            let Some(number) = guard.owner_number(rec, now) else { return ("no verified number".to_string(), false) };
            // A code in force is not replaced: the owner may be typing it.
            if AccountGuard::code_in_force(rec, RECOVER, now) {
                return ("a code texted earlier is still in force; none sent".into(), false);
            }
            // The code is kept (and counted) only when its text is on its way.
            let sent = guard.send_code(rec, RecentKind::Start, ip, RECOVER, &u, &number, now_ms, |code, min| {
                format!(
                    "your code to recover account {u} is {code}. It works for {min} min. \
                     If you did not ask for it, ignore it: nothing changes without it."
                )
            });
            match sent {
                Ok(()) => (format!("code texted to {}", mask_phone(&number)), true),
                Err(e) => (format!("code not texted to {}: {e}", mask_phone(&number)), false),
            }
        });
        let what = match outcome {
            Err(e) => format!("failed: {e}"),
            Ok(None) => "no such account".into(),
            Ok(Some(what)) => what,
        };
        info!(%peer, user = %u, event = "recovery_code", "recovery start: {what}");
        sh.record(event.detail(format!("recovery start: {what}")));
    });
    let ttl = conn.shared.guard().config().code_ttl_secs;
    Ok(Outcome::reply(Response::Account(AccountReply::Done { text: started_text(&user, ttl) })))
}

/// What the texted code and the proof gave.
enum Finish {
    WrongCode(String),
    WrongProof(&'static str),
    Proven,
}

pub(super) async fn finish(
    conn: &Arc<Conn>,
    user: String,
    code: String,
    proof: Proof,
    new_password: String,
    solution: Solution,
) -> Result<Outcome<Response>, ServerError> {
    if new_password.len() < crate::wire::MIN_PASSWORD {
        return Ok(Outcome::reply(error_reply(ErrorCode::BadRequest, "the new password must be 8 to 1024 bytes long")));
    }
    if let Some(refused) = challenge_passed(conn, &user, &solution) {
        return Ok(refused);
    }
    let sh = conn.shared.clone();
    let ip = conn.peer.ip();
    let now = sh.clock().now();
    let started = tokio::time::Instant::now();
    // The texted code first: it costs one keyed hash, and without it nothing else is tried.
    let (u, c, p) = (user.clone(), code.clone(), proof.clone());
    let shc = sh.clone();
    let step = Shared::blocking(move || -> Result<(Finish, Option<String>), StoreError> {
        let guard = shc.guard();
        let result = shc.store().update_recovery(&u, |rec| {
            if let Err(e) = guard.take_code(rec, RECOVER, &u, &c, now) {
                let why = match e {
                    CodeError::Wrong { left } => format!("wrong code, {left} attempts left"),
                    other => other.to_string(),
                };
                return ((Finish::WrongCode(why), None), true);
            }
            match &p {
                Proof::RecoveryCode(rc) => {
                    let h = guard.recovery_code_hash(&u, rc);
                    match rec.codes.iter().position(|x| *x == h) {
                        Some(i) => {
                            rec.codes.remove(i);
                            ((Finish::Proven, None), true)
                        }
                        None => ((Finish::WrongProof("wrong recovery code"), None), true),
                    }
                }
                Proof::Answer(_) => (
                    (Finish::Proven, Some(rec.question.as_ref().map(|q| q.answer_phc.clone()).unwrap_or_default())),
                    true,
                ),
            }
        })?;
        Ok(result.unwrap_or((Finish::WrongCode("no such account".into()), None)))
    })
    .await??;
    let (finish, answer_phc) = step;
    if let Finish::WrongCode(why) = &finish {
        wrong(conn, &user, Kind::RecoveryWrongCode, &format!("recovery: {why}"));
        // Every wrong code is answered after the same time, whether the account exists
        // (a database write) or not (a read), and guessing is slowed down.
        let floor = std::time::Duration::from_millis(conn.shared.limits().failed_login_delay_ms);
        tokio::time::sleep_until(started + floor).await;
        return Ok(Outcome::reply(error_reply(
            ErrorCode::AuthFailed,
            "wrong or expired code (ask for a new one with qxfer recover)",
        )));
    }
    let Some(_slot) = conn.shared.hash_slot(0).await else {
        return Ok(Outcome::reply(error_reply(ErrorCode::Limit, "the listener is busy; try again in a moment")));
    };
    let mut finish = finish;
    if let (Proof::Answer(answer), Some(phc)) = (&proof, answer_phc) {
        let normalised = normalise_secret_answer(answer);
        let stored = (!phc.is_empty()).then_some(phc);
        let ok = Shared::blocking(move || accounts::verify_password(stored.as_deref(), &normalised)).await?;
        if !ok {
            finish = Finish::WrongProof("wrong secret answer");
        }
    }
    if let Finish::WrongProof(why) = finish {
        wrong(conn, &user, Kind::RecoveryWrongAnswer, &format!("recovery: {why} (after a right code)"));
        return Ok(Outcome::reply(error_reply(
            ErrorCode::AuthFailed,
            "the secret answer or recovery code is wrong; the texted code is used up, ask for a new one",
        )));
    }
    let phc = Shared::blocking(move || accounts::hash_password(&new_password)).await?;
    let phc = match phc {
        Ok(phc) => phc,
        Err(e) => return Ok(Outcome::reply(error_reply(ErrorCode::BadRequest, e))),
    };
    drop(_slot);
    let change = Change::Recover { phc };
    match super::protected_change::apply_or_schedule(conn, &user, change, ip, None, None).await? {
        Ok(reply) => Ok(Outcome::reply(Response::Account(reply))),
        Err(refused) => Ok(refused),
    }
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
                    "disowned: the network {net} is never a known place of {user} again; {tokens} token(s) issued                      there were revoked. Change the password too: whoever logged in from there has it"
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
