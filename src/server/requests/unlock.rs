//! The way back for an owner whose account is locked against the place she is at
//! (`policy::lockout`): her right password from there texts a code to the account's oldest
//! settled number (at most one per code lifetime, through the guard's code functions and
//! daily limits), and the right password with that code, or with one of her recovery
//! codes, logs her in despite the lockout. Both run on the blocking pool, after the
//! password hash said the password is right (the text in the background, after the
//! reply's work); the reply never says what happened here.

use std::net::IpAddr;
use std::sync::Arc;

use tracing::info;

use crate::policy::activity::Kind;
use crate::policy::recovery::mask_phone;
use crate::server::account_guard::AccountGuard;
use crate::server::conn::Conn;
use crate::server::Shared;
use crate::store::{RecentKind, StoreError};

/// What a texted unlock code is for; part of its keyed hash.
pub const UNLOCK: &str = "unlock";

/// [`text_code`] for the right password that came on `conn`, in the background (at most
/// `MAX_BACKGROUND_STARTS` at once with recovery starts; past that, none), recorded as a
/// request of the connection's source.
pub(super) fn text_in_background(conn: &Arc<Conn>, user: &str) {
    let event = conn.activity(Kind::Request).account(user);
    let Some(slot) = conn.shared.guard().background_slot() else {
        conn.record(event.detail("unlock code: busy, none texted"));
        return;
    };
    let (sh, u, ip) = (conn.shared.clone(), user.to_owned(), conn.peer.ip());
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let what = text_code(&sh, &u, ip, sh.clock().now_ms()).unwrap_or_else(|e| format!("failed: {e}"));
        info!(peer = %ip, user = %u, event = "unlock_code", "{what}");
        sh.record(event.detail(format!("unlock code: {what}")));
    });
}

/// The right password for `user` from `ip`, a place the account is locked against, came
/// without a code: text one to the oldest settled number unless one is in force. What
/// happened, for the record.
fn text_code(sh: &Shared, user: &str, ip: IpAddr, now_ms: u64) -> Result<String, StoreError> {
    let now = now_ms / 1000;
    let guard = sh.guard();
    let what = sh.store().update_recovery(user, |rec| {
        let Some(number) = guard.settled_number(rec, now) else {
            return ("no settled number: no code texted".to_string(), false);
        };
        // A code in force is not replaced: the owner may be typing it.
        if AccountGuard::code_in_force(rec, UNLOCK, now) {
            return ("a code texted earlier is still in force; none sent".into(), false);
        }
        let sent = guard.send_code(rec, RecentKind::Code, ip, UNLOCK, user, &number, now_ms, |code, min| {
            format!(
                "your code to log in to {user} from a network it does not know is {code}. It works for {min} min. \
                 If it was not you, someone has your password: change it from home."
            )
        });
        match sent {
            Ok(()) => (format!("code texted to {}", mask_phone(&number)), true),
            Err(e) => (format!("code not texted to {}: {e}", mask_phone(&number)), false),
        }
    })?;
    Ok(what.unwrap_or_else(|| "no such account".into()))
}

/// Try `code` for `user`: the texted unlock code (eight digits; an attempt is spent either
/// way) or one of the account's recovery codes (spent when right). Which kind it was, when
/// right.
pub(super) fn take_code(sh: &Shared, user: &str, code: &str, now: u64) -> Result<Option<&'static str>, StoreError> {
    let guard = sh.guard();
    let taken = sh.store().update_recovery(user, |rec| {
        if code.len() == 8 && code.bytes().all(|b| b.is_ascii_digit()) {
            let right = guard.take_code(rec, UNLOCK, user, code, now).is_ok();
            return (right.then_some("a texted code"), true);
        }
        let h = guard.recovery_code_hash(user, code);
        match rec.codes.iter().position(|x| *x == h) {
            Some(i) => {
                rec.codes.remove(i);
                (Some("a recovery code"), true)
            }
            None => (None, false),
        }
    })?;
    Ok(taken.flatten())
}
