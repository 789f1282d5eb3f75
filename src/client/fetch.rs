//! `qxfer fetch`: read a delivery's envelope, write its text beside the output folder, and
//! download its files over parallel streams, each into a partial file that is verified
//! against the listener's recorded hash and renamed into place without replacing anything.
//! Run again after an interruption, it continues each partial file.
//!
//! Output layout under `-o DIR`: `DIR/<id>/<path>` for files, `DIR/<id>.txt` for the
//! message (headers, blank line, body) when the delivery has a subject or body.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::Semaphore;

use super::control::{Client, REPLY_WAIT};
use super::error::{local, lost, ClientError, Result, Tally};
use super::events::{Event, Events};
use super::mailbox::Opened;
use super::outdir::Dir;
use super::streams::{MIN_RATE, PARALLEL_STREAMS};
use crate::files;
use crate::transport::body;
use crate::transport::framed;
use crate::wire::names::PARTIAL_SUFFIX;
use crate::wire::{Attachment, Envelope, FileMeta, GetReply, StreamHead};

#[derive(Debug, Clone, serde::Serialize)]
pub struct FetchedFile {
    pub path: PathBuf,
    pub size: u64,
    pub hash: String,
    pub media_type: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct FetchReport {
    pub id: u64,
    pub from: String,
    pub subject: Option<String>,
    /// Where the message's text was written (`DIR/<id>.txt`), if it has one.
    pub message: Option<PathBuf>,
    /// The message's text itself (headers, blank line, body), if it has one.
    pub text: Option<String>,
    pub files: Vec<FetchedFile>,
    /// Bytes downloaded by this run.
    pub downloaded: u64,
    /// Partial files from an interrupted fetch were continued.
    pub resumed: bool,
    /// Bytes those partial files already held (not downloaded again).
    pub held: u64,
    /// Files left as they were because a different file had their name (`--skip-existing`).
    pub kept: Vec<PathBuf>,
}

/// What fetch does when a file with other content already has a delivered file's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Conflict {
    /// Fail this delivery (its other files are still fetched).
    #[default]
    Fail,
    /// Leave the existing file and go on.
    Skip,
    /// Replace it once the new file is verified.
    Overwrite,
}

impl Client {
    pub async fn fetch(&mut self, id: u64, out: &Path, conflict: Conflict, events: Events) -> Result<FetchReport> {
        let Opened { envelope, recipients, files: attachments } = self.open(id).await?;
        let umask = process_umask();
        // Everything below `out` is written through directory handles, never following a
        // link (`outdir`).
        let out_dir = Dir::root(out)?;
        let mut kept = Vec::new();
        let (message, text) = if envelope.subject.is_some() || envelope.body.is_some() {
            let text = message_text(&envelope, &recipients);
            // What a fetch before the recipients were listed wrote is this message too.
            let earlier = (recipients.len() > 1).then(|| message_text(&envelope, &[]));
            match write_message(&out_dir, id, &text, earlier.as_deref(), conflict)? {
                Written::Kept(path) => {
                    kept.push(path.clone());
                    (Some(path), Some(text))
                }
                Written::Done(path) => (Some(path), Some(text)),
            }
        } else {
            (None, None)
        };
        let id_dir = id.to_string();
        let root = out.join(&id_dir);
        let total = attachments.iter().fold(0u64, |sum, (a, _)| sum.saturating_add(a.size));
        events(Event::Start { files: attachments.len() as u64, bytes: total, done: 0 });
        let slots = Arc::new(Semaphore::new(PARALLEL_STREAMS));
        let mut tasks = tokio::task::JoinSet::new();
        for (index, (att, meta)) in attachments.iter().cloned().enumerate() {
            let Ok(permit) = slots.clone().acquire_owned().await else { break };
            let conn = self.connection().clone();
            let events = events.clone();
            let mut components: Vec<&str> = att.path.split('/').filter(|c| !c.is_empty()).collect();
            let name = components.pop().unwrap_or_default().to_owned();
            let dir = out_dir.subdirs(std::iter::once(id_dir.as_str()).chain(components))?;
            tasks.spawn(async move {
                let _permit = permit;
                // The sender's mode (never set-id or sticky bits, always readable and
                // writable by you) and time, given to the verified file before it is renamed
                // into place.
                let meta = meta.map(|m| FileMeta { mode: (m.mode & 0o777 & !umask) | 0o600, mtime: m.mtime });
                download(&conn, id, index as u32, &att, &dir, &name, conflict, meta, &events).await
            });
        }
        let mut tally = Tally::default();
        let mut held = 0u64;
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(Ok(Got::Kept(path))) => kept.push(path),
                Ok(Ok(Got::Bytes { downloaded, resumed_from })) => {
                    held = held.saturating_add(resumed_from);
                    tally.add(Ok(Ok(downloaded)))
                }
                Ok(Err(e)) => tally.add(Ok(Err(e))),
                Err(e) => tally.add(Err(e)),
            }
        }
        events(Event::Finish);
        let downloaded = tally.finish()?;
        let files = attachments
            .iter()
            .map(|(a, _)| FetchedFile {
                path: files::join_validated(&root, &a.path),
                size: a.size,
                hash: hex::encode(a.hash),
                media_type: a.media_type.clone(),
            })
            .collect();
        Ok(FetchReport {
            id,
            from: envelope.from,
            subject: envelope.subject,
            message,
            text,
            files,
            downloaded,
            resumed: held > 0,
            held,
            kept,
        })
    }
}

