//! `Login`: a session token or a password. Password hashes are memory-hard, so they run on
//! the blocking pool, a bounded number at a time. A failed login is recorded, delayed, and
//! after `max_login_attempts` closes the connection.
//!
//! A login is checked (the challenge the step-up asks for, then the credentials, with the
//! account's due changes applied first), recorded (its timing, for the regularity watch)
//! and answered (logged in, its place noted; or refused and slowed down). What happens at
//! login that is not logging in is one call to its owner: the guard applies due changes
//! and notes places, `timing` feeds the regularity watch.
//!
//! A password login is judged by its place first: from one of the account's known places
//! it is stepped up by failures there only; from anywhere else (and for a name no account
//! has) by failures elsewhere, and past `lockout_after` of those in an hour it is refused
//! whatever the password (`policy::lockout`), with the same words, code and delay for a
//! right password, a wrong one and a made-up name; the hash still runs, as for any login
//! that passed the step-up. The right password there texts the owner a code, and the
//! right password with it (or a recovery code) logs in (`unlock`).

use std::sync::Arc;

use tracing::{info, warn};

use super::hash_wait;
use super::solved::{record_solved, record_too_fast};
use super::timing;
use super::unlock;
use crate::accounts;
use crate::challenge::TicketError;
use crate::policy::activity::Kind;
use crate::policy::challenges::Place;
use crate::policy::lockout::Name;
use crate::policy::places::Sighting;
use crate::server::challenges::Solved;
use crate::server::conn::Conn;
use crate::server::counters::bump;
use crate::server::error::{error_reply, ServerError};
use crate::server::outcome::{Close, Outcome};
use crate::server::Shared;
use crate::store::StoreError;
use crate::transport::{close, endpoint};
use crate::wire::{Credential, ErrorCode, Response, Solution, Token, LOCKED_TEXT};

/// What checking the credentials found.
enum Check {
    /// Good credentials; a password login gets a new session token. `automation`: an
    /// automation token's session (never judged for human timing). `via`: the code that
    /// let it past a lockout.
    Accepted { token: Option<Token>, automation: bool, via: Option<&'static str> },
    /// Wrong credentials; `known` tells whether the account exists (for the record only).
    Refused { known: bool },
    /// A password, right or wrong, for a name locked against the place it came from;
    /// `note`: what the right password did there (for the record only); `text`: the right
    /// password came without a code, so one is to be texted (in the background, so the
    /// reply comes no later for it).
    Locked { known: bool, note: Option<String>, text: bool },
    /// Stopped before the credentials were checked (the challenge, a busy queue): the reply.
    Stopped(Outcome<Response>),
}

impl Check {
    /// Whether the login is judged for human timing, and if so whether its account exists:
    /// password logins and session-token logins are, those of automation tokens never, and
    /// a refused token is a session that ended, not a guess.
    fn judged(&self, is_password: bool) -> Option<bool> {
        match self {
            Check::Accepted { automation, .. } => (!automation).then_some(true),
            Check::Refused { known } | Check::Locked { known, .. } => is_password.then_some(*known),
            Check::Stopped(_) => None,
        }
    }
}

/// A solution with the login that passed its check, to be spent as the login is served.
type Checked<'a> = Option<(&'a Solution, Solved)>;

/// A login refused before its credentials are checked: the challenge it needed is missing
/// or failed. Counts as a login attempt of the connection. A failed challenge is a
/// challenge failure; a missing one is not, the first time on a connection (the real
/// client learns of the step-up that way, then asks for a challenge), but is after that
/// (a client ignoring the step-up). Either way no password was checked: guessing past the
/// step-up needs solved challenges, and wrong passwords with them still ban at five.
fn challenge_refused(conn: &Arc<Conn>, user: &str, code: ErrorCode, why: &str) -> Outcome<Response> {
    let kind = match code {
        ErrorCode::ChallengeRequired if !conn.session(|s| s.challenge_required()) => Kind::Request,
        _ => Kind::ChallengeFailed,
    };
    conn.record(conn.activity(kind).account(user).detail(why));
    if kind == Kind::ChallengeFailed {
        warn!(peer = %conn.peer, %user, event = "challenge_failed", why, "login without a solved challenge");
    } else {
        info!(peer = %conn.peer, %user, event = "challenge_required", "the login is asked for a challenge");
    }
    let close =
        conn.session(|s| s.login_failed()).then_some(Close { code: close::AUTH, reason: "too many failed logins" });
    let text = match code {
        ErrorCode::ChallengeRequired => {
            "this login needs a solved challenge after failed logins (the client asks for one on a terminal)"
                .to_string()
        }
        _ => format!("challenge not solved: {why}"),
    };
    Outcome::reply(error_reply(code, &text)).close(close)
}

