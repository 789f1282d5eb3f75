//! What the listener does for each accepted request and file stream. The session has already
//! decided the request is allowed; these functions do the I/O (database on the blocking pool,
//! files) and build the reply.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use quinn::{RecvStream, SendStream};
use tracing::{debug, info, warn};

use super::connection::{read_head, Conn};
use super::{now, Shared};
use crate::accounts;
use crate::files;
use crate::policy::activity::Kind;
use crate::session::{CommitPlan, Held, Step, Violation};
use crate::store::{StoreError, Stored};
use crate::transport::body::{self, BodyError};
use crate::transport::framed::{self, FrameError};
use crate::transport::{close, stream_code};
use crate::wire::{
    clean_error_text, Attachment, Credential, Envelope, ErrorCode, GetReply, Hash, PutReply, Request, Response,
    StreamHead, MAX_FRAME, MAX_PAGE,
};

/// Frame budget for pages: leave room for the envelope around the items.
const PAGE_BUDGET: usize = MAX_FRAME / 2;

fn error(code: ErrorCode, message: impl std::fmt::Display) -> Response {
    Response::Error { code, message: clean_error_text(&message.to_string()) }
}

fn internal(peer: std::net::SocketAddr, e: impl std::fmt::Display) -> Response {
    warn!(%peer, event = "internal_error", "{e}");
    error(ErrorCode::Internal, "internal server error; try again")
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    tokio::task::spawn_blocking(f).await.map_err(|e| e.to_string())
}

/// Debug builds only: a request from the account named in `QXFER_FAULT_PANIC_USER` panics,
/// so the tests can prove a panic costs only its own connection. Release builds have no hook.
#[cfg(debug_assertions)]
fn fault_injection(conn: &Conn) {
    if let Some(victim) = std::env::var_os("QXFER_FAULT_PANIC_USER") {
        if conn.session(|s| s.user().map(str::to_owned)).is_some_and(|u| victim == *u) {
            panic!("injected fault for the tests");
        }
    }
}

#[cfg(not(debug_assertions))]
fn fault_injection(_: &Conn) {}

enum BeginOutcome {
    NoRecipient,
    NoRoom,
    Opened(u64, bool),
}

/// Per-address and per-account request limits; `Some(reply)` when over.
fn rate_limited(conn: &Conn) -> Option<Response> {
    let sh = &conn.shared;
    let ip_ok = sh.ip_rate.check_key(&conn.peer.ip()).is_ok();
    let account_ok = match conn.session(|s| s.user().map(str::to_owned)) {
        Some(user) => sh.account_rate.check_key(&user).is_ok(),
        None => true,
    };
    if ip_ok && account_ok {
        return None;
    }
    let n = sh.counters.rate_limited.fetch_add(1, Ordering::Relaxed);
    // One line per 100 refusals: a flood must not flood the log too.
    if n % 100 == 0 {
        warn!(peer = %conn.peer, event = "rate_limited", refused = n + 1, "request rate limit hit");
    }
    // A client that keeps going past the limit is misbehaving: it spends its violation
    // budget, and then its connection.
    conn.violation(&"request rate limit exceeded");
    Some(error(ErrorCode::Limit, "too many requests; slow down"))
}

