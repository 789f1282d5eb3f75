//! The end of a recovery: `RecoverQuestion` (qxfer/6) checks the texted code and answers
//! with the account's secret question, so the person reads it before typing the answer;
//! `RecoverFinish` takes the code with the secret answer or a recovery code and sets a new
//! password (at once from a known place, after the delay from anywhere else).
//!
//! A wrong answer (or recovery code) after the right texted code does not end the code: it
//! costs one of the code's attempts, paid before the answer is checked, and the reply says
//! how many are left and until when the same code works. So the answers that can be tried
//! with one texted code are at most its attempts (`recovery.code_attempts`, 5), code
//! guesses included, and only by whoever reads the texts to the account's oldest number.
//! A used code (or recovery code) typed again is told so, and is not an offence. Before the
//! right code, every reply reads the same for a name that cannot be texted as for an
//! account (`account_guard::starts`), after the same time.

use std::sync::Arc;

use tracing::info;

use super::recover::{challenge_passed, words, wrong};
use crate::accounts;
use crate::policy::activity::Kind;
use crate::policy::recovery::{normalise_secret_answer, CodeError};
use crate::server::account_guard::codes::{Checked, RECOVER, RECOVERY_CODE, USED_RECOVERY_CODE_SECS};
use crate::server::account_guard::starts::{Stop, WrongCode};
use crate::server::account_guard::AccountGuard;
use crate::server::conn::Conn;
use crate::server::error::{error_reply, ServerError};
use crate::server::outcome::Outcome;
use crate::server::Shared;
use crate::store::{Change, StoreError, UsedCode};
use crate::wire::{AccountReply, ErrorCode, Proof, Response, Solution};

/// A wrong texted code: its event (a used one typed again is not scored), the same delay
/// for every account and name, and the reply.
async fn wrong_code(conn: &Arc<Conn>, user: &str, w: &WrongCode, began: tokio::time::Instant) -> Outcome<Response> {
    if w.why == CodeError::Used {
        conn.record(conn.activity(Kind::Request).account(user).detail("recovery: a used code typed again"));
    } else {
        wrong(conn, user, Kind::RecoveryWrongCode, &format!("recovery: {}", w.why));
    }
    // Every wrong code is answered after the same time, whether the account exists (a
    // database write) or not, and guessing is slowed down.
    let floor = std::time::Duration::from_millis(conn.shared.limits().failed_login_delay_ms);
    tokio::time::sleep_until(began + floor).await;
    let sh = &conn.shared;
    let net = crate::policy::prefix_of(conn.peer.ip()).to_string();
    Outcome::reply(error_reply(ErrorCode::AuthFailed, words(sh, user, &net, sh.clock().now()).wrong_code(w)))
}

/// `RecoverQuestion`: the texted code, checked (not used up); the secret question.
pub(super) async fn question(
    conn: &Arc<Conn>,
    user: String,
    code: String,
    solution: Solution,
) -> Result<Outcome<Response>, ServerError> {
    if let Some(refused) = challenge_passed(conn, &user, &solution) {
        return Ok(refused);
    }
    let began = tokio::time::Instant::now();
    let (sh, ip, u) = (conn.shared.clone(), conn.peer.ip(), user.clone());
    let now = sh.clock().now();
    let asked = Shared::blocking(move || -> Result<Result<AccountReply, WrongCode>, StoreError> {
        let guard = sh.guard();
        let found = sh.store().update_recovery(&u, |rec| {
            let checked = guard.check_recovery_code(rec, &u, &code, ip, false, now);
            let reply = checked.map(|c| AccountReply::Question {
                question: rec.question.as_ref().map(|q| q.text.clone()),
                recovery_codes: !rec.codes.is_empty(),
                tries: c.left,
                until: c.expires,
            });
            (reply, true)
        })?;
        Ok(found.unwrap_or_else(|| Err(guard.phantom_code(&u, ip, now))))
    })
    .await??;
    match asked {
        Ok(reply) => Ok(Outcome::reply(Response::Account(reply))),
        Err(w) => Ok(wrong_code(conn, &user, &w, began).await),
    }
}

