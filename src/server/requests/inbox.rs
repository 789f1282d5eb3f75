//! `Inbox` and `Unseen`: one page of the caller's mailbox (or of what in it is not seen
//! yet), in id order, after a cursor.

use std::sync::Arc;

use super::paging::fit_page;
use crate::server::conn::Conn;
use crate::server::error::ServerError;
use crate::server::outcome::Outcome;
use crate::server::Shared;
use crate::wire::{Response, MAX_PAGE};

pub(super) async fn handle(
    conn: &Arc<Conn>,
    user: String,
    after: u64,
    unseen: bool,
) -> Result<Outcome<Response>, ServerError> {
    let sh = conn.shared.clone();
    let (mut items, mut more) = Shared::blocking(move || {
        if unseen {
            sh.store().unseen(&user, after, MAX_PAGE)
        } else {
            sh.store().inbox(&user, after, MAX_PAGE)
        }
    })
    .await??;
    let keep = fit_page(&items);
    if keep < items.len() {
        items.truncate(keep);
        more = true;
    }
    Ok(Outcome::reply(Response::InboxPage { items, more }))
}
