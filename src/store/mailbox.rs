//! Mailboxes: committed deliveries (envelope, files, each file's mode and time), each
//! account's mailbox and what in it is unseen, the bytes and files it holds and what
//! unfinished deliveries reserved in it (its room), and the listener's own notices. A
//! delivery enters a mailbox through `Tx::deliver`, in the transaction of whatever made it
//! (a commit, a copy, a notice).

use redb::ReadableTable;

use super::db::{Finish, Store, Tx, View};
use super::error::StoreError;
use super::records::{decode, encode, stored_bytes, summary};
use super::tables::{ATTACHMENTS, DELIVERIES, FILE_META, MAILBOX, RECIPIENTS, RESERVED_TO, UNSEEN, USAGE};
use super::users::UsersView;
use crate::wire::{Attachment, Envelope, FileMeta, Summary};

/// The sender name of the listener's own notices.
pub const NOTICE_SENDER: &str = "qxfer";

/// What a mailbox holds: bytes and files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub bytes: u64,
    pub files: u64,
}

fn add(a: (u64, u64), b: (u64, u64)) -> (u64, u64) {
    (a.0.saturating_add(b.0), a.1.saturating_add(b.1))
}

fn sub(a: (u64, u64), b: (u64, u64)) -> (u64, u64) {
    (a.0.saturating_sub(b.0), a.1.saturating_sub(b.1))
}

/// What mailboxes answer, in either transaction.
pub(super) trait MailboxView: View {
    /// Bytes and files delivered to `user`'s mailbox.
    fn usage(&self, user: &str) -> Result<(u64, u64), StoreError> {
        Ok(self.table(USAGE)?.get(user)?.map(|v| v.value()).unwrap_or((0, 0)))
    }

    /// What `to`'s mailbox would hold with `want` (bytes, files) more: delivered, reserved
    /// by unfinished deliveries, and `want`.
    fn room_after(&self, to: &str, want: (u64, u64)) -> Result<(u64, u64), StoreError> {
        let used = self.usage(to)?;
        let reserved = self.table(RESERVED_TO)?.get(to)?.map(|v| v.value()).unwrap_or((0, 0));
        Ok(add(add(used, reserved), want))
    }

    fn in_mailbox(&self, user: &str, id: u64) -> Result<bool, StoreError> {
        Ok(self.table(MAILBOX)?.get((user, id))?.is_some())
    }

    /// Every recipient delivery `id` was sent to, when it was sent to several.
    fn recipients(&self, id: u64) -> Result<Option<Vec<String>>, StoreError> {
        match self.table(RECIPIENTS)?.get(id)? {
            Some(v) => Ok(Some(decode(v.value(), "recipients")?)),
            None => Ok(None),
        }
    }

    /// A committed delivery's envelope.
    fn envelope(&self, id: u64) -> Result<Option<Envelope>, StoreError> {
        match self.table(DELIVERIES)?.get(id)? {
            Some(v) => Ok(Some(decode(v.value(), "deliveries")?)),
            None => Ok(None),
        }
    }
}

impl<T: View + ?Sized> MailboxView for T {}

impl Tx {
    /// Put a delivery in its recipient's mailbox, unseen, charged to its usage (its files'
    /// rows are written apart: `put_files` or `copy_files`).
    pub(super) fn deliver(&self, envelope: &Envelope) -> Result<(), StoreError> {
        let (id, to) = (envelope.id, envelope.to.as_str());
        self.open(DELIVERIES)?.insert(id, encode(envelope, "deliveries")?.as_slice())?;
        self.open(MAILBOX)?.insert((to, id), encode(&summary(envelope), "mailbox")?.as_slice())?;
        self.open(UNSEEN)?.insert((to, id), ())?;
        let mut usage = self.open(USAGE)?;
        let held = usage.get(to)?.map(|v| v.value()).unwrap_or((0, 0));
        usage.insert(to, add(held, (stored_bytes(envelope), u64::from(envelope.files))))?;
        Ok(())
    }