/// This process's umask, read without changing it (setting it to read it would race with
/// files other threads create): `/proc/self/status`, else the usual 022.
fn process_umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Umask:").map(|v| v.trim().to_owned())))
        .and_then(|v| u32::from_str_radix(&v, 8).ok())
        .unwrap_or(0o022)
}

/// What writing one file came to.
enum Written {
    Done(PathBuf),
    /// A different file has the name and `--skip-existing` left it.
    Kept(PathBuf),
}

/// What one download came to.
enum Got {
    /// Bytes downloaded, and those a partial file already held.
    Bytes {
        downloaded: u64,
        resumed_from: u64,
    },
    Kept(PathBuf),
}

/// A message as `fetch` writes it and `read` prints it: headers (`To:` every recipient it
/// was sent to, else its envelope's), a blank line, the body.
pub fn message_text(e: &Envelope, recipients: &[String]) -> String {
    let to = if recipients.is_empty() { e.to.clone() } else { recipients.join(", ") };
    let mut text = format!("From: {}\nTo: {to}\nDate: {}\n", e.from, crate::clock::format_time(e.time));
    if let Some(s) = &e.subject {
        text.push_str(&format!("Subject: {s}\n"));
    }
    text.push('\n');
    if let Some(b) = &e.body {
        text.push_str(b);
        if !b.ends_with('\n') {
            text.push('\n');
        }
    }
    text
}

/// `OUT/ID.txt`, named from the id the user asked for (`open` checked the listener's).
/// A file there with `text`, or with `earlier` (the same message as an older client wrote
/// it), is this message already.
fn write_message(out: &Dir, id: u64, text: &str, earlier: Option<&str>, conflict: Conflict) -> Result<Written> {
    let name = format!("{id}.txt");
    let path = out.path().join(&name);
    let mut replace = false;
    let existing = match out.existing(&name) {
        Err(ClientError::Refused { .. }) if conflict == Conflict::Overwrite => {
            replace = true;
            None
        }
        other => other?,
    };
    if let Some(mut existing) = existing {
        let mut have = String::new();
        let _ = existing.read_to_string(&mut have);
        if have == text || earlier == Some(have.as_str()) {
            return Ok(Written::Done(path));
        }
        match conflict {
            Conflict::Fail => return Err(ClientError::Exists(path)),
            Conflict::Skip => return Ok(Written::Kept(path)),
            Conflict::Overwrite => replace = true,
        }
    }
    let tmp = format!(".{name}{PARTIAL_SUFFIX}");
    out.remove(&tmp);
    let mut f = out.create_new(&tmp)?;
    f.write_all(text.as_bytes()).map_err(local("writing", &path))?;
    if replace {
        out.rename_replace(&tmp, &name)?;
    } else {
        out.rename_no_replace(&tmp, &name)?;
    }
    Ok(Written::Done(path))
}

