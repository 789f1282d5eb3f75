//! `MarkSeen`: the caller fetched or read these deliveries; `Unseen` stops listing them.
//! Ids that are not the caller's are passed over and recorded as a probe.

use std::sync::Arc;

use crate::policy::activity::Kind;
use crate::server::conn::Conn;
use crate::server::error::ServerError;
use crate::server::outcome::Outcome;
use crate::server::Shared;
use crate::wire::Response;

pub(super) async fn handle(conn: &Arc<Conn>, user: String, ids: Vec<u64>) -> Result<Outcome<Response>, ServerError> {
    let sh = conn.shared.clone();
    let asked = ids.clone();
    let done = Shared::blocking(move || sh.store().mark_seen(&user, &ids)).await??;
    // One probe per request however many ids missed (a long list of mistyped or already
    // deleted ids is one mistake, not a hundred).
    let missed: std::collections::BTreeSet<&u64> = asked.iter().filter(|id| !done.contains(id)).collect();
    if let Some(first) = missed.first() {
        let detail = format_args!("mark seen: {} ids not in the mailbox (first {first})", missed.len());
        conn.record(conn.activity(Kind::Probe).detail(detail));
    }
    Ok(Outcome::reply(Response::Affected { ids: done }))
}
