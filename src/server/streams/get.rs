//! A download stream: one file of a delivery in the caller's mailbox, from an offset. A file
//! that is not the caller's is answered like one that does not exist, and recorded as a
//! probe.

use std::sync::Arc;

use quinn::SendStream;
use tracing::{debug, info};

use crate::files;
use crate::policy::activity::Kind;
use crate::server::conn::Conn;
use crate::server::outcome::Outcome;
use crate::server::Shared;
use crate::transport::body::{self, BodyError};
use crate::transport::framed::{self, FrameError};
use crate::wire::{ErrorCode, GetReply};

pub(super) async fn handle(
    conn: &Arc<Conn>,
    send: &mut SendStream,
    id: u64,
    index: u32,
    offset: u64,
) -> Outcome<GetReply> {
    let user = match conn.session(|s| s.begin_get().map(str::to_owned)) {
        Ok(u) => u,
        Err(v) => {
            let close = conn.violation(&format_args!("download refused: {v}"));
            return Outcome::reply(GetReply::Error { code: ErrorCode::BadRequest, message: v.to_string() })
                .close(close);
        }
    };
    let sh = conn.shared.clone();
    let u = user.clone();
    // One row: the cost does not depend on the delivery's size.
    let attachment = match Shared::blocking(move || sh.store().attachment_for(&u, id, index)).await {
        Ok(Ok(a)) => a,
        _ => None,
    };
    let Some(att) = attachment.filter(|a| offset <= a.size) else {
        info!(peer = %conn.peer, event = "not_found", id, index, "download of a file not in the caller's mailbox");
        conn.record(conn.activity(Kind::Probe).detail(format_args!("get {id}/{index}")));
        return Outcome::reply(GetReply::Error {
            code: ErrorCode::NotFound,
            message: format!("no file {index} in delivery {id} of your mailbox"),
        });
    };
    let path = files::join_validated(&conn.shared.layout().delivery_dir(&user, id), &att.path);
    let len = att.size - offset;
    let result = async {
        let wait = crate::server::outcome::REPLY_WRITE_WAIT;
        tokio::time::timeout(wait, framed::write_frame(send, &GetReply::Ready { len }))
            .await
            .map_err(|_| BodyError::TooSlow { got: 0, secs: wait.as_secs() })??;
        let counters = conn.shared.counters();
        let mut on_bytes = |n: u64| {
            counters.bytes_sent.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        };
        body::send_file(send, &path, offset, len, Some(conn.min_transfer_rate()), &mut on_bytes).await?;
        send.finish().map_err(FrameError::from)?;
        Ok::<_, BodyError>(())
    }
    .await;
    match result {
        Ok(()) => Outcome::silent(),
        Err(e) => {
            debug!(peer = %conn.peer, "download of {id}/{index} ended: {e}");
            match e {
                BodyError::TooSlow { .. } => Outcome::silent().close(Some(conn.too_slow(&e))),
                _ => Outcome::silent(),
            }
        }
    }
}
