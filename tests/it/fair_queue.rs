//! Password hashes are shared fairly: round robin by network, then by account (every name
//! no account has in one queue of its own), so a flood of logins cannot starve another
//! account's login, whatever work the flood attaches.

use qxfer::challenge::pow;
use qxfer::wire::{Credential, ErrorCode, Request, Response, Solution};

use crate::raw::Raw;
use crate::support::PASSWORD;

/// A solution for the challenge the listener issues `raw`'s network for `user`.
pub async fn solved(raw: &mut Raw, user: &str) -> Solution {
    let reply = raw.call(&Request::Challenge { user: user.into() }).await;
    let Some(Response::Challenge { ticket, picture: None }) = reply else { panic!("no work challenge: {reply:?}") };
    let counter = tokio::task::spawn_blocking({
        let ticket = ticket.clone();
        move || pow::solve_some(&ticket.nonce, ticket.bits, 0, u64::MAX).expect("solved")
    })
    .await
    .expect("join");
    Solution { ticket, counter, answer: None }
}

/// A password login from `bind` as the real client does it: without work, and when the
/// listener says it is under load, again on a fresh connection with the work it suggests.
pub async fn password_login(bind: &str, addr: &str, user: &str) -> Raw {
    let credential = Credential::Password(PASSWORD.into());
    let mut raw = Raw::connect_from(bind, addr).await.expect("connect");
    match raw.call(&Request::Login { user: user.into(), credential: credential.clone() }).await {
        Some(Response::LoggedIn { .. }) => return raw,
        Some(Response::Error { code: ErrorCode::ChallengeRequired, .. }) => {}
        r => panic!("login from {bind}: {r:?}"),
    }
    let solution = solved(&mut raw, user).await;
    let mut raw = Raw::connect_from(bind, addr).await.expect("connect");
    let r = raw.call(&Request::LoginSolved { user: user.into(), credential, solution }).await;
    assert!(matches!(r, Some(Response::LoggedIn { .. })), "solved login from {bind}: {r:?}");
    raw
}
