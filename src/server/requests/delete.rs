//! `Delete`: remove deliveries from the caller's mailbox, their files and their quota.
//! Ids that are not the caller's are passed over exactly like ids that do not exist, and
//! recorded as one probe per request (weighed as a mistyped id). The listener's notices of
//! account changes stay for `recovery.unknown_place_delay_secs` after they came: whoever
//! has the password (a thief, perhaps) cannot make them vanish before the change they
//! announce takes effect.

use std::sync::Arc;

use tracing::info;

use crate::policy::activity::Kind;
use crate::server::conn::Conn;
use crate::server::error::{error_reply, ServerError};
use crate::server::outcome::Outcome;
use crate::server::Shared;
use crate::wire::{ErrorCode, Response};

pub(super) async fn handle(conn: &Arc<Conn>, user: String, ids: Vec<u64>) -> Result<Outcome<Response>, ServerError> {
    let sh = conn.shared.clone();
    let asked = ids.clone();
    let keep = sh.guard().config().unknown_place_delay_secs;
    let now = sh.clock().now();
    let (shc, u, wanted) = (sh.clone(), user.clone(), ids.clone());
    let kept = Shared::blocking(move || -> Result<Option<(u64, u64)>, crate::store::StoreError> {
        for id in wanted {
            if let Some(e) = shc.store().envelope_for(&u, id)? {
                if e.from == crate::store::NOTICE_SENDER && now.saturating_sub(e.time) < keep {
                    return Ok(Some((id, e.time.saturating_add(keep))));
                }
            }
        }
        Ok(None)
    })
    .await??;
    if let Some((id, until)) = kept {
        let text = format!(
            "delivery {id} is the listener's notice of a change to your account; it is kept until {}",
            crate::clock::format_time(until)
        );
        return Ok(Outcome::reply(error_reply(ErrorCode::Limit, text)));
    }
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
