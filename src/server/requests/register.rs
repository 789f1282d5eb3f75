//! Self-registration, when the operator turns it on (`[registration] enabled = true`):
//! `RegisterChallenge` hands out a captcha (always, with a proof of work) for the name
//! asked for, and `Register` creates the account with it: a name neither reserved nor like
//! an existing one, a small quota and deliveries a day, at most a few a day per network.
//! Every attempt is an activity event. What would refuse a registration whatever the
//! captcha's answer (a ban, "look automated", today's caps) refuses the captcha request,
//! before anyone types one; `Register` checks them again (they may have changed since).
//! Registrations "look automated" on the network's shared signal (several of its
//! addresses too regular for people) or the address's own repeated signals, never on one
//! neighbour's (`policy::neighbours`; `timing` feeds the watch).

use std::sync::Arc;

use tracing::{info, warn};

use super::challenge::closed_if_banned;
use super::solved::{answer_hook, record_solved};
use super::timing::{signal_window, watch};
use crate::accounts;
use crate::policy::activity::Kind;
use crate::policy::neighbours::{address_of, network_of, Automated};
use crate::policy::registration::reserved;
use crate::server::conn::Conn;
use crate::server::error::{error_reply, ServerError};
use crate::server::outcome::Outcome;
use crate::server::Shared;
use crate::store::Registered;
use crate::wire::{AccountReply, ErrorCode, Response, Solution};

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

/// Why registrations from this connection's address look automated now, in words (never
/// for the listener's own host and other exempt networks).
fn automated(conn: &Arc<Conn>, now_ms: u64) -> Option<String> {
    let sh = &conn.shared;
    let ip = conn.peer.ip();
    if sh.config().scoring.is_exempt(ip) {
        return None;
    }
    let window = signal_window(conn);
    let later = crate::clock::format_duration(window / 1000);
    Some(match sh.humans().automated(ip, now_ms, window)? {
        Automated::Network { addresses } => format!(
            "registrations from your network ({}) look automated: {addresses} of its addresses act on a timer, \
             too regular to be people; try again in {later}, or ask the listener's operator to add the account",
            network_of(ip)
        ),
        Automated::Address { signals } => format!(
            "registrations from your address ({}) look automated: its requests came too regularly to be a \
             person's ({signals} times); try again in {later}, or ask the listener's operator to add the account",
            address_of(ip).addr()
        ),
    })
}

/// The captcha for registering `user`, unless the registration would be refused whatever
/// its answer: the address banned (closed, nothing issued), registrations that look
/// automated, or today's caps met.
pub(super) async fn challenge(conn: &Arc<Conn>, user: &str) -> Outcome<Response> {
    let sh = &conn.shared;
    let cfg = &sh.config().registration;
    if !cfg.enabled {
        return refused(conn, user, ErrorCode::NotFound, "this listener does not take registrations");
    }
    let ip = conn.peer.ip();
    let now_ms = sh.clock().now_ms();
    watch(conn, (None, true), "registration challenge", now_ms, &[user.as_bytes()]);
    if closed_if_banned(conn, "registration captcha").await {
        return Outcome::silent();
    }
    let now_ms = sh.clock().now_ms().max(now_ms);
    if let Some(why) = automated(conn, now_ms) {
        return refused(conn, user, ErrorCode::Limit, &why);
    }
    if let Err(cap) = sh.humans().registration_room(ip, cfg, now_ms) {
        return refused(conn, user, ErrorCode::Limit, &cap.to_string());
    }
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
    watch(conn, (None, true), "registration", now_ms, &[user.as_bytes()]);
    if let Some(why) = automated(conn, now_ms) {
        return Ok(refused(conn, &user, ErrorCode::Limit, &why));
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
    if let Err(cap) = sh.humans().allow_registration(ip, &cfg, now_ms) {
        return Ok(refused(conn, &user, ErrorCode::Limit, &cap.to_string()));
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
