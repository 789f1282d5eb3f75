//! Self-registration, when the operator turns it on (`[registration] enabled = true`):
//! `RegisterChallenge` hands out a captcha (always, with a proof of work) for the name
//! asked for, and `Register` creates the account with it: a name neither reserved nor like
//! an existing one, a small quota and deliveries a day, at most a few a day per network.
//! Every attempt is an activity event. A network whose registrations (or logins, or
//! challenge requests) come too regularly for a person is challenged harder first, and
//! then refused for the rest of the window (`timing` feeds the watch).

use std::sync::Arc;

use tracing::{info, warn};

use super::solved::{answer_hook, record_solved};
use super::timing::watch;
use crate::accounts;
use crate::policy::activity::Kind;
use crate::policy::registration::reserved;
use crate::server::conn::Conn;
use crate::server::error::{error_reply, ServerError};
use crate::server::outcome::Outcome;
use crate::server::Shared;
use crate::store::Registered;
use crate::wire::{AccountReply, ErrorCode, Response, Solution};

/// Signals from one network (in a run, each within a window of the last) after which its
/// registrations are refused.
pub const REFUSE_AFTER_SIGNALS: u32 = 2;

/// What a registration's ticket is bound to: not the account name alone, so a login's
/// captcha does not register a name and a registration's captcha does not log in.
fn ticket_name(user: &str) -> String {
    format!("register/{user}")
}

fn refused(conn: &Arc<Conn>, user: &str, code: ErrorCode, why: &str) -> Outcome<Response> {
    conn.record(conn.activity(Kind::RegistrationRefused).account(user).detail(why));
    info!(peer = %conn.peer, %user, event = "registration_refused", "{why}");
    Outcome::reply(error_reply(code, why))
}

/// The captcha for registering `user`.
pub(super) fn challenge(conn: &Arc<Conn>, user: &str) -> Outcome<Response> {
    let sh = &conn.shared;
    if !sh.config().registration.enabled {
        return refused(conn, user, ErrorCode::NotFound, "this listener does not take registrations");
    }
    let ip = conn.peer.ip();
    let now_ms = sh.clock().now_ms();
    watch(conn, None, "registration challenge", now_ms, &[user.as_bytes()]);
    match sh.challenges().issue_for(
        ip,
        sh.config().scoring.is_exempt(ip),
        &ticket_name(user),
        (true, conn.captcha_cells()),
        now_ms,
    ) {
        Ok((ticket, picture, text)) => {
            answer_hook(&ticket, text.as_deref());
            conn.record(
                conn.activity(Kind::ChallengeIssued)
                    .account(user)
                    .detail(format!("registration captcha, {} bits", ticket.bits)),
            );
            Outcome::reply(Response::Challenge { ticket, picture })
        }
        Err(e) => super::solved::issue_refused(conn, user, e),
    }
}