/// Handle one control request.
pub(crate) async fn request(conn: &Arc<Conn>, req: Request) -> Response {
    if let Some(reply) = rate_limited(conn) {
        return reply;
    }
    fault_injection(conn);
    let (name, bytes) = match &req {
        Request::Login { .. } => ("login", 0),
        Request::Begin(b) => ("begin", b.bytes),
        Request::AddFiles { entries } => ("add_files", entries.len() as u64),
        Request::Commit => ("commit", 0),
        Request::Inbox { .. } => ("inbox", 0),
        Request::Open { .. } => ("open", 0),
    };
    conn.record(conn.activity(Kind::Request).bytes(bytes).detail(name));
    let step = conn.session(|s| s.on_request(&req));
    let step = match step {
        Ok(step) => step,
        Err(v) => {
            conn.violation(&format_args!("request refused: {v}"));
            if v == Violation::TooManyLogins {
                conn.close_after_reply(close::AUTH, "too many failed logins");
            }
            return error(ErrorCode::BadRequest, v);
        }
    };
    match (step, req) {
        (Step::Login, Request::Login { user, credential }) => login(conn, user, credential).await,
        (Step::Begin { user }, Request::Begin(begin)) => {
            let sh = conn.shared.clone();
            let to = begin.to.clone().unwrap_or_else(|| user.clone());
            let recipient = to.clone();
            let key = begin.resume_key;
            let declared = begin.bytes;
            let quota = conn.shared.config.limits.account_quota_bytes;
            let opened = blocking(move || -> Result<BeginOutcome, StoreError> {
                if !sh.store.user_exists(&recipient)? {
                    return Ok(BeginOutcome::NoRecipient);
                }
                // Refused before a byte flows: the recipient's mailbox must have room.
                if sh.store.mailbox_bytes(&recipient)?.saturating_add(declared) > quota {
                    return Ok(BeginOutcome::NoRoom);
                }
                sh.store.open_delivery(&user, &key, now()).map(|(id, resumed)| BeginOutcome::Opened(id, resumed))
            })
            .await;
            let (id, reply) = match opened {
                Ok(Ok(BeginOutcome::Opened(id, resumed))) => {
                    take_over(conn, id);
                    (Some(id), Response::Began { id, resumed })
                }
                Ok(Ok(BeginOutcome::NoRoom)) => {
                    info!(peer = %conn.peer, event = "quota", "delivery refused: recipient's mailbox is full");
                    conn.record(conn.activity(Kind::Limit).bytes(declared).detail("mailbox quota"));
                    (None, error(ErrorCode::Limit, "the recipient's mailbox has no room for this delivery"))
                }
                Ok(Ok(BeginOutcome::NoRecipient)) => (None, error(ErrorCode::NotFound, "no such recipient")),
                Ok(Err(e)) => (None, internal(conn.peer, e)),
                Err(e) => (None, internal(conn.peer, e)),
            };
            conn.session(|s| s.delivery_opened(id.map(|id| (id, to))));
            reply
        }
        (Step::AddFiles { id, first, .. }, Request::AddFiles { entries }) => {
            let layout = conn.shared.layout.clone();
            let sizes: Vec<(String, u64)> = entries.into_iter().map(|e| (e.path, e.size)).collect();
            let held = blocking(move || {
                sizes.iter().map(|(path, size)| held_for(&layout, id, path, *size)).collect::<Vec<_>>()
            })
            .await;
            let Ok(held) = held else {
                return internal(conn.peer, "lookup task failed");
            };
            let mut have = Vec::with_capacity(held.len());
            conn.session(|s| {
                for (i, h) in held.into_iter().enumerate() {
                    have.push(h.as_ref().err().copied());
                    s.set_have(first + i as u32, h);
                }
            });
            Response::FilesAdded { have }
        }
        (Step::Commit(plan), Request::Commit) => commit(conn, plan).await,
        (Step::Inbox { user, after }, Request::Inbox { .. }) => {
            let sh = conn.shared.clone();
            match blocking(move || sh.store.inbox(&user, after, MAX_PAGE)).await {
                Ok(Ok((mut items, mut more))) => {
                    let keep = fit_page(&items);
                    if keep < items.len() {
                        items.truncate(keep);
                        more = true;
                    }
                    Response::InboxPage { items, more }
                }
                Ok(Err(e)) => internal(conn.peer, e),
                Err(e) => internal(conn.peer, e),
            }
        }
        (Step::Open { user, id, from }, Request::Open { .. }) => {
            let sh = conn.shared.clone();
            match blocking(move || sh.store.delivery_for(&user, id)).await {
                Ok(Ok(Some(stored))) => {
                    let start = (from as usize).min(stored.attachments.len());
                    let rest = stored.attachments.get(start..).unwrap_or_default();
                    let page = rest.get(..rest.len().min(MAX_PAGE)).unwrap_or_default();
                    let keep = fit_page(page);
                    let attachments = page.get(..keep).unwrap_or_default().to_vec();
                    let more = start + keep < stored.attachments.len();
                    Response::Envelope { envelope: stored.envelope, attachments, more }
                }
                Ok(Ok(None)) => {
                    info!(peer = %conn.peer, event = "not_found", id, "open of a delivery not in the caller's mailbox");
                    conn.record(conn.activity(Kind::Probe).detail(format_args!("open {id}")));
                    error(ErrorCode::NotFound, format_args!("no delivery {id} in your mailbox"))
                }
                Ok(Err(e)) => internal(conn.peer, e),
                Err(e) => internal(conn.peer, e),
            }
        }
        _ => internal(conn.peer, "session step does not match request"),
    }
}