/// What the texted code and a recovery code (checked at once) gave; an answer is checked
/// after, outside the transaction (argon2id).
enum First {
    WrongCode(WrongCode),
    Proven,
    /// The right code, charged; the answer's hash (`None`: no question is set).
    Answer {
        checked: Checked,
        phc: Option<String>,
        codes: bool,
    },
    /// A wrong recovery code: the attempts left with the texted code, whether others are
    /// left, and (none left) whether a new code can be texted.
    WrongRecoveryCode {
        checked: Checked,
        codes: bool,
        next: Result<(), Stop>,
    },
    /// A recovery code used already (nothing charged for it).
    UsedRecoveryCode {
        checked: Checked,
        codes: usize,
    },
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
    let began = tokio::time::Instant::now();
    let net = crate::policy::prefix_of(ip).to_string();
    // The texted code first, charged an attempt for the proof that comes with it.
    let (u, p, shc) = (user.clone(), proof.clone(), sh.clone());
    let first = Shared::blocking(move || -> Result<First, StoreError> {
        let guard = shc.guard();
        let found = shc.store().update_recovery(&u, |rec| {
            let checked = match guard.check_recovery_code(rec, &u, &code, ip, true, now) {
                Ok(checked) => checked,
                Err(w) => return (First::WrongCode(w), true),
            };
            let codes = !rec.codes.is_empty();
            let first = match &p {
                Proof::Answer(_) => {
                    First::Answer { checked, phc: rec.question.as_ref().map(|q| q.answer_phc.clone()), codes }
                }
                Proof::RecoveryCode(rc) => recovery_code(guard, rec, &u, rc, checked, ip, now),
            };
            (first, true)
        })?;
        Ok(found.unwrap_or_else(|| First::WrongCode(guard.phantom_code(&u, ip, now))))
    })
    .await??;
    let words = words(&sh, &user, &net, now);
    let refuse = |text: String| Ok(Outcome::reply(error_reply(ErrorCode::AuthFailed, text)));
    let (checked, phc, codes) = match first {
        First::WrongCode(w) => return Ok(wrong_code(conn, &user, &w, began).await),
        First::Proven => return set_password(conn, user, new_password).await,
        First::UsedRecoveryCode { checked, codes } => {
            conn.record(
                conn.activity(Kind::Request).account(&user).detail("recovery: a used recovery code typed again"),
            );
            return refuse(format!(
                "this recovery code was used already; give another one ({codes} left) with the same texted code, \
                 which works until {} ({} tries left)",
                crate::clock::format_time(checked.expires),
                checked.left
            ));
        }
        First::WrongRecoveryCode { checked, codes, next } => {
            wrong(conn, &user, Kind::RecoveryWrongAnswer, "recovery: wrong recovery code (after a right code)");
            return refuse(words.wrong_proof("recovery code", checked.left, checked.expires, codes, &next));
        }
        First::Answer { checked, phc: None, codes } => {
            // No question to answer: not a guess, so the attempt goes back.
            refund(&sh, &user).await?;
            let text = match codes {
                true => format!(
                    "{user} has no secret question: give one of its recovery codes instead, with the same texted code \
                     (it works until {})",
                    crate::clock::format_time(checked.expires)
                ),
                false => format!(
                    "{user} has neither a secret question nor recovery codes, so its recovery cannot be finished; the \
                     listener's operator can set a new password (qxfer user passwd {user})"
                ),
            };
            return Ok(Outcome::reply(error_reply(ErrorCode::BadRequest, text)));
        }
        First::Answer { checked, phc: Some(phc), codes } => (checked, phc, codes),
    };
    let Some(slot) = super::hash_wait::other_slot(conn, &user, 0).await else {
        // Nothing was checked: the attempt goes back.
        refund(&sh, &user).await?;
        return Ok(Outcome::reply(error_reply(ErrorCode::Limit, "the listener is busy; try again in a moment")));
    };
    let Proof::Answer(answer) = proof else { return Err(ServerError::Internal("an answer was checked")) };
    let normalised = normalise_secret_answer(&answer);
    let right = Shared::blocking(move || accounts::verify_password(Some(&phc), &normalised)).await?;
    drop(slot);
    let (u, shc) = (user.clone(), sh.clone());
    // Right: the code is used up, if no one used it meanwhile. Wrong: its attempt is spent;
    // with none left, whether a new code can be texted.
    let last = Shared::blocking(move || -> Result<Option<Last>, StoreError> {
        let guard = shc.guard();
        shc.store().update_recovery(&u, |rec| {
            let same = rec.sent.iter().any(|s| s.purpose == RECOVER && s.hash == checked.hash);
            match (right, same) {
                (true, true) => {
                    AccountGuard::use_code(rec, RECOVER, now);
                    (Last::Proven, true)
                }
                (true, false) => (Last::UsedMeanwhile, false),
                (false, _) => (Last::Wrong(guard.next_code(Some(rec), &u, ip, now)), false),
            }
        })
    })
    .await??;
    match last {
        Some(Last::Proven) => set_password(conn, user, new_password).await,
        Some(Last::UsedMeanwhile) => {
            refuse(words.wrong_code(&WrongCode { why: CodeError::Used, until: None, next: Ok(()) }))
        }
        Some(Last::Wrong(next)) => {
            wrong(conn, &user, Kind::RecoveryWrongAnswer, "recovery: wrong secret answer (after a right code)");
            refuse(words.wrong_proof("secret answer", checked.left, checked.expires, codes, &next))
        }
        None => refuse(format!("no such account: {user}")),
    }
}

