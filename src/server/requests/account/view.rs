//! What the listener holds about an account, as its owner sees it: `Show` (phones, places,
//! the secret question, recovery codes left, pending changes) and `Export` (the same, with
//! sessions and the mailbox's size, as JSON). From a network that is not a known place,
//! neither the numbers (not one digit: a mask with the last digits is a start for
//! guessing the rest) nor the known places (where to come from) are shown.

use std::net::IpAddr;
use std::sync::Arc;

use super::answer::{done, Reply};
use crate::policy::places::place_is_known;
use crate::server::account_guard::policy_view::places;
use crate::server::account_guard::AccountGuard;
use crate::server::conn::Conn;
use crate::server::Shared;
use crate::store::{Change, RecoveryRecord, StoreError};
use crate::wire::{AccountReply, AccountView, PendingView, PhoneView, PlaceView, MAX_VIEW_ITEMS};

/// `Show`: the account's settings (its changes that are due applied first).
pub(super) async fn show(conn: &Arc<Conn>, user: String) -> Reply {
    let sh = conn.shared.clone();
    let ip = conn.peer.ip();
    let now = sh.clock().now_ms() / 1000;
    let rec = Shared::blocking(move || -> Result<_, StoreError> {
        sh.guard().apply_due_changes(&*sh, &user, sh.clock().now_ms())?;
        sh.store().recovery(&user)
    })
    .await??
    .unwrap_or_default();
    done(AccountReply::View(view(conn.shared.guard(), &rec, ip, now)))
}

/// `Export`: everything the listener holds about the account, as JSON.
pub(super) async fn export(conn: &Arc<Conn>, user: String) -> Reply {
    let sh = conn.shared.clone();
    let ip = conn.peer.ip();
    let now = sh.clock().now_ms() / 1000;
    let u = user.clone();
    let shc = sh.clone();
    let (rec, usage, sessions) = Shared::blocking(move || -> Result<_, StoreError> {
        Ok((
            shc.store().recovery(&u)?.unwrap_or_default(),
            shc.store().mailbox_usage(&u)?,
            shc.store().user_tokens(&u, now)?,
        ))
    })
    .await??;
    let v = view(sh.guard(), &rec, ip, now);
    let json = serde_json::json!({
        "account": user,
        "phones": v.phones.iter().map(|p| serde_json::json!({"number": p.number, "added": p.added, "verified": p.verified})).collect::<Vec<_>>(),
        "places": v.places.iter().map(|p| serde_json::json!({"network": p.net, "first_seen": p.first_seen, "last_seen": p.last_seen, "origin": p.origin})).collect::<Vec<_>>(),
        "secret_question": v.question,
        "secret_answer": if rec.question.is_some() { "stored as an argon2id hash only" } else { "none" },
        "recovery_codes_left": v.codes_left,
        "pending_changes": v.pending.iter().map(|p| serde_json::json!({"id": p.id, "what": p.what, "requested": p.requested, "at": p.at, "from": p.from})).collect::<Vec<_>>(),
        "sessions": sessions.len(),
        "mailbox": {"bytes": usage.bytes, "files": usage.files},
    });
    let mut text = serde_json::to_string_pretty(&json).unwrap_or_default();
    text.truncate(crate::wire::MAX_EXPORT);
    done(AccountReply::Export { json: text })
}

/// How a number reads from a network that is not a known place: no digit, the same length
/// for every number (what qxfer/5 clients take as a masked number).
const HIDDEN_NUMBER: &str = "+••••••••••";

/// The account as its owner sees it. From a network that is not a known place, neither
/// phone numbers nor places are shown: whoever has the password (a thief, perhaps) learns
/// neither the number a SIM swap would need nor where to log in from to look at home.
fn view(guard: &AccountGuard, rec: &RecoveryRecord, ip: IpAddr, now: u64) -> AccountView {
    let recovery = guard.owner_number(rec, now);
    let here_known = guard.known(rec, ip, now);
    let shown = |n: &str| if here_known { n.to_owned() } else { HIDDEN_NUMBER.to_owned() };
    AccountView {
        phones: rec
            .phones
            .iter()
            .map(|p| PhoneView {
                number: shown(&p.number),
                added: p.added,
                verified: p.verified,
                recovery: recovery.as_deref() == Some(p.number.as_str()),
            })
            .collect(),
        places: places(rec)
            .iter()
            .filter(|_| here_known)
            .take(MAX_VIEW_ITEMS)
            .map(|p| PlaceView {
                net: p.net.to_string(),
                first_seen: p.first_seen,
                last_seen: p.last_seen,
                origin: p.origin.describe(),
                known: place_is_known(p, guard.config(), now),
            })
            .collect(),
        question: rec.question.as_ref().map(|q| q.text.clone()),
        codes_left: rec.codes.len() as u32,
        pending: rec
            .pending
            .iter()
            .map(|p| PendingView {
                id: p.id,
                what: match &p.change {
                    Change::AddPhone { .. } if !here_known => format!("add phone {HIDDEN_NUMBER}"),
                    Change::RemovePhone { .. } if !here_known => format!("remove phone {HIDDEN_NUMBER}"),
                    c => c.describe(),
                },
                requested: p.requested,
                at: p.at,
                from: p.from.clone(),
            })
            .collect(),
        here_known,
    }
}
