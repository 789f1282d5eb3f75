//! `CodesNew`: ten fresh recovery codes (kept as keyed hashes), replacing the old ones: a
//! protected change, whose reply shows the codes once.

use std::sync::Arc;

use super::answer::{done, refuse, Reply};
use super::current_password::password_ok;
use crate::server::conn::Conn;
use crate::server::requests::protected_change::apply_or_schedule;
use crate::store::Change;
use crate::wire::{AccountReply, ErrorCode};

pub(super) async fn renew(conn: &Arc<Conn>, user: String, password: String, auth: Option<String>) -> Reply {
    let ip = conn.peer.ip();
    let phc = match password_ok(conn, &user, password).await? {
        Ok(phc) => phc,
        Err(refused) => return Ok(refused),
    };
    let (codes, hashes) = match conn.shared.guard().recovery_codes(&user) {
        Ok(x) => x,
        Err(e) => return refuse(ErrorCode::Internal, e),
    };
    match apply_or_schedule(conn, &user, Change::Codes { hashes }, ip, auth, Some(phc)).await? {
        Ok(AccountReply::Changed { at, .. }) => done(AccountReply::Codes { codes, at }),
        Ok(other) => done(other),
        Err(refused) => Ok(refused),
    }
}