    /// A delivery's files, and the mode and time of those whose sender sent them.
    pub(super) fn put_files(
        &self,
        id: u64,
        attachments: &[Attachment],
        meta: &[Option<FileMeta>],
    ) -> Result<(), StoreError> {
        let mut table = self.open(ATTACHMENTS)?;
        for (index, a) in (0u32..).zip(attachments) {
            table.insert((id, index), encode(a, "attachments")?.as_slice())?;
        }
        let mut times = self.open(FILE_META)?;
        for (index, m) in (0u32..).zip(meta) {
            if let Some(m) = m {
                times.insert((id, index), (m.mode, m.mtime))?;
            }
        }
        Ok(())
    }

    /// Delivery `id` was sent to all of `recipients` (a send to several).
    pub(super) fn put_recipients(&self, id: u64, recipients: &[String]) -> Result<(), StoreError> {
        self.open(RECIPIENTS)?.insert(id, encode(&recipients, "recipients")?.as_slice())?;
        Ok(())
    }

    /// Delivery `copy` gets the file rows (and the list of recipients) of delivery `of`.
    pub(super) fn copy_files(&self, of: u64, copy: u64) -> Result<(), StoreError> {
        if let Some(all) = self.recipients(of)? {
            self.put_recipients(copy, &all)?;
        }
        let mut attachments = self.open(ATTACHMENTS)?;
        let rows: Vec<(u32, Vec<u8>)> = attachments
            .range((of, 0)..=(of, u32::MAX))?
            .map(|r| r.map(|(k, v)| (k.value().1, v.value().to_vec())))
            .collect::<Result<_, _>>()?;
        for (index, row) in rows {
            attachments.insert((copy, index), row.as_slice())?;
        }
        let mut times = self.open(FILE_META)?;
        let rows: Vec<(u32, (u32, u64))> = times
            .range((of, 0)..=(of, u32::MAX))?
            .map(|r| r.map(|(k, v)| (k.value().1, v.value())))
            .collect::<Result<_, _>>()?;
        for (index, row) in rows {
            times.insert((copy, index), row)?;
        }
        Ok(())
    }

    /// Reserve (bytes, files) in `to`'s mailbox for an unfinished delivery.
    pub(super) fn reserve(&self, to: &str, want: (u64, u64)) -> Result<(), StoreError> {
        let mut reserved_to = self.open(RESERVED_TO)?;
        let r = reserved_to.get(to)?.map(|v| v.value()).unwrap_or((0, 0));
        reserved_to.insert(to, add(r, want))?;
        Ok(())
    }

    /// Give back what an unfinished delivery reserved in `to`'s mailbox.
    pub(super) fn unreserve(&self, to: &str, held: (u64, u64)) -> Result<(), StoreError> {
        let mut reserved_to = self.open(RESERVED_TO)?;
        let r = reserved_to.get(to)?.map(|v| v.value()).unwrap_or((0, 0));
        reserved_to.insert(to, sub(r, held))?;
        Ok(())
    }

    /// Remove `name`'s mailbox: its deliveries and their files, its usage and reservations
    /// (inside `remove_user`'s transaction).
    pub(super) fn empty_mailbox(&self, name: &str) -> Result<(), StoreError> {
        let mut mailbox = self.open(MAILBOX)?;
        let mut deliveries = self.open(DELIVERIES)?;
        let mut attachments = self.open(ATTACHMENTS)?;
        let ids: Vec<u64> =
            mailbox.range((name, 0)..=(name, u64::MAX))?.filter_map(|r| r.ok().map(|(k, _)| k.value().1)).collect();
        let mut unseen = self.open(UNSEEN)?;
        let mut times = self.open(FILE_META)?;
        let mut recipients = self.open(RECIPIENTS)?;
        for id in ids {
            mailbox.remove((name, id))?;
            unseen.remove((name, id))?;
            deliveries.remove(id)?;
            recipients.remove(id)?;
            attachments.retain_in((id, 0)..=(id, u32::MAX), |_, _| false)?;
            times.retain_in((id, 0)..=(id, u32::MAX), |_, _| false)?;
        }
        self.open(USAGE)?.remove(name)?;
        self.open(RESERVED_TO)?.remove(name)?;
        Ok(())
    }
}

