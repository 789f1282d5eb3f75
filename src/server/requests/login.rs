//! `Login`: a session token or a password. Password hashes are memory-hard, so they run on
//! the blocking pool, a bounded number at a time. A failed login is recorded, delayed, and
//! after `max_login_attempts` closes the connection.

use std::sync::Arc;

use tracing::{info, warn};

use crate::accounts;
use crate::policy::activity::Kind;
use crate::server::challenges::Solved;
use crate::server::conn::Conn;
use crate::server::counters::bump;
use crate::server::error::{error_reply, ServerError};
use crate::server::outcome::{Close, Outcome};
use crate::server::Shared;
use crate::store::StoreError;
use crate::transport::{close, endpoint};
use crate::wire::{Credential, ErrorCode, Response, Solution, Token};

/// What checking the credentials found.
enum Check {
    /// Good credentials; a password login gets a new session token. `automation`: an
    /// automation token's session (never judged for human timing).
    Accepted { token: Option<Token>, automation: bool },
    /// Wrong credentials; `known` tells whether the account exists (for the record only).
    Refused { known: bool },
}

/// Issue the challenge a login as `user` from this connection's network needs now.
pub(super) fn challenge(conn: &Arc<Conn>, user: &str) -> Outcome<Response> {
    // The network's cadence only: a name someone asks about may not exist.
    let sh = &conn.shared;
    let ip = conn.peer.ip();
    let now_ms = sh.clock().now_ms();
    super::register::watch(conn, None, "challenge request", now_ms, &[user.as_bytes()]);
    let (ticket, picture, text) = match sh.challenges().issue(ip, sh.config().scoring.is_exempt(ip), user, now_ms) {
        Ok(issued) => issued,
        Err(e) => {
            warn!(peer = %conn.peer, event = "challenge_error", "{e}");
            return Outcome::reply(error_reply(ErrorCode::Internal, e));
        }
    };
    answer_hook(&ticket, text.as_deref());
    let kind = if picture.is_some() { "captcha" } else { "work" };
    conn.record(conn.activity(Kind::ChallengeIssued).account(user).detail(format!("{kind}, {} bits", ticket.bits)));
    info!(peer = %conn.peer, %user, event = "challenge_issued", kind, bits = ticket.bits, "challenge issued");
    Outcome::reply(Response::Challenge { ticket, picture })
}

/// Debug builds only: with `QXFER_TEST_CAPTCHA_ANSWERS=FILE`, each captcha's nonce and text
/// are appended to FILE, so the tests can answer it (as the fault-injection hook lets them
/// crash a task). Release builds have no such hook.
#[cfg(debug_assertions)]
pub(super) fn answer_hook(ticket: &crate::wire::Ticket, text: Option<&str>) {
    use std::io::Write;
    let (Some(path), Some(text)) = (std::env::var_os("QXFER_TEST_CAPTCHA_ANSWERS"), text) else { return };
    let nonce = hex::encode(ticket.nonce);
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(f, "{nonce} {text}");
    }
}

#[cfg(not(debug_assertions))]
pub(super) fn answer_hook(_: &crate::wire::Ticket, _: Option<&str>) {}

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

/// A solution spent: its event, and the too-fast one when the captcha came faster than a
/// person reads and types.
pub(super) fn record_solved(conn: &Arc<Conn>, user: &str, solved: &Solved) {
    let kind = match solved.kind {
        crate::challenge::ChallengeKind::Captcha => "captcha",
        crate::challenge::ChallengeKind::Work => "work",
    };
    let detail = format!("{kind}, {} bits, answered in {} ms", solved.bits, solved.took_ms);
    conn.record(conn.activity(Kind::ChallengeSolved).account(user).detail(&detail));
    if solved.too_fast {
        let floor = conn.shared.challenges().config().timing().floor_ms(crate::challenge::captcha::LEN);
        let detail = format!("captcha answered in {} ms (a person takes {floor} ms or more)", solved.took_ms);
        conn.record(conn.activity(Kind::TooFast).account(user).detail(&detail));
        warn!(peer = %conn.peer, %user, event = "too_fast", took_ms = solved.took_ms, "captcha answered faster than a person");
    }
}

