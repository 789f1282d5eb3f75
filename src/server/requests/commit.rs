//! `Commit`: every declared file is stored and verified; move the delivery from the spool
//! into the recipient's mailbox (one rename, one filesystem sync), then record it in the
//! database. Only then does the recipient see it; only then is the spool removed.
//!
//! A crash between the steps is finished or rolled back when the listener starts again
//! (`recovery`): a delivery moved but not recorded goes back to the spool, so the same
//! `qxfer send` resumes it with nothing to upload; a delivery recorded but not answered is
//! recognised when the client retries (`Delivered`). A database failure after the move is
//! rolled back at once. Debug builds can crash at each step (`QXFER_FAULT_COMMIT`).

use std::path::Path;
use std::sync::Arc;

use tracing::info;

use crate::durable;
use crate::files;
use crate::policy::activity::Kind;
use crate::server::conn::Conn;
use crate::server::counters::bump;
use crate::server::error::{error_reply, ServerError};
use crate::server::outcome::Outcome;
use crate::server::Shared;
use crate::session::CommitPlan;
use crate::store::StoreError;
use crate::wire::{Attachment, Copy, Envelope, ErrorCode, Missed, Response};

/// What a commit came to.
enum Committed {
    /// Recorded now (with the copies made for further recipients, and those missed).
    Done(Envelope, Option<(Vec<Copy>, Vec<Missed>)>),
    /// Recorded before, by another connection of the same send.
    Before { id: u64, time: u64 },
    /// The recipient's account is gone (or was made anew): dropped, reservation released.
    RecipientGone,
    /// The delivery expired before it was finished.
    Expired,
    /// Its hold on the recipient's mailbox ended and the mailbox has no room for it now:
    /// its files stay in the spool for a later resume.
    NoRoom,
}

/// How long a commit or a resume waits for another commit or resume of the same delivery.
pub(super) const DELIVERY_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

pub(super) async fn handle(conn: &Arc<Conn>, plan: CommitPlan) -> Result<Outcome<Response>, ServerError> {
    let id = plan.id;
    // One commit or resume of a delivery at a time; the guard lives on the blocking thread,
    // so a connection closed half way cannot leave the step half done behind the lock.
    let lock = conn.shared.delivery_lock(id);
    let guard = tokio::time::timeout(DELIVERY_LOCK_WAIT, lock.lock_owned())
        .await
        .map_err(|_| ServerError::Internal("the delivery is being committed by another connection"))?;
    let sh = conn.shared.clone();
    let committed = Shared::blocking(move || {
        let _guard = guard;
        commit(&sh, plan)
    })
    .await??;
    conn.shared.release(id, &conn.connection);
    Ok(Outcome::reply(match committed {
        Committed::Done(Envelope { from, to, files, bytes, time, .. }, fanned) => {
            bump(&conn.shared.counters().deliveries);
            info!(peer = %conn.peer, event = "delivery", id, %from, %to, files, bytes, "delivery committed");
            conn.record(conn.activity(Kind::Delivery).bytes(bytes).detail(format_args!("{id} to {to}, {files} files")));
            match fanned {
                Some((copies, missed)) => {
                    for c in &copies {
                        bump(&conn.shared.counters().deliveries);
                        let detail = format_args!("{} to {} (copy of {id}), {files} files", c.id, c.to);
                        conn.record(conn.activity(Kind::Delivery).bytes(bytes).detail(detail));
                    }
                    Response::CommittedMany { id, time, copies, missed }
                }
                None => Response::Committed { id, time },
            }
        }
        Committed::Before { id, time } => Response::Committed { id, time },
        Committed::RecipientGone => {
            info!(peer = %conn.peer, event = "delivery_dropped", id, "the recipient's account no longer exists");
            error_reply(ErrorCode::NotFound, "the recipient's account no longer exists")
        }
        Committed::Expired => {
            error_reply(ErrorCode::NotFound, "the delivery expired before it was finished; send it again")
        }
        Committed::NoRoom => {
            info!(peer = %conn.peer, event = "quota", id, "commit refused: the recipient's mailbox is full past the hold");
            conn.record(
                conn.activity(Kind::Request).detail(format_args!("commit of {id} refused: recipient's mailbox full")),
            );
            let hold = crate::clock::format_duration(conn.shared.limits().recipient_hold_secs);
            error_reply(
                ErrorCode::Limit,
                format_args!(
                    "the recipient's mailbox has no room for this delivery now (an unfinished send holds room there \
                     for {hold} only); what was uploaded is kept: try again later, or abandon unfinished delivery \
                     {id} (qxfer pending drop)"
                ),
            )
        }
    }))
}

/// The whole commit, on one blocking thread: checked before a file moves (committed already
/// by an earlier connection of this send, recipient gone, expired), moved, recorded (checked
/// again, atomically), then the spool removed; a failure to record puts the files back.
fn commit(sh: &Shared, plan: CommitPlan) -> Result<Committed, ServerError> {
    let layout = sh.layout();
    let (id, key) = (plan.id, plan.resume_key);
    let (from, to) = (plan.from.clone(), plan.to.clone());
    let many = !plan.also.is_empty();
    let remove = |mailbox: bool| {
        if mailbox {
            let _ = std::fs::remove_dir_all(layout.delivery_dir(&to, id));
        }
        let _ = std::fs::remove_dir_all(layout.spool(id));
    };
    let quota = (sh.limits().account_quota_bytes, sh.limits().account_max_files);
    let recorded = match sh.store().check_commit(&from, &key, &to, id, sh.now(), quota) {
        Ok(()) => {
            fault("before_move");
            let meta: Vec<_> = plan.files.iter().map(|f| f.meta).collect();
            let also = plan.also.clone();
            let (envelope, attachments) = move_into_mailbox(sh, plan)?;
            fault("after_move");
            sh.store().commit_delivery(&envelope, &attachments, &meta, &key, &also, quota).map(|()| envelope)
        }
        Err(e) => Err(e),
    };
    Ok(match recorded {
        Ok(envelope) => {
            fault("after_commit");
            remove(false);
            let fanned = if many {
                Some(crate::server::fanout::fan_out(sh.store(), layout, sh.limits(), id, sh.now())?)
            } else {
                None
            };
            Committed::Done(envelope, fanned)
        }
        Err(StoreError::Committed { id, time }) => {
            remove(false);
            Committed::Before { id, time }
        }
        Err(StoreError::NoSuchUser(_)) => {
            let _ = sh.store().abandon(&from, &key);
            remove(true);
            Committed::RecipientGone
        }
        Err(StoreError::NotOpen) => {
            remove(true);
            Committed::Expired
        }
        Err(StoreError::NoRoom) => {
            // Moved already (a room check at the commit itself): the files go back.
            let _ = files::rename_no_replace(&layout.delivery_dir(&to, id), &layout.staged_root(id));
            Committed::NoRoom
        }
        Err(e) => {
            // Not recorded: the files go back where a retry finds them.
            let _ = files::rename_no_replace(&layout.delivery_dir(&to, id), &layout.staged_root(id));
            return Err(e.into());
        }
    })
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
        // Exactly the delivery's files and directories, then the entries the rename and
        // the mailbox's creation made (the mailbox, `mail/`, the data directory).
        let paths: Vec<_> = attachments.iter().map(|a| files::join_validated(&dest, &a.path)).collect();
        let mailbox = layout.mailbox(&plan.to);
        let mail = mailbox.parent().map(Path::to_path_buf).unwrap_or_default();
        durable::sync_delivery(&dest, &paths, &[&mailbox, &mail, layout.root()])
            .map_err(|e| ServerError::Io("syncing the delivery", e))?;
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
