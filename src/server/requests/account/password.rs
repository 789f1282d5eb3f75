//! `Passwd`: a new password (hashed in the bounded queue), a protected change; when it
//! takes effect it ends every other session and voids what was asked for with the old one.

use std::sync::Arc;

use super::answer::{change, refuse, Reply};
use super::current_password::password_ok;
use crate::accounts;
use crate::server::conn::Conn;
use crate::server::Shared;
use crate::store::Change;
use crate::wire::ErrorCode;

pub(super) async fn change_password(
    conn: &Arc<Conn>,
    user: String,
    password: String,
    new_password: String,
    auth: Option<String>,
) -> Reply {
    let ip = conn.peer.ip();
    if let Err(e) = check_new_password(&new_password) {
        return refuse(ErrorCode::BadRequest, e);
    }
    let phc = match password_ok(conn, &user, password).await? {
        Ok(phc) => phc,
        Err(refused) => return Ok(refused),
    };
    let Some(_slot) = super::super::hash_wait::other_slot(conn, &user, 0).await else {
        return refuse(ErrorCode::Limit, "the listener is busy; try again in a moment");
    };
    let new_phc = match Shared::blocking(move || accounts::hash_password(&new_password)).await? {
        Ok(p) => p,
        Err(e) => return refuse(ErrorCode::BadRequest, e),
    };
    drop(_slot);
    change(conn, &user, Change::Password { phc: new_phc }, ip, auth, phc).await
}

fn check_new_password(p: &str) -> Result<(), &'static str> {
    if p.len() < crate::wire::MIN_PASSWORD || p.len() > crate::wire::MAX_PASSWORD {
        return Err("the new password must be 8 to 1024 bytes long");
    }
    Ok(())
}
