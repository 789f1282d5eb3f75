//! `SendAuthCode`: a code texted to the account's oldest settled number, with which a
//! protected change is made at once instead of waiting, from any network.

use std::sync::Arc;

use super::answer::{done, refuse, Reply};
use crate::policy::recovery::mask_phone;
use crate::server::account_guard::codes::{SendCodeError, AUTHORISE};
use crate::server::conn::Conn;
use crate::server::Shared;
use crate::store::{RecentKind, StoreError};
use crate::wire::{AccountReply, ErrorCode};

/// Why no authorisation code was texted.
#[derive(Debug, Clone, Copy, thiserror::Error)]
enum NotTexted {
    /// Only a settled number: a number verified minutes ago (a thief's, perhaps) does not
    /// let a change skip the delay.
    #[error(
        "the account has no phone number verified more than {0} days ago; changes wait the delay instead (a new \
         password applies at once from a known place)"
    )]
    NoSettledNumber(u64),
    #[error(transparent)]
    Refused(#[from] SendCodeError),
    #[error("no such account")]
    NoAccount,
}

/// Text the account an authorisation code; the reply names the number, masked.
pub(super) async fn send(conn: &Arc<Conn>, user: String) -> Reply {
    let sh = conn.shared.clone();
    let ip = conn.peer.ip();
    let now_ms = sh.clock().now_ms();
    let now = now_ms / 1000;
    let sent = Shared::blocking(move || -> Result<Result<String, NotTexted>, StoreError> {
        let guard = sh.guard();
        let r = sh.store().update_recovery(&user, |rec| {
            let Some(number) = guard.settled_number(rec, now) else {
                return (Err(NotTexted::NoSettledNumber(guard.config().new_phone_days)), false);
            };
            let sent = guard.send_code(rec, RecentKind::Code, ip, AUTHORISE, &user, &number, now_ms, |code, min| {
                format!(
                    "your code to change account {user} is {code}. It works for {min} min. \
                     Not you? Someone has your password: change it from a place you used before."
                )
            });
            let write = sent.is_ok();
            (sent.map(|()| mask_phone(&number)).map_err(NotTexted::from), write)
        })?;
        Ok(r.unwrap_or(Err(NotTexted::NoAccount)))
    })
    .await??;
    match sent {
        // The outbox records the text (`text_sent`, or `text_refused` with why).
        Ok(masked) => done(AccountReply::Done { text: format!("a code was texted to {masked}") }),
        Err(why) => refuse(ErrorCode::Limit, why),
    }
}
