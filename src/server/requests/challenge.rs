//! `Challenge`: the challenge a login needs now (a captcha and work, or work alone), issued
//! for the asking network; the regularity watch notes the request. No challenge is issued
//! to a banned address: its network's offences recorded before the request are scored
//! first, so a ban they earned is in force before anything is issued.

use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use super::solved::answer_hook;
use super::timing;
use crate::policy::activity::Kind;
use crate::server::conn::Conn;
use crate::server::outcome::Outcome;
use crate::transport::close;
use crate::wire::{BanNotice, Response};

/// How long a challenge request waits for the activity log to score what came before it
/// (it batches every 20 ms); past it, the bans already in force decide.
const SCORED_WAIT: Duration = Duration::from_secs(1);

/// Whether this connection's address is banned, once its network's offences recorded
/// before now were scored; if so it is closed as a ban closes live connections (the client says for
/// how long, exit 5), nothing issued, and the refusal recorded.
pub(super) async fn closed_if_banned(conn: &Arc<Conn>, what: &str) -> bool {
    let sh = &conn.shared;
    let ip = conn.peer.ip();
    if !sh.scorable(ip) {
        return false;
    }
    if sh.banned(ip).is_none() && !sh.recorder().caught_up(ip, SCORED_WAIT).await {
        warn!(peer = %conn.peer, event = "activity_behind", "the activity log did not score in time; {what} judged by the bans in force");
    }
    let Some((net, until)) = sh.banned(ip) else { return false };
    let notice = BanNotice { secs: until.saturating_sub(sh.now()), net }.encode();
    conn.record(conn.activity(Kind::Refused).detail(format!("banned ({net}): no {what} issued")));
    info!(peer = %conn.peer, event = "closed_live", "closing a live connection: banned, no {what} issued");
    conn.connection.close(close::BANNED.into(), notice.as_bytes());
    true
}

/// Issue the challenge a login as `user` from this connection's network needs now.
pub(super) async fn challenge(conn: &Arc<Conn>, user: &str) -> Outcome<Response> {
    // The address's cadence only: a name someone asks about may not exist.
    let sh = &conn.shared;
    let ip = conn.peer.ip();
    let now_ms = sh.clock().now_ms();
    timing::watch(conn, (None, false), "challenge request", now_ms, &[user.as_bytes()]);
    if closed_if_banned(conn, "challenge").await {
        return Outcome::silent();
    }
    let now_ms = sh.clock().now_ms().max(now_ms);
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
