//! `PendingSends` and `DropPending` (qxfer/6): the caller's own unfinished sends, listed a
//! page at a time, and one of them abandoned. A drop finds only a send of the caller's own
//! (its open key is the caller's name with the send's resume key, indexed under the
//! caller); it waits for a commit or resume of that send in progress, closes a connection
//! still writing it, releases what it reserved (the recipient's hold and the caller's
//! spool) and removes its partial files. An id that is not one of the caller's unfinished
//! sends is answered like one that never existed, and recorded as a probe.

use std::sync::Arc;

use tracing::info;

use crate::policy::activity::Kind;
use crate::server::conn::Conn;
use crate::server::error::{error_reply, ServerError};
use crate::server::outcome::Outcome;
use crate::server::Shared;
use crate::wire::{ErrorCode, Response, MAX_PAGE};

pub(super) async fn list(conn: &Arc<Conn>, user: String, after: u64) -> Result<Outcome<Response>, ServerError> {
    let sh = conn.shared.clone();
    let expiry = sh.limits().spool_expiry_secs;
    let (items, more) = Shared::blocking(move || sh.store().pending_of(&user, after, MAX_PAGE, expiry)).await??;
    Ok(Outcome::reply(Response::PendingPage { items, more }))
}

pub(super) async fn drop(conn: &Arc<Conn>, user: String, id: u64) -> Result<Outcome<Response>, ServerError> {
    // A commit or resume of this send in progress finishes first.
    let lock = conn.shared.delivery_lock(id);
    let guard = tokio::time::timeout(super::commit::DELIVERY_LOCK_WAIT, lock.lock_owned())
        .await
        .map_err(|_| ServerError::Internal("the delivery is being committed by another connection"))?;
    let sh = conn.shared.clone();
    let (u, asking) = (user.clone(), conn.connection.clone());
    let dropped = Shared::blocking(move || {
        let _guard = guard;
        let dropped = sh.store().drop_pending(&u, id)?;
        if dropped {
            // Its record is gone first: a crash here leaves files no record owns, which the
            // next start sweeps.
            sh.end_dropped(id, &asking);
            let _ = std::fs::remove_dir_all(sh.layout().spool(id));
        }
        Ok::<_, crate::store::StoreError>(dropped)
    })
    .await??;
    if !dropped {
        info!(peer = %conn.peer, event = "not_found", id, "drop of a send that is not the caller's unfinished one");
        conn.record(conn.activity(Kind::Probe).detail(format_args!("drop pending {id}")));
        let text = format_args!("no unfinished send {id} of yours (finished, dropped, expired, or never yours)");
        return Ok(Outcome::reply(error_reply(ErrorCode::NotFound, text)));
    }
    info!(peer = %conn.peer, event = "pending_dropped", id, %user, "an unfinished send was dropped by its sender");
    conn.record(conn.activity(Kind::Request).detail(format_args!("dropped unfinished send {id}")));
    Ok(Outcome::reply(Response::Affected { ids: vec![id] }))
}
