//! `AddFiles`: declare the next files of the open delivery. For each, the listener says
//! what it already holds (complete and verified, or a partial file's length), so a resumed
//! send skips what arrived before.

use std::sync::Arc;

use crate::files::{self, Layout};
use crate::server::conn::Conn;
use crate::server::error::ServerError;
use crate::server::outcome::Outcome;
use crate::server::Shared;
use crate::session::Held;
use crate::wire::{FileEntry, Response};

pub(super) async fn handle(
    conn: &Arc<Conn>,
    id: u64,
    first: u32,
    entries: Vec<FileEntry>,
) -> Result<Outcome<Response>, ServerError> {
    let layout = conn.shared.layout().clone();
    let held =
        Shared::blocking(move || entries.iter().map(|e| held_for(&layout, id, &e.path, e.size)).collect::<Vec<_>>())
            .await?;
    let mut have = Vec::with_capacity(held.len());
    conn.session(|s| {
        for (i, h) in (first..).zip(held) {
            have.push(match &h {
                Held::Complete { .. } => None,
                Held::Partial { bytes } => Some(*bytes),
            });
            s.set_have(i, h);
        }
    });
    Ok(Outcome::reply(Response::FilesAdded { have }))
}

/// What the listener already holds for one declared file.
fn held_for(layout: &Layout, id: u64, path: &str, size: u64) -> Held {
    let staged = layout.staged(id, path);
    if let Ok((len, hash)) = files::hash_file(&staged) {
        if len == size {
            return Held::Complete { hash, media_type: files::media_type(&staged) };
        }
        // A different file under the same name: start it over.
        let _ = std::fs::remove_file(&staged);
    }
    let part = layout.part(id, path);
    let held = files::len_or_zero(&part);
    if held > size {
        let _ = std::fs::remove_file(&part);
        return Held::Partial { bytes: 0 };
    }
    Held::Partial { bytes: held }
}