pub(super) async fn handle(
    conn: &Arc<Conn>,
    user: String,
    credential: Credential,
    solution: Option<Solution>,
) -> Result<Outcome<Response>, ServerError> {
    let sh = conn.shared.clone();
    let ip = conn.peer.ip();
    let now_ms = sh.clock().now_ms();
    // What the login sent, as a digest (the same password or token over and over is a
    // script's); the secret itself is not kept.
    // A saved session token is the same at every login by nature: only its timing is
    // judged (a unique digest), never its sameness.
    let login_digest = match &credential {
        Credential::Password(p) => *blake3::hash(p.as_bytes()).as_bytes(),
        Credential::Token(_) => *blake3::hash(&now_ms.to_le_bytes()).as_bytes(),
    };
    // The step-up: password logins after failed ones need a solved challenge; checked
    // before any password hash, so refusing costs one lookup (and a solution one hash).
    // Session tokens cannot be guessed, so a token login is never held up by it.
    let scored = (!sh.config().scoring.is_exempt(ip)).then_some(ip);
    let stepped_up = matches!(credential, Credential::Password(_)) && sh.challenges().needed(scored, &user, now_ms);
    let solved = match &solution {
        Some(s) => match sh.challenges().check(s, &user, ip, stepped_up, now_ms) {
            Ok(solved) => Some((s, solved)),
            Err(e) => return Ok(challenge_refused(conn, &user, ErrorCode::ChallengeFailed, &e.to_string())),
        },
        None => None,
    };
    let missing = |conn: &Arc<Conn>| {
        challenge_refused(
            conn,
            &user,
            ErrorCode::ChallengeRequired,
            "no solved challenge with the login, after failed logins",
        )
    };
    if solved.is_none() && stepped_up {
        return Ok(missing(conn));
    }
    // Spend the solution as the login is served (a busy queue does not waste it).
    // The refusal when spending fails (used meanwhile, or no room), else `None`.
    let spend = |conn: &Arc<Conn>| -> Option<Outcome<Response>> {
        let (s, solved) = solved.as_ref()?;
        let now_ms = conn.shared.clock().now_ms();
        if let Err(e) = conn.shared.challenges().spend(s, solved, ip, now_ms) {
            return Some(challenge_refused(conn, &user, ErrorCode::ChallengeFailed, &e.to_string()));
        }
        record_solved(conn, &user, solved);
        None
    };
    let is_password = matches!(credential, Credential::Password(_));
    let check = match credential {
        Credential::Token(token) => {
            if let Some(refused) = spend(conn) {
                return Ok(refused);
            }
            let key = accounts::token_key(&token);
            let u = user.clone();
            Shared::blocking(move || -> Result<Check, StoreError> {
                super::account::apply_due(&sh, &u, sh.clock().now_ms())?;
                let owner = sh.store().token_user(&key, sh.now())?;
                Ok(if owner.as_deref() == Some(u.as_str()) {
                    Check::Accepted { token: None, automation: sh.store().is_automation(&key)? }
                } else {
                    Check::Refused { known: true }
                })
            })
            .await??
        }
        Credential::Password(password) => {
            // Served by the work the login proves (0 without a solution).
            let priority = solved.as_ref().map_or(0, |(s, _)| s.ticket.bits);
            let Some(_slot) = conn.shared.hash_slot(priority).await else {
                conn.record(conn.activity(Kind::Limit).account(&user).detail("login queue full"));
                return Ok(Outcome::reply(error_reply(
                    ErrorCode::Limit,
                    "the listener is busy checking passwords; try again in a moment",
                )));
            };
            // Failures may have crossed the threshold while this login waited.
            let enough = solved.as_ref().is_some_and(|(_, v)| sh.challenges().enough_for_step_up(v.kind, v.bits));
            if !enough && sh.challenges().needed(scored, &user, sh.clock().now_ms()) {
                return Ok(missing(conn));
            }
            if let Some(refused) = spend(conn) {
                return Ok(refused);
            }
            let u = user.clone();
            Shared::blocking(move || -> Result<Check, StoreError> {
                // A change whose delay ended (a recovery's new password) applies first.
                super::account::apply_due(&sh, &u, sh.clock().now_ms())?;
                let phc = sh.store().password_hash(&u)?;
                if !accounts::verify_password(phc.as_deref(), &password) {
                    return Ok(Check::Refused { known: phc.is_some() });
                }
                let token = accounts::new_token().map_err(|_| StoreError::Corrupt("token"))?;
                let expires = sh.now() + accounts::TOKEN_LIFETIME_SECS;
                // The password (or the account) may have changed while it was being checked.
                let phc = phc.unwrap_or_default();
                if !sh.store().add_token(&accounts::token_key(&token), &u, &phc, expires)? {
                    return Ok(Check::Refused { known: true });
                }
                Ok(Check::Accepted { token: Some(token), automation: false })
            })
            .await??
        }
    };
    // Logins are judged for human timing (what was sent: the account and the credential),
    // except those of automation tokens.
    // The account's cadence too when it exists (names that do not cost no state).
    let (judged, exists) = match &check {
        Check::Accepted { automation, .. } => (!automation, true),
        Check::Refused { known } => (is_password, *known),
    };
    if judged {
        let account = exists.then_some(user.as_str());
        // When it arrived: the hash's time on a busy host is not the client's cadence.
        super::register::watch(conn, account, "login", now_ms, &[user.as_bytes(), &login_digest]);
    }
    Ok(match check {
        Check::Accepted { token, .. } => {
            // A solved challenge with the right password: this source and account start
            // over (a token login for another account proves nothing about them).
            if solved.is_some() && is_password {
                conn.shared.challenges().cleared(ip, &user);
            }
            conn.session(|s| s.logged_in(&user));
            conn.shared.logged_in(&conn.connection, &user);
            let (sh, u) = (conn.shared.clone(), user.clone());
            let now = sh.clock().now();
            if let Ok(Err(e)) = Shared::blocking(move || sh.guard().note_login(sh.store(), &u, ip, now)).await {
                warn!(peer = %conn.peer, %user, event = "place_not_noted", "{e}");
            }
            conn.record(conn.activity(Kind::LoginOk).account(&user));
            endpoint::grant(&conn.connection, &conn.shared.limits().net());
            info!(peer = %conn.peer, %user, event = "login", "logged in");
            Outcome::reply(Response::LoggedIn { user, token })
        }
        Check::Refused { known } => {
            // Only a wrong password steps the account up to captchas: tokens cannot be
            // guessed, and a refused one is a session that ended (a password change, a
            // recovery), which the real client meets after every such change.
            if is_password {
                conn.shared.challenges().failed(scored, &user, now_ms);
            }
            bump(&conn.shared.counters().auth_failures);
            // A refused token is a session that ended (a password change, a recovery, a
            // revoked automation token still in a script): recorded, not an offence; tokens
            // cannot be guessed.
            let kind = match (is_password, known) {
                (false, _) => Kind::Request,
                (true, true) => Kind::LoginFailed,
                (true, false) => Kind::UnknownUser,
            };
            let detail = if is_password { "" } else { "token refused: ended, revoked or unknown" };
            conn.record(conn.activity(kind).account(&user).detail(detail));
            warn!(peer = %conn.peer, %user, event = "auth_failure", "login failed");
            // Slow down guessing; other connections are not held up.
            let delay = std::time::Duration::from_millis(conn.shared.limits().failed_login_delay_ms);
            tokio::time::sleep(delay).await;
            let close = conn
                .session(|s| s.login_failed())
                .then_some(Close { code: close::AUTH, reason: "too many failed logins" });
            Outcome::reply(error_reply(ErrorCode::AuthFailed, "wrong user name or password")).close(close)
        }
    })
}
