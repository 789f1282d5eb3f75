//! Changes taking effect: applied to the password and the account's record, and announced,
//! either at once (a known place, a texted code) or when their delay ended (at the
//! account's next login, or from the listener's upkeep). A new password ends the account's
//! other sessions and voids whatever else was asked for with the old one.

use std::net::IpAddr;

use tracing::info;

use super::AccountGuard;
use crate::clock::format_time;
use crate::policy::activity::{Activity, Kind};
use crate::store::{Change, PhoneRec, RecoveryRecord, Store, StoreError};

/// What a change taking effect needs of the listener besides the guard: its database, its
/// activity record, and the account's live sessions (a new password ends them).
pub trait Listener {
    fn database(&self) -> &Store;
    fn record_activity(&self, a: Activity);
    /// End every live session of `account` but `except`, for `reason`.
    fn end_sessions_but(&self, account: &str, reason: &'static str, except: Option<usize>);
}

impl AccountGuard {
    /// Apply a change to the record (the password is the store's, applied by the caller).
    /// A new password voids the codes in force and every change still pending: they were
    /// asked for with the password it replaces (a thief's, perhaps). Returns how many
    /// pending changes were dropped. `asked`: when the change was asked for; a number is
    /// verified when its code was taken then (it settles from that, not from the end of a
    /// delay), never before it was added (or it would read as vouched for).
    pub fn apply_to_record(rec: &mut RecoveryRecord, change: &Change, now: u64, asked: u64) -> usize {
        match change {
            Change::Recover { .. } | Change::Password { .. } => {
                rec.sent.clear();
                let dropped = rec.pending.len();
                for p in std::mem::take(&mut rec.pending) {
                    Self::forget_cancelled(rec, &p.change);
                }
                return dropped;
            }
            Change::AddPhone { number } => {
                let room = rec.phones.len() < crate::wire::MAX_PHONES;
                match rec.phones.iter_mut().find(|p| &p.number == number) {
                    Some(p) => {
                        let at = asked.max(p.added);
                        p.verified.get_or_insert(at);
                    }
                    None if room => {
                        rec.phones.push(PhoneRec { number: number.clone(), added: asked, verified: Some(asked) })
                    }
                    None => {}
                }
            }
            Change::RemovePhone { number } => rec.phones.retain(|p| &p.number != number),
            Change::Question { text, answer_phc } => {
                rec.question =
                    Some(crate::store::QuestionRec { text: text.clone(), answer_phc: answer_phc.clone(), set: now })
            }
            Change::Codes { hashes } => rec.codes = hashes.clone(),
            Change::Disown { net } => {
                if let Some(p) = rec.places.iter_mut().find(|p| &p.net == net) {
                    p.disowned.get_or_insert(now);
                    p.known_since = None;
                    p.disown_code = None;
                }
            }
            // Beyond the record (`beyond_the_record`).
            Change::AutomationToken { .. } => {}
        }
        0
    }

    /// What a change does beyond the account's record once applied: a disowned place's
    /// tokens (session and automation) are revoked; an automation token starts to exist
    /// (only while the password is still the one it was asked for with). Returns how many
    /// tokens were revoked or made.
    pub fn beyond_the_record(store: &Store, user: &str, change: &Change) -> Result<usize, StoreError> {
        match change {
            Change::Disown { net } => store.revoke_tokens_issued_at(user, net),
            Change::AutomationToken { key, phc, expires, net } => {
                if !store.add_token(key, user, phc, *expires, Some(net))? {
                    return Ok(0);
                }
                store.mark_automation(key)?;
                Ok(1)
            }
            _ => Ok(0),
        }
    }

    /// Whether `change` removes a number verified on the account as `rec` stands before it
    /// applies (a removal of a number not on it removes nothing, and texts nobody).
    pub fn removes_a_verified_number(rec: &RecoveryRecord, change: &Change) -> bool {
        matches!(change, Change::RemovePhone { number } if rec.phones.iter().any(|p| &p.number == number && p.verified.is_some()))
    }

