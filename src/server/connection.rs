//! One connection's life: the handshake under a deadline, the login deadline, then the
//! control stream (requests answered in order) and one task per file stream. Handlers
//! return an outcome; this module applies it. `supervise` runs the work in a child task so
//! that a panic closes this connection with `INTERNAL`, is logged with the peer's address,
//! and touches nobody else.

use std::sync::Arc;

use quinn::{RecvStream, SendStream};
use tracing::{debug, error, info};

use super::conn::Conn;
use super::counters::bump;
use super::error::error_reply;
use super::outcome::{Close, REPLY_WRITE_WAIT};
use super::{requests, streams, Shared};
use crate::policy::activity::Kind;
use crate::transport::framed::{self, FrameError};
use crate::transport::{close, tls};
use crate::wire::{ErrorCode, Request};

/// What an old (qxfer/1) client is told.
const UPGRADE_REASON: &str = "upgrade qxfer: this listener speaks qxfer/2";

/// How long a closing reply may take to be acknowledged before the connection closes anyway.
const LAST_REPLY_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Gives the admission slot back however the connection ends.
struct Admitted<'a> {
    shared: &'a Shared,
    ip: std::net::IpAddr,
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.shared.connection_closed(self.ip);
    }
}

/// What a panicking task costs: its own connection, logged and recorded.
fn on_panic(conn: &Conn, task: &str, joined: Result<(), tokio::task::JoinError>) {
    if let Err(e) = joined {
        if e.is_panic() {
            error!(peer = %conn.peer, event = "panic", "{task} task panicked; closing this connection only");
            conn.record(conn.activity(Kind::Panic).detail(task));
            conn.close(Close { code: close::INTERNAL, reason: "internal error" });
        }
    }
}

pub(crate) async fn supervise(incoming: quinn::Incoming, shared: Arc<Shared>) {
    let peer = incoming.remote_address();
    let _slot = Admitted { shared: &shared, ip: peer.ip() };
    let connecting = match incoming.accept() {
        Ok(c) => c,
        Err(e) => {
            debug!(%peer, "refused: {e}");
            return;
        }
    };
    let handshake_timeout = std::time::Duration::from_secs(shared.limits().handshake_timeout_secs);
    let connection = match tokio::time::timeout(handshake_timeout, connecting).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            debug!(%peer, event = "handshake_failed", "{e}");
            return;
        }
        Err(_) => {
            bump(&shared.counters().timeouts);
            info!(%peer, event = "handshake_timeout", "handshake did not finish in time");
            shared.record(shared.activity(peer.ip(), Kind::Refused).detail("handshake timeout"));
            return;
        }
    };
    if tls::negotiated_protocol(&connection).as_deref() == Some(crate::wire::ALPN_V1) {
        // An old client: told in words, recorded, never scored.
        info!(%peer, event = "old_protocol", "a qxfer/1 client was told to upgrade");
        shared.record(shared.activity(peer.ip(), Kind::Refused).detail("qxfer/1 client told to upgrade"));
        connection.close(close::UPGRADE.into(), UPGRADE_REASON.as_bytes());
        return;
    }
    shared.track(&connection);
    shared.counters().connections_open.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let conn = Arc::new(Conn::new(shared.clone(), peer, connection.clone()));
    debug!(%peer, "connected");
    conn.record(conn.activity(Kind::Connected));
    let joined = tokio::spawn(serve(conn.clone())).await;
    on_panic(&conn, "connection", joined);
    shared.counters().connections_open.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    shared.untrack(&connection);
    debug!(%peer, user = %conn.user().unwrap_or_default(), "disconnected");
}

