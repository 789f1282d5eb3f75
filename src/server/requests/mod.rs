//! Control requests, one file each. `handle` applies what every request passes (rate
//! limits, the session's verdict, the activity record) and hands the session's [`Step`] to
//! the request's own handler, which does the work and returns an [`Outcome`]. A new
//! request is a new variant in `wire`, a new step in `session`, and a new file here.

mod account;
mod add_files;
mod begin;
mod challenge;
mod commit;
mod delete;
mod hash_wait;
mod inbox;
mod login;
mod mark_seen;
mod open;
mod paging;
mod pending;
mod protected_change;
mod recover;
mod recover_finish;
mod recover_words;
mod register;
mod solved;
mod timing;
mod unlock;

use std::sync::Arc;

use tracing::warn;

use super::conn::Conn;
use super::error::{error_reply, internal, ServerError};
use super::outcome::{Close, Outcome};
use crate::policy::activity::Kind;
use crate::session::{Step, Violation};
use crate::transport::close;
use crate::wire::{ErrorCode, Request, Response};

/// Debug builds only: a request from the account named in `QXFER_FAULT_PANIC_USER` panics,
/// so the tests can prove a panic costs only its own connection. Release builds have no hook.
#[cfg(debug_assertions)]
fn fault_injection(conn: &Conn) {
    if let Some(victim) = std::env::var_os("QXFER_FAULT_PANIC_USER") {
        if conn.user().is_some_and(|u| victim == *u) {
            panic!("injected fault for the tests");
        }
    }
}

#[cfg(not(debug_assertions))]
fn fault_injection(_: &Conn) {}

/// Per-address and per-account request limits; an outcome when over.
fn rate_limited(conn: &Conn) -> Option<Outcome<Response>> {
    if conn.shared.request_allowed(conn.peer.ip(), conn.user().as_deref()) {
        return None;
    }
    let n = conn.shared.counters().rate_limited.load(std::sync::atomic::Ordering::Relaxed);
    // One line per 100 refusals: a flood must not flood the log too.
    if n % 100 == 1 {
        warn!(peer = %conn.peer, event = "rate_limited", refused = n, "request rate limit hit");
    }
    // A client that keeps going past the limit is misbehaving: it spends its violation
    // budget, and then its connection.
    let close = conn.violation(&"request rate limit exceeded");
    Some(Outcome::reply(error_reply(ErrorCode::Limit, "too many requests; slow down")).close(close))
}

