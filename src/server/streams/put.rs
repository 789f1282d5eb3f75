//! An upload stream: the session accepts it (the file is declared, not busy, the offset is
//! what the listener holds), then exactly the file's remaining bytes are written to its
//! partial name, verified against the sender's BLAKE3 hash, and renamed into the spool.
//! What arrived before a failure is kept for a resume.

use crate::server::Shared;
use std::sync::Arc;

use quinn::RecvStream;
use tracing::warn;

use crate::files;
use crate::policy::activity::Kind;
use crate::server::conn::Conn;
use crate::server::counters::Counters;
use crate::server::outcome::Outcome;
use crate::server::upload_slots::{Progress, UploadSlot};
use crate::session::{Held, PutPlan};
use crate::transport::body::{self, BodyError, Receive};
use crate::transport::stream_code;
use crate::wire::{clean_error_text, ErrorCode, PutReply};

/// Files at least this large are synced as they complete, on their writer thread, so the
/// commit's one filesystem sync has little left to do.
const SYNC_ON_CLOSE: u64 = 1 << 20;
/// How long an upload waits for another connection's writer of the same file.
const PART_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

fn refused(code: ErrorCode, message: &str) -> PutReply {
    PutReply::Error { code, message: clean_error_text(message) }
}

pub(super) async fn handle(
    conn: &Arc<Conn>,
    recv: &mut RecvStream,
    id: u64,
    index: u32,
    offset: u64,
) -> Outcome<PutReply> {
    let plan = match conn.session(|s| s.begin_put(id, index, offset)) {
        Ok(p) => p,
        Err(v) => {
            let close = conn.violation(&format_args!("upload refused: {v}"));
            return Outcome::reply(refused(ErrorCode::BadRequest, &v.to_string()))
                .stop(stream_code::REFUSED)
                .close(close);
        }
    };
    // A disk slot first (shared fairly; an account at its cap is refused at once), waiting
    // at most a progress window when none is free.
    let wait = std::time::Duration::from_secs(conn.shared.limits().progress_window_secs);
    let user = conn.user().unwrap_or_default();
    let (slot, mut stop) = match conn.shared.upload_slot(conn.peer.ip(), &user, true, wait).await {
        Ok(held) => held,
        Err(no) => {
            conn.session(|s| s.end_put(index, Held::Partial { bytes: offset }));
            // Heavy use, not an offence: recorded, never scored.
            conn.record(conn.activity(Kind::Request).detail(format!("upload refused: no disk slot ({no:?})")));
            let words = no.words(conn.shared.limits().max_uploads_per_account);
            return Outcome::reply(refused(ErrorCode::Limit, &words)).stop(stream_code::REFUSED);
        }
    };
    let part = conn.shared.layout().part(id, &plan.path);
    if plan.replace {
        // The sender's file changed since it was stored: the old copy goes first (off the
        // async thread: unlinking gigabytes takes a while).
        let staged = conn.shared.layout().staged(id, &plan.path);
        let _ = Shared::blocking(move || std::fs::remove_file(staged)).await;
    }
    // Stopped if its slot goes to an account with fewer: what arrived is kept for a resume.
    let outcome = tokio::select! {
        received = receive(conn, recv, &part, &plan, (slot, stop.progress())) => received,
        () = stop.stopped() => {
            conn.session(|s| s.end_put(index, Held::Partial { bytes: offset }));
            conn.record(conn.activity(Kind::Request).detail("upload stopped: its disk slot went to a fairer account"));
            let message = "the listener gave this upload's disk slot to an account holding fewer (this one held \
                           more than its share); what arrived is kept: run the same command again to resume";
            return Outcome::reply(refused(ErrorCode::Limit, message)).stop(stream_code::REFUSED);
        }
    };
    let (held, outcome) = match outcome {
        Ok(received) => {
            let hash = received.hash;
            let held = Held::Complete { hash, media_type: files::media_type_of(&received.head) };
            (held, Outcome::reply(PutReply::Stored { hash }))
        }
        Err(BodyError::Store(e)) => {
            // The name collides with a file or directory of the same delivery.
            let p = part.clone();
            let _ = Shared::blocking(move || std::fs::remove_file(p)).await;
            let message = format!("cannot store {}: {e}", plan.path);
            (Held::Partial { bytes: 0 }, Outcome::reply(refused(ErrorCode::BadRequest, &message)))
        }
        Err(e) => {
            let keep = matches!(e, BodyError::Short { .. } | BodyError::Read(_) | BodyError::TooSlow { .. });
            let held = if keep { files::len_or_zero(&part) } else { 0 };
            if !keep {
                let p = part.clone();
                let _ = Shared::blocking(move || std::fs::remove_file(p)).await;
            }
            let code = if matches!(e, BodyError::Io(_)) { ErrorCode::Internal } else { ErrorCode::Integrity };
            let mut outcome = Outcome::reply(refused(code, &e.to_string()));
            match e {
                BodyError::TooSlow { .. } => {
                    outcome = outcome.stop(stream_code::TOO_SLOW).close(Some(conn.too_slow(&e)));
                }
                BodyError::TooLong => {
                    let close = conn.violation(&format_args!("file {} longer than declared", plan.path));
                    outcome = outcome.stop(stream_code::TOO_LONG).close(close);
                }
                BodyError::HashMismatch => {
                    warn!(peer = %conn.peer, event = "integrity", path = %plan.path, "hash mismatch; partial file discarded");
                }
                _ => {}
            }
            (Held::Partial { bytes: held }, outcome)
        }
    };
    conn.session(|s| s.end_put(index, held));
    outcome
}

async fn receive(
    conn: &Arc<Conn>,
    recv: &mut RecvStream,
    part: &std::path::Path,
    plan: &PutPlan,
    (slot, progress): (UploadSlot, Progress),
) -> Result<body::Received, BodyError> {
    // Wait (bounded) for a superseded connection's writer to finish with this file.
    let lock = conn.shared.part_lock(part);
    let guard = tokio::time::timeout(PART_LOCK_WAIT, lock.lock_owned())
        .await
        .map_err(|_| BodyError::Io(std::io::Error::other("the file is still being written by another connection")))?;
    // What a superseded writer flushed after our offset was chosen is cut off by the writer.
    let counters: &Counters = conn.shared.counters();
    let mut on_bytes = |n: u64| {
        counters.bytes_received.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        progress.now();
    };
    let job = Receive {
        part,
        dest: Some(conn.shared.layout().staged(plan.id, &plan.path)),
        offset: plan.offset,
        len: plan.size - plan.offset,
        sync: plan.size >= SYNC_ON_CLOSE,
        hold: (guard, slot),
        min_rate: Some(conn.min_transfer_rate()),
        file: None,
    };
    body::receive_file(recv, job, &mut on_bytes).await
}
