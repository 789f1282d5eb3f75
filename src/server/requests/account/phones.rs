//! The account's phone numbers: `PhoneAdd` texts a code to a new number, `PhoneVerify`
//! takes it (verifying the number is a protected change), `PhoneRemove` drops a number
//! never verified at once and puts any other through the protected change.
//!
//! Whoever has the password may be a thief looking for the number behind the masked one
//! (a SIM swap needs it). So every reply about a number reads the same whether the number
//! is verified on the account or not on it at all: adding a verified number answers as
//! adding a new one (and texts nothing), verifying one with no code waiting answers as
//! verifying a number never added, removing a number not on the account is a change like
//! removing one that is (announced, and it removes nothing when it applies). Each request
//! counts against the account's `PHONE_REQUESTS_PER_DAY`, so at most that many guesses a
//! day; codes for numbers not on the account, and tries past a code's five, are scored as
//! guesses, a mistyped code for one's own new number is not.

use std::sync::Arc;

use super::answer::{change, done, refuse, Reply};
use super::current_password::password_ok;
use super::number::parse_number;
use crate::policy::activity::Kind;
use crate::policy::recovery::{mask_phone, CodeError};
use crate::server::account_guard::codes::{verify_purpose, SendCodeError};
use crate::server::conn::Conn;
use crate::server::error::{error_reply, ServerError};
use crate::server::outcome::Outcome;
use crate::server::Shared;
use crate::store::{Change, PhoneRec, RecentKind, StoreError};
use crate::wire::{AccountReply, ErrorCode, Response, MAX_PHONES};

/// Why a number was not added (and no code texted to it).
#[derive(Debug, Clone, Copy, thiserror::Error)]
enum NotAdded {
    #[error("{}", PHONE_LIMIT)]
    Requests,
    #[error("an account holds at most {MAX_PHONES} numbers")]
    Full,
    #[error(transparent)]
    NotTexted(#[from] SendCodeError),
    #[error("no such account")]
    NoAccount,
}

/// What the account's limit on requests about numbers says.
const PHONE_LIMIT: &str = "this account has made its requests about phone numbers for today (add, verify and remove \
                           count alike); try again tomorrow";

/// What adding a number did (both answered alike).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Added {
    Texted,
    VerifiedAlready,
}

/// Why a number's verification code was not taken.
#[derive(Debug, Clone, Copy)]
enum NotVerified {
    Requests,
    NotOnAccount,
    Code(CodeError),
}

/// What every phone request starts with: the number as typed (checked against
/// `countries`, when given) and the current password; or the refusal to answer with.
async fn number_and_password(
    conn: &Arc<Conn>,
    user: &str,
    number: &str,
    countries: &[String],
    password: String,
) -> Result<Result<(String, String), Outcome<Response>>, ServerError> {
    let number = match parse_number(number, countries) {
        Ok(n) => n,
        Err(why) => return Ok(Err(Outcome::reply(error_reply(ErrorCode::BadRequest, why)))),
    };
    Ok(password_ok(conn, user, password).await?.map(|phc| (number, phc)))
}