/// Record that this connection now writes delivery `id`. A connection that held it before
/// (a killed client's, lingering until its idle timeout) is closed, so its writers stop.
fn take_over(conn: &Conn, id: u64) {
    let previous = match conn.shared.open_deliveries.lock() {
        Ok(mut map) => map.insert(id, conn.connection.clone()),
        Err(_) => None,
    };
    if let Some(old) = previous {
        if old.stable_id() != conn.connection.stable_id() {
            info!(peer = %conn.peer, id, event = "superseded", "a resumed send took over delivery {id}");
            old.close(close::SUPERSEDED.into(), b"delivery resumed on another connection");
        }
    }
}

fn release(conn: &Conn, id: u64) {
    if let Ok(mut map) = conn.shared.open_deliveries.lock() {
        if map.get(&id).is_some_and(|c| c.stable_id() == conn.connection.stable_id()) {
            map.remove(&id);
        }
    }
}

/// The lock that keeps a single writer on `part`.
fn part_lock(shared: &Shared, part: &std::path::Path) -> Arc<tokio::sync::Mutex<()>> {
    match shared.part_locks.lock() {
        Ok(mut map) => {
            // Forget locks nobody holds or waits for, so the map stays small.
            map.retain(|_, l| Arc::strong_count(l) > 1);
            map.entry(part.to_owned()).or_default().clone()
        }
        Err(_) => Arc::default(),
    }
}

/// How many leading items fit the page budget (at least one).
fn fit_page<T: serde::Serialize>(items: &[T]) -> usize {
    let mut used = 0usize;
    for (i, item) in items.iter().enumerate() {
        used += postcard::to_stdvec(item).map(|v| v.len()).unwrap_or(PAGE_BUDGET);
        if used > PAGE_BUDGET {
            return i.max(1);
        }
    }
    items.len()
}

/// What the listener already holds for one declared file: complete and verified (its hash
/// and media type), or the length of a partial file.
fn held_for(layout: &files::Layout, id: u64, path: &str, size: u64) -> Held {
    let staged = layout.staged(id, path);
    if let Ok((len, hash)) = files::hash_file(&staged) {
        if len == size {
            return Ok((hash, files::media_type(&staged)));
        }
        // A different file under the same name: start it over.
        let _ = std::fs::remove_file(&staged);
    }
    let part = layout.part(id, path);
    let held = files::len_or_zero(&part);
    if held > size {
        let _ = std::fs::remove_file(&part);
        return Err(0);
    }
    Err(held)
}

