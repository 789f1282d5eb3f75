//! Unfinished deliveries and their commit: a send opens a delivery under its resume key
//! (reserving room in the sender's spool, and for a while in the recipient's mailbox:
//! `holds.rs`, in one transaction with the quota checks), resumes it, and commits it into
//! the mailbox (with the copies it owes further recipients). A committed send is
//! remembered by its key for a while, so a retry learns it was delivered instead of
//! delivering it twice. Listing, dropping and expiring unfinished sends: `pending.rs`.

use redb::ReadableTable;

use super::db::{Finish, Store, Tx, View};
use super::error::StoreError;
use super::holds::{Hold, HoldsView};
use super::mailbox::MailboxView;
use super::records::{decode, encode, stored_bytes, OpenMeta, OpenRecord};
use super::registration::RegistrationView;
use super::tables::{COMMITTED, OPEN, OPEN_META, OPEN_SEQ, SENDS_OF, SPOOL_OF};
use super::users::UsersView;
use crate::wire::{Attachment, Envelope, FileMeta, Hash};

/// What a new delivery asks for, and the caps it must fit.
#[derive(Debug, Clone, Copy)]
pub struct Reservation {
    /// Bytes it will add to the recipient's mailbox: its files, subject and body.
    pub bytes: u64,
    pub files: u64,
    /// Bytes and files one mailbox may hold; bytes one sender's unfinished deliveries may
    /// hold in the spool.
    pub quota_bytes: u64,
    pub quota_files: u64,
    /// Unfinished deliveries one sender may have at once.
    pub max_open: u64,
    /// Deliveries this send makes (one per recipient), for a capped sender's day.
    pub deliveries: u32,
    /// How long it may hold room in its recipient's mailbox.
    pub hold: Hold,
}

/// What asking to open a delivery came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opening {
    Opened(Opened),
    /// The recipient's mailbox (delivered and reserved) has no room for it.
    NoRoom,
    /// A resumed send's hold on its recipient's mailbox ended, and the mailbox has no room
    /// for it now.
    NoRoomAnyMore {
        id: u64,
    },
    /// The sender's unfinished deliveries would exceed the sender's own quota, or their
    /// number `max_open`.
    SpoolFull,
    /// A resume asked for another recipient or size than its delivery reserved.
    Mismatch,
    /// A self-registered sender has opened its deliveries for today.
    DailyLimit {
        per_day: u32,
    },
    /// This send (sender and resume key) was committed already, as `id` at `time`.
    Delivered {
        id: u64,
        time: u64,
    },
}

/// The delivery a `Begin` opened or found again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    pub id: u64,
    pub resumed: bool,
    /// An unfinished delivery of an earlier account with the sender's name, now forgotten.
    pub stale: Option<u64>,
}

/// The smallest open key, to start a range of one sender's keys.
const NO_KEY: &[u8] = &[];

/// The key of a send: its sender and resume key.
pub(super) fn open_key(sender: &str, resume_key: &Hash) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(sender.as_bytes());
    h.update(&[0]);
    h.update(resume_key);
    *h.finalize().as_bytes()
}

/// What unfinished and committed sends answer, in either transaction.
pub(super) trait DeliveriesView: View {
    /// The delivery the send under `key` was committed as, and when.
    fn committed_as(&self, key: &[u8]) -> Result<Option<(u64, u64)>, StoreError> {
        Ok(self.table(COMMITTED)?.get(key)?.map(|v| v.value()))
    }

    fn open_record(&self, key: &[u8]) -> Result<Option<OpenRecord>, StoreError> {
        match self.table(OPEN)?.get(key)? {
            Some(v) => Ok(Some(decode(v.value(), "open deliveries")?)),
            None => Ok(None),
        }
    }

    /// When the send under `key` began, as a step of the event sequence (0 if unrecorded).
    fn opened_seq(&self, key: &[u8]) -> Result<u64, StoreError> {
        Ok(self.table(OPEN_SEQ)?.get(key)?.map(|v| v.value()).unwrap_or(0))
    }

    /// Whether the unfinished delivery under `key` was opened before the account `name` was
    /// last removed (a delivery with no recorded step predates this check: it counts as
    /// older).
    fn opened_before_removal(&self, key: &[u8], name: &str) -> Result<bool, StoreError> {
        let Some(removed) = self.removed_at(name)? else { return Ok(false) };
        Ok(self.opened_seq(key)? < removed)
    }

