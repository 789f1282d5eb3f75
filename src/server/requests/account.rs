//! `Account`: a logged-in account's own settings: phone numbers, the secret question,
//! recovery codes, the password, sessions, and what the listener holds about it.
//!
//! A typed password alone is not a strong check (a thief has it), so every change needs
//! the current password AND a known place or a code texted to the oldest number; without
//! either it waits `recovery.unknown_place_delay_secs`, announced to every number and the
//! mailbox, cancellable.

use std::net::IpAddr;
use std::sync::Arc;

use tracing::{info, warn};

use crate::accounts;
use crate::clock::format_time;
use crate::policy::activity::Kind;
use crate::policy::recovery::{mask_phone, normalise_secret_answer, place_is_known};
use crate::server::account_guard::{places, verify_purpose, AccountGuard, AUTHORISE, MAX_PENDING};
use crate::server::conn::Conn;
use crate::server::error::{error_reply, ServerError};
use crate::server::outcome::Outcome;
use crate::server::Shared;
use crate::store::{Change, PhoneRec, RecentKind, RecoveryRecord, StoreError};
use crate::wire::{
    AccountReply, AccountRequest, AccountView, ErrorCode, PendingView, PhoneView, PlaceView, Response, SessionView,
    MAX_PHONES, MAX_VIEW_ITEMS,
};

type Reply = Result<Outcome<Response>, ServerError>;
/// A check that passed, or the error code and words to refuse with.
type Refusal = Result<(), (ErrorCode, String)>;

fn done(reply: AccountReply) -> Reply {
    Ok(Outcome::reply(Response::Account(reply)))
}

fn refuse(code: ErrorCode, text: impl std::fmt::Display) -> Reply {
    Ok(Outcome::reply(error_reply(code, text)))
}

