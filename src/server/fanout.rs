//! A send to several recipients is uploaded once; its commit records the first recipient's
//! delivery and, in the same transaction, the copies it owes the others. Each copy is then
//! made here: a new id, the files hard-linked into the recipient's mailbox (copied if the
//! file system cannot link), synced, and recorded against that recipient's quota. A copy
//! whose recipient has no room, or no longer exists, is reported and not made. A crash part
//! way is finished on the next start: half-placed files no record owns are swept by
//! `recovery`, then the copies still owed are made.

use std::path::Path;

use tracing::{info, warn};

use crate::durable;
use crate::files::{self, Layout};
use crate::policy::Limits;
use crate::store::{Store, StoreError};
use crate::wire::{Attachment, Copy, Missed};

/// Make every copy `of` still owes. Returns the copies made and the recipients missed.
pub(crate) fn fan_out(
    store: &Store,
    layout: &Layout,
    limits: &Limits,
    of: u64,
    now: u64,
) -> Result<(Vec<Copy>, Vec<Missed>), StoreError> {
    let owed = store.owed(of)?;
    let (mut copies, mut missed) = (Vec::new(), Vec::new());
    if owed.is_empty() {
        return Ok((copies, missed));
    }
    let Some(original) = store.delivery(of)? else {
        for to in owed {
            store.strike_copy(of, &to)?;
            missed.push(Missed { to, reason: "the delivery is gone".into() });
        }
        return Ok((copies, missed));
    };
    let attachments = match store.attachments_for(&original.to, of, 0, usize::MAX)? {
        Some((_, a)) => a,
        None => Vec::new(),
    };
    let quota = (limits.account_quota_bytes, limits.account_max_files);
    for to in owed {
        let copy = store.allocate_id()?;
        let dest = layout.delivery_dir(&to, copy);
        if !attachments.is_empty() {
            if let Err(e) = place(&layout.delivery_dir(&original.to, of), &dest, &attachments) {
                warn!(event = "copy_failed", of, %to, "placing a copy's files: {e}");
                let _ = std::fs::remove_dir_all(&dest);
                store.strike_copy(of, &to)?;
                missed.push(Missed { to, reason: "the listener could not store the copy".into() });
                continue;
            }
        }
        match store.record_copy(of, copy, &to, quota, now)? {
            None => {
                info!(event = "delivery_copy", of, id = copy, %to, "a copy of a delivery to a further recipient");
                copies.push(Copy { to, id: copy });
            }
            Some(reason) => {
                let _ = std::fs::remove_dir_all(&dest);
                missed.push(Missed { to, reason: reason.into() });
            }
        }
    }
    Ok((copies, missed))
}

/// Hard-link (or copy) a delivery's files from `src` to `dest`, then sync them.
fn place(src: &Path, dest: &Path, attachments: &[Attachment]) -> std::io::Result<()> {
    for a in attachments {
        let from = files::join_validated(src, &a.path);
        let to = files::join_validated(dest, &a.path);
        if let Some(parent) = to.parent() {
            files::create_private_dir(parent)?;
        }
        if std::fs::hard_link(&from, &to).is_err() {
            std::fs::copy(&from, &to)?;
        }
    }
    // Exactly the copy's files and directories, then the entries its creation made.
    let paths: Vec<_> = attachments.iter().map(|a| files::join_validated(dest, &a.path)).collect();
    let mailbox = dest.parent().map(Path::to_path_buf).unwrap_or_default();
    let mail = mailbox.parent().map(Path::to_path_buf).unwrap_or_default();
    durable::sync_delivery(dest, &paths, &[&mailbox, &mail])
}
