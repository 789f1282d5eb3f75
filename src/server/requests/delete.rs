//! `Delete`: remove deliveries from the caller's mailbox, their files and their quota.
//! Ids that are not the caller's are passed over exactly like ids that do not exist, and
//! recorded as one probe per request (weighed as a mistyped id).

use std::sync::Arc;

use tracing::info;

use crate::policy::activity::Kind;
use crate::server::conn::Conn;
use crate::server::error::ServerError;
use crate::server::outcome::Outcome;
use crate::server::Shared;
use crate::wire::Response;

pub(super) async fn handle(conn: &Arc<Conn>, user: String, ids: Vec<u64>) -> Result<Outcome<Response>, ServerError> {
    let sh = conn.shared.clone();
    let asked = ids.clone();
    let done = Shared::blocking(move || {
        let done = sh.store().delete_deliveries(&user, &ids)?;
        // The records are gone first: a crash here leaves files nobody lists, never a
        // listed delivery without its files.
        for id in &done {
            let _ = std::fs::remove_dir_all(sh.layout().delivery_dir(&user, *id));
        }
        Ok::<_, crate::store::StoreError>(done)
    })
    .await??;
    // One probe per request however many ids missed (a long list of mistyped or already
    // deleted ids is one mistake, not a hundred).
    let missed: std::collections::BTreeSet<&u64> = asked.iter().filter(|id| !done.contains(id)).collect();
    if let Some(first) = missed.first() {
        let detail = format_args!("delete: {} ids not in the mailbox (first {first})", missed.len());
        conn.record(conn.activity(Kind::Probe).detail(detail));
    }
    if !done.is_empty() {
        info!(peer = %conn.peer, event = "deleted", deliveries = done.len(), "deliveries deleted");
    }
    Ok(Outcome::reply(Response::Affected { ids: done }))
}
