//! One connection: the handshake under a deadline, then the control stream and one task per
//! file stream. `supervise` runs the work in a child task so that a panic closes this
//! connection with `INTERNAL`, is logged with the peer's address, and touches nobody else.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use quinn::{Connection, RecvStream, SendStream};
use tracing::{debug, error, info, warn};

use super::{handlers, Shared};
use crate::policy::activity::{Activity, Kind};
use crate::session::Session;
use crate::transport::close;
use crate::transport::framed::{self, FrameError};
use crate::wire::{clean_error_text, ErrorCode, Request, Response, StreamHead};

/// What every task of one connection shares.
pub(crate) struct Conn {
    pub shared: Arc<Shared>,
    pub peer: SocketAddr,
    pub session: Mutex<Session>,
    pub connection: Connection,
    /// Set by a handler whose reply must be the connection's last: (close code, reason).
    pub close_after_reply: Mutex<Option<(u32, &'static str)>>,
    /// Protocol violations so far.
    pub violations: std::sync::atomic::AtomicU32,
}

impl Conn {
    /// Run `f` on the session. The lock is never held across an await.
    pub fn session<R>(&self, f: impl FnOnce(&mut Session) -> R) -> R {
        let mut guard = match self.session.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    pub fn close(&self, code: u32, reason: &str) {
        self.connection.close(code.into(), reason.as_bytes());
    }

    /// Count and log a protocol violation. Past the connection's budget it is closed; only
    /// the first few per connection are logged, so a flood does not flood the log.
    pub fn violation(&self, what: &dyn std::fmt::Display) {
        self.violation_on(what, true);
    }

    /// A violation on a file stream: past the budget the connection closes at once (there
    /// is no control reply to deliver first).
    pub fn stream_violation(&self, what: &dyn std::fmt::Display) {
        self.violation_on(what, false);
    }

    fn violation_on(&self, what: &dyn std::fmt::Display, control: bool) {
        self.shared.counters.protocol_violations.fetch_add(1, Ordering::Relaxed);
        let n = self.violations.fetch_add(1, Ordering::Relaxed) + 1;
        self.record(self.activity(Kind::Violation).detail(what));
        let max = self.shared.config.limits.max_violations;
        if n <= max {
            warn!(peer = %self.peer, event = "protocol_violation", n, "{what}");
        }
        if n >= max {
            if n == max {
                warn!(peer = %self.peer, event = "violation_limit", "closing after {n} protocol violations");
            }
            if control {
                self.close_after_reply(close::PROTOCOL, "too many protocol violations");
            } else {
                self.close(close::PROTOCOL, "too many protocol violations");
            }
        }
    }

    /// A new activity event about this connection (source, account if logged in, time).
    pub fn activity(&self, kind: Kind) -> Activity {
        let a = Activity::new(super::recorder::now_ms(), self.peer.ip(), kind);
        match self.session(|s| s.user().map(str::to_owned)) {
            Some(u) => a.account(&u),
            None => a,
        }
    }

    pub fn record(&self, a: Activity) {
        self.shared.recorder.record(a);
    }

    /// Close the connection once the current reply has reached the peer.
    pub fn close_after_reply(&self, code: u32, reason: &'static str) {
        if let Ok(mut slot) = self.close_after_reply.lock() {
            *slot = Some((code, reason));
        }
    }
}

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
    let handshake_timeout = std::time::Duration::from_secs(shared.config.limits.handshake_timeout_secs);
    let connection = match tokio::time::timeout(handshake_timeout, connecting).await {
        Ok(Ok(c)) => c,
        Ok(Err(e)) => {
            debug!(%peer, event = "handshake_failed", "{e}");
            return;
        }
        Err(_) => {
            shared.counters.timeouts.fetch_add(1, Ordering::Relaxed);
            info!(%peer, event = "handshake_timeout", "handshake did not finish in time");
            shared
                .recorder
                .record(Activity::new(super::recorder::now_ms(), peer.ip(), Kind::Refused).detail("handshake timeout"));
            return;
        }
    };
    let id = connection.stable_id();
    if let Ok(mut live) = shared.live.lock() {
        live.insert(id, connection.clone());
    }
    shared.counters.connections_open.fetch_add(1, Ordering::Relaxed);
    let conn = Arc::new(Conn {
        session: Mutex::new(Session::new(shared.config.limits.session())),
        shared: shared.clone(),
        peer,
        connection: connection.clone(),
        close_after_reply: Mutex::new(None),
        violations: Default::default(),
    });
    debug!(%peer, "connected");
    conn.record(conn.activity(Kind::Connected));
    let worker = tokio::spawn(serve(conn.clone()));
    if let Err(e) = worker.await {
        if e.is_panic() {
            error!(%peer, event = "panic", "connection task panicked; closing this connection only");
            conn.record(conn.activity(Kind::Panic));
            connection.close(close::INTERNAL.into(), b"internal error");
        }
    }
    shared.counters.connections_open.fetch_sub(1, Ordering::Relaxed);
    if let Ok(mut live) = shared.live.lock() {
        live.remove(&id);
    }
    let user = conn.session(|s| s.user().map(str::to_owned)).unwrap_or_default();
    debug!(%peer, %user, "disconnected");
}

/// Close the connection if it has not logged in by the deadline (like sshd's LoginGraceTime).
async fn login_deadline(conn: Arc<Conn>) {
    tokio::time::sleep(std::time::Duration::from_secs(conn.shared.config.limits.login_deadline_secs)).await;
    if conn.session(|s| s.user().is_none()) {
        conn.shared.counters.timeouts.fetch_add(1, Ordering::Relaxed);
        info!(peer = %conn.peer, event = "login_timeout", "no login within the deadline");
        conn.record(conn.activity(Kind::Timeout).detail("no login within the deadline"));
        conn.close(close::TIMEOUT, "no login within the deadline");
    }
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
    let mut streams = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            done = &mut control, if !control_done => {
                control_done = true;
                if let Err(e) = done {
                    if e.is_panic() {
                        error!(peer = %conn.peer, event = "panic", "control task panicked; closing this connection only");
                        conn.record(conn.activity(Kind::Panic).detail("control task"));
                        conn.close(close::INTERNAL, "internal error");
                    }
                }
            }
            accepted = conn.connection.accept_bi() => match accepted {
                Ok((send, recv)) => {
                    let conn = Arc::clone(conn);
                    streams.spawn(async move { handlers::file_stream(&conn, send, recv).await });
                }
                Err(_) => break,
            },
            Some(done) = streams.join_next(), if !streams.is_empty() => {
                if let Err(e) = done {
                    if e.is_panic() {
                        error!(peer = %conn.peer, event = "panic", "stream task panicked; closing this connection only");
                        conn.record(conn.activity(Kind::Panic).detail("stream task"));
                        conn.close(close::INTERNAL, "internal error");
                    }
                }
            }
        }
    }
    control.abort();
    streams.abort_all();
}