impl Store {
    /// A page of `user`'s mailbox with ids above `after`: summaries only.
    pub fn inbox(&self, user: &str, after: u64, limit: usize) -> Result<(Vec<Summary>, bool), StoreError> {
        self.read(|rx| {
            let mailbox = rx.table(MAILBOX)?;
            let mut items = Vec::new();
            for row in mailbox.range((user, after.saturating_add(1))..=(user, u64::MAX))? {
                if items.len() == limit {
                    return Ok((items, true));
                }
                items.push(decode(row?.1.value(), "mailbox")?);
            }
            Ok((items, false))
        })
    }

    /// A page of `user`'s deliveries not yet seen, with ids above `after`.
    pub fn unseen(&self, user: &str, after: u64, limit: usize) -> Result<(Vec<Summary>, bool), StoreError> {
        self.read(|rx| {
            let unseen = rx.table(UNSEEN)?;
            let mailbox = rx.table(MAILBOX)?;
            let mut items = Vec::new();
            for row in unseen.range((user, after.saturating_add(1))..=(user, u64::MAX))? {
                if items.len() == limit {
                    return Ok((items, true));
                }
                let id = row?.0.value().1;
                if let Some(v) = mailbox.get((user, id))? {
                    items.push(decode(v.value(), "mailbox")?);
                }
            }
            Ok((items, false))
        })
    }

    /// Mark those of `ids` that are in `user`'s mailbox seen; returns them.
    pub fn mark_seen(&self, user: &str, ids: &[u64]) -> Result<Vec<u64>, StoreError> {
        self.write(|tx| {
            let mut done = Vec::new();
            let mailbox = tx.open(MAILBOX)?;
            let mut unseen = tx.open(UNSEEN)?;
            for &id in ids {
                if mailbox.get((user, id))?.is_some() && !done.contains(&id) {
                    unseen.remove((user, id))?;
                    done.push(id);
                }
            }
            Ok(done)
        })
    }

    /// Remove those of `ids` that are in `user`'s mailbox, freeing their quota; returns
    /// them (the caller removes their files).
    pub fn delete_deliveries(&self, user: &str, ids: &[u64]) -> Result<Vec<u64>, StoreError> {
        self.write(|tx| {
            let mut done = Vec::new();
            let mut mailbox = tx.open(MAILBOX)?;
            let mut deliveries = tx.open(DELIVERIES)?;
            let mut attachments = tx.open(ATTACHMENTS)?;
            let mut times = tx.open(FILE_META)?;
            let mut unseen = tx.open(UNSEEN)?;
            let mut usage = tx.open(USAGE)?;
            let mut recipients = tx.open(RECIPIENTS)?;
            for &id in ids {
                if done.contains(&id) || mailbox.remove((user, id))?.is_none() {
                    continue;
                }
                unseen.remove((user, id))?;
                recipients.remove(id)?;
                if let Some(v) = deliveries.remove(id)? {
                    let envelope: Envelope = decode(v.value(), "deliveries")?;
                    let held = usage.get(user)?.map(|v| v.value()).unwrap_or((0, 0));
                    usage.insert(user, sub(held, (stored_bytes(&envelope), u64::from(envelope.files))))?;
                }
                attachments.retain_in((id, 0)..=(id, u32::MAX), |_, _| false)?;
                times.retain_in((id, 0)..=(id, u32::MAX), |_, _| false)?;
                done.push(id);
            }
            Ok(done)
        })
    }

