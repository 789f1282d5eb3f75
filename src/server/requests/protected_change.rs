//! A protected change of an account (a setting, or a recovery's new password): a typed
//! password alone is not a strong check (a thief has it), and neither is a known place (a
//! patient thief can earn one). The oldest settled number is the root of trust: a change
//! that could move it or keep a thief in (numbers, the question, recovery codes, an
//! automation token, disowning from elsewhere) is made now only with the code texted to that
//! number, from anywhere; a new password (a recovery's too, whose texted code was its first
//! step) also from a known place. A new account's first number, question and codes, within
//! its setup window, from the network of its first password login or with the operator's
//! setup code, apply at once (`account_guard::setup`). Anything else waits
//! `recovery.unknown_place_delay_secs`, announced to every settled number (each with its own
//! cancel code) and the mailbox, cancellable. Used by the account's settings and by recovery.

use std::net::IpAddr;
use std::sync::Arc;

use tracing::{info, warn};

use crate::clock::format_time;
use crate::policy::activity::Kind;
use crate::policy::recovery::{known_place_suffices, CodeError, Guarded};
use crate::server::account_guard::codes::AUTHORISE;
use crate::server::account_guard::pending::{Scheduled, MAX_PENDING};
use crate::server::account_guard::setup::SetUp;
use crate::server::account_guard::AccountGuard;
use crate::server::conn::Conn;
use crate::server::error::{error_reply, ServerError};
use crate::server::outcome::Outcome;
use crate::server::Shared;
use crate::store::{Change, RecentKind, RecoveryRecord, StoreError};
use crate::wire::{AccountReply, ErrorCode, Response};