async fn login(conn: &Arc<Conn>, user: String, credential: Credential) -> Response {
    let sh = conn.shared.clone();
    let result = match credential {
        Credential::Token(token) => {
            let key = accounts::token_key(&token);
            let u = user.clone();
            blocking(move || {
                sh.store.token_user(&key, now()).map(|owner| (owner.as_deref() == Some(u.as_str()), None, true))
            })
            .await
        }
        Credential::Password(password) => {
            // Memory-hard hashing runs on the blocking pool, a bounded number at a time.
            let Ok(_slot) = conn.shared.hash_slots.acquire().await else {
                return internal(conn.peer, "hash slots closed");
            };
            let u = user.clone();
            blocking(move || -> Result<(bool, Option<[u8; 32]>, bool), StoreError> {
                let phc = sh.store.password_hash(&u)?;
                if !accounts::verify_password(phc.as_deref(), &password) {
                    return Ok((false, None, phc.is_some()));
                }
                let token = accounts::new_token().map_err(|_| StoreError::Corrupt("token"))?;
                sh.store.add_token(&accounts::token_key(&token), &u, now() + accounts::TOKEN_LIFETIME_SECS)?;
                Ok((true, Some(token), true))
            })
            .await
        }
    };
    match result {
        Ok(Ok((true, token, _))) => {
            conn.session(|s| s.logged_in(&user));
            conn.record(conn.activity(Kind::LoginOk).account(&user));
            crate::transport::endpoint::grant(&conn.connection, &conn.shared.config.limits.net());
            info!(peer = %conn.peer, %user, event = "login", "logged in");
            Response::LoggedIn { user, token }
        }
        Ok(Ok((false, _, known))) => {
            conn.shared.counters.auth_failures.fetch_add(1, Ordering::Relaxed);
            let kind = if known { Kind::LoginFailed } else { Kind::UnknownUser };
            conn.record(conn.activity(kind).account(&user));
            warn!(peer = %conn.peer, %user, event = "auth_failure", "login failed");
            // Slow down guessing; other connections are not held up.
            tokio::time::sleep(std::time::Duration::from_millis(conn.shared.config.limits.failed_login_delay_ms)).await;
            if conn.session(|s| s.login_failed()) {
                conn.close_after_reply(close::AUTH, "too many failed logins");
            }
            error(ErrorCode::AuthFailed, "wrong user name or password")
        }
        Ok(Err(e)) => internal(conn.peer, e),
        Err(e) => internal(conn.peer, e),
    }
}

async fn commit(conn: &Arc<Conn>, plan: CommitPlan) -> Response {
    let sh: Arc<Shared> = conn.shared.clone();
    let id = plan.id;
    let done = blocking(move || -> Result<(Stored, Hash), String> {
        let layout = &sh.layout;
        let staged = layout.staged_root(plan.id);
        let mut attachments = Vec::with_capacity(plan.files.len());
        let mut bytes = 0u64;
        for f in &plan.files {
            attachments.push(Attachment {
                path: f.path.clone(),
                size: f.size,
                hash: f.hash,
                media_type: f.media_type.clone(),
            });
            bytes = bytes.saturating_add(f.size);
        }
        if !plan.files.is_empty() {
            let dest = layout.delivery_dir(&plan.to, plan.id);
            std::fs::create_dir_all(layout.mailbox(&plan.to)).map_err(|e| e.to_string())?;
            files::rename_no_replace(&staged, &dest).map_err(|e| format!("moving delivery into the mailbox: {e}"))?;
            // One sync for all files and directory entries of the delivery.
            files::sync_filesystem(&dest).map_err(|e| e.to_string())?;
        }
        let _ = std::fs::remove_dir_all(layout.spool(plan.id));
        let envelope = Envelope {
            id: plan.id,
            from: plan.from,
            to: plan.to,
            time: now(),
            subject: plan.subject,
            body: plan.body,
            files: attachments.len() as u32,
            bytes,
        };
        Ok((Stored { envelope, attachments }, plan.resume_key))
    })
    .await;
    let (stored, key) = match done {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return internal(conn.peer, e),
        Err(e) => return internal(conn.peer, e),
    };
    let sh = conn.shared.clone();
    let time = stored.envelope.time;
    let (from, to, files, bytes) =
        (stored.envelope.from.clone(), stored.envelope.to.clone(), stored.envelope.files, stored.envelope.bytes);
    match blocking(move || sh.store.commit_delivery(&stored, &key)).await {
        Ok(Ok(())) => {
            release(conn, id);
            conn.shared.counters.deliveries.fetch_add(1, Ordering::Relaxed);
            info!(peer = %conn.peer, event = "delivery", id, %from, %to, files, bytes, "delivery committed");
            conn.record(conn.activity(Kind::Delivery).bytes(bytes).detail(format_args!("{id} to {to}, {files} files")));
            Response::Committed { id, time }
        }
        Ok(Err(e)) => internal(conn.peer, e),
        Err(e) => internal(conn.peer, e),
    }
}

