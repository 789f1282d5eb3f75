//! Challenges as login, recovery and registration hand them out and take them: the debug
//! hook that tells the tests a captcha's answer, the events of a solution spent, and of
//! challenges refused (an answer faster than a person, a busy listener, a source past its
//! share of tickets) with their replies.

use std::sync::Arc;

use tracing::{info, warn};

use crate::challenge::TicketError;
use crate::policy::activity::Kind;
use crate::server::challenges::Solved;
use crate::server::conn::Conn;
use crate::server::error::error_reply;
use crate::server::outcome::Outcome;
use crate::server::tickets::IssueError;
use crate::wire::{ErrorCode, Response, Solution};

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

/// A solution spent: its event.
pub(super) fn record_solved(conn: &Arc<Conn>, user: &str, solved: &Solved) {
    let kind = match solved.kind {
        crate::challenge::ChallengeKind::Captcha => "captcha",
        crate::challenge::ChallengeKind::Work => "work",
    };
    let detail = format!("{kind}, {} bits, answered in {} ms", solved.bits, solved.took_ms);
    conn.record(conn.activity(Kind::ChallengeSolved).account(user).detail(&detail));
}

/// A captcha refused as faster than a person (`TicketError::TooFast`; its ticket is spent):
/// recorded, and scored (`too_fast`) only when the source did so before within the step-up
/// window; the first time it is a `refused` event that weighs nothing. `what`: the request.
pub(super) fn record_too_fast(conn: &Arc<Conn>, user: &str, what: &str, s: &Solution) {
    let sh = &conn.shared;
    let now_ms = sh.clock().now_ms();
    let took_ms = now_ms.saturating_sub(s.ticket.issued_ms);
    let typed = crate::challenge::normalise_answer(s.answer.as_deref().unwrap_or_default()).chars().count();
    let floor = sh.challenges().config().timing().floor_ms(typed);
    let detail =
        format!("{what}: captcha answered in {took_ms} ms (a person takes {floor} ms or more), refused unread");
    if sh.challenges().too_fast(conn.peer.ip(), now_ms) {
        conn.record(conn.activity(Kind::TooFast).account(user).detail(format!("{detail}; again")));
        warn!(peer = %conn.peer, %user, event = "too_fast", took_ms, floor, "captcha answered faster than a person, again");
    } else {
        conn.record(conn.activity(Kind::Refused).account(user).detail(format!("too fast, the first time: {detail}")));
        info!(peer = %conn.peer, %user, event = "too_fast_first", took_ms, floor, "captcha answered faster than a person");
    }
}

/// A solved challenge that `what` (a recovery step, a registration) did not take: recorded
/// by what it was (a full spent set or store is the listener's load and never scored; too
/// fast is scored only when repeated; the rest are challenge failures) and answered.
pub(super) fn refused(conn: &Arc<Conn>, user: &str, what: &str, s: &Solution, e: TicketError) -> Outcome<Response> {
    match e {
        TicketError::Busy => {
            conn.record(conn.activity(Kind::Refused).account(user).detail(format!("{what}: busy, {e}")));
            info!(peer = %conn.peer, %user, event = "challenge_busy", "{what}: {e}");
            Outcome::reply(error_reply(ErrorCode::Limit, e))
        }
        TicketError::TooFast => {
            record_too_fast(conn, user, what, s);
            Outcome::reply(error_reply(ErrorCode::ChallengeFailed, format!("challenge not solved: {e}")))
        }
        _ => {
            conn.record(conn.activity(Kind::ChallengeFailed).account(user).detail(format!("{what}: {e}")));
            warn!(peer = %conn.peer, %user, event = "challenge_failed", "{what} without a solved challenge: {e}");
            Outcome::reply(error_reply(ErrorCode::ChallengeFailed, format!("challenge not solved: {e}")))
        }
    }
}

/// No challenge issued to this connection's source for `user`: the reply, and the event (a
/// source past its share is a limit hit of its own making; the listener's fuse is its load,
/// never scored).
pub(super) fn issue_refused(conn: &Arc<Conn>, user: &str, e: IssueError) -> Outcome<Response> {
    let kind = match e {
        IssueError::TooMany(_) => Kind::Limit,
        IssueError::Busy => Kind::Refused,
        IssueError::NoRandomness => {
            warn!(peer = %conn.peer, event = "challenge_error", "{e}");
            return Outcome::reply(error_reply(e.code(), e));
        }
    };
    conn.record(conn.activity(kind).account(user).detail(format!("no challenge issued: {e}")));
    info!(peer = %conn.peer, %user, event = "challenge_refused", "no challenge issued: {e}");
    Outcome::reply(error_reply(e.code(), e))
}
