//! What every task of one connection shares: the listener's state, the peer, the session
//! state machine and the violation budget. Handlers read and report through it; only
//! `connection` runs the connection's tasks.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use quinn::Connection;
use tracing::{info, warn};

use super::counters::bump;
use super::outcome::Close;
use super::Shared;
use crate::policy::activity::{Activity, Kind};
use crate::session::Session;
use crate::transport::body::MinRate;
use crate::transport::close;

pub(crate) struct Conn {
    pub shared: Arc<Shared>,
    pub peer: SocketAddr,
    pub connection: Connection,
    session: Mutex<Session>,
    /// Protocol violations so far.
    violations: AtomicU32,
    /// A login request is being served (the listener, not the peer, is taking its time).
    login_pending: AtomicBool,
    /// When the connection finished its handshake: the login deadline counts from here.
    pub opened: tokio::time::Instant,
}

impl Conn {
    /// The slowest a transfer on this connection may be before it is cut off.
    pub fn min_transfer_rate(&self) -> MinRate {
        let limits = self.shared.limits();
        MinRate {
            bytes_per_sec: limits.min_transfer_rate,
            window: std::time::Duration::from_secs(limits.progress_window_secs),
        }
    }

    pub fn new(shared: Arc<Shared>, peer: SocketAddr, connection: Connection) -> Self {
        let session = Session::new(shared.limits().session());
        Self {
            shared,
            peer,
            connection,
            session: Mutex::new(session),
            violations: AtomicU32::new(0),
            login_pending: AtomicBool::new(false),
            opened: tokio::time::Instant::now(),
        }
    }

    /// Run `f` on the session. The lock is never held across an await.
    pub fn session<R>(&self, f: impl FnOnce(&mut Session) -> R) -> R {
        let mut guard = self.session.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// Mark a login request as being served (true) or answered (false).
    pub fn set_login_pending(&self, pending: bool) {
        self.login_pending.store(pending, Ordering::Relaxed);
    }

    pub fn login_pending(&self) -> bool {
        self.login_pending.load(Ordering::Relaxed)
    }

    /// The captcha picture this connection's client can draw: qxfer/6 clients draw quadrant
    /// cells (the crowded picture), older ones half blocks at most 72 pixels wide.
    pub fn captcha_cells(&self) -> crate::challenge::captcha::Cells {
        use crate::challenge::captcha::Cells;
        if crate::transport::tls::negotiated_protocol(&self.connection).as_deref() == Some(crate::wire::ALPN) {
            Cells::Quadrants
        } else {
            Cells::HalfBlocks
        }
    }

    /// The hard ceiling for a login the listener is still serving: twice the login
    /// deadline after the handshake. Past it the login is answered "busy" (not scored).
    pub fn login_ceiling(&self) -> tokio::time::Instant {
        self.opened + 2 * std::time::Duration::from_secs(self.shared.limits().login_deadline_secs)
    }

    /// The account this connection logged in as.
    pub fn user(&self) -> Option<String> {
        self.session(|s| s.user().map(str::to_owned))
    }

    pub fn close(&self, close: Close) {
        self.connection.close(close.code.into(), close.reason.as_bytes());
    }

    /// Count, record and log a protocol violation; once the connection's budget is spent,
    /// the answer is to close it. Only the first few per connection are logged, so a flood
    /// does not flood the log.
    pub fn violation(&self, what: &dyn std::fmt::Display) -> Option<Close> {
        bump(&self.shared.counters().protocol_violations);
        let n = self.violations.fetch_add(1, Ordering::Relaxed) + 1;
        self.record(self.activity(Kind::Violation).detail(what));
        let max = self.shared.limits().max_violations;
        if n <= max {
            warn!(peer = %self.peer, event = "protocol_violation", n, "{what}");
        }
        if n < max {
            return None;
        }
        if n == max {
            warn!(peer = %self.peer, event = "violation_limit", "closing after {n} protocol violations");
        }
        Some(Close { code: close::PROTOCOL, reason: "too many protocol violations" })
    }

    /// A wait on this peer ran out (a stream that never said what it is): counted and
    /// recorded as this peer's timeout; past the violation budget the connection closes.
    pub fn timeout(&self, what: &dyn std::fmt::Display) -> Option<Close> {
        bump(&self.shared.counters().timeouts);
        info!(peer = %self.peer, event = "stream_timeout", "{what}");
        self.record(self.activity(Kind::Timeout).detail(what));
        let n = self.violations.fetch_add(1, Ordering::Relaxed) + 1;
        (n >= self.shared.limits().max_violations)
            .then_some(Close { code: close::TIMEOUT, reason: "too many stalled streams" })
    }

    /// A transfer slower than the minimum rate: counted, recorded, and the connection closes.
    pub fn too_slow(&self, e: &dyn std::fmt::Display) -> Close {
        bump(&self.shared.counters().timeouts);
        info!(peer = %self.peer, event = "too_slow", "{e}; closing the connection");
        self.record(self.activity(Kind::Timeout).detail(e));
        Close { code: close::TIMEOUT, reason: "transfer too slow" }
    }

    /// A new activity event about this connection (source, account if logged in, time).
    pub fn activity(&self, kind: Kind) -> Activity {
        let a = self.shared.activity(self.peer.ip(), kind);
        match self.user() {
            Some(u) => a.account(&u),
            None => a,
        }
    }

    pub fn record(&self, a: Activity) {
        self.shared.record(a);
    }
}
