//! Announcements: what the listener tells an account's numbers (texts: to a settled
//! number from the owner reserve, to others from the general pool) and its mailbox (a notice from [`NOTICE_SENDER`](crate::store::NOTICE_SENDER)) about
//! changes done, pending or cancelled. A swapped SIM does not silence the mailbox.

use tracing::{info, warn};

use super::pending::Scheduled;
use super::AccountGuard;
use crate::clock::{format_duration, format_time};
use crate::policy::recovery::mask_phone;
use crate::policy::sms::{Ask, Pool};
use crate::server::texts::About;
use crate::store::NOTICE_SENDER;
use crate::store::{Change, Pending, RecoveryRecord, Store};

impl AccountGuard {
    /// Text `body` to every verified number of the account, and put a notice in its
    /// mailbox (a swapped SIM does not silence the mailbox).
    pub fn announce(&self, store: &Store, user: &str, rec: &RecoveryRecord, subject: &str, body: &str, now_ms: u64) {
        let now = now_ms / 1000;
        for p in rec.phones.iter().filter(|p| p.verified.is_some()) {
            let pool = self.pool_for(rec, user, &p.number, false, now);
            self.text_notice(&p.number, pool, format!("qxfer {}: account {user}: {body}", self.host), now_ms);
        }
        self.mail(store, user, subject, body, now_ms);
    }

    /// A notice in the account's mailbox only.
    pub fn mail(&self, store: &Store, user: &str, subject: &str, body: &str, now_ms: u64) {
        if let Err(e) = store.deliver_notice(NOTICE_SENDER, user, subject, body, now_ms / 1000) {
            warn!(event = "notice_failed", %user, "could not put a notice in the mailbox: {e}");
        }
    }

    /// Announce a change that waits: each settled number gets its own cancel code, other
    /// verified numbers are told without one, and the mailbox is told the change and that
    /// the codes went to the phones (a thief who reads the mailbox gets no cancel code from
    /// it). Returns how many cancel codes could not be texted (the caller then does not
    /// let the change wait unannounced). The change was asked for from a place the account
    /// does not know: the texts draw on the account's stranger part of the reserve.
    pub fn announce_pending(
        &self,
        store: &Store,
        user: &str,
        rec: &RecoveryRecord,
        s: &Scheduled,
        now_ms: u64,
    ) -> usize {
        let what = s.pending.change.describe();
        let when = format_time(s.pending.at);
        let mut failed = 0;
        let now = now_ms / 1000;
        for (number, code) in &s.cancel_codes {
            let text = format!(
                "qxfer {host}: account {user}: a change was asked for from {from}: {what}. It takes effect at \
                 {when}. Not you? Cancel it: qxfer recover cancel {host} {code}",
                host = self.host,
                from = s.pending.from
            );
            if !self.text_notice(number, self.pool_for(rec, user, number, true, now), text, now_ms) {
                failed += 1;
            }
        }
        for p in rec.phones.iter().filter(|p| p.verified.is_some()) {
            if !s.cancel_codes.iter().any(|(n, _)| n == &p.number) {
                let text = format!(
                    "qxfer {host}: account {user}: a change was asked for from {from}: {what}. It takes effect at \
                     {when}. The account's older numbers got a code to cancel it.",
                    host = self.host,
                    from = s.pending.from
                );
                self.text_notice(&p.number, self.pool_for(rec, user, &p.number, true, now), text, now_ms);
            }
        }
        let body = format!(
            "A change was asked for from {from}, a network this account has not used long enough to be known: \
             {what}.\n\
             It takes effect at {when} (in {delay}).\n\n\
             Not you? {cancel_how}",
            from = s.pending.from,
            delay = format_duration(self.cfg.unknown_place_delay_secs),
            cancel_how = self.cancel_how(user, rec, &s.pending),
        );
        self.mail(store, user, &format!("Pending change to your account: {what}"), &body, now_ms);
        failed
    }

    /// What cancels `pending`, in words, with this account's and listener's names and the
    /// change's id, ready to paste: the cancel code texted to the account's numbers, from
    /// anywhere; `account cancel` (not for a recovery: whoever has the password could) only
    /// from a network the account knew before the change was asked for, and only named
    /// when there is one. Times are whole seconds: a place known in the very second the
    /// change was asked for was known when it was asked for (the login that made it known
    /// came first; a change asked for from a known place is never pending).
    fn cancel_how(&self, user: &str, rec: &RecoveryRecord, pending: &Pending) -> String {
        let host = &self.host;
        let by_code = format!(
            "Cancel it, from anywhere, with the cancel code texted to this account's phone numbers:\n  \
             qxfer recover cancel {host} CODE\n"
        );
        let known_before = rec.places.iter().any(|p| p.known_since.is_some_and(|k| k <= pending.requested));
        match &pending.change {
            Change::Recover { .. } => format!(
                "{by_code}(A pending recovery is cancelled only with that code: logged in, whoever has the password \
                 could.)\n"
            ),
            _ if known_before => format!(
                "{by_code}or, logged in from a network this account knew before the change was asked for (not from \
                 {from}):\n  qxfer account cancel {user}@{host} {id}\n",
                from = pending.from,
                id = pending.id
            ),
            _ => by_code,
        }
    }

    /// Queue an announcement drawn from `pool` (no cooldown: a code asked for right after
    /// it still goes); whether it was queued. Recorded as a text of the account the pool
    /// names.
    pub(super) fn text_notice(&self, number: &str, pool: Pool<'_>, text: String, now_ms: u64) -> bool {
        let ask = Ask { pool, start_from: None, cooldown: false };
        let account = match pool {
            Pool::Owner { account, .. } | Pool::Verify { account, .. } => Some(account),
            Pool::General => None,
        };
        let about = About { source: None, account, what: "announcement" };
        match self.texts.send(number, &ask, text, now_ms, about) {
            Err(e) => {
                warn!(event = "text_refused", to = %mask_phone(number), "announcement not texted: {e}");
                false
            }
            Ok(()) => {
                info!(event = "text_queued", to = %mask_phone(number), "announcement queued");
                true
            }
        }
    }

    /// Tell numbers no longer on the account (a removed number hears of its removal; from
    /// the general pool).
    pub fn tell_numbers(&self, numbers: &[String], user: &str, body: &str, now_ms: u64) {
        for n in numbers {
            self.text_notice(n, Pool::General, format!("qxfer {}: account {user}: {body}", self.host), now_ms);
        }
    }
}