#[allow(clippy::too_many_arguments)]
async fn download(
    conn: &quinn::Connection,
    id: u64,
    index: u32,
    att: &Attachment,
    dir: &Dir,
    name: &str,
    conflict: Conflict,
    meta: Option<FileMeta>,
    events: &Events,
) -> Result<Got> {
    let dest = dir.path().join(name);
    let mut replace = false;
    let existing = match dir.existing(name) {
        // --overwrite replaces a link or special file there by name; it never writes
        // through it.
        Err(ClientError::Refused { .. }) if conflict == Conflict::Overwrite => {
            replace = true;
            None
        }
        other => other?,
    };
    if let Some(file) = existing {
        let (len, hash) =
            tokio::task::spawn_blocking(move || files::hash_reader(file)).await?.map_err(local("reading", &dest))?;
        if len == att.size && hash == att.hash {
            events(Event::FileStart { index, path: att.path.clone(), size: att.size, offset: att.size });
            events(Event::FileDone { index });
            return Ok(Got::Bytes { downloaded: 0, resumed_from: 0 });
        }
        match conflict {
            Conflict::Fail => return Err(ClientError::Exists(dest)),
            Conflict::Skip => return Ok(Got::Kept(dest)),
            Conflict::Overwrite => replace = true,
        }
    }
    let part = format!(".{name}{PARTIAL_SUFFIX}");
    let (file, held) = dir.partial(&part)?;
    let mut offset = if held > att.size { 0 } else { held };
    match get_into(conn, id, index, att, dir, &part, file, offset, events).await {
        Err(ClientError::Integrity { .. }) if offset > 0 => {
            // The partial file did not match: start it over.
            let (file, _) = dir.partial(&part)?;
            get_into(conn, id, index, att, dir, &part, file, 0, events).await?;
            offset = 0;
        }
        other_result => {
            other_result?;
        }
    }
    if let Some(m) = meta {
        // A file system without Unix modes (vfat) keeps the file as it is: a warning.
        if let Err(e) = dir.apply_meta(&part, m.mode, m.mtime) {
            tracing::warn!("{e}");
        }
    }
    // Only a verified file replaces anything, and the rename replaces the name itself.
    if replace {
        dir.rename_replace(&part, name)?;
    } else {
        dir.rename_no_replace(&part, name)?;
    }
    events(Event::FileDone { index });
    Ok(Got::Bytes { downloaded: att.size - offset, resumed_from: offset })
}

#[allow(clippy::too_many_arguments)]
async fn get_into(
    conn: &quinn::Connection,
    id: u64,
    index: u32,
    att: &Attachment,
    dir: &Dir,
    part: &str,
    file: std::fs::File,
    offset: u64,
    events: &Events,
) -> Result<()> {
    let part_path = dir.path().join(part);
    let (mut send, mut recv) = tokio::time::timeout(REPLY_WAIT, conn.open_bi())
        .await
        .map_err(|_| ClientError::Lost("the listener allowed no new stream in time".into()))?
        .map_err(lost)?;
    framed::write_frame(&mut send, &StreamHead::Get { id, index, offset }).await.map_err(lost)?;
    let _ = send.finish();
    let reply = tokio::time::timeout(REPLY_WAIT, framed::read_frame::<GetReply>(&mut recv))
        .await
        .map_err(|_| ClientError::Lost(format!("the listener did not answer for {} in time", att.path)))?;
    let len = match reply.map_err(lost)? {
        Some(GetReply::Ready { len }) if offset.checked_add(len) == Some(att.size) => len,
        Some(GetReply::Ready { .. }) => {
            return Err(ClientError::Protocol(format!("the listener offered the wrong length for {}", att.path)))
        }
        Some(GetReply::Error { code, message }) => return Err(ClientError::Remote { code, message }),
        None => return Err(ClientError::Lost(format!("the listener closed the stream for {}", att.path))),
    };
    events(Event::FileStart { index, path: att.path.clone(), size: att.size, offset });
    let mut on_bytes = |n: u64| events(Event::Bytes { index, n });
    let hash = match body::receive_file(
        &mut recv,
        body::Receive {
            part: &part_path,
            dest: None,
            offset,
            len,
            sync: true,
            hold: (),
            min_rate: Some(MIN_RATE),
            file: Some(file),
        },
        &mut on_bytes,
    )
    .await
    {
        Ok(r) => r.hash,
        Err(body::BodyError::HashMismatch) => {
            dir.remove(part);
            return Err(ClientError::Integrity { path: att.path.clone() });
        }
        Err(e) => return Err(ClientError::Lost(format!("receiving {}: {e}", att.path))),
    };
    if hash != att.hash {
        dir.remove(part);
        return Err(ClientError::Integrity { path: att.path.clone() });
    }
    Ok(())
}
