//! How an account request is answered: done, refused with an error code, or the verdict
//! on a protected change (made now, or put off).

use std::net::IpAddr;
use std::sync::Arc;

use crate::server::conn::Conn;
use crate::server::error::{error_reply, ServerError};
use crate::server::outcome::Outcome;
use crate::server::requests::protected_change::apply_or_schedule;
use crate::store::Change;
use crate::wire::{AccountReply, ErrorCode, Response};

pub(super) type Reply = Result<Outcome<Response>, ServerError>;

pub(super) fn done(reply: AccountReply) -> Reply {
    Ok(Outcome::reply(Response::Account(reply)))
}

pub(super) fn refuse(code: ErrorCode, text: impl std::fmt::Display) -> Reply {
    Ok(Outcome::reply(error_reply(code, text)))
}

/// A change needing authorisation: applied now or scheduled.
pub(super) async fn change(
    conn: &Arc<Conn>,
    user: &str,
    change: Change,
    ip: IpAddr,
    auth: Option<String>,
    phc: String,
) -> Reply {
    match apply_or_schedule(conn, user, change, ip, auth, Some(phc)).await? {
        Ok(reply) => done(reply),
        Err(refused) => Ok(refused),
    }
}