    /// Announce a change that took effect: every verified number and the mailbox are told
    /// (a removed number too when it was verified on the account, `tell_removed`, so the
    /// owner hears of it even when the mailbox is not theirs now). `dropped`: the pending
    /// changes a new password voided.
    #[allow(clippy::too_many_arguments)]
    pub fn announce_applied(
        &self,
        store: &Store,
        user: &str,
        rec: &RecoveryRecord,
        change: &Change,
        dropped: usize,
        tell_removed: bool,
        now_ms: u64,
    ) {
        let what = change.describe();
        let voided = match dropped {
            0 => String::new(),
            n => format!(" {n} pending change(s) asked for with the old password were dropped."),
        };
        let body = match change {
            Change::Recover { .. } => {
                format!("{what}: the account was recovered; every session and token ended.{voided}")
            }
            Change::Password { .. } => format!("{what}: every other session and token ended.{voided}"),
            _ => format!("{what}: done."),
        };
        if let (Change::RemovePhone { number }, true) = (change, tell_removed) {
            self.tell_numbers(std::slice::from_ref(number), user, &body, now_ms);
        }
        self.announce(store, user, rec, &format!("Account changed: {what}"), &body, now_ms);
    }

    /// Apply a change now: the password (only while it is still `expected`, when given; it
    /// ends every session but `except`, the connection that asked) and the record, and
    /// announce it. `asked`: when it was asked for (seconds). Returns false when the
    /// password had changed meanwhile.
    #[allow(clippy::too_many_arguments)]
    pub fn apply_now(
        &self,
        listener: &impl Listener,
        user: &str,
        change: &Change,
        now_ms: u64,
        asked: u64,
        except: Option<usize>,
        expected: Option<&str>,
    ) -> Result<bool, StoreError> {
        let store = listener.database();
        let now = now_ms / 1000;
        if let Change::Recover { phc } | Change::Password { phc } = change {
            match expected {
                Some(old) => {
                    if !store.set_password_if(user, old, phc)? {
                        return Ok(false);
                    }
                }
                None => store.set_password(user, phc)?,
            }
            listener.end_sessions_but(user, "the account's password changed", except);
        }
        let rec = store.update_recovery(user, |rec| {
            let tell_removed = Self::removes_a_verified_number(rec, change);
            let dropped = Self::apply_to_record(rec, change, now, asked);
            ((rec.clone(), dropped, tell_removed), true)
        })?;
        Self::beyond_the_record(store, user, change)?;
        if let Some((rec, dropped, tell_removed)) = rec {
            self.announce_applied(store, user, &rec, change, dropped, tell_removed, now_ms);
        }
        Ok(true)
    }

    /// Apply every pending change of `user` that is due (at login, and from the listener's
    /// upkeep). Returns how many were applied.
    pub fn apply_due_changes(&self, listener: &impl Listener, user: &str, now_ms: u64) -> Result<usize, StoreError> {
        let store = listener.database();
        let now = now_ms / 1000;
        // Every login asks: a read first, a write only when something is due.
        if !store.recovery(user)?.is_some_and(|rec| rec.pending.iter().any(|p| p.at <= now)) {
            return Ok(0);
        }
        let due = store.update_recovery(user, |rec| {
            let (due, later): (Vec<_>, Vec<_>) = rec.pending.drain(..).partition(|p| p.at <= now);
            rec.pending = later;
            let write = !due.is_empty();
            (due, write)
        })?;
        let mut due = due.unwrap_or_default();
        due.sort_by_key(|p| (p.at, p.id));
        let mut applied = 0;
        let mut rest = due.into_iter();
        while let Some(p) = rest.next() {
            self.apply_now(listener, user, &p.change, now_ms, p.requested, None, None)?;
            applied += 1;
            let what = p.change.describe();
            listener.record_activity(
                Activity::new(now_ms, IpAddr::from([0, 0, 0, 0]), Kind::RecoveryCompleted)
                    .account(user)
                    .detail(format!("{what}, asked for from {} at {}", p.from, format_time(p.requested))),
            );
            info!(%user, event = "recovery_completed", "{what}: its delay ended");
            // A new password voids whatever else was asked for with the old one.
            if let Change::Recover { .. } | Change::Password { .. } = p.change {
                let voided: Vec<_> = rest.collect();
                if !voided.is_empty() {
                    store.update_recovery(user, |rec| {
                        for v in &voided {
                            Self::forget_cancelled(rec, &v.change);
                        }
                        ((), true)
                    })?;
                    info!(%user, event = "recovery_cancelled", dropped = voided.len(), "changes asked for with the old password dropped");
                }
                break;
            }
        }
        Ok(applied)
    }
}