/// How an answer checked after the transaction ends.
enum Last {
    /// Right, and the code is used up now.
    Proven,
    /// Right, but another request used the code meanwhile.
    UsedMeanwhile,
    /// Wrong: whether a new code could be texted (said when the code has no tries left).
    Wrong(Result<(), Stop>),
}

/// Give back the attempt the texted code was charged for a proof that was not checked.
async fn refund(sh: &Arc<Shared>, user: &str) -> Result<(), ServerError> {
    let (u, shc) = (user.to_owned(), sh.clone());
    Shared::blocking(move || shc.store().update_recovery(&u, |rec| (shc.guard().refund_attempt(rec, RECOVER), true)))
        .await??;
    Ok(())
}

/// A recovery code given as the proof, the texted code right and charged: used up when
/// right; a used one typed again costs nothing (the charge goes back).
fn recovery_code(
    guard: &AccountGuard,
    rec: &mut crate::store::RecoveryRecord,
    user: &str,
    typed: &str,
    checked: Checked,
    ip: std::net::IpAddr,
    now: u64,
) -> First {
    let h = guard.recovery_code_hash(user, typed);
    if let Some(i) = rec.codes.iter().position(|x| *x == h) {
        rec.codes.remove(i);
        let used = UsedCode { purpose: RECOVERY_CODE.into(), hash: h, until: now + USED_RECOVERY_CODE_SECS };
        AccountGuard::remember_used(rec, used, now);
        AccountGuard::use_code(rec, RECOVER, now);
        return First::Proven;
    }
    if rec.used.iter().any(|u| u.purpose == RECOVERY_CODE && u.hash == h && u.until > now) {
        guard.refund_attempt(rec, RECOVER);
        return First::UsedRecoveryCode {
            checked: Checked { left: checked.left + 1, ..checked },
            codes: rec.codes.len(),
        };
    }
    let next = if checked.left == 0 { guard.next_code(Some(rec), user, ip, now) } else { Ok(()) };
    First::WrongRecoveryCode { checked, codes: !rec.codes.is_empty(), next }
}

/// The proof held: the new password, at once from a known place, else after the delay.
async fn set_password(conn: &Arc<Conn>, user: String, new_password: String) -> Result<Outcome<Response>, ServerError> {
    let Some(slot) = super::hash_wait::other_slot(conn, &user, 0).await else {
        return Ok(Outcome::reply(error_reply(ErrorCode::Limit, "the listener is busy; try again in a moment")));
    };
    let phc = Shared::blocking(move || accounts::hash_password(&new_password)).await?;
    drop(slot);
    let phc = match phc {
        Ok(phc) => phc,
        Err(e) => return Ok(Outcome::reply(error_reply(ErrorCode::BadRequest, e))),
    };
    info!(peer = %conn.peer, %user, event = "recovery_proven", "recovery: the texted code and its proof were right");
    let ip = conn.peer.ip();
    match super::protected_change::apply_or_schedule(conn, &user, Change::Recover { phc }, ip, None, None).await? {
        Ok(reply) => Ok(Outcome::reply(Response::Account(reply))),
        Err(refused) => Ok(refused),
    }
}