/// Apply `change` now, or put it off. Now when `auth` is the right code texted to the
/// account's oldest settled number (a recovery passes no `auth`: its texted code was the
/// first step), when it is a new password asked for from a known place of the account, or
/// when it is a new account's first setup (from its first login's network, or `auth` is
/// its setup code); otherwise after the delay, announced. `phc` is the password hash the
/// request was checked against (`None` for a recovery): nothing changes once the password
/// has changed meanwhile. While a recovery is pending, no other change is taken.
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
        /// A change of the record, made in the same transaction as the checks (as a new
        /// account's setup, when it was one).
        Applied(Change, RecoveryRecord, Option<SetUp>, bool),
        /// A new password, to set now.
        Password(Change),
        Later(Scheduled, RecoveryRecord),
        /// A wrong code, and which (the texted code, or the setup code).
        WrongAuth(CodeError, &'static str),
        RecoveryPending(u64),
        Full,
        TooMany,
    }
    let shc = sh.clone();
    let checked = phc.clone();
    let decided = Shared::blocking(move || -> Result<Option<Decided>, StoreError> {
        let guard = shc.guard();
        // When the account was made never changes: read before the transaction.
        let created = shc.store().user_created(&u)?;
        let decided = shc.store().update_recovery_as(&u, checked.as_deref(), |rec| {
            let is_recovery = matches!(change, Change::Recover { .. });
            if let (false, Some(at)) = (is_recovery, AccountGuard::recovery_pending(rec)) {
                return (Ok(Decided::RecoveryPending(at)), false);
            }
            let known = guard.known(rec, ip, now);
            // A known place is enough only for a new password: the root of trust decides
            // the rest, from anywhere.
            let place_suffices = known && known_place_suffices(change.guarded());
            let set_up = match place_suffices {
                true => None,
                false => match guard.setup(rec, &change, created, ip, auth.as_deref(), &u, now) {
                    Ok(s) => s,
                    Err(e) => return (Ok(Decided::WrongAuth(e, "setup code")), true),
                },
            };
            let authorised = match &auth {
                _ if place_suffices || set_up.is_some() => true,
                Some(code) => match guard.take_code(rec, AUTHORISE, &u, code, now) {
                    Ok(()) => true,
                    Err(e) => return (Ok(Decided::WrongAuth(e, "texted code")), true),
                },
                None => false,
            };
            if authorised {
                return match change {
                    Change::Recover { .. } | Change::Password { .. } => (Ok(Decided::Password(change)), false),
                    _ => {
                        let tell_removed = AccountGuard::removes_a_verified_number(rec, &change);
                        AccountGuard::apply_to_record(rec, &change, now, now);
                        (Ok(Decided::Applied(change, rec.clone(), set_up, tell_removed)), true)
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
        Decided::WrongAuth(why, which) => {
            conn.record(
                conn.activity(Kind::RecoveryWrongCode).account(user).detail(format!("authorising {what}: {why}")),
            );
            warn!(peer = %conn.peer, %user, event = "recovery_wrong_code", "authorising {what}: {which}: {why}");
            refuse(ErrorCode::AuthFailed, format!("the {which} was not accepted: {why}"))
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
        Decided::Applied(change, rec, set_up, tell_removed) => {
            let (shc, u) = (sh.clone(), user.to_owned());
            let made = Shared::blocking(move || {
                let n = AccountGuard::beyond_the_record(shc.store(), &u, &change)?;
                // A token not made (the password changed meanwhile) is not announced as made.
                let made = n > 0 || !matches!(change, Change::AutomationToken { .. });
                if made {
                    shc.guard().announce_applied(shc.store(), &u, &rec, &change, 0, tell_removed, now_ms);
                }
                Ok::<_, StoreError>(made)
            })
            .await??;
            if !made {
                return refuse(ErrorCode::AuthFailed, "the password changed meanwhile; nothing was changed".into());
            }
            let done = match set_up {
                Some(s) => format!("{what}: {}", sh.guard().setup_reason(s)),
                None => what,
            };
            conn.record(conn.activity(Kind::RecoveryCompleted).account(user).detail(&done));
            info!(peer = %conn.peer, %user, event = "recovery_completed", "{done}: done");
            Ok(Ok(AccountReply::Changed { at: None, text: format!("done: {done}") }))
        }
        Decided::Password(change) => {
            let keep = conn.connection.stable_id();
            let (shc, u) = (sh.clone(), user.to_owned());
            let except = (!matches!(change, Change::Recover { .. })).then_some(keep);
            let applied = Shared::blocking(move || {
                shc.guard().apply_now(&*shc, &u, &change, now_ms, now, except, phc.as_deref())
            })
            .await??;
            if !applied {
                return refuse(ErrorCode::AuthFailed, "the password changed meanwhile; nothing was changed".into());
            }
            conn.record(conn.activity(Kind::RecoveryCompleted).account(user).detail(&what));
            info!(peer = %conn.peer, %user, event = "recovery_completed", "{what}: done");
            Ok(Ok(AccountReply::Changed { at: None, text: format!("done: {what}") }))
        }
        Decided::Later(s, rec) => {
            let why = why_it_waits(&s.pending.change);
            let elsewhere = match known_place_suffices(s.pending.change.guarded()) {
                true => ", or from a known place",
                false => "",
            };
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
                         used up for today or failing); try later{elsewhere}"
                    ),
                );
            }
            let detail = format!("{what}, until {}", format_time(at));
            conn.record(conn.activity(Kind::RecoveryDelayed).account(user).detail(&detail));
            info!(peer = %conn.peer, %user, event = "recovery_delayed", "{detail}");
            let text = format!(
                "{what} takes effect at {} ({}); announced to {texted} number(s) with a cancel code and to the \
                 mailbox, and cancellable until then",
                format_time(at),
                why
            );
            Ok(Ok(AccountReply::Changed { at: Some(at), text }))
        }
    }
}

/// Why a change waits, truthfully: the root of trust's own changes need its code from
/// anywhere, a known place too; a new password needs it only away from a known place; a
/// recovery from elsewhere always waits (its texted code was its first step).
fn why_it_waits(change: &Change) -> &'static str {
    match change.guarded() {
        Guarded::RootOfTrust => {
            "from any network, a known place too, this change needs the code texted to the account's oldest \
             settled number (--confirm-by-text), or waits"
        }
        Guarded::Password => "this network is not a known place of the account, and no texted code confirmed it",
        Guarded::Recovery => "this network is not a known place of the account",
    }
}
