//! Reading and tidying the caller's mailbox on the control stream: the listing (paged,
//! bounded, in order), one delivery opened (its envelope, recipients and files), whether
//! one delivery is still unseen, deleting deliveries and marking them seen.

use super::control::{unexpected, Client};
use super::error::{ClientError, Result};
use crate::wire::{Attachment, Envelope, FileMeta, Refusal, Request, Response, Summary};

/// Most deliveries `inbox` accepts from a listener (a listing is kept in memory).
pub const MAX_LISTED: usize = 100_000;

/// One delivery of the mailbox, opened.
#[derive(Debug, Clone)]
pub struct Opened {
    pub envelope: Envelope,
    /// Every account it was sent to, in its sender's order (empty from a listener older
    /// than qxfer/6: then the envelope's `to` is all that is known).
    pub recipients: Vec<String>,
    /// Its files, each with its mode and time when the sender sent them.
    pub files: Vec<(Attachment, Option<FileMeta>)>,
}

impl Client {
    /// A delivery's envelope, every recipient it was sent to, and all its attachments.
    pub async fn open(&mut self, id: u64) -> Result<Opened> {
        let mut all = Vec::new();
        let mut first_recipients = None;
        loop {
            let from = u32::try_from(all.len())
                .map_err(|_| ClientError::Protocol("the listener listed too many attachments".into()))?;
            let (envelope, recipients, attachments, meta, more) = if self.v6 {
                match self.call(&Request::OpenAll { id, from }).await? {
                    Response::EnvelopeAll { envelope, recipients, attachments, meta, more } => {
                        (envelope, recipients, attachments, meta, more)
                    }
                    r => return Err(unexpected(&r)),
                }
            } else {
                match self.call(&Request::OpenMeta { id, from }).await? {
                    Response::EnvelopeMeta { envelope, attachments, meta, more } => {
                        (envelope, Vec::new(), attachments, meta, more)
                    }
                    r => return Err(unexpected(&r)),
                }
            };
            // What a listener says is checked against what it said before: the delivery
            // asked for, and no more files than its envelope declares.
            if envelope.id != id {
                return Err(ClientError::Protocol(format!("asked for delivery {id}, got {}", envelope.id)));
            }
            let recipients = first_recipients.get_or_insert(recipients).clone();
            let got = attachments.len();
            all.extend(attachments.into_iter().zip(meta));
            if all.len() > envelope.files as usize {
                return Err(ClientError::Protocol(format!(
                    "the listener listed more files than delivery {id} holds ({})",
                    envelope.files
                )));
            }
            if !more || got == 0 || all.len() == envelope.files as usize {
                return Ok(Opened { envelope, recipients, files: all });
            }
        }
    }

    /// All deliveries in the caller's mailbox (only those not yet seen, with `unseen`).
    pub async fn inbox(&mut self, unseen: bool) -> Result<Vec<Summary>> {
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let req = if unseen { Request::Unseen { after } } else { Request::Inbox { after } };
            match self.call(&req).await? {
                Response::InboxPage { items, more } => {
                    let last = items.last().map(|s| s.id);
                    // Ids only go up, and the listing has a cap: a listener cannot keep the
                    // client paging forever or fill its memory.
                    if items.iter().any(|s| s.id <= after) {
                        return Err(ClientError::Protocol("the listener listed deliveries out of order".into()));
                    }
                    all.extend(items);
                    if all.len() > MAX_LISTED {
                        return Err(ClientError::Protocol(format!(
                            "the listener listed more than {MAX_LISTED} deliveries; stopping"
                        )));
                    }
                    match (more, last) {
                        (true, Some(id)) if id > after => after = id,
                        _ => return Ok(all),
                    }
                }
                other_reply => return Err(unexpected(&other_reply)),
            }
        }
    }

    /// Whether delivery `id` is in the caller's mailbox and not yet fetched or read (one
    /// page of the unseen listing, starting at it).
    pub async fn is_unseen(&mut self, id: u64) -> Result<bool> {
        match self.call(&Request::Unseen { after: id.saturating_sub(1) }).await? {
            Response::InboxPage { items, .. } => Ok(items.first().is_some_and(|s| s.id == id)),
            other_reply => Err(unexpected(&other_reply)),
        }
    }

    /// Delete deliveries from the caller's mailbox; returns those deleted (the others were
    /// not in it).
    pub async fn delete(&mut self, ids: &[u64]) -> Result<Vec<u64>> {
        self.affect(ids, |ids| Request::Delete { ids }).await
    }

    /// Delete what may go of these deliveries: returns those deleted and those the listener
    /// kept, with why (the others were not in the mailbox). A listener older than qxfer/6
    /// deletes all or none of them: its refusal is an error, as before.
    pub async fn delete_each(&mut self, ids: &[u64]) -> Result<(Vec<u64>, Vec<Refusal>)> {
        if !self.v6 {
            return Ok((self.delete(ids).await?, Vec::new()));
        }
        let (mut done, mut kept) = (Vec::new(), Vec::new());
        for chunk in ids.chunks(crate::wire::MAX_PAGE) {
            match self.call(&Request::DeleteEach { ids: chunk.to_vec() }).await? {
                // Only ids that were asked for count, each once.
                Response::DeleteReport { deleted, refused } => {
                    done.extend(deleted.into_iter().filter(|id| chunk.contains(id)));
                    kept.extend(refused.into_iter().filter(|r| chunk.contains(&r.id) && !done.contains(&r.id)));
                }
                r => return Err(unexpected(&r)),
            }
        }
        done.dedup();
        kept.dedup_by_key(|r| r.id);
        Ok((done, kept))
    }

    /// Mark deliveries seen (fetched or read); returns those marked.
    pub async fn mark_seen(&mut self, ids: &[u64]) -> Result<Vec<u64>> {
        self.affect(ids, |ids| Request::MarkSeen { ids }).await
    }

    async fn affect(&mut self, ids: &[u64], req: impl Fn(Vec<u64>) -> Request) -> Result<Vec<u64>> {
        let mut done = Vec::new();
        for chunk in ids.chunks(crate::wire::MAX_PAGE) {
            match self.call(&req(chunk.to_vec())).await? {
                // Only ids that were asked for count: a listener cannot make the client
                // report others.
                Response::Affected { ids } => done.extend(ids.into_iter().filter(|id| chunk.contains(id))),
                r => return Err(unexpected(&r)),
            }
        }
        Ok(done)
    }
}
