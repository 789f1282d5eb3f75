//! `Begin`: open a delivery (or find the one a resumed send left). The recipient must exist
//! and have room for the declared size before a byte flows. A resumed delivery is taken
//! over from a lingering connection of the same sender.

use std::sync::Arc;

use tracing::info;

use crate::policy::activity::Kind;
use crate::server::conn::Conn;
use crate::server::error::{error_reply, ServerError};
use crate::server::outcome::Outcome;
use crate::server::Shared;
use crate::store::{Hold, Opened, Opening, Reservation, StoreError};
use crate::wire::{Begin, ErrorCode, Response};

/// What opening the delivery found.
enum Found {
    NoRecipient,
    /// A further recipient does not exist, or has no room.
    NoFurther(String),
    NoRoomFurther(String),
    LowDisk,
    Store(Opening),
}

pub(super) async fn handle(
    conn: &Arc<Conn>,
    user: String,
    begin: Begin,
    also: Vec<String>,
) -> Result<Outcome<Response>, ServerError> {
    let sh = conn.shared.clone();
    let to = begin.to.clone().unwrap_or_else(|| user.clone());
    let recipient = to.clone();
    if also.contains(&recipient) {
        // Only the sender's own name can repeat here (the decoder refuses other repeats).
        conn.session(|s| s.delivery_opened(None));
        return Ok(Outcome::reply(error_reply(ErrorCode::BadRequest, "the same recipient twice")));
    }
    let key = begin.resume_key;
    let limits = conn.shared.limits();
    let text = begin.subject.as_ref().map_or(0, String::len) + begin.body.as_ref().map_or(0, String::len);
    let want = Reservation {
        bytes: begin.bytes.saturating_add(text as u64),
        files: u64::from(begin.files),
        quota_bytes: limits.account_quota_bytes,
        quota_files: limits.account_max_files,
        max_open: u64::from(limits.max_open_deliveries_per_account),
        deliveries: 1 + also.len() as u32,
        hold: Hold { secs: limits.recipient_hold_secs, renew_secs: limits.recipient_hold_renew_secs },
    };
    let floor = limits.min_free_disk_bytes;
    let opened = Shared::blocking(move || -> Result<Found, StoreError> {
        // A retry of a send committed before learns so first, whatever else changed since
        // (open_delivery checks again, atomically).
        if let Some((id, time)) = sh.store().committed(&user, &key)? {
            return Ok(Found::Store(Opening::Delivered { id, time }));
        }
        if !sh.store().user_exists(&recipient)? {
            return Ok(Found::NoRecipient);
        }
        // Further recipients must exist and have room now; their room is not reserved (the
        // copy is charged at commit, and reported missed if the room went meanwhile).
        for other in &also {
            match sh.store().has_room(other, &want, sh.now())? {
                None => return Ok(Found::NoFurther(other.clone())),
                Some(false) => return Ok(Found::NoRoomFurther(other.clone())),
                Some(true) => {}
            }
        }
        // Refused before a byte flows while the disk is nearly full.
        if free_disk(sh.layout().root()).is_some_and(|free| free.saturating_sub(want.bytes) < floor) {
            return Ok(Found::LowDisk);
        }
        // Room in the recipient's mailbox (bytes and files, delivered and reserved) and in
        // the sender's spool, reserved in the same transaction as the checks.
        let opening = sh.store().open_delivery(&user, &recipient, &key, sh.now(), want)?;
        if let Opening::Opened(Opened { stale: Some(stale), .. }) = opening {
            let _ = std::fs::remove_dir_all(sh.layout().spool(stale));
        }
        Ok(Found::Store(opening))
    })
    .await
    .and_then(|r| r.map_err(ServerError::from));
    let refuse = |kind: &str, message: &'static str| {
        info!(peer = %conn.peer, event = "quota", "delivery refused: {kind}");
        conn.record(conn.activity(Kind::Request).bytes(want.bytes).detail(format_args!("delivery refused: {kind}")));
        error_reply(ErrorCode::Limit, message)
    };
    let (id, reply) = match opened {
        Ok(Found::Store(Opening::Opened(Opened { id, resumed, .. }))) => {
            if resumed {
                // A commit of this delivery on another connection finishes first (the lock);
                // one cut short before it recorded anything goes back to the spool.
                let lock = conn.shared.delivery_lock(id);
                let wait = super::commit::DELIVERY_LOCK_WAIT;
                let Ok(guard) = tokio::time::timeout(wait, lock.lock_owned()).await else {
                    conn.session(|s| s.delivery_opened(None));
                    return Err(ServerError::Internal("the delivery is being committed by another connection"));
                };
                let sh = conn.shared.clone();
                let to = to.clone();
                let repaired = Shared::blocking(move || {
                    let _guard = guard;
                    crate::server::recovery::recover_one(sh.store(), sh.layout(), &to, id)
                })
                .await
                .and_then(|r| r.map_err(ServerError::from));
                if let Err(e) = repaired {
                    conn.session(|s| s.delivery_opened(None));
                    return Err(e);
                }
            }
            conn.shared.take_over(id, &conn.connection, conn.peer);
            (Some(id), Response::Began { id, resumed })
        }
        Ok(Found::Store(Opening::NoRoom)) => {
            (None, refuse("recipient's mailbox full", "the recipient's mailbox has no room for this delivery"))
        }
        Ok(Found::Store(Opening::NoRoomAnyMore { id })) => {
            info!(peer = %conn.peer, event = "quota", id, "resume refused: the recipient's mailbox is full past the hold");
            conn.record(
                conn.activity(Kind::Request)
                    .bytes(want.bytes)
                    .detail(format_args!("resume of {id} refused: recipient's mailbox full past the hold")),
            );
            let hold = crate::clock::format_duration(limits.recipient_hold_secs);
            let text = format_args!(
                "the recipient's mailbox has no room for this delivery now (an unfinished send holds room there \
                 for {hold} only); try again later, or abandon unfinished delivery {id} (qxfer pending drop)"
            );
            (None, error_reply(ErrorCode::Limit, text))
        }
        Ok(Found::Store(Opening::SpoolFull)) => (
            None,
            refuse(
                "sender's unfinished deliveries over quota",
                "your unfinished deliveries already hold your quota; finish them, or wait for them to expire",
            ),
        ),
        Ok(Found::Store(Opening::DailyLimit { per_day })) => {
            info!(peer = %conn.peer, event = "quota", "delivery refused: a new account's deliveries for today are sent");
            conn.record(
                conn.activity(Kind::Request).detail("delivery refused: a self-registered account's deliveries a day"),
            );
            (
                None,
                error_reply(
                    ErrorCode::Limit,
                    format_args!(
                        "this account may send {per_day} deliveries a day (a self-registered account's limit); \
                         try again tomorrow"
                    ),
                ),
            )
        }
        Ok(Found::Store(Opening::Mismatch)) => {
            // The real client's resume key covers recipient and sizes: only a forged Begin
            // asks for more than its delivery reserved.
            let close = conn.violation(&"a resume asked for more than its delivery reserved");
            conn.session(|s| s.delivery_opened(None));
            return Ok(Outcome::reply(error_reply(ErrorCode::BadRequest, "this resume does not match its delivery"))
                .close(close));
        }
        Ok(Found::Store(Opening::Delivered { id, time })) => {
            info!(peer = %conn.peer, id, event = "already_delivered", "a retried send was committed before");
            (None, Response::Delivered { id, time })
        }
        Ok(Found::LowDisk) => {
            (None, refuse("low disk", "the listener is low on disk space; try again later or send less"))
        }
        Ok(Found::NoRecipient) => (None, error_reply(ErrorCode::NotFound, format_args!("no such recipient: {to}"))),
        Ok(Found::NoFurther(name)) => {
            (None, error_reply(ErrorCode::NotFound, format_args!("no such recipient: {name}")))
        }
        Ok(Found::NoRoomFurther(name)) => {
            info!(peer = %conn.peer, event = "quota", "delivery refused: a further recipient's mailbox is full");
            (None, error_reply(ErrorCode::Limit, format_args!("{name}'s mailbox has no room for this delivery")))
        }
        Err(e) => {
            // The session learns that nothing opened before the failure is reported.
            conn.session(|s| s.delivery_opened(None));
            return Err(e);
        }
    };
    conn.session(|s| s.delivery_opened(id.map(|id| (id, to))));
    Ok(Outcome::reply(reply))
}

/// Bytes free for this process on the file system holding `dir`.
fn free_disk(dir: &std::path::Path) -> Option<u64> {
    let st = rustix::fs::statvfs(dir).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}