async fn control_loop(conn: Arc<Conn>, mut send: SendStream, mut recv: RecvStream) {
    loop {
        let req: Request = match framed::read_frame(&mut recv).await {
            Ok(Some(r)) => r,
            Ok(None) => {
                // The client finished its control stream: the command is over. Closing from
                // this side lets the client exit as soon as it hears of it.
                conn.close(close::DONE, "done");
                return;
            }
            Err(e @ (FrameError::Decode(_) | FrameError::Body { .. })) => {
                // Record what was expected and what arrived.
                let expected = if conn.session(|s| s.user().is_none()) { "a login request" } else { "a request" };
                conn.violation(&format_args!("control frame refused: expected {expected}, got: {e}"));
                let _ = reply_error(&mut send, ErrorCode::BadRequest, &e.to_string()).await;
                last_reply(&conn, send, close::PROTOCOL, "malformed control frame").await;
                return;
            }
            Err(e) => {
                debug!(peer = %conn.peer, "control stream ended: {e}");
                return;
            }
        };
        let response = handlers::request(&conn, req).await;
        if framed::write_frame(&mut send, &response).await.is_err() {
            return;
        }
        let pending = conn.close_after_reply.lock().ok().and_then(|mut s| s.take());
        if let Some((code, reason)) = pending {
            last_reply(&conn, send, code, reason).await;
            return;
        }
    }
}

/// How long a closing reply may take to be acknowledged before the connection closes anyway.
const LAST_REPLY_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Finish the control stream, give the peer a bounded moment to receive the last reply (a
/// close discards unsent data), then close the connection with `code`.
async fn last_reply(conn: &Conn, mut send: SendStream, code: u32, reason: &str) {
    let _ = send.finish();
    let _ = tokio::time::timeout(LAST_REPLY_WAIT, send.stopped()).await;
    conn.close(code, reason);
}

pub(crate) async fn reply_error(send: &mut SendStream, code: ErrorCode, message: &str) -> Result<(), FrameError> {
    framed::write_frame(send, &Response::Error { code, message: clean_error_text(message) }).await
}

/// Read the head of a file stream; a helper so `handlers` stays free of frame plumbing.
pub(crate) async fn read_head(recv: &mut RecvStream) -> Result<StreamHead, FrameError> {
    framed::expect_frame(recv).await
}
