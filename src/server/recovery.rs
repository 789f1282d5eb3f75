//! What a crash left half done, finished or rolled back when the listener starts: a
//! delivery moved into a mailbox but never recorded goes back to its spool (the same send,
//! run again, resumes it with nothing to upload), and a spool no unfinished delivery owns
//! (recorded already, or forgotten) is removed. Nothing is left orphaned.

use std::collections::HashSet;

use tracing::info;

use crate::files::{self, Layout};
use crate::store::{Store, StoreError};

/// Entries of `dir` whose names are numbers (delivery ids).
fn numbered(dir: &std::path::Path) -> Vec<(u64, std::path::PathBuf)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries.flatten().filter_map(|e| Some((e.file_name().to_str()?.parse::<u64>().ok()?, e.path()))).collect()
}

/// Finish or roll back what a crash interrupted. Returns how many places were repaired.
pub fn recover(store: &Store, layout: &Layout) -> Result<usize, StoreError> {
    let open: HashSet<u64> = store.open_ids()?;
    let mut repaired = 0;
    let mail = layout.root().join("mail");
    for user_dir in std::fs::read_dir(&mail).into_iter().flatten().flatten() {
        let Some(user) = user_dir.file_name().to_str().map(str::to_owned) else { continue };
        for (id, dir) in numbered(&user_dir.path()) {
            if store.in_mailbox(&user, id)? {
                continue;
            }
            if open.contains(&id) {
                recover_one(store, layout, &user, id)?;
            } else {
                let _ = std::fs::remove_dir_all(&dir);
                info!(event = "recovered", id, %user, "removed a delivery directory no record owns");
            }
            repaired += 1;
        }
    }
    for (id, dir) in numbered(&layout.root().join("spool")) {
        if !open.contains(&id) {
            let _ = std::fs::remove_dir_all(&dir);
            info!(event = "recovered", id, "removed a spool no unfinished delivery owns");
            repaired += 1;
        }
    }
    Ok(repaired)
}

/// The same repair for one unfinished delivery `id` to `to`, when it is resumed: files a
/// commit cut short moved into the mailbox without recording them go back to the spool
/// (or, when the spool has them already, are removed).
pub fn recover_one(store: &Store, layout: &Layout, to: &str, id: u64) -> Result<(), StoreError> {
    let dir = layout.delivery_dir(to, id);
    if !dir.exists() || store.in_mailbox(to, id)? {
        return Ok(());
    }
    let staged = layout.staged_root(id);
    if staged.exists() || files::rename_no_replace(&dir, &staged).is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    info!(event = "recovered", id, %to, "a commit cut short was rolled back for its resume");
    Ok(())
}
