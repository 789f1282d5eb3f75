//! Challenges as login, recovery and registration hand them out and take them: the debug
//! hook that tells the tests a captcha's answer, and the events of a solution spent.

use std::sync::Arc;

use tracing::warn;

use crate::policy::activity::Kind;
use crate::server::challenges::Solved;
use crate::server::conn::Conn;

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
