//! `qxfer send`: open (or resume) a delivery, declare its files in batches, upload the
//! missing parts over parallel streams, commit. Running the same send again after an
//! interruption continues each file from what the listener holds.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Semaphore;

use super::control::{unexpected, Client, REPLY_WAIT};
use super::error::{self, lost, ClientError, Result, Tally};
use super::events::{Event, Events};
use super::manifest::{LocalFile, Manifest};
use super::pending::Pending;
use super::streams::{MIN_RATE, PARALLEL_STREAMS};
use crate::transport::body;
use crate::transport::framed;
use crate::wire::{Begin, ErrorCode, FileEntry, Have, PutReply, Request, Response, StreamHead, MAX_ENTRIES_PER_FRAME};

/// Encoded size budget of one `AddFiles` frame.
const BATCH_BYTES: usize = 128 * 1024;
/// What a `FileEntry` and its `FileMeta` take besides the path's bytes, at most: the path's
/// length varint (3 bytes under `MAX_PATH`), the size and time varints (10 bytes each) and
/// the mode varint (3 bytes), rounded up.
const ENTRY_OVERHEAD: usize = 32;

/// What to send.
#[derive(Debug, Clone, Default)]
pub struct SendJob {
    pub to: Option<String>,
    /// Further recipients: one upload, a delivery for each.
    pub also: Vec<String>,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub manifest: Manifest,
}

/// What a finished send reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SendReport {
    pub id: u64,
    pub to: String,
    pub files: u64,
    pub bytes: u64,
    /// Bytes actually uploaded by this run (less than `bytes` after a resume).
    pub uploaded: u64,
    pub resumed: bool,
    /// A retry found the delivery already committed (the listener crashed after its commit,
    /// before its reply): nothing was sent again.
    pub already_delivered: bool,
    /// The further recipients' own deliveries.
    #[serde(skip)]
    pub copies: Vec<crate::wire::Copy>,
    /// Further recipients that got no delivery, and why.
    #[serde(skip)]
    pub missed: Vec<crate::wire::Missed>,
}