/// Serve one file stream (upload or download).
pub(crate) async fn file_stream(conn: &Arc<Conn>, mut send: SendStream, mut recv: RecvStream) {
    let head = match read_head(&mut recv).await {
        Ok(h) => h,
        Err(e @ (FrameError::Decode(_) | FrameError::Body { .. })) => {
            conn.stream_violation(&format_args!("file stream head refused: {e}"));
            let _ = recv.stop(stream_code::REFUSED.into());
            let _ = send.reset(stream_code::REFUSED.into());
            return;
        }
        Err(e) => {
            debug!(peer = %conn.peer, "file stream ended before its head: {e}");
            return;
        }
    };
    match head {
        StreamHead::Put { id, index, offset } => put(conn, send, recv, id, index, offset).await,
        StreamHead::Get { id, index, offset } => {
            let _ = recv.stop(0u32.into());
            get(conn, send, id, index, offset).await
        }
    }
}

async fn put_reply(send: &mut SendStream, reply: PutReply) {
    let _ = framed::write_frame(send, &reply).await;
    let _ = send.finish();
}

async fn put(conn: &Arc<Conn>, mut send: SendStream, mut recv: RecvStream, id: u64, index: u32, offset: u64) {
    let plan = match conn.session(|s| s.begin_put(id, index, offset)) {
        Ok(p) => p,
        Err(v) => {
            conn.stream_violation(&format_args!("upload refused: {v}"));
            let _ = recv.stop(stream_code::REFUSED.into());
            put_reply(
                &mut send,
                PutReply::Error { code: ErrorCode::BadRequest, message: clean_error_text(&v.to_string()) },
            )
            .await;
            return;
        }
    };
    let layout = &conn.shared.layout;
    let part = layout.part(id, &plan.path);
    let dest = layout.staged(id, &plan.path);
    let outcome = receive_part(conn, &mut recv, &part, dest, plan.size, plan.offset).await;
    let result = match outcome {
        Ok(received) => Ok((received.hash, files::media_type_of(&received.head))),
        Err(BodyError::Store(e)) => {
            // The name collides with a file or directory of the same delivery.
            let _ = std::fs::remove_file(&part);
            Err((ErrorCode::BadRequest, format!("cannot store {}: {e}", plan.path), 0))
        }
        Err(e) => {
            let keep = matches!(e, BodyError::Short { .. } | BodyError::Read(_) | BodyError::TooSlow { .. });
            if let BodyError::TooSlow { .. } = e {
                let _ = recv.stop(stream_code::TOO_SLOW.into());
                too_slow(conn, &e);
            }
            if matches!(e, BodyError::TooLong) {
                let _ = recv.stop(stream_code::TOO_LONG.into());
                conn.stream_violation(&format_args!("file {} longer than declared", plan.path));
            } else if matches!(e, BodyError::HashMismatch) {
                warn!(peer = %conn.peer, event = "integrity", path = %plan.path, "hash mismatch; partial file discarded");
            }
            let held = if keep { files::len_or_zero(&part) } else { 0 };
            if !keep {
                let _ = std::fs::remove_file(&part);
            }
            let code = match e {
                BodyError::Io(_) => ErrorCode::Internal,
                _ => ErrorCode::Integrity,
            };
            Err((code, e.to_string(), held))
        }
    };
    match result {
        Ok((hash, media_type)) => {
            conn.session(|s| s.end_put(index, Ok((hash, media_type))));
            put_reply(&mut send, PutReply::Stored { hash }).await;
        }
        Err((code, message, held)) => {
            conn.session(|s| s.end_put(index, Err(held)));
            put_reply(&mut send, PutReply::Error { code, message: clean_error_text(&message) }).await;
        }
    }
}

fn min_rate(shared: &Shared) -> body::MinRate {
    body::MinRate {
        bytes_per_sec: shared.config.limits.min_transfer_rate,
        window: std::time::Duration::from_secs(shared.config.limits.progress_window_secs),
    }
}

