//! `Begin`: open a delivery (or find the one a resumed send left). The recipient must exist
//! and have room for the declared size before a byte flows. A resumed delivery is taken
//! over from a lingering connection of the same sender.

use std::sync::Arc;

use tracing::info;

use crate::policy::activity::Kind;
use crate::server::conn::Conn;
use crate::server::error::{error_reply, ServerError};
use crate::server::outcome::Outcome;
use crate::server::Shared;
use crate::store::StoreError;
use crate::wire::{Begin, ErrorCode, Response};

/// What opening the delivery found.
enum Opening {
    NoRecipient,
    NoRoom,
    Opened {
        id: u64,
        resumed: bool,
    },
    /// This send was committed before (its reply was lost).
    Delivered {
        id: u64,
        time: u64,
    },
}

pub(super) async fn handle(conn: &Arc<Conn>, user: String, begin: Begin) -> Result<Outcome<Response>, ServerError> {
    let sh = conn.shared.clone();
    let to = begin.to.clone().unwrap_or_else(|| user.clone());
    let recipient = to.clone();
    let key = begin.resume_key;
    let declared = begin.bytes;
    let files = u64::from(begin.files);
    let quota = conn.shared.limits().account_quota_bytes;
    let max_files = conn.shared.limits().account_max_files;
    let opened = Shared::blocking(move || -> Result<Opening, StoreError> {
        if let Some(found) = sh.store().committed(&user, &key)? {
            return Ok(Opening::Delivered { id: found.0, time: found.1 });
        }
        if !sh.store().user_exists(&recipient)? {
            return Ok(Opening::NoRecipient);
        }
        // Refused before a byte flows: the recipient's mailbox must have room, in bytes and
        // in files (zero-byte files are not free).
        let usage = sh.store().mailbox_usage(&recipient)?;
        if usage.bytes.saturating_add(declared) > quota || usage.files.saturating_add(files) > max_files {
            return Ok(Opening::NoRoom);
        }
        let opened = sh.store().open_delivery(&user, &key, sh.now())?;
        if let Some(stale) = opened.stale {
            let _ = std::fs::remove_dir_all(sh.layout().spool(stale));
        }
        Ok(Opening::Opened { id: opened.id, resumed: opened.resumed })
    })
    .await
    .and_then(|r| r.map_err(ServerError::from));
    let (id, reply) = match opened {
        Ok(Opening::Opened { id, resumed }) => {
            conn.shared.take_over(id, &conn.connection, conn.peer);
            (Some(id), Response::Began { id, resumed })
        }
        Ok(Opening::NoRoom) => {
            info!(peer = %conn.peer, event = "quota", "delivery refused: recipient's mailbox is full");
            conn.record(conn.activity(Kind::Limit).bytes(declared).detail("mailbox quota"));
            (None, error_reply(ErrorCode::Limit, "the recipient's mailbox has no room for this delivery"))
        }
        Ok(Opening::NoRecipient) => (None, error_reply(ErrorCode::NotFound, "no such recipient")),
        Ok(Opening::Delivered { id, time }) => {
            info!(peer = %conn.peer, id, event = "already_delivered", "a retried send was committed before");
            (None, Response::Delivered { id, time })
        }
        Err(e) => {
            // The session learns that nothing opened before the failure is reported.
            conn.session(|s| s.delivery_opened(None));
            return Err(e);
        }
    };
    conn.session(|s| s.delivery_opened(id.map(|id| (id, to))));
    Ok(Outcome::reply(reply))
}
