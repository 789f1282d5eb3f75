//! Room an unfinished delivery holds in its recipient's mailbox, and for how long. A send
//! reserves its size in its sender's spool until it ends (committed, dropped, expired), but
//! in its recipient's mailbox only for a short hold (`recipient_hold_secs`, an hour): long
//! enough to resume after a dropped connection, short enough that sends never finished
//! cannot keep someone's mailbox full. Past its hold a send must fit the mailbox again when
//! it resumes and when it commits, as a new send would.
//!
//! The hold is one sender's on one mailbox, not each send's: it begins with the first of
//! the sender's sends there, and later sends there are held only until it ends. A new hold
//! begins only `recipient_hold_renew_secs` (a day) after the last one began, or once the
//! sender finished a send to that recipient: starting sends, dropping them and starting
//! others renews nothing. Holds in force are counted in `reserved_to_v1`; one past its end
//! is released by the next check of that mailbox's room.

use redb::ReadableTable;

use super::db::{Store, Tx, View};
use super::error::StoreError;
use super::tables::{HOLDS, HOLD_WINDOWS, OPEN_SINCE};

/// How long a sender's unfinished sends hold room in a recipient's mailbox, and how long
/// after a hold began the sender may get another there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hold {
    pub secs: u64,
    pub renew_secs: u64,
}

/// The smallest open key, to bound a range of holds.
const NO_KEY: &[u8] = &[];

/// What holds answer, in either transaction.
pub(super) trait HoldsView: View {
    /// When the send under `key` first began, and until when it holds room in its
    /// recipient's mailbox (0: it holds none).
    fn since(&self, key: &[u8]) -> Result<Option<(u64, u64)>, StoreError> {
        Ok(self.table(OPEN_SINCE)?.get(key)?.map(|v| v.value()))
    }

    /// Whether the send under `key` holds room in its recipient's mailbox now (after its
    /// recipient's ended holds were released).
    fn holds_room(&self, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.since(key)?.is_some_and(|(_, until)| until != 0))
    }
}

impl<T: View + ?Sized> HoldsView for T {}

impl Tx {
    /// The send under `key` from `sender` begins at `now`: it holds `want` (bytes, files)
    /// in `to`'s mailbox until the sender's hold there ends (a new hold begins if none is
    /// running or may be renewed). Returns until when (0: it holds nothing there).
    pub(super) fn hold(
        &self,
        key: &[u8],
        sender: &str,
        to: &str,
        want: (u64, u64),
        now: u64,
        hold: Hold,
    ) -> Result<u64, StoreError> {
        let start = {
            let mut windows = self.open(HOLD_WINDOWS)?;
            let began = windows.get((to, sender))?.map(|v| v.value());
            match began {
                Some(began) if now < began.saturating_add(hold.renew_secs) => began,
                _ => {
                    windows.insert((to, sender), now)?;
                    now
                }
            }
        };
        let until = start.saturating_add(hold.secs);
        let held = if until > now {
            self.reserve(to, want)?;
            self.open(HOLDS)?.insert((to, until, key), want)?;
            until
        } else {
            0
        };
        self.open(OPEN_SINCE)?.insert(key, (now, held))?;
        Ok(held)
    }

    /// The send under `key` to `to` ends: what it holds in `to`'s mailbox is given back, and
    /// when it began is forgotten.
    pub(super) fn unhold(&self, key: &[u8], to: &str) -> Result<(), StoreError> {
        let Some((_, until)) = self.open(OPEN_SINCE)?.remove(key)?.map(|v| v.value()) else { return Ok(()) };
        if until != 0 {
            if let Some(held) = self.open(HOLDS)?.remove((to, until, key))?.map(|v| v.value()) {
                self.unreserve(to, held)?;
            }
        }
        Ok(())
    }

    /// Release the holds on `to`'s mailbox that ended by `now`; returns how many.
    pub(super) fn lapse_holds(&self, to: &str, now: u64) -> Result<usize, StoreError> {
        let ended: Vec<(u64, Vec<u8>, (u64, u64))> = self
            .open(HOLDS)?
            .range((to, 0, NO_KEY)..(to, now.saturating_add(1), NO_KEY))?
            .map(|r| r.map(|(k, v)| (k.value().1, k.value().2.to_vec(), v.value())))
            .collect::<Result<_, _>>()?;
        for (until, key, held) in &ended {
            self.open(HOLDS)?.remove((to, *until, key.as_slice()))?;
            self.unreserve(to, *held)?;
            let mut since = self.open(OPEN_SINCE)?;
            let began = since.get(key.as_slice())?.map(|v| v.value().0);
            if let Some(began) = began {
                since.insert(key.as_slice(), (began, 0))?;
            }
        }
        Ok(ended.len())
    }

    /// `sender` finished a send to `to`: its next send there begins a new hold.
    pub(super) fn end_hold_window(&self, to: &str, sender: &str) -> Result<(), StoreError> {
        self.open(HOLD_WINDOWS)?.remove((to, sender))?;
        Ok(())
    }
}

impl Store {
    /// Forget the holds that began before `before` (they restrain no new hold any more).
    pub fn forget_hold_windows(&self, before: u64) -> Result<(), StoreError> {
        let any = self.read(|rx| {
            for row in rx.table(HOLD_WINDOWS)?.iter()? {
                if row?.1.value() < before {
                    return Ok(true);
                }
            }
            Ok(false)
        })?;
        if !any {
            return Ok(());
        }
        self.write(|tx| {
            tx.open(HOLD_WINDOWS)?.retain(|_, began| began >= before)?;
            Ok(())
        })
    }
}