/// `PhoneAdd`: the number goes on the account unverified, and a code is texted to it.
pub(super) async fn add(conn: &Arc<Conn>, user: String, number: String, password: String) -> Reply {
    let sh = conn.shared.clone();
    let ip = conn.peer.ip();
    let now_ms = sh.clock().now_ms();
    let now = now_ms / 1000;
    let (number, phc) =
        match number_and_password(conn, &user, &number, sh.guard().texts().countries(), password).await? {
            Ok(checked) => checked,
            Err(refused) => return Ok(refused),
        };
    let n = number.clone();
    let r = Shared::blocking(move || -> Result<Result<Added, NotAdded>, StoreError> {
        let guard = sh.guard();
        let r = sh.store().update_recovery_as(&user, Some(&phc), |rec| {
            if !guard.allow(rec, RecentKind::Phone, ip, now) {
                return (Err(NotAdded::Requests), false);
            }
            // Numbers never verified within a day are dropped: a number cannot be
            // planted now to be verified much later.
            rec.phones.retain(|p| p.verified.is_some() || now.saturating_sub(p.added) < 86_400);
            if rec.phones.iter().any(|p| p.number == n && p.verified.is_some()) {
                // Answered as a new number is; nothing is texted (the request is counted).
                return (Ok(Added::VerifiedAlready), true);
            }
            if !rec.phones.iter().any(|p| p.number == n) {
                if rec.phones.len() >= MAX_PHONES {
                    return (Err(NotAdded::Full), true);
                }
                rec.phones.push(PhoneRec { number: n.clone(), added: now, verified: None });
            }
            let sent =
                guard.send_code(rec, RecentKind::Code, ip, &verify_purpose(&n), &user, &n, now_ms, |code, min| {
                    format!("your code to add this number to account {user} is {code}. It works for {min} min.")
                });
            let write = sent.is_ok();
            (sent.map(|()| Added::Texted).map_err(NotAdded::from), write)
        })?;
        Ok(r.unwrap_or(Err(NotAdded::NoAccount)))
    })
    .await??;
    match r {
        Ok(added) => {
            // A text is recorded by the outbox (`text_sent`); a number verified already
            // gets none, and that is recorded here.
            if added == Added::VerifiedAlready {
                let masked = mask_phone(&number);
                conn.record(
                    conn.activity(Kind::Request).detail(format!("adding {masked}, verified already: nothing texted")),
                );
            }
            done(AccountReply::Done {
                text: format!(
                    "a code was texted to {number} (unless the account has it verified already); confirm it with: \
                     qxfer account phone verify HOST {number}"
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
    let (number, phc) = match number_and_password(conn, &user, &number, &[], password).await? {
        Ok(checked) => checked,
        Err(refused) => return Ok(refused),
    };
    let u = user.clone();
    let n = number.clone();
    let checked = Shared::blocking(move || -> Result<Option<Result<(), NotVerified>>, StoreError> {
        let guard = sh.guard();
        sh.store().update_recovery(&u, |rec| {
            if !guard.allow(rec, RecentKind::Phone, ip, now) {
                return (Err(NotVerified::Requests), false);
            }
            if !rec.phones.iter().any(|p| p.number == n) {
                return (Err(NotVerified::NotOnAccount), true);
            }
            (guard.take_code(rec, &verify_purpose(&n), &u, &code, now).map_err(NotVerified::Code), true)
        })
    })
    .await??;
    let masked = mask_phone(&number);
    match checked {
        Some(Ok(())) => {}
        Some(Err(NotVerified::Requests)) => return refuse(ErrorCode::Limit, PHONE_LIMIT),
        Some(Err(NotVerified::NotOnAccount)) => {
            // A code for a number not on the account is a guess at the number behind the
            // mask: scored, and answered as a number with no code waiting is.
            conn.record(
                conn.activity(Kind::RecoveryWrongCode).detail(format!("verifying {masked}: not on the account")),
            );
            return refuse(ErrorCode::AuthFailed, format!("the code was not accepted: {}", CodeError::NotSent));
        }
        Some(Err(NotVerified::Code(why))) => {
            // Mistyping the code texted to one's own new number is a mistake, not a guess
            // worth anything to an attacker (it proves only that number): recorded, not
            // scored. Tries past the code's five are guesses: scored.
            let kind = if why == CodeError::NoAttemptsLeft { Kind::RecoveryWrongCode } else { Kind::Request };
            conn.record(conn.activity(kind).detail(format!("verifying {masked}: wrong code: {why}")));
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
    let (number, phc) = match number_and_password(conn, &user, &number, &[], password).await? {
        Ok(checked) => checked,
        Err(refused) => return Ok(refused),
    };
    // Decided in one transaction: a number never verified (nobody's way back in)
    // goes at once, with the verification it waited for; any other is a change, a number
    // not on the account too (it removes nothing when it applies, and reads the same).
    let (u, n) = (user.clone(), number.clone());
    let now = sh.clock().now_ms() / 1000;
    let decided = Shared::blocking(move || {
        let guard = sh.guard();
        sh.store().update_recovery(&u, |rec| {
            if !guard.allow(rec, RecentKind::Phone, ip, now) {
                return (Removal::Requests, false);
            }
            match rec.phones.iter().find(|p| p.number == n) {
                Some(p) if p.verified.is_none() => {
                    rec.phones.retain(|p| p.number != n);
                    rec.sent.retain(|s| s.purpose != verify_purpose(&n));
                    rec.pending.retain(|p| !matches!(&p.change, Change::AddPhone { number } if *number == n));
                    (Removal::Unverified, true)
                }
                _ => (Removal::Change, true),
            }
        })
    })
    .await??;
    match decided {
        Some(Removal::Requests) => refuse(ErrorCode::Limit, PHONE_LIMIT),
        Some(Removal::Unverified) => {
            done(AccountReply::Changed { at: None, text: format!("removed the unverified number {number}") })
        }
        Some(Removal::Change) => change(conn, &user, Change::RemovePhone { number }, ip, auth, phc).await,
        None => refuse(ErrorCode::AuthFailed, "no such account"),
    }
}

/// How a removal is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Removal {
    Requests,
    Unverified,
    Change,
}