/// A transfer slower than the minimum rate closes its connection.
fn too_slow(conn: &Conn, e: &BodyError) {
    conn.shared.counters.timeouts.fetch_add(1, Ordering::Relaxed);
    info!(peer = %conn.peer, event = "too_slow", "{e}; closing the connection");
    conn.record(conn.activity(Kind::Timeout).detail(e));
    conn.close(close::TIMEOUT, "transfer too slow");
}

/// Files at least this large are synced as they complete, on their writer thread, so the
/// commit's one filesystem sync has little left to do.
const SYNC_ON_CLOSE: u64 = 1 << 20;
/// How long an upload waits for another connection's writer of the same file.
const PART_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

async fn receive_part(
    conn: &Arc<Conn>,
    recv: &mut RecvStream,
    part: &std::path::Path,
    dest: std::path::PathBuf,
    size: u64,
    offset: u64,
) -> Result<body::Received, BodyError> {
    // Wait (bounded) for a superseded connection's writer to finish with this file.
    let lock = part_lock(&conn.shared, part);
    let guard = tokio::time::timeout(PART_LOCK_WAIT, lock.lock_owned())
        .await
        .map_err(|_| BodyError::Io(std::io::Error::other("the file is still being written by another connection")))?;
    // What a superseded writer flushed after our offset was chosen is cut off by the writer.
    let counters = &conn.shared.counters;
    let mut on_bytes = |n: u64| {
        counters.bytes_received.fetch_add(n, Ordering::Relaxed);
    };
    let min_rate = min_rate(&conn.shared);
    let sync = size >= SYNC_ON_CLOSE;
    body::receive_file(recv, part, Some(dest), offset, size - offset, sync, guard, Some(min_rate), &mut on_bytes).await
}

async fn get(conn: &Arc<Conn>, mut send: SendStream, id: u64, index: u32, offset: u64) {
    let user = match conn.session(|s| s.begin_get().map(str::to_owned)) {
        Ok(u) => u,
        Err(v) => {
            conn.stream_violation(&format_args!("download refused: {v}"));
            let _ = framed::write_frame(
                &mut send,
                &GetReply::Error { code: ErrorCode::BadRequest, message: v.to_string() },
            )
            .await;
            let _ = send.finish();
            return;
        }
    };
    let sh = conn.shared.clone();
    let u = user.clone();
    let found = blocking(move || sh.store.delivery_for(&u, id)).await;
    let attachment = match found {
        Ok(Ok(Some(stored))) => stored.attachments.get(index as usize).cloned(),
        _ => None,
    };
    let Some(att) = attachment.filter(|a| offset <= a.size) else {
        info!(peer = %conn.peer, event = "not_found", id, index, "download of a file not in the caller's mailbox");
        conn.record(conn.activity(Kind::Probe).detail(format_args!("get {id}/{index}")));
        let reply = GetReply::Error {
            code: ErrorCode::NotFound,
            message: format!("no file {index} in delivery {id} of your mailbox"),
        };
        let _ = framed::write_frame(&mut send, &reply).await;
        let _ = send.finish();
        return;
    };
    let path = files::join_validated(&conn.shared.layout.delivery_dir(&user, id), &att.path);
    let result = async {
        framed::write_frame(&mut send, &GetReply::Ready { len: att.size - offset }).await?;
        let counters = &conn.shared.counters;
        let mut on_bytes = |n: u64| {
            counters.bytes_sent.fetch_add(n, Ordering::Relaxed);
        };
        body::send_file(&mut send, &path, offset, att.size - offset, Some(min_rate(&conn.shared)), &mut on_bytes)
            .await?;
        send.finish().map_err(FrameError::from)?;
        Ok::<_, BodyError>(())
    }
    .await;
    if let Err(e) = result {
        if let BodyError::TooSlow { .. } = e {
            too_slow(conn, &e);
        }
        debug!(peer = %conn.peer, "download of {id}/{index} ended: {e}");
    }
}