/// Handle one control request.
pub(crate) async fn handle(conn: &Arc<Conn>, req: Request) -> Outcome<Response> {
    if let Some(outcome) = rate_limited(conn) {
        return outcome;
    }
    fault_injection(conn);
    let (name, bytes) = match &req {
        Request::Login { .. } | Request::LoginSolved { .. } | Request::LoginWithCode { .. } => ("login", 0),
        Request::Challenge { .. } => ("challenge", 0),
        Request::Begin(b) | Request::BeginMany { begin: b, .. } => ("begin", b.bytes),
        Request::AddFiles { entries } | Request::AddFilesMeta { entries, .. } => ("add_files", entries.len() as u64),
        Request::Commit => ("commit", 0),
        Request::Inbox { .. } => ("inbox", 0),
        Request::Unseen { .. } => ("unseen", 0),
        Request::Open { .. } | Request::OpenMeta { .. } | Request::OpenAll { .. } => ("open", 0),
        Request::Delete { ids } | Request::DeleteEach { ids } => ("delete", ids.len() as u64),
        Request::MarkSeen { ids } => ("mark_seen", ids.len() as u64),
        Request::PendingSends { .. } => ("pending_sends", 0),
        Request::DropPending { .. } => ("drop_pending", 0),
        Request::RecoverStart { .. } => ("recover_start", 0),
        Request::RecoverFinish { .. } => ("recover_finish", 0),
        Request::RecoverQuestion { .. } => ("recover_question", 0),
        Request::CancelChange { .. } => ("cancel_change", 0),
        Request::Account(_) => ("account", 0),
        Request::RegisterChallenge { .. } => ("register_challenge", 0),
        Request::Register { .. } => ("register", 0),
    };
    conn.record(conn.activity(Kind::Request).bytes(bytes).detail(name));
    let step = match conn.session(|s| s.on_request(&req)) {
        Ok(step) => step,
        Err(v) => {
            let mut close = conn.violation(&format_args!("request refused: {v}"));
            if v == Violation::TooManyLogins {
                close = Some(Close { code: close::AUTH, reason: "too many failed logins" });
            }
            return Outcome::reply(error_reply(ErrorCode::BadRequest, v)).close(close);
        }
    };
    let result = match (step, req) {
        (Step::Login, Request::Login { user, credential }) => {
            conn.set_login_pending(true);
            let outcome = login::handle(conn, user, credential, None, None).await;
            conn.set_login_pending(false);
            outcome
        }
        (Step::Login, Request::LoginSolved { user, credential, solution }) => {
            conn.set_login_pending(true);
            let outcome = login::handle(conn, user, credential, Some(solution), None).await;
            conn.set_login_pending(false);
            outcome
        }
        (Step::Login, Request::LoginWithCode { user, credential, code, solution }) => {
            conn.set_login_pending(true);
            let outcome = login::handle(conn, user, credential, solution, Some(code)).await;
            conn.set_login_pending(false);
            outcome
        }
        (Step::Challenge { user }, Request::Challenge { .. }) => Ok(challenge::challenge(conn, &user)),
        (Step::Begin { user, also }, Request::Begin(begin) | Request::BeginMany { begin, .. }) => {
            begin::handle(conn, user, begin, also).await
        }
        (Step::AddFiles { id, first, .. }, Request::AddFiles { entries } | Request::AddFilesMeta { entries, .. }) => {
            add_files::handle(conn, id, first, entries).await
        }
        (Step::Commit(plan), Request::Commit) => commit::handle(conn, plan).await,
        (Step::Inbox { user, after, unseen }, Request::Inbox { .. } | Request::Unseen { .. }) => {
            inbox::handle(conn, user, after, unseen).await
        }
        (
            Step::Open { user, id, from, meta, recipients },
            Request::Open { .. } | Request::OpenMeta { .. } | Request::OpenAll { .. },
        ) => open::handle(conn, user, id, from, meta, recipients).await,
        (Step::Delete { user, ids, each }, Request::Delete { .. } | Request::DeleteEach { .. }) => {
            delete::handle(conn, user, ids, each).await
        }
        (Step::MarkSeen { user, ids }, Request::MarkSeen { .. }) => mark_seen::handle(conn, user, ids).await,
        (Step::PendingSends { user, after }, Request::PendingSends { .. }) => pending::list(conn, user, after).await,
        (Step::DropPending { user, id }, Request::DropPending { .. }) => pending::drop(conn, user, id).await,
        (Step::Recovery, Request::RecoverStart { user, solution }) => recover::start(conn, user, solution).await,
        (Step::Recovery, Request::RecoverFinish { user, code, proof, new_password, solution }) => {
            recover_finish::finish(conn, user, code, proof, new_password, solution).await
        }
        (Step::Recovery, Request::RecoverQuestion { user, code, solution }) => {
            recover_finish::question(conn, user, code, solution).await
        }
        (Step::Recovery, Request::CancelChange { code }) => recover::cancel(conn, code).await,
        (Step::RegisterChallenge { user }, Request::RegisterChallenge { .. }) => Ok(register::challenge(conn, &user)),
        (Step::Recovery, Request::Register { user, password, solution }) => {
            register::register(conn, user, password, solution).await
        }
        (Step::Account { user }, Request::Account(req)) => account::handle(conn, user, req).await,
        _ => Err(ServerError::Internal("session step does not match request")),
    };
    result.unwrap_or_else(|e| Outcome::reply(internal(conn.peer, &e)))
}
