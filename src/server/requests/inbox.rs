//! `Inbox`: one page of the caller's mailbox, newest first, after a cursor.

use std::sync::Arc;

use super::fit_page;
use crate::server::conn::Conn;
use crate::server::error::ServerError;
use crate::server::outcome::Outcome;
use crate::server::Shared;
use crate::wire::{Response, MAX_PAGE};

pub(super) async fn handle(conn: &Arc<Conn>, user: String, after: u64) -> Result<Outcome<Response>, ServerError> {
    let sh = conn.shared.clone();
    let (mut items, mut more) = Shared::blocking(move || sh.store().inbox(&user, after, MAX_PAGE)).await??;
    let keep = fit_page(&items);
    if keep < items.len() {
        items.truncate(keep);
        more = true;
    }
    Ok(Outcome::reply(Response::InboxPage { items, more }))
}