pub(super) async fn register(
    conn: &Arc<Conn>,
    user: String,
    password: String,
    solution: Solution,
) -> Result<Outcome<Response>, ServerError> {
    let sh = conn.shared.clone();
    let cfg = sh.config().registration.clone();
    if !cfg.enabled {
        return Ok(refused(conn, &user, ErrorCode::NotFound, "this listener does not take registrations"));
    }
    let ip = conn.peer.ip();
    let now_ms = sh.clock().now_ms();
    // Registrations are judged before anything else: a script's shows at once.
    watch(conn, None, "registration", now_ms, &[user.as_bytes()]);
    let window = sh.config().challenges.window_secs.saturating_mul(1000);
    if !sh.config().scoring.is_exempt(ip) && sh.humans().flagged(ip, now_ms, window) >= REFUSE_AFTER_SIGNALS {
        return Ok(refused(
            conn,
            &user,
            ErrorCode::Limit,
            "registrations from this network look automated (too regular to be a person); try again later",
        ));
    }
    // Always a solved captcha for this very name (a captcha, whatever logins get).
    if solution.ticket.kind != crate::challenge::ChallengeKind::Captcha {
        return Ok(refused(conn, &user, ErrorCode::ChallengeFailed, "a registration needs a solved captcha"));
    }
    let checked = sh.challenges().check(&solution, &ticket_name(&user), ip, true, now_ms).and_then(|solved| {
        sh.challenges().spend(&solution, now_ms)?;
        Ok(solved)
    });
    let solved = match checked {
        Ok(solved) => solved,
        // Busy is the listener's load, too fast is scored only when repeated.
        Err(e) => return Ok(super::solved::refused(conn, &user, "registration", &solution, e)),
    };
    record_solved(conn, &user, &solved);
    if let Err(e) = reserved(&user, &cfg) {
        return Ok(refused(conn, &user, ErrorCode::BadRequest, &e.to_string()));
    }
    if password.len() < crate::wire::MIN_PASSWORD {
        return Ok(refused(conn, &user, ErrorCode::BadRequest, "the password must be 8 to 1024 bytes long"));
    }
    // A taken or look-alike name is refused before anything is counted or hashed.
    let (u, shc) = (user.clone(), sh.clone());
    let free = Shared::blocking(move || shc.store().name_free(&u)).await??;
    if free != Registered::Created {
        return Ok(name_refused(conn, &user, &free));
    }
    if let Err(why) = sh.humans().allow_registration(ip, &cfg, now_ms) {
        return Ok(refused(conn, &user, ErrorCode::Limit, why));
    }
    // From here, a registration that makes no account gives its count back.
    let give_back = |conn: &Arc<Conn>, why: &str, code| {
        conn.shared.humans().give_back_registration(ip, now_ms);
        refused(conn, &user, code, why)
    };
    let Some(_slot) = super::hash_wait::other_slot(conn, &user, solution.ticket.bits).await else {
        return Ok(give_back(conn, "the listener is busy; try again in a moment", ErrorCode::Limit));
    };
    let phc = match Shared::blocking(move || accounts::hash_password(&password)).await? {
        Ok(phc) => phc,
        Err(e) => return Ok(give_back(conn, &e.to_string(), ErrorCode::BadRequest)),
    };
    drop(_slot);
    let (u, shc) = (user.clone(), sh.clone());
    let caps = (cfg.quota_bytes, cfg.deliveries_per_day);
    let made = Shared::blocking(move || shc.store().register_user(&u, &phc, now_ms / 1000, caps)).await??;
    if made != Registered::Created {
        sh.humans().give_back_registration(ip, now_ms);
        return Ok(name_refused(conn, &user, &made));
    }
    match made {
        Registered::Created => {
            let (shc, u) = (sh.clone(), user.clone());
            let now = now_ms / 1000;
            // The network it registered from counts its first day, like a password login (it
            // is not known at once: a place is earned the same way for every account).
            let noted = move || shc.guard().note_password_login(shc.store(), &u, ip, now).map(|_| ());
            if let Ok(Err(e)) = Shared::blocking(noted).await {
                warn!(peer = %conn.peer, %user, event = "place_not_noted", "{e}");
            }
            conn.record(
                conn.activity(Kind::Registered)
                    .account(&user)
                    .detail(format!("quota {} bytes, {} deliveries a day", cfg.quota_bytes, cfg.deliveries_per_day)),
            );
            info!(peer = %conn.peer, %user, event = "registered", "an account registered itself");
            let text = format!(
                "account {user} created: {} MiB of mail, {} deliveries a day; log in with your password",
                cfg.quota_bytes >> 20,
                cfg.deliveries_per_day
            );
            Ok(Outcome::reply(Response::Account(AccountReply::Done { text })))
        }
        other => Ok(name_refused(conn, &user, &other)),
    }
}

/// A name that cannot be registered: taken, or like a taken one.
fn name_refused(conn: &Arc<Conn>, user: &str, why: &Registered) -> Outcome<Response> {
    let text = match why {
        Registered::Taken => format!("the name {user:?} is taken"),
        _ => format!("{user:?} looks too much like an existing account's name; pick another name"),
    };
    refused(conn, user, ErrorCode::BadRequest, &text)
}