    /// The open keys of `sender`'s unfinished deliveries (at most its `max_open`).
    fn keys_of(&self, sender: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut keys = Vec::new();
        for row in self.table(SENDS_OF)?.range((sender, NO_KEY)..)? {
            let (k, _) = row?;
            let (of, key) = k.value();
            if of != sender {
                break;
            }
            keys.push(key.to_vec());
        }
        Ok(keys)
    }

    /// Whether `sender` has an unfinished delivery to `to`.
    fn sends_to(&self, sender: &str, to: &str) -> Result<bool, StoreError> {
        for key in self.keys_of(sender)? {
            if self.open_meta(&key)?.is_some_and(|m| m.to == to) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// What the unfinished delivery under `key` reserved, and for whom.
    fn open_meta(&self, key: &[u8]) -> Result<Option<OpenMeta>, StoreError> {
        match self.table(OPEN_META)?.get(key)? {
            Some(v) => Ok(Some(decode(v.value(), "open meta")?)),
            None => Ok(None),
        }
    }

    /// Whether `to`'s mailbox has room for `want` (bytes, files) besides what it holds and
    /// what is held in it.
    fn fits(&self, to: &str, want: (u64, u64), quota: (u64, u64)) -> Result<bool, StoreError> {
        let (bytes, files) = self.room_after(to, want)?;
        Ok(bytes <= self.quota_of(to, quota.0)? && files <= quota.1)
    }

    /// Whether the delivery `id` under `key` to `to` may be committed now: not committed
    /// already, its recipient the account that existed when it was opened, and still open.
    fn commit_allowed(&self, key: &[u8], to: &str, id: u64) -> Result<(), StoreError> {
        if let Some((id, time)) = self.committed_as(key)? {
            return Err(StoreError::Committed { id, time });
        }
        if !self.user_exists(to)? || self.opened_before_removal(key, to)? {
            return Err(StoreError::NoSuchUser(to.to_owned()));
        }
        // Still open, and as this very delivery (not one opened anew under the same key).
        match self.open_record(key)? {
            Some(rec) if rec.id == id => Ok(()),
            _ => Err(StoreError::NotOpen),
        }
    }
}

impl<T: View + ?Sized> DeliveriesView for T {}

impl Tx {
    /// Give back what the unfinished delivery under `key` reserved.
    fn release(&self, key: &[u8]) -> Result<(), StoreError> {
        let Some(meta) = self.open(OPEN_META)?.remove(key)?.map(|v| v.value().to_vec()) else { return Ok(()) };
        let meta: OpenMeta = decode(&meta, "open meta")?;
        self.unhold(key, &meta.to)?;
        self.open(SENDS_OF)?.remove((meta.sender.as_str(), key))?;
        let mut spool_of = self.open(SPOOL_OF)?;
        let (b, f, n) = spool_of.get(meta.sender.as_str())?.map(|v| v.value()).unwrap_or((0, 0, 0));
        spool_of.insert(
            meta.sender.as_str(),
            (b.saturating_sub(meta.bytes), f.saturating_sub(meta.files), n.saturating_sub(1)),
        )?;
        Ok(())
    }

    /// Forget the unfinished delivery under `key` and give back what it reserved.
    pub(super) fn drop_open(&self, key: &[u8]) -> Result<Option<u64>, StoreError> {
        self.release(key)?;
        self.open(OPEN_SEQ)?.remove(key)?;
        let removed = self.open(OPEN)?.remove(key)?.map(|v| v.value().to_vec());
        match removed {
            Some(rec) => Ok(Some(decode::<OpenRecord>(&rec, "open deliveries")?.id)),
            None => Ok(None),
        }
    }

    /// Open a new delivery under `key`, if the recipient's mailbox and the sender's spool
    /// have room and a capped sender has deliveries left today (refusals write nothing the
    /// caller keeps: it rolls back).
    fn open_new(&self, key: &[u8], sender: &str, to: &str, now: u64, want: Reservation) -> Result<Opening, StoreError> {
        self.lapse_holds(to, now)?;
        let (bytes, files) = self.room_after(to, (want.bytes, want.files))?;
        // A self-registered account has a smaller quota and deliveries a day.
        let (to_quota, sender_quota, may_send) =
            self.caps_at_open(sender, to, want.quota_bytes, want.deliveries, now)?;
        if !may_send {
            let per_day = self.caps(sender)?.map_or(0, |c| c.1);
            return Ok(Opening::DailyLimit { per_day });
        }
        if bytes > to_quota || files > want.quota_files {
            return Ok(Opening::NoRoom);
        }
        let (sp_bytes, sp_files, sp_open) = self.open(SPOOL_OF)?.get(sender)?.map(|v| v.value()).unwrap_or((0, 0, 0));
        if sp_bytes.saturating_add(want.bytes) > sender_quota
            || sp_files.saturating_add(want.files) > want.quota_files
            || sp_open >= want.max_open
        {
            return Ok(Opening::SpoolFull);
        }
        let next = self.next_id()?;
        let rec = encode(&OpenRecord { id: next, created: now }, "open deliveries")?;
        self.open(OPEN)?.insert(key, rec.as_slice())?;
        let seq = self.next_seq()?;
        self.open(OPEN_SEQ)?.insert(key, seq)?;
        let meta = OpenMeta { sender: sender.to_owned(), to: to.to_owned(), bytes: want.bytes, files: want.files };
        self.open(OPEN_META)?.insert(key, encode(&meta, "open meta")?.as_slice())?;
        self.open(SENDS_OF)?.insert((sender, key), ())?;
        self.hold(key, sender, to, (want.bytes, want.files), now, want.hold)?;
        self.open(SPOOL_OF)?
            .insert(sender, (sp_bytes.saturating_add(want.bytes), sp_files.saturating_add(want.files), sp_open + 1))?;
        Ok(Opening::Opened(Opened { id: next, resumed: false, stale: None }))
    }
}

impl Store {
    /// Find the unfinished delivery this sender opened with `resume_key`, or create one.
    /// A delivery opened before the sender's account was (re)created belongs to an account
    /// that no longer exists: it is never resumed, and its id is returned as `stale` so its
    /// files can be removed.
    ///
    /// A new delivery reserves room in one transaction with its checks, so concurrent sends
    /// cannot all pass: the recipient's mailbox (delivered plus reserved) must hold it, and
    /// the sender's unfinished deliveries must fit the sender's own quota.
    pub fn open_delivery(
        &self,
        sender: &str,
        to: &str,
        resume_key: &Hash,
        now: u64,
        want: Reservation,
    ) -> Result<Opening, StoreError> {
        let key = open_key(sender, resume_key);
        self.write_or_roll_back(|tx| {
            if !tx.user_exists(sender)? {
                return Err(StoreError::NoSuchUser(sender.to_owned()));
            }
            // Committed already (a retry after a lost reply): checked in this transaction,
            // so a commit landing meanwhile cannot make the retry a second delivery.
            if let Some((id, time)) = tx.committed_as(&key)? {
                return Ok(Finish::RollBack(Opening::Delivered { id, time }));
            }
            let existing = tx.open_record(&key)?;
            let mut stale = None;
            let existing = match existing {
                Some(rec) if tx.opened_before_removal(&key, sender)? => {
                    stale = Some(rec.id);
                    None
                }
                other => other,
            };
            let Some(rec) = existing else {
                if stale.is_some() {
                    tx.release(&key)?;
                }
                return Ok(match tx.open_new(&key, sender, to, now, want)? {
                    Opening::Opened(opened) => Finish::Commit(Opening::Opened(Opened { stale, ..opened })),
                    refused => Finish::RollBack(refused),
                });
            };
            // A resume must ask for exactly what was reserved: the same recipient, bytes
            // and files (the real client's resume key covers all three).
            if let Some(meta) = tx.open_meta(&key)? {
                if meta.to != to || meta.bytes != want.bytes || meta.files != want.files {
                    return Ok(Finish::RollBack(Opening::Mismatch));
                }
            }
            // Past its hold on the recipient's mailbox, it must fit as a new send would.
            tx.lapse_holds(to, now)?;
            if !tx.holds_room(&key)? && !tx.fits(to, (want.bytes, want.files), (want.quota_bytes, want.quota_files))? {
                return Ok(Finish::RollBack(Opening::NoRoomAnyMore { id: rec.id }));
            }
            // Its age counts from its last resume.
            let renewed = encode(&OpenRecord { id: rec.id, created: now }, "open deliveries")?;
            tx.open(OPEN)?.insert(key.as_slice(), renewed.as_slice())?;
            Ok(Finish::Commit(Opening::Opened(Opened { id: rec.id, resumed: true, stale })))
        })
    }

    /// Whether `to` exists and its mailbox has room for `want` at `now` (delivered and held
    /// counted), without reserving it. Holds that ended are released on the way.
    pub fn has_room(&self, to: &str, want: &Reservation, now: u64) -> Result<Option<bool>, StoreError> {
        self.write(|tx| {
            // Releasing ended holds again after a crash costs nothing: no need to wait for the disk.
            tx.not_durable()?;
            if !tx.user_exists(to)? {
                return Ok(None);
            }
            tx.lapse_holds(to, now)?;
            Ok(Some(tx.fits(to, (want.bytes, want.files), (want.quota_bytes, want.quota_files))?))
        })
    }

    /// Record a finished delivery in the recipient's mailbox (as unseen) and forget its
    /// resume key. `meta` is each file's mode and time, where the sender sent them. A send
    /// past its hold on the recipient's mailbox must fit its `quota` (bytes, files) now.
    pub fn commit_delivery(
        &self,
        envelope: &Envelope,
        attachments: &[Attachment],
        meta: &[Option<FileMeta>],
        resume_key: &Hash,
        also: &[String],
        quota: (u64, u64),
    ) -> Result<(), StoreError> {
        let key = open_key(&envelope.from, resume_key);
        let (from, to) = (envelope.from.as_str(), envelope.to.as_str());
        self.write(|tx| {
            // The recipient must still exist, and be the account that existed when the
            // delivery was opened (not a new account under the same name).
            tx.commit_allowed(&key, to, envelope.id)?;
            tx.lapse_holds(to, envelope.time)?;
            let size = (stored_bytes(envelope), u64::from(envelope.files));
            if !tx.holds_room(&key)? && !tx.fits(to, size, quota)? {
                return Err(StoreError::NoRoom);
            }
            // When the send began: a further recipient removed since (and perhaps made anew
            // by someone else) gets no copy.
            let opened = tx.opened_seq(&key)?;
            tx.drop_open(&key)?;
            // A sender that finishes its sends to a recipient gets a new hold there.
            if !tx.sends_to(from, to)? {
                tx.end_hold_window(to, from)?;
            }
            tx.open(COMMITTED)?.insert(key.as_slice(), (envelope.id, envelope.time))?;
            tx.deliver(envelope)?;
            tx.put_files(envelope.id, attachments, meta)?;
            if !also.is_empty() {
                tx.owe(envelope.id, also, opened)?;
                let all: Vec<String> = std::iter::once(envelope.to.clone()).chain(also.iter().cloned()).collect();
                tx.put_recipients(envelope.id, &all)?;
            }
            Ok(())
        })
    }

    /// The delivery this send (sender and resume key) was committed as, and when.
    pub fn committed(&self, sender: &str, resume_key: &Hash) -> Result<Option<(u64, u64)>, StoreError> {
        let key = open_key(sender, resume_key);
        self.read(|rx| rx.committed_as(&key))
    }

    /// What `commit_delivery` would refuse, checked before any file is moved (the commit
    /// checks again, atomically); holds that ended by `now` are released on the way.
    pub fn check_commit(
        &self,
        sender: &str,
        resume_key: &Hash,
        to: &str,
        id: u64,
        now: u64,
        quota: (u64, u64),
    ) -> Result<(), StoreError> {
        let key = open_key(sender, resume_key);
        self.write(|tx| {
            tx.not_durable()?;
            tx.commit_allowed(&key, to, id)?;
            tx.lapse_holds(to, now)?;
            let size = tx.open_meta(&key)?.map_or((0, 0), |m| (m.bytes, m.files));
            if !tx.holds_room(&key)? && !tx.fits(to, size, quota)? {
                return Err(StoreError::NoRoom);
            }
            Ok(())
        })
    }
}