/// Close the connection if it has not logged in by the deadline (like sshd's LoginGraceTime).
/// A login the listener is still serving at the deadline is the listener's delay, not the
/// peer's: it is answered (the login itself answers "busy" at the ceiling, twice the
/// deadline), its reply given the moment a closing reply gets, and never scored.
async fn login_deadline(conn: Arc<Conn>) {
    let deadline = std::time::Duration::from_secs(conn.shared.limits().login_deadline_secs);
    tokio::time::sleep(deadline).await;
    let ours = conn.login_pending();
    if ours {
        let _ = tokio::time::timeout_at(conn.login_ceiling() + LAST_REPLY_WAIT, async {
            while conn.login_pending() {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        })
        .await;
        if conn.user().is_none() {
            let _ = tokio::time::timeout(LAST_REPLY_WAIT, conn.connection.closed()).await;
        }
    }
    if conn.user().is_some() {
        return;
    }
    bump(&conn.shared.counters().timeouts);
    if ours {
        info!(peer = %conn.peer, event = "login_timeout", "login still being served at the deadline; not scored");
    } else {
        info!(peer = %conn.peer, event = "login_timeout", "no login within the deadline");
        conn.record(conn.activity(Kind::Timeout).detail("no login within the deadline"));
    }
    conn.close(Close { code: close::TIMEOUT, reason: "no login within the deadline" });
}

async fn serve(conn: Arc<Conn>) {
    let deadline = tokio::spawn(login_deadline(conn.clone()));
    serve_streams(&conn).await;
    deadline.abort();
}

async fn serve_streams(conn: &Arc<Conn>) {
    // The first bidirectional stream is the control stream.
    let Ok((send, recv)) = conn.connection.accept_bi().await else {
        return;
    };
    let mut control = tokio::spawn(control_loop(conn.clone(), send, recv));
    let mut control_done = false;
    let mut files = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            done = &mut control, if !control_done => {
                control_done = true;
                on_panic(conn, "control", done);
            }
            accepted = conn.connection.accept_bi() => match accepted {
                Ok((send, recv)) => {
                    let conn = Arc::clone(conn);
                    files.spawn(async move { streams::serve(&conn, send, recv).await });
                }
                Err(_) => break,
            },
            Some(done) = files.join_next(), if !files.is_empty() => on_panic(conn, "stream", done),
        }
    }
    control.abort();
    files.abort_all();
}

async fn control_loop(conn: Arc<Conn>, mut send: SendStream, mut recv: RecvStream) {
    // A client of an older protocol gets replies it can decode.
    let legacy = !matches!(
        tls::negotiated_protocol(&conn.connection).as_deref(),
        Some(crate::wire::ALPN | crate::wire::ALPN_V5 | crate::wire::ALPN_V4)
    );
    loop {
        let req: Request = match framed::read_frame(&mut recv).await {
            Ok(Some(r)) => r,
            Ok(None) => {
                // The client finished its control stream: the command is over. Closing from
                // this side lets the client exit as soon as it hears of it.
                conn.close(Close { code: close::DONE, reason: "done" });
                return;
            }
            Err(e @ (FrameError::Decode(_) | FrameError::Body { .. })) => {
                // Record what was expected and what arrived.
                let expected = if conn.user().is_none() { "a login request" } else { "a request" };
                let _ = conn.violation(&format_args!("control frame refused: expected {expected}, got: {e}"));
                let reply = error_reply(ErrorCode::BadRequest, &e);
                let _ = tokio::time::timeout(REPLY_WRITE_WAIT, framed::write_frame(&mut send, &reply)).await;
                last_reply(&conn, send, Close { code: close::PROTOCOL, reason: "malformed control frame" }).await;
                return;
            }
            Err(e) => {
                debug!(peer = %conn.peer, "control stream ended: {e}");
                return;
            }
        };
        let mut outcome = requests::handle(&conn, req).await;
        if legacy {
            if let Some(older) = outcome.reply.as_ref().and_then(crate::wire::Response::downgraded) {
                outcome.reply = Some(older);
            }
        }
        if let Some(reply) = &outcome.reply {
            // A peer that stops granting credit for replies cannot hold this task.
            match tokio::time::timeout(REPLY_WRITE_WAIT, framed::write_frame(&mut send, reply)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return,
                Err(_) => {
                    conn.close(Close { code: close::TIMEOUT, reason: "replies not read" });
                    return;
                }
            }
        }
        if let Some(close) = outcome.close {
            last_reply(&conn, send, close).await;
            return;
        }
    }
}

/// Finish the control stream, give the peer a bounded moment to receive the last reply (a
/// close discards unsent data), then close the connection.
async fn last_reply(conn: &Conn, mut send: SendStream, close: Close) {
    let _ = send.finish();
    let _ = tokio::time::timeout(LAST_REPLY_WAIT, send.stopped()).await;
    conn.close(close);
}
