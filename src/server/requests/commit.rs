//! `Commit`: every declared file is stored and verified; move the delivery from the spool
//! into the recipient's mailbox (one rename, one filesystem sync), then record it in the
//! database. Only then does the recipient see it; only then is the spool removed.
//!
//! A crash between the steps is finished or rolled back when the listener starts again
//! (`recovery`): a delivery moved but not recorded goes back to the spool, so the same
//! `qxfer send` resumes it with nothing to upload; a delivery recorded but not answered is
//! recognised when the client retries (`Delivered`). A database failure after the move is
//! rolled back at once. Debug builds can crash at each step (`QXFER_FAULT_COMMIT`).

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
    let (from, to) = (plan.from.clone(), plan.to.clone());
    // Checked before a file moves (committed already by an earlier connection of this send,
    // recipient gone, expired), and again, atomically, when it is recorded.
    let (sender, recipient) = (from.clone(), to.clone());
    let allowed = Shared::blocking(move || sh.store().check_commit(&sender, &key, &recipient)).await?;
    let committed = match allowed {
        Ok(()) => {
            let sh = conn.shared.clone();
            fault("before_move");
            let (envelope, attachments) = Shared::blocking(move || move_into_mailbox(&sh, plan)).await??;
            fault("after_move");
            let sh = conn.shared.clone();
            let record = envelope.clone();
            Shared::blocking(move || sh.store().commit_delivery(&record, &attachments, &key)).await?.map(|()| envelope)
        }
        Err(e) => Err(e),
    };
    let envelope = match committed {
        Ok(envelope) => envelope,
        Err(StoreError::NoSuchUser(_)) => {
            // The recipient was removed (or removed and created anew) while this delivery
            // was under way: nothing of it stays, and its reservation is given back.
            let sh = conn.shared.clone();
            let _ = Shared::blocking(move || sh.store().abandon(&from, &key)).await;
            cleanup(conn, Some(&to), id).await;
            info!(peer = %conn.peer, event = "delivery_dropped", id, "the recipient's account no longer exists");
            return Ok(Outcome::reply(error_reply(ErrorCode::NotFound, "the recipient's account no longer exists")));
        }
        Err(StoreError::Committed { id: done, time }) => {
            // Another connection of this send committed it meanwhile: the same files.
            cleanup(conn, None, id).await;
            return Ok(Outcome::reply(Response::Committed { id: done, time }));
        }
        Err(StoreError::NotOpen) => {
            cleanup(conn, Some(&to), id).await;
            return Ok(Outcome::reply(error_reply(
                ErrorCode::NotFound,
                "the delivery expired before it was finished; send it again",
            )));
        }
        Err(e) => {
            // Not recorded: put the files back where a retry finds them.
            let layout = conn.shared.layout().clone();
            let _ = Shared::blocking(move || {
                files::rename_no_replace(&layout.delivery_dir(&to, id), &layout.staged_root(id))
            })
            .await;
            return Err(e.into());
        }
    };
    fault("after_commit");
    cleanup(conn, None, id).await;
    bump(&conn.shared.counters().deliveries);
    let Envelope { from, to, files, bytes, time, .. } = envelope;
    info!(peer = %conn.peer, event = "delivery", id, %from, %to, files, bytes, "delivery committed");
    conn.record(conn.activity(Kind::Delivery).bytes(bytes).detail(format_args!("{id} to {to}, {files} files")));
    Ok(Outcome::reply(Response::Committed { id, time }))
}

/// Remove delivery `id`'s spool (and, with `mailbox`, its directory in that mailbox), and
/// forget that this connection writes it.
async fn cleanup(conn: &Arc<Conn>, mailbox: Option<&str>, id: u64) {
    let layout = conn.shared.layout().clone();
    let dir = mailbox.map(|to| layout.delivery_dir(to, id));
    let _ = Shared::blocking(move || {
        if let Some(dir) = dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        let _ = std::fs::remove_dir_all(layout.spool(id));
    })
    .await;
    conn.shared.release(id, &conn.connection);
}

/// Debug builds only: crash (as a kill -9 would) at the named step of a commit, when
/// `QXFER_FAULT_COMMIT` names it (`before_move`, `after_move`, `after_commit`).
#[cfg(debug_assertions)]
fn fault(step: &str) {
    if std::env::var("QXFER_FAULT_COMMIT").is_ok_and(|s| s == step) {
        std::process::abort();
    }
}

#[cfg(not(debug_assertions))]
fn fault(_: &str) {}

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
        // A half-done move of an earlier, interrupted commit of this delivery: the spool
        // holds the verified files, so that copy goes.
        if dest.exists() && staged.exists() {
            let _ = std::fs::remove_dir_all(&dest);
        }
        std::fs::create_dir_all(layout.mailbox(&plan.to)).map_err(|e| ServerError::Io("creating the mailbox", e))?;
        files::rename_no_replace(&staged, &dest).map_err(|e| ServerError::Io("moving delivery into the mailbox", e))?;
        // One sync for all files and directory entries of the delivery.
        files::sync_filesystem(&dest).map_err(|e| ServerError::Io("syncing the delivery", e))?;
    }
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