/// Check the account's current password (a memory-hard hash, in the bounded queue), and
/// return the hash it matched: a change is made only while the password is still that one.
/// `Err` is the refusal to send.
async fn password_ok(
    conn: &Arc<Conn>,
    user: &str,
    password: String,
) -> Result<Result<String, Outcome<Response>>, ServerError> {
    let Some(_slot) = conn.shared.hash_slot(0).await else {
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

/// Apply `change` now, or put it off. Now when the connection comes from a known place of
/// the account or `auth` is the right code texted to its oldest settled number (a recovery
/// passes no `auth`: its texted code was the first step); otherwise after the delay,
/// announced. `phc` is the password hash the request was checked against (`None` for a
/// recovery): nothing changes once the password has changed meanwhile. While a recovery is
/// pending, no other change is taken.
pub(super) async fn apply_or_schedule(
    conn: &Arc<Conn>,
    user: &str,
    change: Change,
    ip: IpAddr,
    auth: Option<String>,
    phc: Option<String>,
) -> Result<Result<AccountReply, Outcome<Response>>, ServerError> {
    let sh = conn.shared.clone();
    let now_ms = sh.clock().now_ms();
    let now = now_ms / 1000;
    let u = user.to_owned();
    let what = change.describe();
    enum Decided {
        /// A change of the record, made in the same transaction as the checks.
        Applied(Change, RecoveryRecord),
        /// A new password, to set now.
        Password(Change),
        Later(crate::server::account_guard::Scheduled, RecoveryRecord),
        WrongAuth(String),
        RecoveryPending(u64),
        Full,
        TooMany,
    }
    let shc = sh.clone();
    let checked = phc.clone();
    let decided = Shared::blocking(move || -> Result<Option<Decided>, StoreError> {
        let guard = shc.guard();
        let decided = shc.store().update_recovery_as(&u, checked.as_deref(), |rec| {
            let is_recovery = matches!(change, Change::Recover { .. });
            if let (false, Some(at)) = (is_recovery, AccountGuard::recovery_pending(rec)) {
                return (Ok(Decided::RecoveryPending(at)), false);
            }
            let known = guard.known(rec, ip, now);
            let authorised = match &auth {
                _ if known => true,
                Some(code) => match guard.take_code(rec, AUTHORISE, &u, code, now) {
                    Ok(()) => true,
                    Err(e) => return (Ok(Decided::WrongAuth(e.to_string())), true),
                },
                None => false,
            };
            if authorised {
                return match change {
                    Change::Recover { .. } | Change::Password { .. } => (Ok(Decided::Password(change)), false),
                    _ => {
                        AccountGuard::apply_to_record(rec, &change, now);
                        (Ok(Decided::Applied(change, rec.clone())), true)
                    }
                };
            }
            if !is_recovery && !guard.allow(rec, RecentKind::Change, ip, now) {
                return (Ok(Decided::TooMany), false);
            }
            match guard.schedule(rec, change, ip, now) {
                Ok(Some(s)) => (Ok(Decided::Later(s, rec.clone())), true),
                Ok(None) => (Ok(Decided::Full), false),
                Err(e) => (Err(e), false),
            }
        })?;
        decided.transpose().map_err(|_| StoreError::Corrupt("no system randomness"))
    })
    .await??;
    let refuse = |code, text: String| Ok(Err(Outcome::reply(error_reply(code, text))));
    let Some(decided) = decided else {
        return refuse(ErrorCode::AuthFailed, "the password changed meanwhile; nothing was changed".into());
    };
    match decided {
        Decided::WrongAuth(why) => {
            conn.record(
                conn.activity(Kind::RecoveryWrongCode).account(user).detail(format!("authorising {what}: {why}")),
            );
            warn!(peer = %conn.peer, %user, event = "recovery_wrong_code", "authorising {what}: {why}");
            refuse(ErrorCode::AuthFailed, format!("the texted code was not accepted: {why}"))
        }
        Decided::RecoveryPending(at) => refuse(
            ErrorCode::Limit,
            format!(
                "a recovery of this account is pending until {}; no other change is taken before it \
                 (if it is not yours, cancel it with the code texted to your number)",
                format_time(at)
            ),
        ),
        Decided::Full => {
            refuse(ErrorCode::Limit, format!("{MAX_PENDING} changes are pending already; cancel one or wait for them"))
        }
        Decided::TooMany => refuse(ErrorCode::Limit, "the account's changes put off for today are used up".into()),
        Decided::Applied(change, rec) => {
            let (shc, u) = (sh.clone(), user.to_owned());
            Shared::blocking(move || announce_applied(&shc, &u, &rec, &change, 0, now_ms)).await?;
            conn.record(conn.activity(Kind::RecoveryCompleted).account(user).detail(&what));
            info!(peer = %conn.peer, %user, event = "recovery_completed", "{what}: done");
            Ok(Ok(AccountReply::Changed { at: None, text: format!("done: {what}") }))
        }
        Decided::Password(change) => {
            let keep = conn.connection.stable_id();
            let (shc, u) = (sh.clone(), user.to_owned());
            let except = (!matches!(change, Change::Recover { .. })).then_some(keep);
            let applied =
                Shared::blocking(move || apply_now(&shc, &u, &change, now_ms, except, phc.as_deref())).await??;
            if !applied {
                return refuse(ErrorCode::AuthFailed, "the password changed meanwhile; nothing was changed".into());
            }
            conn.record(conn.activity(Kind::RecoveryCompleted).account(user).detail(&what));
            info!(peer = %conn.peer, %user, event = "recovery_completed", "{what}: done");
            Ok(Ok(AccountReply::Changed { at: None, text: format!("done: {what}") }))
        }
        Decided::Later(s, rec) => {
            let at = s.pending.at;
            let id = s.pending.id;
            let (shc, u) = (sh.clone(), user.to_owned());
            let texted = s.cancel_codes.len();
            let failed =
                Shared::blocking(move || shc.guard().announce_pending(shc.store(), &u, &rec, &s, now_ms)).await?;
            if failed > 0 {
                // A change nobody could be told of with a cancel code does not wait silently.
                let (shc, u) = (sh.clone(), user.to_owned());
                Shared::blocking(move || {
                    shc.store().update_recovery(&u, |rec| {
                        if let Some(i) = rec.pending.iter().position(|p| p.id == id) {
                            let p = rec.pending.remove(i);
                            AccountGuard::forget_cancelled(rec, &p.change);
                        }
                        ((), true)
                    })
                })
                .await??;
                warn!(peer = %conn.peer, %user, event = "recovery_not_announced", "{what}: not put off, {failed} cancel code(s) could not be texted");
                return refuse(
                    ErrorCode::Limit,
                    format!(
                        "{what} was not put off: its cancel codes could not be texted now (the listener's texts are \
                         used up for today or failing); try later, or from a known place"
                    ),
                );
            }
            let detail = format!("{what}, until {}", format_time(at));
            conn.record(conn.activity(Kind::RecoveryDelayed).account(user).detail(&detail));
            info!(peer = %conn.peer, %user, event = "recovery_delayed", "{detail}");
            let text = format!(
                "{what} takes effect at {} (this network is not a known place of the account); \
                 announced to {texted} number(s) with a cancel code and to the mailbox, and cancellable until then",
                format_time(at)
            );
            Ok(Ok(AccountReply::Changed { at: Some(at), text }))
        }
    }
}

/// Announce a change that took effect: every verified number and the mailbox are told (a
/// removed number too, so the owner hears of it even when the mailbox is not theirs now).
fn announce_applied(sh: &Shared, user: &str, rec: &RecoveryRecord, change: &Change, dropped: usize, now_ms: u64) {
    let what = change.describe();
    let voided = match dropped {
        0 => String::new(),
        n => format!(" {n} pending change(s) asked for with the old password were dropped."),
    };
    let body = match change {
        Change::Recover { .. } => format!("{what}: the account was recovered; every session and token ended.{voided}"),
        Change::Password { .. } => format!("{what}: every other session and token ended.{voided}"),
        _ => format!("{what}: done."),
    };
    if let Change::RemovePhone { number } = change {
        sh.guard().tell_numbers(std::slice::from_ref(number), user, &body, now_ms);
    }
    sh.guard().announce(sh.store(), user, rec, &format!("Account changed: {what}"), &body, now_ms);
}

/// Apply a change now: the password (only while it is still `expected`, when given; it
/// ends every session but `except`, the connection that asked) and the record, and
/// announce it. Returns false when the password had changed meanwhile.
pub(crate) fn apply_now(
    sh: &Shared,
    user: &str,
    change: &Change,
    now_ms: u64,
    except: Option<usize>,
    expected: Option<&str>,
) -> Result<bool, StoreError> {
    let now = now_ms / 1000;
    if let Change::Recover { phc } | Change::Password { phc } = change {
        match expected {
            Some(old) => {
                if !sh.store().set_password_if(user, old, phc)? {
                    return Ok(false);
                }
            }
            None => sh.store().set_password(user, phc)?,
        }
        sh.end_sessions_except(user, "the account's password changed", except);
    }
    let rec = sh.store().update_recovery(user, |rec| {
        let dropped = AccountGuard::apply_to_record(rec, change, now);
        ((rec.clone(), dropped), true)
    })?;
    if let Some((rec, dropped)) = rec {
        announce_applied(sh, user, &rec, change, dropped, now_ms);
    }
    Ok(true)
}

/// Apply every pending change of `user` that is due (at login, and from the listener's
/// upkeep). Returns how many were applied.
pub(crate) fn apply_due(sh: &Shared, user: &str, now_ms: u64) -> Result<usize, StoreError> {
    let now = now_ms / 1000;
    // Every login asks: a read first, a write only when something is due.
    if !sh.store().recovery(user)?.is_some_and(|rec| rec.pending.iter().any(|p| p.at <= now)) {
        return Ok(0);
    }
    let due = sh.store().update_recovery(user, |rec| {
        let (due, later): (Vec<_>, Vec<_>) = rec.pending.drain(..).partition(|p| p.at <= now);
        rec.pending = later;
        let write = !due.is_empty();
        (due, write)
    })?;
    let mut due = due.unwrap_or_default();
    due.sort_by_key(|p| (p.at, p.id));
    let mut applied = 0;
    let mut rest = due.into_iter();
    while let Some(p) = rest.next() {
        apply_now(sh, user, &p.change, now_ms, None, None)?;
        applied += 1;
        let what = p.change.describe();
        sh.record(
            crate::policy::activity::Activity::new(
                now_ms,
                std::net::IpAddr::from([0, 0, 0, 0]),
                Kind::RecoveryCompleted,
            )
            .account(user)
            .detail(format!("{what}, asked for from {} at {}", p.from, format_time(p.requested))),
        );
        info!(%user, event = "recovery_completed", "{what}: its delay ended");
        // A new password voids whatever else was asked for with the old one.
        if let Change::Recover { .. } | Change::Password { .. } = p.change {
            let voided: Vec<_> = rest.collect();
            if !voided.is_empty() {
                sh.store().update_recovery(user, |rec| {
                    for v in &voided {
                        AccountGuard::forget_cancelled(rec, &v.change);
                    }
                    ((), true)
                })?;
                info!(%user, event = "recovery_cancelled", dropped = voided.len(), "changes asked for with the old password dropped");
            }
            break;
        }
    }
    Ok(applied)
}

pub(super) async fn handle(conn: &Arc<Conn>, user: String, req: AccountRequest) -> Reply {
    let sh = conn.shared.clone();
    let ip = conn.peer.ip();
    let now_ms = sh.clock().now_ms();
    let now = now_ms / 1000;
    match req {
        AccountRequest::Show => {
            let u = user.clone();
            let rec = Shared::blocking(move || -> Result<_, StoreError> {
                apply_due(&sh, &u, sh.clock().now_ms())?;
                sh.store().recovery(&u)
            })
            .await??
            .unwrap_or_default();
            done(AccountReply::View(view(conn.shared.guard(), &rec, ip, now)))
        }
        AccountRequest::Export => {
            let u = user.clone();
            let shc = sh.clone();
            let (rec, usage, sessions) = Shared::blocking(move || -> Result<_, StoreError> {
                Ok((
                    shc.store().recovery(&u)?.unwrap_or_default(),
                    shc.store().mailbox_usage(&u)?,
                    shc.store().user_tokens(&u, now)?,
                ))
            })
            .await??;
            let v = view(sh.guard(), &rec, ip, now);
            let json = serde_json::json!({
                "account": user,
                "phones": v.phones.iter().map(|p| serde_json::json!({"number": p.number, "added": p.added, "verified": p.verified})).collect::<Vec<_>>(),
                "places": v.places.iter().map(|p| serde_json::json!({"network": p.net, "first_seen": p.first_seen, "last_seen": p.last_seen, "origin": p.origin})).collect::<Vec<_>>(),
                "secret_question": v.question,
                "secret_answer": if rec.question.is_some() { "stored as an argon2id hash only" } else { "none" },
                "recovery_codes_left": v.codes_left,
                "pending_changes": v.pending.iter().map(|p| serde_json::json!({"id": p.id, "what": p.what, "requested": p.requested, "at": p.at, "from": p.from})).collect::<Vec<_>>(),
                "sessions": sessions.len(),
                "mailbox": {"bytes": usage.bytes, "files": usage.files},
            });
            let mut text = serde_json::to_string_pretty(&json).unwrap_or_default();
            text.truncate(crate::wire::MAX_EXPORT);
            done(AccountReply::Export { json: text })
        }
        AccountRequest::SendAuthCode => {
            let u = user.clone();
            let shc = sh.clone();
            let sent = Shared::blocking(move || -> Result<Result<String, String>, StoreError> {
                let guard = shc.guard();
                let r = shc.store().update_recovery(&u, |rec| {
                    // Only a settled number: a number verified minutes ago (a thief's,
                    // perhaps) does not let a change skip the delay.
                    let Some(number) = guard.settled_number(rec, now) else {
                        return (
                            Err(format!(
                                "the account has no phone number verified more than {} days ago; \
                                 changes from here wait instead",
                                guard.config().new_phone_days
                            )),
                            false,
                        );
                    };
                    let sent =
                        guard.send_code(rec, RecentKind::Code, ip, AUTHORISE, &u, &number, now_ms, |code, min| {
                            format!(
                                "your code to change account {u} is {code}. It works for {min} min. \
                             Not you? Someone has your password: change it from a place you used before."
                            )
                        });
                    let write = sent.is_ok();
                    (sent.map(|()| mask_phone(&number)), write)
                })?;
                Ok(r.unwrap_or_else(|| Err("no such account".into())))
            })
            .await??;
            match sent {
                Ok(masked) => {
                    conn.record(conn.activity(Kind::TextSent).detail(format!("authorisation code to {masked}")));
                    done(AccountReply::Done { text: format!("a code was texted to {masked}") })
                }
                Err(why) => refuse(ErrorCode::Limit, why),
            }
        }
        AccountRequest::PhoneAdd { number, password } => {
            let number = match parse_number(&number, sh.guard().texts().countries()) {
                Ok(n) => n,
                Err(why) => return refuse(ErrorCode::BadRequest, why),
            };
            let phc = match password_ok(conn, &user, password).await? {
                Ok(phc) => phc,
                Err(refused) => return Ok(refused),
            };
            let u = user.clone();
            let n = number.clone();
            let shc = sh.clone();
            let r = Shared::blocking(move || -> Result<Result<(), String>, StoreError> {
                let guard = shc.guard();
                let r = shc.store().update_recovery_as(&u, Some(&phc), |rec| {
                    // Numbers never verified within a day are dropped: a number cannot be
                    // planted now to be verified much later.
                    rec.phones.retain(|p| p.verified.is_some() || now.saturating_sub(p.added) < 86_400);
                    if rec.phones.iter().any(|p| p.number == n && p.verified.is_some()) {
                        return (Err("this number is verified already".to_string()), false);
                    }
                    if !rec.phones.iter().any(|p| p.number == n) {
                        if rec.phones.len() >= MAX_PHONES {
                            return (Err(format!("an account holds at most {MAX_PHONES} numbers")), false);
                        }
                        rec.phones.push(PhoneRec { number: n.clone(), added: now, verified: None });
                    }
                    let sent =
                        guard.send_code(rec, RecentKind::Code, ip, &verify_purpose(&n), &u, &n, now_ms, |code, min| {
                            format!("your code to add this number to account {u} is {code}. It works for {min} min.")
                        });
                    let write = sent.is_ok();
                    (sent, write)
                })?;
                Ok(r.unwrap_or_else(|| Err("no such account".into())))
            })
            .await??;
            match r {
                Ok(()) => {
                    conn.record(
                        conn.activity(Kind::TextSent).detail(format!("verification code to {}", mask_phone(&number))),
                    );
                    done(AccountReply::Done {
                        text: format!(
                            "a code was texted to {number}; confirm it with: qxfer account phone verify HOST {number}"
                        ),
                    })
                }
                Err(why) => refuse(ErrorCode::Limit, why),
            }
        }
        AccountRequest::PhoneVerify { number, code, password, auth } => {
            let number = match parse_number(&number, &[]) {
                Ok(n) => n,
                Err(why) => return refuse(ErrorCode::BadRequest, why),
            };
            let phc = match password_ok(conn, &user, password).await? {
                Ok(phc) => phc,
                Err(refused) => return Ok(refused),
            };
            let u = user.clone();
            let n = number.clone();
            let shc = sh.clone();
            let checked = Shared::blocking(move || -> Result<Option<Refusal>, StoreError> {
                let guard = shc.guard();
                shc.store().update_recovery(&u, |rec| {
                    if !rec.phones.iter().any(|p| p.number == n) {
                        return (
                            Err((ErrorCode::NotFound, "this number is not on the account: add it first".to_string())),
                            false,
                        );
                    }
                    (
                        guard
                            .take_code(rec, &verify_purpose(&n), &u, &code, now)
                            .map_err(|e| (ErrorCode::AuthFailed, e.to_string())),
                        true,
                    )
                })
            })
            .await??;
            match checked {
                Some(Ok(())) => {}
                Some(Err((ErrorCode::NotFound, why))) => return refuse(ErrorCode::NotFound, why),
                Some(Err((code, why))) => {
                    // Mistyping the code texted to one's own new number is a mistake, not
                    // a guess worth anything to an attacker (it proves only that number):
                    // recorded, not scored; the code's five attempts still hold.
                    conn.record(
                        conn.activity(Kind::Request)
                            .detail(format!("verifying {}: wrong code: {why}", mask_phone(&number))),
                    );
                    return refuse(code, format!("the code was not accepted: {why}"));
                }
                None => return refuse(ErrorCode::AuthFailed, "no such account"),
            }
            change(conn, &user, Change::AddPhone { number }, ip, auth, phc).await
        }
        AccountRequest::PhoneRemove { number, password, auth } => {
            let number = match parse_number(&number, &[]) {
                Ok(n) => n,
                Err(why) => return refuse(ErrorCode::BadRequest, why),
            };
            let phc = match password_ok(conn, &user, password).await? {
                Ok(phc) => phc,
                Err(refused) => return Ok(refused),
            };
            // Decided in one transaction: a number never verified (nobody's way back in)
            // goes at once, with the verification it waited for; a verified one is a change.
            let (u, n, shc) = (user.clone(), number.clone(), sh.clone());
            let unverified = Shared::blocking(move || {
                shc.store().update_recovery(&u, |rec| match rec.phones.iter().find(|p| p.number == n) {
                    None => (None, false),
                    Some(p) if p.verified.is_none() => {
                        rec.phones.retain(|p| p.number != n);
                        rec.sent.retain(|s| s.purpose != verify_purpose(&n));
                        rec.pending.retain(|p| !matches!(&p.change, Change::AddPhone { number } if *number == n));
                        (Some(true), true)
                    }
                    Some(_) => (Some(false), false),
                })
            })
            .await??
            .flatten();
            match unverified {
                None => refuse(ErrorCode::NotFound, "this number is not on the account"),
                Some(true) => {
                    done(AccountReply::Changed { at: None, text: format!("removed the unverified number {number}") })
                }
                Some(false) => change(conn, &user, Change::RemovePhone { number }, ip, auth, phc).await,
            }
        }
        AccountRequest::QuestionSet { question, answer, password, auth } => {
            let phc = match password_ok(conn, &user, password).await? {
                Ok(phc) => phc,
                Err(refused) => return Ok(refused),
            };
            let normalised = normalise_secret_answer(&answer);
            if normalised.chars().count() < 3 {
                return refuse(ErrorCode::BadRequest, "the secret answer must be at least 3 characters long");
            }
            let Some(_slot) = conn.shared.hash_slot(0).await else {
                return refuse(ErrorCode::Limit, "the listener is busy; try again in a moment");
            };
            // The answer is hashed as a password is (argon2id); short answers are padded by
            // nothing: the texted code in front of it is what limits guessing.
            let hashed = Shared::blocking(move || accounts::hash_secret(&normalised)).await?;
            let answer_phc = match hashed {
                Ok(p) => p,
                Err(e) => return refuse(ErrorCode::Internal, e),
            };
            drop(_slot);
            change(conn, &user, Change::Question { text: question.trim().to_owned(), answer_phc }, ip, auth, phc).await
        }
        AccountRequest::CodesNew { password, auth } => {
            let phc = match password_ok(conn, &user, password).await? {
                Ok(phc) => phc,
                Err(refused) => return Ok(refused),
            };
            let (codes, hashes) = match sh.guard().recovery_codes(&user) {
                Ok(x) => x,
                Err(e) => return refuse(ErrorCode::Internal, e),
            };
            match apply_or_schedule(conn, &user, Change::Codes { hashes }, ip, auth, Some(phc)).await? {
                Ok(AccountReply::Changed { at, .. }) => done(AccountReply::Codes { codes, at }),
                Ok(other) => done(other),
                Err(refused) => Ok(refused),
            }
        }
        AccountRequest::Passwd { password, new_password, auth } => {
            if let Err(e) = check_new_password(&new_password) {
                return refuse(ErrorCode::BadRequest, e);
            }
            let phc = match password_ok(conn, &user, password).await? {
                Ok(phc) => phc,
                Err(refused) => return Ok(refused),
            };
            let Some(_slot) = conn.shared.hash_slot(0).await else {
                return refuse(ErrorCode::Limit, "the listener is busy; try again in a moment");
            };
            let new_phc = match Shared::blocking(move || accounts::hash_password(&new_password)).await? {
                Ok(p) => p,
                Err(e) => return refuse(ErrorCode::BadRequest, e),
            };
            drop(_slot);
            change(conn, &user, Change::Password { phc: new_phc }, ip, auth, phc).await
        }
        AccountRequest::Cancel { id, password } => {
            let phc = match password_ok(conn, &user, password).await? {
                Ok(phc) => phc,
                Err(refused) => return Ok(refused),
            };
            let u = user.clone();
            let shc = sh.clone();
            let cancelled = Shared::blocking(move || -> Result<Result<Option<String>, ()>, StoreError> {
                let r = shc.store().update_recovery_as(&u, Some(&phc), |rec| {
                    match rec.pending.iter().position(|p| p.id == id) {
                        // A thief has the password too: a recovery is cancelled only with a
                        // code texted to the account's numbers.
                        Some(i) if matches!(rec.pending.get(i).map(|p| &p.change), Some(Change::Recover { .. })) => {
                            (Err(()), false)
                        }
                        Some(i) => {
                            let p = rec.pending.remove(i);
                            crate::server::account_guard::AccountGuard::forget_cancelled(rec, &p.change);
                            (Ok(Some((p, rec.clone()))), true)
                        }
                        None => (Ok(None), false),
                    }
                })?;
                let (p, rec) = match r {
                    Some(Ok(Some(found))) => found,
                    Some(Err(())) => return Ok(Err(())),
                    _ => return Ok(Ok(None)),
                };
                let what = p.change.describe();
                shc.guard().announce(
                    shc.store(),
                    &u,
                    &rec,
                    &format!("Cancelled: {what}"),
                    &format!("{what}, asked for from {}, was cancelled by a logged-in session.", p.from),
                    now_ms,
                );
                Ok(Ok(Some(what)))
            })
            .await??;
            match cancelled {
                Err(()) => refuse(
                    ErrorCode::BadRequest,
                    "a pending recovery is cancelled only with the cancel code texted to the account's numbers \
                     (qxfer recover cancel HOST CODE)",
                ),
                Ok(Some(what)) => {
                    conn.record(conn.activity(Kind::RecoveryCancelled).detail(format!("{what}, by its account")));
                    done(AccountReply::Done { text: format!("cancelled: {what}") })
                }
                Ok(None) => refuse(ErrorCode::NotFound, format!("no pending change {id}")),
            }
        }
        AccountRequest::TokenNew { password, automation } => {
            let phc = match password_ok(conn, &user, password).await? {
                Ok(phc) => phc,
                Err(refused) => return Ok(refused),
            };
            let Ok(token) = accounts::new_token() else { return refuse(ErrorCode::Internal, "no system randomness") };
            let key = accounts::token_key(&token);
            let lifetime =
                if automation { accounts::AUTOMATION_TOKEN_LIFETIME_SECS } else { accounts::TOKEN_LIFETIME_SECS };
            let (u, shc) = (user.clone(), sh.clone());
            let kept = Shared::blocking(move || -> Result<bool, StoreError> {
                if !shc.store().add_token(&key, &u, &phc, now.saturating_add(lifetime))? {
                    return Ok(false);
                }
                if automation {
                    shc.store().mark_automation(&key)?;
                }
                Ok(true)
            })
            .await??;
            if !kept {
                return refuse(ErrorCode::AuthFailed, "the password changed meanwhile; no token was made");
            }
            let kind = if automation { "automation token" } else { "token" };
            conn.record(conn.activity(Kind::Request).detail(format!("new {kind} {}", token_id(&key))));
            info!(peer = %conn.peer, %user, event = "token_issued", automation, "a new {kind}");
            done(AccountReply::Token { token: hex::encode(token), id: token_id(&key) })
        }
        AccountRequest::TokensList => {
            let u = user.clone();
            let sessions = Shared::blocking(move || sh.store().user_tokens(&u, now)).await??;
            let sessions = sessions
                .into_iter()
                .take(MAX_VIEW_ITEMS)
                .map(|(key, expires)| SessionView { id: token_id(&key), expires })
                .collect();
            done(AccountReply::Sessions { sessions })
        }
        AccountRequest::TokensRevoke { id } => {
            let u = user.clone();
            let revoked = Shared::blocking(move || -> Result<usize, StoreError> {
                let tokens = sh.store().user_tokens(&u, now)?;
                let doomed: Vec<[u8; 32]> = tokens
                    .into_iter()
                    .map(|(k, _)| k)
                    .filter(|k| id.as_deref().is_none_or(|id| token_id(k) == id.to_ascii_lowercase()))
                    .collect();
                sh.store().revoke_token_keys(&u, &doomed)
            })
            .await??;
            if revoked == 0 {
                return refuse(ErrorCode::NotFound, "no session with this id");
            }
            done(AccountReply::Done { text: format!("ended {revoked} session(s); their tokens no longer work") })
        }
    }
}

/// A change needing authorisation: applied now or scheduled.
async fn change(conn: &Arc<Conn>, user: &str, change: Change, ip: IpAddr, auth: Option<String>, phc: String) -> Reply {
    match apply_or_schedule(conn, user, change, ip, auth, Some(phc)).await? {
        Ok(reply) => done(reply),
        Err(refused) => Ok(refused),
    }
}

/// How `qxfer account tokens` names a session: the first 12 hex digits of its stored hash.
fn token_id(key: &[u8; 32]) -> String {
    hex::encode(key.get(..6).unwrap_or_default())
}

fn check_new_password(p: &str) -> Result<(), &'static str> {
    if p.len() < 8 || p.len() > crate::wire::MAX_PASSWORD {
        return Err("the new password must be 8 to 1024 bytes long");
    }
    Ok(())
}

/// A number as typed, parsed and validated as E.164 (libphonenumber's data), and allowed
/// by the listener's country list.
pub(crate) fn parse_number(typed: &str, countries: &[String]) -> Result<String, String> {
    let e164 = crate::accounts::phone::parse(typed)?;
    if !countries.is_empty() && !countries.iter().any(|c| e164.starts_with(c.as_str())) {
        return Err(format!("this listener texts only numbers in {}", countries.join(", ")));
    }
    Ok(e164)
}

/// The account as its owner sees it. From a network that is not a known place, phone
/// numbers are masked: whoever has the password (a thief, perhaps) does not learn the
/// number a SIM swap would need.
fn view(guard: &AccountGuard, rec: &RecoveryRecord, ip: IpAddr, now: u64) -> AccountView {
    let recovery = guard.owner_number(rec, now);
    let here_known = guard.known(rec, ip, now);
    let shown = |n: &str| if here_known { n.to_owned() } else { mask_phone(n) };
    AccountView {
        phones: rec
            .phones
            .iter()
            .map(|p| PhoneView {
                number: shown(&p.number),
                added: p.added,
                verified: p.verified,
                recovery: recovery.as_deref() == Some(p.number.as_str()),
            })
            .collect(),
        places: places(rec)
            .iter()
            .take(MAX_VIEW_ITEMS)
            .map(|p| PlaceView {
                net: p.net.to_string(),
                first_seen: p.first_seen,
                last_seen: p.last_seen,
                origin: p.origin.describe(),
                known: place_is_known(p, guard.config(), now),
            })
            .collect(),
        question: rec.question.as_ref().map(|q| q.text.clone()),
        codes_left: rec.codes.len() as u32,
        pending: rec
            .pending
            .iter()
            .map(|p| PendingView {
                id: p.id,
                what: p.change.describe(),
                requested: p.requested,
                at: p.at,
                from: p.from.clone(),
            })
            .collect(),
        here_known,
    }
}