/// The source a failure is scored against (`None` for exempt networks).
fn scored(conn: &Conn) -> Option<std::net::IpAddr> {
    let ip = conn.peer.ip();
    (!conn.shared.config().scoring.is_exempt(ip)).then_some(ip)
}

/// The refusal of a login that needed a solved challenge and came without one.
fn missing(conn: &Arc<Conn>, user: &str) -> Outcome<Response> {
    challenge_refused(
        conn,
        user,
        ErrorCode::ChallengeRequired,
        "no solved challenge with the login, after failed logins",
    )
}

/// The step-up: password logins after failed ones need a solved challenge; checked before
/// any password hash, so refusing costs one lookup (and a solution one hash). Session
/// tokens cannot be guessed, so a token login is never held up by it. The solution that
/// passed, if any; the refusal otherwise.
fn step_up<'a>(
    conn: &Arc<Conn>,
    user: &str,
    (is_password, place): (bool, Place),
    solution: Option<&'a Solution>,
    now_ms: u64,
) -> Result<Checked<'a>, Box<Outcome<Response>>> {
    let sh = &conn.shared;
    let stepped_up = is_password && sh.challenges().needed_at(scored(conn), user, place, now_ms);
    let solved = match solution {
        Some(s) => match sh.challenges().check(s, user, conn.peer.ip(), stepped_up, now_ms) {
            Ok(solved) => Some((s, solved)),
            Err(TicketError::Busy) => {
                return Err(Box::new(hash_wait::busy(conn, user, "no room to spend tickets", false)))
            }
            // Refused unread and spent; scored only when repeated (`solved::record_too_fast`).
            Err(e @ TicketError::TooFast) => {
                record_too_fast(conn, user, "login", s);
                let text = format!("challenge not solved: {e}");
                return Err(Box::new(Outcome::reply(error_reply(ErrorCode::ChallengeFailed, text))));
            }
            Err(e) => return Err(Box::new(challenge_refused(conn, user, ErrorCode::ChallengeFailed, &e.to_string()))),
        },
        None => None,
    };
    if solved.is_none() && stepped_up {
        return Err(Box::new(missing(conn, user)));
    }
    Ok(solved)
}

/// Spend the solution as the login is served (a busy queue does not waste it). The refusal
/// when spending fails (used meanwhile, or no room).
fn spend(conn: &Arc<Conn>, user: &str, solved: &Checked<'_>) -> Option<Outcome<Response>> {
    let (s, solved) = solved.as_ref()?;
    let now_ms = conn.shared.clock().now_ms();
    match conn.shared.challenges().spend(s, now_ms) {
        Ok(()) => {}
        Err(TicketError::Busy) => return Some(hash_wait::busy(conn, user, "no room to spend tickets", false)),
        Err(e) => return Some(challenge_refused(conn, user, ErrorCode::ChallengeFailed, &e.to_string())),
    }
    record_solved(conn, user, solved);
    None
}

/// A session token: good when it is `user`'s. The account's due changes apply first (a
/// recovery's new password ends its tokens).
async fn check_token(conn: &Arc<Conn>, user: &str, token: Token, solved: &Checked<'_>) -> Result<Check, ServerError> {
    if let Some(refused) = spend(conn, user, solved) {
        return Ok(Check::Stopped(refused));
    }
    let key = accounts::token_key(&token);
    let (sh, u) = (conn.shared.clone(), user.to_owned());
    Ok(Shared::blocking(move || -> Result<Check, StoreError> {
        sh.guard().apply_due_changes(&*sh, &u, sh.clock().now_ms())?;
        let owner = sh.store().token_user(&key, sh.now())?;
        Ok(if owner.as_deref() == Some(u.as_str()) {
            Check::Accepted { token: None, automation: sh.store().is_automation(&key)?, via: None }
        } else {
            Check::Refused { known: true }
        })
    })
    .await??)
}

