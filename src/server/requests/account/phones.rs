//! The account's phone numbers: `PhoneAdd` texts a code to a new number, `PhoneVerify`
//! takes it (verifying the number is a protected change), `PhoneRemove` drops a number
//! never verified at once and puts a verified one through the protected change.

use std::sync::Arc;

use super::answer::{change, done, refuse, Reply};
use super::current_password::password_ok;
use super::number::parse_number;
use crate::policy::activity::Kind;
use crate::policy::recovery::{mask_phone, CodeError};
use crate::server::account_guard::codes::{verify_purpose, SendCodeError};
use crate::server::conn::Conn;
use crate::server::Shared;
use crate::store::{Change, PhoneRec, RecentKind, StoreError};
use crate::wire::{AccountReply, ErrorCode, MAX_PHONES};

/// Why a number was not added (and no code texted to it).
#[derive(Debug, Clone, Copy, thiserror::Error)]
enum NotAdded {
    #[error("this number is verified already")]
    VerifiedAlready,
    #[error("an account holds at most {MAX_PHONES} numbers")]
    Full,
    #[error(transparent)]
    NotTexted(#[from] SendCodeError),
    #[error("no such account")]
    NoAccount,
}

/// Why a number's verification code was not taken.
#[derive(Debug, Clone, Copy)]
enum NotVerified {
    NotOnAccount,
    Code(CodeError),
}

/// `PhoneAdd`: the number goes on the account unverified, and a code is texted to it.
pub(super) async fn add(conn: &Arc<Conn>, user: String, number: String, password: String) -> Reply {
    let sh = conn.shared.clone();
    let ip = conn.peer.ip();
    let now_ms = sh.clock().now_ms();
    let now = now_ms / 1000;
    let number = match parse_number(&number, sh.guard().texts().countries()) {
        Ok(n) => n,
        Err(why) => return refuse(ErrorCode::BadRequest, why),
    };
    let phc = match password_ok(conn, &user, password).await? {
        Ok(phc) => phc,
        Err(refused) => return Ok(refused),
    };
    let n = number.clone();
    let r = Shared::blocking(move || -> Result<Result<(), NotAdded>, StoreError> {
        let guard = sh.guard();
        let r = sh.store().update_recovery_as(&user, Some(&phc), |rec| {
            // Numbers never verified within a day are dropped: a number cannot be
            // planted now to be verified much later.
            rec.phones.retain(|p| p.verified.is_some() || now.saturating_sub(p.added) < 86_400);
            if rec.phones.iter().any(|p| p.number == n && p.verified.is_some()) {
                return (Err(NotAdded::VerifiedAlready), false);
            }
            if !rec.phones.iter().any(|p| p.number == n) {
                if rec.phones.len() >= MAX_PHONES {
                    return (Err(NotAdded::Full), false);
                }
                rec.phones.push(PhoneRec { number: n.clone(), added: now, verified: None });
            }
            let sent =
                guard.send_code(rec, RecentKind::Code, ip, &verify_purpose(&n), &user, &n, now_ms, |code, min| {
                    format!("your code to add this number to account {user} is {code}. It works for {min} min.")
                });
            let write = sent.is_ok();
            (sent.map_err(NotAdded::from), write)
        })?;
        Ok(r.unwrap_or(Err(NotAdded::NoAccount)))
    })
    .await??;
    match r {
        Ok(()) => {
            conn.record(conn.activity(Kind::TextSent).detail(format!("verification code to {}", mask_phone(&number))));
            done(AccountReply::Done {
                text: format!(
                    "a code was texted to {number}; confirm it with: qxfer account phone verify HOST {number}"
                ),
            })
        }
        Err(why) => refuse(ErrorCode::Limit, why),
    }
}

/// `PhoneVerify`: the code texted to the number; then verifying it is a protected change.
pub(super) async fn verify(
    conn: &Arc<Conn>,
    user: String,
    number: String,
    code: String,
    password: String,
    auth: Option<String>,
) -> Reply {
    let sh = conn.shared.clone();
    let ip = conn.peer.ip();
    let now = sh.clock().now_ms() / 1000;
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
    let checked = Shared::blocking(move || -> Result<Option<Result<(), NotVerified>>, StoreError> {
        let guard = sh.guard();
        sh.store().update_recovery(&u, |rec| {
            if !rec.phones.iter().any(|p| p.number == n) {
                return (Err(NotVerified::NotOnAccount), false);
            }
            (guard.take_code(rec, &verify_purpose(&n), &u, &code, now).map_err(NotVerified::Code), true)
        })
    })
    .await??;
    match checked {
        Some(Ok(())) => {}
        Some(Err(NotVerified::NotOnAccount)) => {
            return refuse(ErrorCode::NotFound, "this number is not on the account: add it first")
        }
        Some(Err(NotVerified::Code(why))) => {
            // Mistyping the code texted to one's own new number is a mistake, not
            // a guess worth anything to an attacker (it proves only that number):
            // recorded, not scored; the code's five attempts still hold.
            conn.record(
                conn.activity(Kind::Request).detail(format!("verifying {}: wrong code: {why}", mask_phone(&number))),
            );
            return refuse(ErrorCode::AuthFailed, format!("the code was not accepted: {why}"));
        }
        None => return refuse(ErrorCode::AuthFailed, "no such account"),
    }
    change(conn, &user, Change::AddPhone { number }, ip, auth, phc).await
}

/// `PhoneRemove`: a number never verified goes at once; a verified one is a protected
/// change.
pub(super) async fn remove(
    conn: &Arc<Conn>,
    user: String,
    number: String,
    password: String,
    auth: Option<String>,
) -> Reply {
    let sh = conn.shared.clone();
    let ip = conn.peer.ip();
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
    let (u, n) = (user.clone(), number.clone());
    let unverified = Shared::blocking(move || {
        sh.store().update_recovery(&u, |rec| match rec.phones.iter().find(|p| p.number == n) {
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
        Some(true) => done(AccountReply::Changed { at: None, text: format!("removed the unverified number {number}") }),
        Some(false) => change(conn, &user, Change::RemovePhone { number }, ip, auth, phc).await,
    }
}
