//! `Open`, `OpenMeta` and `OpenAll`: a delivery's envelope and one page of its attachments
//! (with their modes and times, and every recipient the delivery was sent to), if the
//! delivery is in the caller's mailbox. Asking for anyone else's is answered exactly like asking for one that
//! does not exist, and recorded as a probe.

use std::sync::Arc;

use tracing::info;

use super::paging::fit_within;
use crate::policy::activity::Kind;
use crate::server::conn::Conn;
use crate::server::error::{error_reply, ServerError};
use crate::server::outcome::Outcome;
use crate::server::Shared;
use crate::wire::{ErrorCode, Response, MAX_FRAME, MAX_PAGE};

/// Encoded size of one `Option<FileMeta>`, at most: tag, mode varint (3), time varint (10).
const MAX_META_LEN: usize = 14;
/// Room for the response's own tags and lengths around the envelope and the page.
const FRAME_SLACK: usize = 64;

pub(super) async fn handle(
    conn: &Arc<Conn>,
    user: String,
    id: u64,
    from: u32,
    with_meta: bool,
    with_recipients: bool,
) -> Result<Outcome<Response>, ServerError> {
    let sh = conn.shared.clone();
    // One page of rows, whatever the delivery's size: at most MAX_PAGE attachments are read.
    let page = Shared::blocking(move || {
        let Some((envelope, page)) = sh.store().attachments_for(&user, id, from, MAX_PAGE)? else {
            return Ok(None);
        };
        let meta = if with_meta { sh.store().file_meta(id, from, page.len())? } else { Vec::new() };
        let recipients = if with_recipients { sh.store().recipients_of(id)? } else { None };
        Ok::<_, crate::store::StoreError>(Some((envelope, page, meta, recipients)))
    })
    .await??;
    let Some((envelope, page, mut meta, recipients)) = page else {
        info!(peer = %conn.peer, event = "not_found", id, "open of a delivery not in the caller's mailbox");
        conn.record(conn.activity(Kind::Probe).detail(format_args!("open {id}")));
        return Ok(Outcome::reply(error_reply(ErrorCode::NotFound, format_args!("no delivery {id} in your mailbox"))));
    };
    // The page fits one frame beside the envelope (whose body alone may take 128 KiB), the
    // recipients (at most 16 names) and each file's mode and time.
    let envelope_len = postcard::to_stdvec(&(&envelope, &recipients)).map_or(MAX_FRAME, |v| v.len());
    let budget = MAX_FRAME.saturating_sub(envelope_len.saturating_add(FRAME_SLACK));
    let keep = fit_within(&page, budget, if with_meta { MAX_META_LEN } else { 0 });
    let more = u64::from(from).saturating_add(keep as u64) < u64::from(envelope.files);
    let mut attachments = page;
    attachments.truncate(keep);
    if with_recipients {
        meta.truncate(keep);
        // A delivery sent to one has no list: its own recipient is all of them.
        let recipients = recipients.unwrap_or_else(|| vec![envelope.to.clone()]);
        return Ok(Outcome::reply(Response::EnvelopeAll { envelope, recipients, attachments, meta, more }));
    }
    if with_meta {
        meta.truncate(keep);
        return Ok(Outcome::reply(Response::EnvelopeMeta { envelope, attachments, meta, more }));
    }
    Ok(Outcome::reply(Response::Envelope { envelope, attachments, more }))
}