/// A password: checked in the fair hash queue (`hash_wait`); a right one gets a new session
/// token. The account's due changes apply first (a
/// recovery's new password is the one to check). Past a lockout, the right password with
/// a right `code` logs in; without one it has a code texted.
async fn check_password(
    conn: &Arc<Conn>,
    user: &str,
    (password, code): (String, Option<String>),
    (place, exists): (Place, bool),
    solved: &Checked<'_>,
) -> Result<Check, ServerError> {
    let effort = solved.as_ref().map(|(s, _)| s.ticket.bits);
    let _slot = match hash_wait::slot(conn, user, (place, exists), effort).await {
        Ok(slot) => slot,
        Err(reply) => return Ok(Check::Stopped(reply)),
    };
    let sh = conn.shared.clone();
    // Failures may have crossed the threshold while this login waited.
    let enough = solved.as_ref().is_some_and(|(_, v)| sh.challenges().enough_for_step_up(v.kind, v.bits));
    if !enough && sh.challenges().needed_at(scored(conn), user, place, sh.clock().now_ms()) {
        return Ok(Check::Stopped(missing(conn, user)));
    }
    if let Some(refused) = spend(conn, user, solved) {
        return Ok(Check::Stopped(refused));
    }
    let (u, ip) = (user.to_owned(), conn.peer.ip());
    Ok(Shared::blocking(move || -> Result<Check, StoreError> {
        // A change whose delay ended (a recovery's new password) applies first.
        sh.guard().apply_due_changes(&*sh, &u, sh.clock().now_ms())?;
        let phc = sh.store().password_hash(&u)?;
        let name = if phc.is_some() { Name::Account(&u) } else { Name::MadeUp(&u) };
        // Asked before the hash, which still runs: a locked login takes as long as a wrong one.
        let locked = place == Place::Elsewhere && sh.challenges().locked(name, ip, sh.clock().now_ms());
        let right = accounts::verify_password(phc.as_deref(), &password);
        let known = phc.is_some();
        let mut via = None;
        if locked {
            let now_ms = sh.clock().now_ms();
            let note = match (right, &code) {
                (false, _) => return Ok(Check::Locked { known, note: None, text: false }),
                (true, None) => return Ok(Check::Locked { known, note: None, text: true }),
                (true, Some(c)) => match unlock::take_code(&sh, &u, c, now_ms / 1000)? {
                    Some(how) => {
                        via = Some(how);
                        String::new()
                    }
                    None => "the right password with a wrong or expired code".into(),
                },
            };
            if via.is_none() {
                return Ok(Check::Locked { known, note: Some(note), text: false });
            }
        } else if !right {
            return Ok(Check::Refused { known });
        }
        let token = accounts::new_token().map_err(|_| StoreError::Corrupt("token"))?;
        let expires = sh.now() + accounts::TOKEN_LIFETIME_SECS;
        // The password (or the account) may have changed while it was being checked.
        let phc = phc.unwrap_or_default();
        let net = crate::policy::prefix_of(ip).to_string();
        if !sh.store().add_token(&accounts::token_key(&token), &u, &phc, expires, Some(&net))? {
            return Ok(Check::Refused { known: true });
        }
        Ok(Check::Accepted { token: Some(token), automation: false, via })
    })
    .await??)
}

