//! `AddFiles`: declare the next files of the open delivery. For each, the listener says
//! what it already holds: a complete file's hash (the sender compares it with its file now
//! and sends it again if it changed), or a partial file's length, so a resumed send skips
//! what arrived before. Hashing complete files on a resume is disk work: it takes one of the
//! account's upload slots (bounded per account and in all; an account out of them is told
//! so at once), and stops as soon as the connection that asked is gone (a reconnect loop
//! cannot pile hashes up).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::files::{self, Layout};
use crate::policy::activity::Kind;
use crate::server::conn::Conn;
use crate::server::error::{error_reply, ServerError};
use crate::server::outcome::Outcome;
use crate::server::Shared;
use crate::session::Held;
use crate::wire::{ErrorCode, FileEntry, Have, Response};

pub(super) async fn handle(
    conn: &Arc<Conn>,
    id: u64,
    first: u32,
    entries: Vec<FileEntry>,
) -> Result<Outcome<Response>, ServerError> {
    let layout = conn.shared.layout().clone();
    let wait = Duration::from_secs(conn.shared.limits().progress_window_secs);
    let user = conn.user().unwrap_or_default();
    // Hashing ends by itself: its slot is never taken for another.
    let slot = match conn.shared.upload_slot(conn.peer.ip(), &user, false, wait).await {
        Ok((slot, _)) => slot,
        Err(refused) => {
            // Heavy use, not an offence: recorded, never scored.
            conn.record(conn.activity(Kind::Request).detail(format!("add_files refused: {refused:?}")));
            let words = refused.words(conn.shared.limits().max_uploads_per_account);
            return Ok(Outcome::reply(error_reply(ErrorCode::Limit, words)));
        }
    };
    let cancel = Cancel::default();
    let flag = cancel.0.clone();
    let held = Shared::blocking(move || {
        let _slot = slot;
        entries.iter().map(|e| held_for(&layout, id, &e.path, e.size, &flag)).collect::<Vec<_>>()
    })
    .await?;
    let mut have = Vec::with_capacity(held.len());
    conn.session(|s| {
        for (i, h) in (first..).zip(held) {
            have.push(match &h {
                Held::Complete { hash, .. } => Have::Complete(*hash),
                Held::Partial { bytes } => Have::Partial(*bytes),
            });
            s.set_have(i, h);
        }
    });
    drop(cancel);
    Ok(Outcome::reply(Response::FilesAdded { have }))
}

/// Set when dropped: the hashing thread stops when this request's future is dropped (its
/// connection closed) or done.
#[derive(Default)]
struct Cancel(Arc<AtomicBool>);

impl Drop for Cancel {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// What the listener already holds for one declared file.
fn held_for(layout: &Layout, id: u64, path: &str, size: u64, cancel: &AtomicBool) -> Held {
    let staged = layout.staged(id, path);
    if std::fs::symlink_metadata(&staged).is_ok_and(|m| m.is_file()) {
        match files::hash_file_until(&staged, cancel) {
            Ok((len, hash)) if len == size => {
                return Held::Complete { hash, media_type: files::media_type(&staged) };
            }
            // Cancelled: report nothing held; the connection is going away anyway.
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return Held::Partial { bytes: 0 },
            // A different file under the same name: start it over.
            _ => {
                let _ = std::fs::remove_file(&staged);
            }
        }
    }
    let part = layout.part(id, path);
    let held = files::len_or_zero(&part);
    if held > size {
        let _ = std::fs::remove_file(&part);
        return Held::Partial { bytes: 0 };
    }
    Held::Partial { bytes: held }
}
