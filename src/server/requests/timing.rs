//! Feeding actions to the regularity watch (`server::humans`): the one place login
//! attempts, challenge requests and registrations are noted. A signal is an event
//! (`too_regular`) and makes the address's next challenges harder (its network's too, once
//! several of the network's addresses are regular).

use std::sync::Arc;

use tracing::warn;

use crate::policy::activity::Kind;
use crate::server::conn::Conn;
use crate::server::humans::{digest, Noting, Who};
use crate::wire::Credential;

/// What a login sent: a digest (the same password or token over and over is a script's;
/// the secret itself is not kept), and whether it was a password (judged for bursts).
pub(super) struct Sent {
    digest: [u8; 32],
    password: bool,
}

/// What a login sent. A saved session token is the same at every login by nature: only
/// its timing is judged (a digest unique to `at_ms`), never its sameness.
pub(super) fn login_digest(credential: &Credential, at_ms: u64) -> Sent {
    match credential {
        Credential::Password(p) => Sent { digest: *blake3::hash(p.as_bytes()).as_bytes(), password: true },
        Credential::Token(_) => Sent { digest: *blake3::hash(&at_ms.to_le_bytes()).as_bytes(), password: false },
    }
}

/// Note a login attempt of `user` that arrived at `at_ms` (what was sent: the account and
/// the credential's digest); the account's cadence too when it exists (names that do not
/// cost no state). Password logins are judged for bursts too.
pub(super) fn note_login(conn: &Arc<Conn>, user: &str, exists: bool, sent: &Sent, at_ms: u64) {
    let account = exists.then_some(user);
    watch(conn, (account, sent.password), "login", at_ms, &[user.as_bytes(), &sent.digest]);
}

/// How long a signal counts: for the network's sharing, for an address's run of signals,
/// and for the harder challenges it brings (the step-up's window, `[challenges]
/// window_secs`).
pub(super) fn signal_window(conn: &Conn) -> u64 {
    conn.shared.config().challenges.window_secs.saturating_mul(1000)
}

/// Feed an action (a login attempt, a challenge request, a registration) to the regularity
/// watch, with its account when it exists and whether it is judged for bursts (a password
/// login, a registration): each signal is an event (`too_regular`) and makes the address's
/// next challenges harder (and its network's, once several of its addresses are regular).
/// Sessions of automation tokens are never fed in. `at_ms` is when the request arrived: the
/// client's cadence, not the time the listener took (a password hash on a busy host) to get
/// to the end of it.
pub(super) fn watch(
    conn: &Arc<Conn>,
    (account, burst): (Option<&str>, bool),
    kind: &'static str,
    at_ms: u64,
    what: &[&[u8]],
) {
    let sh = &conn.shared;
    let ip = conn.peer.ip();
    // The listener's own host (and other exempt networks) is never judged, as it is never
    // scored.
    if sh.config().scoring.is_exempt(ip) {
        return;
    }
    let now_ms = at_ms;
    let noting = Noting { ip, account, kind, at_ms, digest: digest(what), burst };
    let noted = sh.humans().note(noting, signal_window(conn));
    if noted.signals.is_empty() {
        return;
    }
    let detail = noted
        .signals
        .iter()
        .map(|(who, signal)| {
            let whom = match who {
                Who::Address(address, kind) => format!("{kind}s from address {address}"),
                Who::Net(net, kind) => format!("{kind}s from several addresses of network {net}"),
                Who::Account(a, kind) => format!("{kind}s of account {a}"),
            };
            format!("{whom}: {}", signal.describe())
        })
        .collect::<Vec<_>>()
        .join("; ");
    // One scored event per address and scoring window: timing alone never adds up to a
    // ban (the config refuses a `too_regular` weight that reaches the threshold).
    let window = sh.config().scoring.window_secs.saturating_mul(1000);
    let kind = if sh.humans().first_in_window(ip, now_ms, window) { Kind::TooRegular } else { Kind::Request };
    let mut event = conn.activity(kind).detail(if kind == Kind::TooRegular {
        detail.clone()
    } else {
        format!("too regular again: {detail}")
    });
    if let Some(a) = account {
        event = event.account(a);
    }
    conn.record(event);
    for whose in noted.raise {
        sh.challenges().suspicious(whose, now_ms);
    }
    warn!(peer = %conn.peer, event = "too_regular", "{detail}");
}