/// Logged in: the session and the listener know it, the guard notes the place, and the
/// connection gets a logged-in connection's windows. `cleared`: a solved challenge with the
/// right password, so this source and the account's count for its `place` start over (a
/// token login for another account proves nothing about them).
async fn accepted(
    conn: &Arc<Conn>,
    user: String,
    (token, via): (Option<Token>, Option<&'static str>),
    cleared: Option<Place>,
) -> Outcome<Response> {
    let ip = conn.peer.ip();
    if let Some(place) = cleared {
        conn.shared.challenges().cleared(ip, &user, place);
    }
    conn.session(|s| s.logged_in(&user));
    conn.shared.logged_in(&conn.connection, &user);
    let (sh, u) = (conn.shared.clone(), user.clone());
    let now_ms = sh.clock().now_ms();
    // A password login counts a day toward its place (a new one is told to the owner);
    // a token login only keeps a known place from expiring (`account_guard::places`).
    let password = token.is_some();
    match Shared::blocking(move || sh.guard().note_login(sh.store(), &u, ip, password, now_ms)).await {
        Ok(Err(e)) => warn!(peer = %conn.peer, %user, event = "place_not_noted", "{e}"),
        Ok(Ok(Some(Sighting::New))) => {
            conn.record(conn.activity(Kind::NewPlace).account(&user).detail("first password login from this network"));
            info!(peer = %conn.peer, %user, event = "new_place", "first password login from this network; the owner is told");
        }
        Ok(Ok(Some(Sighting::BecameKnown))) => {
            info!(peer = %conn.peer, %user, event = "place_known", "this network is now a known place of the account");
        }
        _ => {}
    }
    let detail = via.map(|how| format!("past the lockout for this place, with {how}")).unwrap_or_default();
    conn.record(conn.activity(Kind::LoginOk).account(&user).detail(detail));
    endpoint::grant(&conn.connection, &conn.shared.limits().net());
    info!(peer = %conn.peer, %user, event = "login", "logged in");
    Outcome::reply(Response::LoggedIn { user, token })
}

/// How a refused login failed: a password or a token, whether its account exists, its
/// place, and whether the lockout refused it (whatever the password).
struct Failure {
    is_password: bool,
    known: bool,
    place: Place,
    /// Refused by the lockout, with what the right password did (empty for a wrong one).
    locked: Option<String>,
    /// When the login arrived: a locked one is answered no sooner than the failed-login
    /// delay after it, whatever was done for a right password meanwhile.
    arrived: tokio::time::Instant,
}

/// Wrong credentials (or a locked name): recorded, counted towards the step-up (a
/// password) and the lockout (a wrong password from elsewhere), slowed down, and the
/// connection closed after too many.
async fn refused(conn: &Arc<Conn>, user: &str, f: Failure, now_ms: u64) -> Outcome<Response> {
    let Failure { is_password, known, place, locked, arrived } = f;
    let is_locked = locked.is_some();
    let note = locked.filter(|n| !n.is_empty());
    let locked = is_locked;
    // Only a wrong password steps the account up to captchas: tokens cannot be
    // guessed, and a refused one is a session that ended (a password change, a
    // recovery), which the real client meets after every such change. A locked login
    // counts as a failure whatever its password, so nothing after it tells the two apart.
    if is_password {
        conn.shared.challenges().failed_at(scored(conn), user, place, now_ms);
        let name = if known { Name::Account(user) } else { Name::MadeUp(user) };
        if place == Place::Elsewhere && !locked && conn.shared.challenges().lockout_failed(name, conn.peer.ip(), now_ms)
        {
            warn!(peer = %conn.peer, %user, event = "login_locked", "password logins from unknown places locked");
        }
    }
    bump(&conn.shared.counters().auth_failures);
    // A refused token is a session that ended (a password change, a recovery, a
    // revoked automation token still in a script): recorded, not an offence; tokens
    // cannot be guessed.
    let kind = match (is_password, known, locked) {
        (false, ..) => Kind::Request,
        (true, _, true) => Kind::LoginLocked,
        (true, true, false) => Kind::LoginFailed,
        (true, false, false) => Kind::UnknownUser,
    };
    let detail = match (is_password, locked) {
        (false, _) => "token refused: ended, revoked or unknown",
        (true, true) => "locked for places the account does not know",
        (true, false) => "",
    };
    let detail = match &note {
        Some(n) => format!("{detail}; the right password: {n}"),
        None => detail.to_owned(),
    };
    conn.record(conn.activity(kind).account(user).detail(detail));
    warn!(peer = %conn.peer, %user, event = "auth_failure", "login failed");
    // Slow down guessing; other connections are not held up.
    let delay = std::time::Duration::from_millis(conn.shared.limits().failed_login_delay_ms);
    if locked {
        tokio::time::sleep_until(arrived + delay).await;
    } else {
        tokio::time::sleep(delay).await;
    }
    let close =
        conn.session(|s| s.login_failed()).then_some(Close { code: close::AUTH, reason: "too many failed logins" });
    let text = if locked { LOCKED_TEXT } else { "wrong user name or password" };
    Outcome::reply(error_reply(ErrorCode::AuthFailed, text)).close(close)
}

pub(super) async fn handle(
    conn: &Arc<Conn>,
    user: String,
    credential: Credential,
    solution: Option<Solution>,
    code: Option<String>,
) -> Result<Outcome<Response>, ServerError> {
    // When it arrived: the hash's time on a busy host is not the client's cadence.
    let now_ms = conn.shared.clock().now_ms();
    let arrived = tokio::time::Instant::now();
    let sent = timing::login_digest(&credential, now_ms);
    let is_password = matches!(credential, Credential::Password(_));
    // A token is good from anywhere: its place does not matter.
    let (place, exists) = if is_password { hash_wait::place_of(conn, &user).await? } else { (Place::Known, true) };
    // Check the challenge the step-up asks for, then the credentials, and decide (`Check`).
    let solved = match step_up(conn, &user, (is_password, place), solution.as_ref(), now_ms) {
        Ok(solved) => solved,
        Err(refused) => return Ok(*refused),
    };
    let check = match credential {
        Credential::Token(token) => check_token(conn, &user, token, &solved).await?,
        Credential::Password(password) => {
            check_password(conn, &user, (password, code), (place, exists), &solved).await?
        }
    };
    // Record the login's timing, for the regularity watch.
    if let Some(exists) = check.judged(is_password) {
        timing::note_login(conn, &user, exists, &sent, now_ms);
    }
    // Answer: logged in, or refused.
    Ok(match check {
        Check::Accepted { token, via, .. } => {
            accepted(conn, user, (token, via), (solved.is_some() && is_password).then_some(place)).await
        }
        Check::Refused { known } => {
            refused(conn, &user, Failure { is_password, known, place, locked: None, arrived }, now_ms).await
        }
        Check::Locked { known, note, text } => {
            if text {
                unlock::text_in_background(conn, &user);
            }
            let locked = Some(note.unwrap_or_default());
            refused(conn, &user, Failure { is_password, known, place, locked, arrived }, now_ms).await
        }
        Check::Stopped(outcome) => outcome,
    })
}