impl Client {
    pub async fn send(&mut self, job: &SendJob, events: Events) -> Result<SendReport> {
        let m = &job.manifest;
        let begin = Begin {
            to: job.to.clone(),
            subject: job.subject.clone(),
            body: job.body.clone(),
            files: u32::try_from(m.files.len())
                .map_err(|_| ClientError::Address("too many files for one delivery".into()))?,
            bytes: m.total_bytes(),
            resume_key: [0; 32],
        };
        // Several recipients are one send: all of them are part of what identifies it.
        let to_key = if job.also.is_empty() {
            job.to.clone()
        } else {
            Some(
                std::iter::once(job.to.clone().unwrap_or_default())
                    .chain(job.also.iter().cloned())
                    .collect::<Vec<_>>()
                    .join(","),
            )
        };
        let base = m.resume_key(to_key.as_deref(), job.subject.as_deref(), job.body.as_deref());
        let pending = Pending::new(&self.config_dir, &base);
        let begin = Begin { resume_key: pending.resume_key(&base)?, ..begin };
        let to = job.to.clone().unwrap_or_else(|| self.user().to_owned());
        let request = if job.also.is_empty() {
            Request::Begin(begin)
        } else {
            Request::BeginMany { begin, also: job.also.clone() }
        };
        let (id, resumed) = match self.call(&request).await? {
            Response::Began { id, resumed } => (id, resumed),
            Response::Delivered { id, .. } => {
                pending.done();
                let (files, bytes) = (m.files.len() as u64, m.total_bytes());
                return Ok(SendReport {
                    id,
                    to,
                    files,
                    bytes,
                    uploaded: 0,
                    resumed: true,
                    already_delivered: true,
                    copies: Vec::new(),
                    missed: Vec::new(),
                });
            }
            r => return Err(unexpected(&r)),
        };
        // Declare files in batches; learn what the listener already holds.
        let mut todo: Vec<(u32, u64)> = Vec::new();
        let mut complete: Vec<(u32, crate::wire::Hash)> = Vec::new();
        let entries = m.entries();
        let meta = m.meta();
        let mut start = 0usize;
        while start < entries.len() {
            let end = batch_end(&entries, start);
            let batch = entries.get(start..end).unwrap_or_default().to_vec();
            let batch_meta = meta.get(start..end).unwrap_or_default().to_vec();
            let have = match self.call(&Request::AddFilesMeta { entries: batch, meta: batch_meta }).await? {
                Response::FilesAdded { have } if have.len() == end - start => have,
                r => return Err(unexpected(&r)),
            };
            for (i, h) in have.into_iter().enumerate() {
                let index = (start + i) as u32;
                let size = m.files.get(index as usize).map_or(0, |f| f.size);
                match h {
                    Have::Partial(offset) if offset > size => {
                        return Err(ClientError::Protocol(format!(
                            "the listener says it holds {offset} bytes of a {size}-byte file"
                        )))
                    }
                    Have::Partial(offset) => todo.push((index, offset)),
                    Have::Complete(hash) => complete.push((index, hash)),
                }
            }
            start = end;
        }
        // What the listener holds is read again and hashed before anything new moves:
        // complete files here, a partial file's held part when its upload starts. Until
        // that is over the progress says "checking", not a rate.
        let held: u64 = todo.iter().map(|(_, offset)| offset).sum::<u64>()
            + complete.iter().map(|(i, _)| m.files.get(*i as usize).map_or(0, |f| f.size)).sum::<u64>();
        if held > 0 {
            events(Event::Checking { bytes: held });
        }
        // What the listener holds complete is checked against the files as they are now: a
        // file changed since the interrupted send (same size and time, as `cp -p` leaves
        // it) is sent again from the start.
        for (index, held) in complete {
            let file = m.files.get(index as usize).ok_or_else(|| ClientError::Protocol("unknown file index".into()))?;
            let path = file.local.clone();
            let (_, now) = tokio::task::spawn_blocking(move || crate::files::hash_file(&path))
                .await?
                .map_err(error::local("reading", &file.local))?;
            if now != held {
                todo.push((index, 0));
            }
        }
        let already: u64 = {
            let pending: u64 = todo.iter().map(|(i, off)| m.files[*i as usize].size - off).sum();
            m.total_bytes() - pending
        };
        // Files with a held part go first, so their checks run at once and end early.
        todo.sort_by_key(|(_, offset)| *offset == 0);
        let checks = todo.iter().filter(|(_, offset)| *offset > 0).count();
        if held > 0 && checks == 0 {
            events(Event::Checked);
        }
        events(Event::Start { files: m.files.len() as u64, bytes: m.total_bytes(), done: already });
        let uploaded = self.upload_all(id, &m.files, todo, checks, events.clone()).await?;
        events(Event::Finish);
        let (id, copies, missed) = match self.call(&Request::Commit).await? {
            Response::Committed { id, .. } => (id, Vec::new(), Vec::new()),
            // Only recipients that were asked for count.
            Response::CommittedMany { id, copies, missed, .. }
                if copies.iter().map(|c| &c.to).chain(missed.iter().map(|m| &m.to)).all(|t| job.also.contains(t)) =>
            {
                (id, copies, missed)
            }
            r => return Err(unexpected(&r)),
        };
        pending.done();
        let (files, bytes) = (m.files.len() as u64, m.total_bytes());
        Ok(SendReport { id, to, files, bytes, uploaded, resumed, already_delivered: false, copies, missed })
    }

