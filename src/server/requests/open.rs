//! `Open`: a delivery's envelope and one page of its attachments, if the delivery is in the
//! caller's mailbox. Asking for anyone else's is answered exactly like asking for one that
//! does not exist, and recorded as a probe.

use std::sync::Arc;

use tracing::info;

use super::fit_page;
use crate::policy::activity::Kind;
use crate::server::conn::Conn;
use crate::server::error::{error_reply, ServerError};
use crate::server::outcome::Outcome;
use crate::server::Shared;
use crate::wire::{ErrorCode, Response, MAX_PAGE};

pub(super) async fn handle(
    conn: &Arc<Conn>,
    user: String,
    id: u64,
    from: u32,
) -> Result<Outcome<Response>, ServerError> {
    let sh = conn.shared.clone();
    let Some(stored) = Shared::blocking(move || sh.store().delivery_for(&user, id)).await?? else {
        info!(peer = %conn.peer, event = "not_found", id, "open of a delivery not in the caller's mailbox");
        conn.record(conn.activity(Kind::Probe).detail(format_args!("open {id}")));
        return Ok(Outcome::reply(error_reply(ErrorCode::NotFound, format_args!("no delivery {id} in your mailbox"))));
    };
    let start = (from as usize).min(stored.attachments.len());
    let rest = stored.attachments.get(start..).unwrap_or_default();
    let page = rest.get(..rest.len().min(MAX_PAGE)).unwrap_or_default();
    let keep = fit_page(page);
    let attachments = page.get(..keep).unwrap_or_default().to_vec();
    let more = start + keep < stored.attachments.len();
    Ok(Outcome::reply(Response::Envelope { envelope: stored.envelope, attachments, more }))
}
