//! `Challenge`: the challenge a login needs now (a captcha and work, or work alone), issued
//! for the asking network; the regularity watch notes the request.

use std::sync::Arc;

use tracing::info;

use super::solved::answer_hook;
use super::timing;
use crate::policy::activity::Kind;
use crate::server::conn::Conn;
use crate::server::outcome::Outcome;
use crate::wire::Response;

/// Issue the challenge a login as `user` from this connection's network needs now.
pub(super) fn challenge(conn: &Arc<Conn>, user: &str) -> Outcome<Response> {
    // The network's cadence only: a name someone asks about may not exist.
    let sh = &conn.shared;
    let ip = conn.peer.ip();
    let now_ms = sh.clock().now_ms();
    timing::watch(conn, None, "challenge request", now_ms, &[user.as_bytes()]);
    let (ticket, picture, text) =
        match sh.challenges().issue(ip, sh.config().scoring.is_exempt(ip), user, conn.captcha_cells(), now_ms) {
            Ok(issued) => issued,
            Err(e) => return super::solved::issue_refused(conn, user, e),
        };
    answer_hook(&ticket, text.as_deref());
    let kind = if picture.is_some() { "captcha" } else { "work" };
    conn.record(conn.activity(Kind::ChallengeIssued).account(user).detail(format!("{kind}, {} bits", ticket.bits)));
    info!(peer = %conn.peer, %user, event = "challenge_issued", kind, bits = ticket.bits, "challenge issued");
    Outcome::reply(Response::Challenge { ticket, picture })
}
