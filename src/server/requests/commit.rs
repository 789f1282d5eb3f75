//! `Commit`: every declared file is stored and verified; move the delivery from the spool
//! into the recipient's mailbox (one rename, one filesystem sync), then record it in the
//! database. Only then does the recipient see it.

use std::sync::Arc;

use tracing::info;

use crate::files;
use crate::policy::activity::Kind;
use crate::server::conn::Conn;
use crate::server::counters::bump;
use crate::server::error::{error_reply, ServerError};
use crate::server::outcome::Outcome;
use crate::server::Shared;
use crate::session::CommitPlan;
use crate::store::StoreError;
use crate::wire::{Attachment, Envelope, ErrorCode, Response};

pub(super) async fn handle(conn: &Arc<Conn>, plan: CommitPlan) -> Result<Outcome<Response>, ServerError> {
    let sh = conn.shared.clone();
    let id = plan.id;
    let key = plan.resume_key;
    let (envelope, attachments) = Shared::blocking(move || move_into_mailbox(&sh, plan)).await??;
    let sh = conn.shared.clone();
    let record = envelope.clone();
    let committed = Shared::blocking(move || sh.store().commit_delivery(&record, &attachments, &key)).await?;
    if let Err(StoreError::NoSuchUser(to)) = committed {
        // The recipient was removed (or removed and created anew) while this delivery was
        // under way: nothing of it stays.
        let layout = conn.shared.layout().clone();
        let _ = Shared::blocking(move || {
            let _ = std::fs::remove_dir_all(layout.delivery_dir(&to, id));
            let _ = std::fs::remove_dir_all(layout.spool(id));
        })
        .await;
        conn.shared.release(id, &conn.connection);
        info!(peer = %conn.peer, event = "delivery_dropped", id, "the recipient's account no longer exists");
        return Ok(Outcome::reply(error_reply(ErrorCode::NotFound, "the recipient's account no longer exists")));
    }
    committed?;
    conn.shared.release(id, &conn.connection);
    bump(&conn.shared.counters().deliveries);
    let Envelope { from, to, files, bytes, time, .. } = envelope;
    info!(peer = %conn.peer, event = "delivery", id, %from, %to, files, bytes, "delivery committed");
    conn.record(conn.activity(Kind::Delivery).bytes(bytes).detail(format_args!("{id} to {to}, {files} files")));
    Ok(Outcome::reply(Response::Committed { id, time }))
}

/// The file-system half of a commit: the staged files become the delivery's directory in
/// the mailbox, durably; returns the records the database gets.
fn move_into_mailbox(sh: &Shared, plan: CommitPlan) -> Result<(Envelope, Vec<Attachment>), ServerError> {
    let layout = sh.layout();
    let staged = layout.staged_root(plan.id);
    let attachments: Vec<Attachment> = plan
        .files
        .iter()
        .map(|f| Attachment { path: f.path.clone(), size: f.size, hash: f.hash, media_type: f.media_type.clone() })
        .collect();
    let bytes = attachments.iter().fold(0u64, |sum, a| sum.saturating_add(a.size));
    if !attachments.is_empty() {
        let dest = layout.delivery_dir(&plan.to, plan.id);
        std::fs::create_dir_all(layout.mailbox(&plan.to)).map_err(|e| ServerError::Io("creating the mailbox", e))?;
        files::rename_no_replace(&staged, &dest).map_err(|e| ServerError::Io("moving delivery into the mailbox", e))?;
        // One sync for all files and directory entries of the delivery.
        files::sync_filesystem(&dest).map_err(|e| ServerError::Io("syncing the delivery", e))?;
    }
    let _ = std::fs::remove_dir_all(layout.spool(plan.id));
    let envelope = Envelope {
        id: plan.id,
        from: plan.from,
        to: plan.to,
        time: sh.now(),
        subject: plan.subject,
        body: plan.body,
        files: attachments.len() as u32,
        bytes,
    };
    Ok((envelope, attachments))
}