    async fn upload_all(
        &self,
        id: u64,
        files: &[LocalFile],
        todo: Vec<(u32, u64)>,
        checks: usize,
        events: Events,
    ) -> Result<u64> {
        let checks = Arc::new(AtomicUsize::new(checks));
        let slots = Arc::new(Semaphore::new(PARALLEL_STREAMS));
        let mut tasks = tokio::task::JoinSet::new();
        let mut tally = Tally::default();
        for (index, offset) in todo {
            let Ok(permit) = slots.clone().acquire_owned().await else { break };
            let file = files[index as usize].clone();
            let conn = self.connection().clone();
            let events = events.clone();
            let check = (offset > 0).then(|| Check { left: checks.clone(), events: events.clone() });
            tasks.spawn(async move {
                let _permit = permit;
                let mut result = upload(&conn, id, index, &file, offset, check, &events).await;
                // A resumed prefix that no longer matches: the listener dropped it; start over.
                if offset > 0 {
                    if let Err(ClientError::Remote { code: ErrorCode::Integrity, .. }) = &result {
                        result = upload(&conn, id, index, &file, 0, None, &events).await;
                    }
                }
                result
            });
            while let Some(done) = tasks.try_join_next() {
                tally.add(done);
            }
            if tally.failed() {
                break;
            }
        }
        while let Some(done) = tasks.join_next().await {
            tally.add(done);
        }
        tally.finish()
    }
}

fn batch_end(entries: &[FileEntry], start: usize) -> usize {
    let mut used = 0usize;
    let mut end = start;
    while end < entries.len() && end - start < MAX_ENTRIES_PER_FRAME {
        used += entries[end].path.len() + ENTRY_OVERHEAD;
        if used > BATCH_BYTES && end > start {
            break;
        }
        end += 1;
    }
    end
}

/// One file's re-check of the part the listener holds: over at the file's first new byte
/// (or when its upload ends); the last check to end says so ([`Event::Checked`]).
struct Check {
    left: Arc<AtomicUsize>,
    events: Events,
}

impl Drop for Check {
    fn drop(&mut self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            (self.events)(Event::Checked);
        }
    }
}

async fn upload(
    conn: &quinn::Connection,
    id: u64,
    index: u32,
    file: &LocalFile,
    offset: u64,
    mut check: Option<Check>,
    events: &Events,
) -> Result<u64> {
    let (mut send, mut recv) = tokio::time::timeout(REPLY_WAIT, conn.open_bi())
        .await
        .map_err(|_| ClientError::Lost("the listener allowed no new stream in time".into()))?
        .map_err(lost)?;
    framed::write_frame(&mut send, &StreamHead::Put { id, index, offset }).await.map_err(lost)?;
    events(Event::FileStart { index, path: file.name.clone(), size: file.size, offset });
    let len = file.size - offset;
    // The held part is hashed before the first new byte leaves.
    let mut on_bytes = |n: u64| {
        check.take();
        events(Event::Bytes { index, n })
    };
    let sent = body::send_file(&mut send, &file.local, offset, len, Some(MIN_RATE), &mut on_bytes).await;
    if let Err(e) = sent {
        // The listener may have refused the stream; its reason is better than ours.
        let reply = tokio::time::timeout(REPLY_WAIT, framed::read_frame::<PutReply>(&mut recv)).await;
        if let Ok(Ok(Some(PutReply::Error { code, message }))) = reply {
            return Err(ClientError::Remote { code, message: format!("{}: {message}", file.name) });
        }
        return Err(ClientError::Lost(format!("sending {} ({}): {e}", file.name, file.local.display())));
    }
    send.finish().map_err(lost)?;
    let reply = tokio::time::timeout(REPLY_WAIT, framed::read_frame::<PutReply>(&mut recv))
        .await
        .map_err(|_| ClientError::Lost(format!("the listener did not confirm {} in time", file.name)))?;
    match reply {
        Ok(Some(PutReply::Stored { .. })) => {
            events(Event::FileDone { index });
            Ok(len)
        }
        Ok(Some(PutReply::Error { code, message })) => {
            Err(ClientError::Remote { code, message: format!("{}: {message}", file.name) })
        }
        Ok(None) => Err(ClientError::Lost(format!("the listener did not confirm {}", file.name))),
        Err(e) => Err(ClientError::Lost(format!("confirming {}: {e}", file.name))),
    }
}
