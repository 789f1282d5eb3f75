//! `Delete` and `DeleteEach`: remove deliveries from the caller's mailbox, their files and
//! their quota. Ids that are not the caller's are passed over exactly like ids that do not
//! exist, and recorded as one probe per request (weighed as a mistyped id). The listener's
//! notices of account changes stay for `recovery.unknown_place_delay_secs` after they came:
//! whoever has the password (a thief, perhaps) cannot make them vanish before the change
//! they announce takes effect. `Delete` (up to qxfer/5) removes nothing when one of its ids
//! is such a notice and says which; `DeleteEach` (qxfer/6) removes the others and answers
//! each kept notice with why, as `rm` does what it can.

use std::collections::BTreeMap;
use std::sync::Arc;

use tracing::info;

use crate::policy::activity::Kind;
use crate::server::conn::Conn;
use crate::server::error::{error_reply, ServerError};
use crate::server::outcome::Outcome;
use crate::server::Shared;
use crate::wire::{ErrorCode, Refusal, Response};

pub(super) async fn handle(
    conn: &Arc<Conn>,
    user: String,
    ids: Vec<u64>,
    each: bool,
) -> Result<Outcome<Response>, ServerError> {
    let sh = conn.shared.clone();
    let asked = ids.clone();
    let keep = sh.guard().config().unknown_place_delay_secs;
    let now = sh.clock().now();
    let (shc, u, wanted) = (sh.clone(), user.clone(), ids.clone());
    // The notices still kept among the ids, by id: until when.
    let kept = Shared::blocking(move || -> Result<BTreeMap<u64, u64>, crate::store::StoreError> {
        let mut kept = BTreeMap::new();
        for id in wanted {
            if let Some(e) = shc.store().envelope_for(&u, id)? {
                if e.from == crate::store::NOTICE_SENDER && now.saturating_sub(e.time) < keep {
                    kept.insert(id, e.time.saturating_add(keep));
                }
            }
        }
        Ok(kept)
    })
    .await??;
    if !each {
        if let Some((id, until)) = kept.first_key_value() {
            let text = format!(
                "delivery {id} is the listener's notice of a change to your account; it is kept until {}",
                crate::clock::format_time(*until)
            );
            return Ok(Outcome::reply(error_reply(ErrorCode::Limit, text)));
        }
    }
    let may_go: Vec<u64> = ids.into_iter().filter(|id| !kept.contains_key(id)).collect();
    let done = Shared::blocking(move || {
        let done = sh.store().delete_deliveries(&user, &may_go)?;
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
    let missed: std::collections::BTreeSet<&u64> =
        asked.iter().filter(|id| !done.contains(id) && !kept.contains_key(id)).collect();
    if let Some(first) = missed.first() {
        let detail = format_args!("delete: {} ids not in the mailbox (first {first})", missed.len());
        conn.record(conn.activity(Kind::Probe).detail(detail));
    }
    if !done.is_empty() {
        info!(peer = %conn.peer, event = "deleted", deliveries = done.len(), "deliveries deleted");
    }
    if !each {
        return Ok(Outcome::reply(Response::Affected { ids: done }));
    }
    if !kept.is_empty() {
        info!(peer = %conn.peer, event = "delete_refused", kept = kept.len(), "notices kept from a delete");
    }
    let refused = kept
        .into_iter()
        .map(|(id, until)| Refusal {
            id,
            why: format!(
                "the listener's notice of a change to your account; it is kept until {}",
                crate::clock::format_time(until)
            ),
        })
        .collect();
    Ok(Outcome::reply(Response::DeleteReport { deleted: done, refused }))
}