    /// The mode and time of files `from..` of a delivery (up to `limit`), aligned with its
    /// attachments page.
    pub fn file_meta(&self, id: u64, from: u32, limit: usize) -> Result<Vec<Option<FileMeta>>, StoreError> {
        self.read(|rx| {
            let table = rx.table(FILE_META)?;
            let mut out = Vec::with_capacity(limit);
            for index in (from..).take(limit) {
                out.push(table.get((id, index))?.map(|v| {
                    let (mode, mtime) = v.value();
                    FileMeta { mode, mtime }
                }));
            }
            Ok(out)
        })
    }

    /// Whether delivery `id` is committed to `user`'s mailbox.
    pub fn in_mailbox(&self, user: &str, id: u64) -> Result<bool, StoreError> {
        self.read(|rx| rx.in_mailbox(user, id))
    }

    /// What `user`'s mailbox holds.
    pub fn mailbox_usage(&self, user: &str) -> Result<Usage, StoreError> {
        let (bytes, files) = self.read(|rx| rx.usage(user))?;
        Ok(Usage { bytes, files })
    }

    /// The owner and envelope of a committed delivery.
    pub fn delivery(&self, id: u64) -> Result<Option<Envelope>, StoreError> {
        self.read(|rx| rx.envelope(id))
    }

    /// A delivery's envelope, only if it is in `user`'s mailbox.
    pub fn envelope_for(&self, user: &str, id: u64) -> Result<Option<Envelope>, StoreError> {
        self.read(|rx| if rx.in_mailbox(user, id)? { rx.envelope(id) } else { Ok(None) })
    }

    /// Every recipient delivery `id` was sent to, in its sender's order, when it was sent
    /// to several (the caller checked whose mailbox it is in).
    pub fn recipients_of(&self, id: u64) -> Result<Option<Vec<String>>, StoreError> {
        self.read(|rx| rx.recipients(id))
    }

    /// Up to `limit` of a delivery's files from index `from`, only if the delivery is in
    /// `user`'s mailbox: the envelope and the page.
    pub fn attachments_for(
        &self,
        user: &str,
        id: u64,
        from: u32,
        limit: usize,
    ) -> Result<Option<(Envelope, Vec<Attachment>)>, StoreError> {
        let Some(envelope) = self.envelope_for(user, id)? else { return Ok(None) };
        self.read(|rx| {
            let table = rx.table(ATTACHMENTS)?;
            let mut page = Vec::new();
            for row in table.range((id, from)..=(id, u32::MAX))?.take(limit) {
                page.push(decode(row?.1.value(), "attachments")?);
            }
            Ok(Some((envelope, page)))
        })
    }

    /// One file of a delivery, only if the delivery is in `user`'s mailbox: one row read.
    pub fn attachment_for(&self, user: &str, id: u64, index: u32) -> Result<Option<Attachment>, StoreError> {
        self.read(|rx| {
            if !rx.in_mailbox(user, id)? {
                return Ok(None);
            }
            match rx.table(ATTACHMENTS)?.get((id, index))? {
                Some(v) => Ok(Some(decode(v.value(), "attachments")?)),
                None => Ok(None),
            }
        })
    }

    /// Put a notice from the listener in `to`'s mailbox (as an unseen message from
    /// `from`, the listener's [`NOTICE_SENDER`]); `None` when there is no such account.
    pub fn deliver_notice(
        &self,
        from: &str,
        to: &str,
        subject: &str,
        body: &str,
        now: u64,
    ) -> Result<Option<u64>, StoreError> {
        let id = self.allocate_id()?;
        let envelope = Envelope {
            id,
            from: from.to_owned(),
            to: to.to_owned(),
            time: now,
            subject: Some(subject.to_owned()),
            body: Some(body.to_owned()),
            files: 0,
            bytes: 0,
        };
        self.write_or_roll_back(|tx| {
            if !tx.user_exists(to)? {
                return Ok(Finish::RollBack(None));
            }
            tx.deliver(&envelope)?;
            Ok(Finish::Commit(Some(id)))
        })
    }
}
