//! Account recovery and protected changes, the glue around `policy::recovery`: the
//! listener's recovery key, the codes it texts (only their keyed hashes are kept), known
//! places, pending changes and their announcements. The decisions are pure
//! (`policy::recovery`); this module reads and writes the account's record and sends texts.
//!
//! The recovery key (32 random bytes) is kept in `DATA/recovery.key` (0600), apart from the
//! database: a copy of the database alone does not let anyone test guesses of codes
//! against their hashes offline.

use std::net::IpAddr;
use std::path::Path;

use tracing::{info, warn};

use super::challenges::{random, NoRandomness};
use super::texts::Texts;
use crate::clock::{format_duration, format_time};
use crate::policy::prefix_of;
use crate::policy::recovery::{
    self, cancel_phones, code_hash, digits_code, is_known_place, letters_code, mask_phone, note_login, recovery_phone,
    settled_phone, try_code, Code, CodeError, Origin, Phone, Place, RecoveryConfig,
};
use crate::store::{
    Change, Pending, PhoneRec, PlaceRec, Recent, RecentKind, RecoveryRecord, SentCode, Store, StoreError,
};

/// The sender of the listener's notices in a mailbox (a name no account may take).
pub const NOTICE_SENDER: &str = "qxfer";
/// How precisely a place's last sighting is kept: logins within this of the last one
/// write nothing.
pub const PLACE_GRAIN_SECS: u64 = 3600;
/// Pending changes per account, at most (a pending recovery has a place of its own).
pub const MAX_PENDING: usize = 4;
/// Recovery starts one network may make for one account a day (texts actually sent).
pub const STARTS_PER_NETWORK: usize = 2;
/// Recovery starts worked on at once in the background, at most; past that a start is
/// answered the same way and does nothing (logged).
pub const MAX_BACKGROUND_STARTS: usize = 16;

/// What a texted code is for; part of its keyed hash.
pub const RECOVER: &str = "recover";
pub const AUTHORISE: &str = "authorise";
const CANCEL: &str = "cancel";
const RECOVERY_CODE: &str = "recovery-code";

/// The purpose of the code that verifies `number`.
pub fn verify_purpose(number: &str) -> String {
    format!("verify:{number}")
}

/// Why the recovery key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("recovery key {0}: {1}")]
    Io(std::path::PathBuf, #[source] std::io::Error),
    #[error("recovery key {0} is not 32 bytes: remove it to make a new one (codes in force stop working)")]
    Length(std::path::PathBuf),
    #[error(transparent)]
    Random(#[from] NoRandomness),
}

/// Read `path`, or make it (32 random bytes, 0600).
pub fn load_or_create_key(path: &Path) -> Result<[u8; 32], KeyError> {
    match std::fs::read(path) {
        Ok(bytes) => bytes.try_into().map_err(|_| KeyError::Length(path.to_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = random::<32>()?;
            crate::transport::tls::write_private(path, &key)
                .map_err(|e| KeyError::Io(path.to_owned(), std::io::Error::other(e.to_string())))?;
            Ok(key)
        }
        Err(e) => Err(KeyError::Io(path.to_owned(), e)),
    }
}

/// What the listener needs for recovery and protected changes.
pub struct AccountGuard {
    cfg: RecoveryConfig,
    key: [u8; 32],
    texts: Texts,
    geoip: Option<crate::geoip::GeoIp>,
    /// How texts name this listener.
    host: String,
    /// Recovery starts being worked on in the background.
    background: std::sync::Arc<tokio::sync::Semaphore>,
}

/// A change and the cancel codes texted about it, by number.
pub struct Scheduled {
    pub pending: Pending,
    pub cancel_codes: Vec<(String, String)>,
}

impl AccountGuard {
    pub fn new(
        cfg: RecoveryConfig,
        key: [u8; 32],
        texts: Texts,
        geoip: Option<crate::geoip::GeoIp>,
        host: String,
    ) -> Self {
        AccountGuard {
            cfg,
            key,
            texts,
            geoip,
            host,
            background: std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_BACKGROUND_STARTS)),
        }
    }

    /// A slot for one recovery start's background work, if one is free.
    pub fn background_slot(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.background.clone().try_acquire_owned().ok()
    }

    pub fn config(&self) -> &RecoveryConfig {
        &self.cfg
    }

    pub fn texts(&self) -> &Texts {
        &self.texts
    }

    /// Where the operator's GeoIP database puts `ip` (nothing without one).
    pub fn origin(&self, ip: IpAddr) -> Origin {
        match &self.geoip {
            Some(g) => {
                let o = g.lookup(ip);
                Origin { country: o.country, asn: o.asn }
            }
            None => Origin::default(),
        }
    }

    /// The keyed hash a code of `purpose` for `account` is kept as.
    pub fn hash(&self, purpose: &str, account: &str, code: &str) -> [u8; 32] {
        code_hash(&self.key, purpose, account, code)
    }

    /// The keyed hash a cancel code is kept (and looked up) as.
    pub fn cancel_hash(&self, code: &str) -> [u8; 32] {
        code_hash(&self.key, CANCEL, "", &recovery::normalise_typed_code(code))
    }

    /// The keyed hash of a recovery code of `account`.
    pub fn recovery_code_hash(&self, account: &str, code: &str) -> [u8; 32] {
        code_hash(&self.key, RECOVERY_CODE, account, &recovery::normalise_typed_code(code))
    }

    /// Whether a connection from `ip` comes from a known place of the account.
    pub fn known(&self, rec: &RecoveryRecord, ip: IpAddr, now: u64) -> bool {
        is_known_place(&places(rec), ip, &self.origin(ip), &self.cfg, now)
    }

    /// The number a recovery code goes to (the oldest settled one, else the oldest verified).
    pub fn owner_number(&self, rec: &RecoveryRecord, now: u64) -> Option<String> {
        recovery_phone(&phones(rec), &self.cfg, now).map(|p| p.number.clone())
    }

    /// The number a code that authorises a change at once goes to: a settled one only.
    pub fn settled_number(&self, rec: &RecoveryRecord, now: u64) -> Option<String> {
        settled_phone(&phones(rec), &self.cfg, now).map(|p| p.number.clone())
    }

    /// Note a successful login of `user` from `ip`.
    pub fn note_login(&self, store: &Store, user: &str, ip: IpAddr, now: u64) -> Result<(), StoreError> {
        let origin = self.origin(ip);
        // Every command logs in: a place seen within the hour is not written again (its
        // last sighting is kept to the hour), so a login costs a read, not a commit.
        let net = prefix_of(ip).to_string();
        let fresh = |p: &PlaceRec| {
            p.net == net
                && now.saturating_sub(p.last_seen) < PLACE_GRAIN_SECS
                && now >= p.last_seen
                && (origin.country.is_none() || (p.country == origin.country && p.asn == origin.asn))
        };
        if store.recovery(user)?.is_some_and(|rec| rec.places.iter().any(fresh)) {
            return Ok(());
        }
        store.update_recovery(user, |rec| {
            let mut list = places(rec);
            note_login(&mut list, ip, &origin, &self.cfg, now);
            rec.places = list
                .into_iter()
                .map(|p| PlaceRec {
                    net: p.net.to_string(),
                    first_seen: p.first_seen,
                    last_seen: p.last_seen,
                    country: p.origin.country,
                    asn: p.origin.asn,
                })
                .collect();
            ((), true)
        })?;
        Ok(())
    }

    /// The network an account registered itself from is a known place from the start: its
    /// creator is its owner (a thief who later steals the password cannot change that).
    pub fn note_birthplace(&self, store: &Store, user: &str, ip: IpAddr, now: u64) -> Result<(), StoreError> {
        let settled_since = now.saturating_sub(self.cfg.new_place_days.saturating_add(1).saturating_mul(86_400));
        self.note_login(store, user, ip, settled_since)?;
        self.note_login(store, user, ip, now)
    }

    /// Whether a request of `kind` from `ip` may go ahead today; counts it if so. Recovery
    /// starts (anyone may ask) are limited per network (two a day) and per account
    /// (`max_per_day`), except from a known place of the account, so strangers cannot use
    /// up the owner's day; codes the logged-in account asks for and changes
    /// put off have `max_per_day` each.
    pub fn allow(&self, rec: &mut RecoveryRecord, kind: RecentKind, ip: IpAddr, now: u64) -> bool {
        rec.recent.retain(|r| now.saturating_sub(r.at) < 86_400);
        let net = prefix_of(ip).to_string();
        let of_kind = rec.recent.iter().filter(|r| r.kind == kind).count();
        let ok = match kind {
            // From a known place (the owner's), neither limit: a code in force is not
            // replaced, so at most one text goes out per code lifetime.
            RecentKind::Start if self.known(rec, ip, now) => true,
            RecentKind::Start => {
                let here = rec.recent.iter().filter(|r| r.kind == kind && r.net == net).count();
                here < STARTS_PER_NETWORK && of_kind < self.cfg.max_per_day as usize
            }
            RecentKind::Code | RecentKind::Change => of_kind < self.cfg.max_per_day as usize,
        };
        if ok {
            rec.recent.push(Recent { at: now, kind, net });
        }
        ok
    }

    /// Text a fresh code for `purpose` to `number`, worded by `body` (given the code and the
    /// minutes it works), as a request of `kind` from `ip`: counted, and the code kept, only
    /// when its text is queued. `Ok` means the record is to be written; on `Err` nothing of
    /// it is (the caller's `update_recovery` closure writes nothing).
    #[allow(clippy::too_many_arguments)]
    pub fn send_code(
        &self,
        rec: &mut RecoveryRecord,
        kind: RecentKind,
        ip: IpAddr,
        purpose: &str,
        user: &str,
        number: &str,
        now_ms: u64,
        body: impl FnOnce(&str, u64) -> String,
    ) -> Result<(), String> {
        let now = now_ms / 1000;
        if !self.allow(rec, kind, ip, now) {
            return Err(match kind {
                RecentKind::Start => "the day's recovery texts for this account (or from this network) are used up",
                _ => "the account's texted codes for today are used up",
            }
            .into());
        }
        let code = self.issue_code(rec, purpose, user, now).map_err(|e| e.to_string())?;
        let text = format!("qxfer {}: {}", self.host, body(&code, self.cfg.code_ttl_secs / 60));
        self.text_code(number, text, now_ms).map_err(|e| e.to_string())
    }

    /// Whether a code for `purpose` is in force (unexpired, attempts left).
    pub fn code_in_force(rec: &RecoveryRecord, purpose: &str, now: u64) -> bool {
        rec.sent.iter().any(|s| s.purpose == purpose && s.expires > now && s.attempts_left > 0)
    }

    /// A fresh eight-digit code for `purpose`, kept hashed in the record (replacing an
    /// earlier one for the same purpose).
    pub fn issue_code(
        &self,
        rec: &mut RecoveryRecord,
        purpose: &str,
        user: &str,
        now: u64,
    ) -> Result<String, NoRandomness> {
        let code = digits_code(random::<8>()?);
        rec.sent.retain(|s| s.purpose != purpose && s.expires > now);
        rec.sent.push(SentCode {
            purpose: purpose.to_owned(),
            hash: self.hash(purpose, user, &code),
            expires: now.saturating_add(self.cfg.code_ttl_secs),
            attempts_left: self.cfg.code_attempts,
        });
        Ok(code)
    }

    /// Try a typed code for `purpose`: an attempt is spent whatever the outcome; a right
    /// code, an expired one or one out of attempts is gone afterwards.
    pub fn take_code(
        &self,
        rec: &mut RecoveryRecord,
        purpose: &str,
        user: &str,
        typed: &str,
        now: u64,
    ) -> Result<(), CodeError> {
        let Some(i) = rec.sent.iter().position(|s| s.purpose == purpose) else {
            return Err(CodeError::NoAttemptsLeft);
        };
        let s = &mut rec.sent[i];
        let mut code = Code { hash: s.hash, expires: s.expires, attempts_left: s.attempts_left };
        let result = try_code(&mut code, &self.hash(purpose, user, typed), now);
        s.attempts_left = code.attempts_left;
        if result.is_ok() || code.attempts_left == 0 || matches!(result, Err(CodeError::Expired)) {
            rec.sent.remove(i);
        }
        result
    }

    /// Ten fresh recovery codes, and their keyed hashes.
    pub fn recovery_codes(&self, user: &str) -> Result<(Vec<String>, Vec<[u8; 32]>), NoRandomness> {
        let mut codes = Vec::new();
        let mut hashes = Vec::new();
        for _ in 0..crate::wire::RECOVERY_CODES {
            let code = letters_code(&random::<20>()?);
            hashes.push(self.recovery_code_hash(user, &code));
            codes.push(code);
        }
        Ok((codes, hashes))
    }

    /// Put `change` off until the delay ends, with a cancel code for each settled number
    /// (every verified one when none is settled). A recovery has a place of its own: it
    /// replaces an earlier pending recovery and drops every other pending change (they were
    /// asked for with the password it replaces). `None` when the account has as many
    /// pending changes as it may.
    pub fn schedule(
        &self,
        rec: &mut RecoveryRecord,
        change: Change,
        ip: IpAddr,
        now: u64,
    ) -> Result<Option<Scheduled>, NoRandomness> {
        let is_recovery = matches!(change, Change::Recover { .. });
        if is_recovery {
            for p in std::mem::take(&mut rec.pending) {
                Self::forget_cancelled(rec, &p.change);
            }
        } else if rec.pending.len() >= MAX_PENDING {
            return Ok(None);
        }
        let mut cancel_codes = Vec::new();
        let mut cancels = Vec::new();
        for p in cancel_phones(&phones(rec), &self.cfg, now) {
            let code = letters_code(&random::<30>()?);
            cancels.push(self.cancel_hash(&code));
            cancel_codes.push((p.number.clone(), code));
        }
        rec.next_id = rec.next_id.saturating_add(1);
        let pending = Pending {
            id: rec.next_id,
            change,
            requested: now,
            at: now.saturating_add(self.cfg.unknown_place_delay_secs),
            from: prefix_of(ip).to_string(),
            cancels,
        };
        rec.pending.push(pending.clone());
        Ok(Some(Scheduled { pending, cancel_codes }))
    }

    /// Whether a recovery is pending, and until when.
    pub fn recovery_pending(rec: &RecoveryRecord) -> Option<u64> {
        rec.pending.iter().find(|p| matches!(p.change, Change::Recover { .. })).map(|p| p.at)
    }

    /// Apply a change to the record (the password is the store's, applied by the caller).
    /// A new password voids the codes in force and every change still pending: they were
    /// asked for with the password it replaces (a thief's, perhaps). Returns how many
    /// pending changes were dropped.
    pub fn apply_to_record(rec: &mut RecoveryRecord, change: &Change, now: u64) -> usize {
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
                    Some(p) => p.verified = Some(now),
                    None if room => {
                        rec.phones.push(PhoneRec { number: number.clone(), added: now, verified: Some(now) })
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
        }
        0
    }

    /// A pending change was cancelled: a number it would have verified goes too (it was
    /// never confirmed by anyone but the one who asked).
    pub fn forget_cancelled(rec: &mut RecoveryRecord, change: &Change) {
        if let Change::AddPhone { number } = change {
            rec.phones.retain(|p| &p.number != number || p.verified.is_some());
        }
    }

    /// Text `body` to every verified number of the account, and put a notice in its
    /// mailbox (a swapped SIM does not silence the mailbox).
    pub fn announce(&self, store: &Store, user: &str, rec: &RecoveryRecord, subject: &str, body: &str, now_ms: u64) {
        for p in rec.phones.iter().filter(|p| p.verified.is_some()) {
            self.text_notice(&p.number, format!("qxfer {}: account {user}: {body}", self.host), now_ms);
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
    /// let the change wait unannounced).
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
        for (number, code) in &s.cancel_codes {
            let text = format!(
                "qxfer {host}: account {user}: a change was asked for from {from}: {what}. It takes effect at \
                 {when}. Not you? Cancel it: qxfer recover cancel {host} {code}",
                host = self.host,
                from = s.pending.from
            );
            if !self.text_notice(number, text, now_ms) {
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
                self.text_notice(&p.number, text, now_ms);
            }
        }
        let cancel_how = match &s.pending.change {
            Change::Recover { .. } => "with the cancel code texted to this account's phone numbers".to_string(),
            _ => format!(
                "with the cancel code texted to this account's phone numbers,\n  qxfer recover cancel {} CODE\n\
                 or, logged in from a known place: qxfer account cancel USER@{} {}",
                self.host, self.host, s.pending.id
            ),
        };
        let body = format!(
            "A change was asked for from {from}, a network this account has not used long enough to be known: \
             {what}.\n\
             It takes effect at {when} (in {delay}).\n\n\
             Not you? Cancel it {cancel_how}.\n",
            from = s.pending.from,
            delay = format_duration(self.cfg.unknown_place_delay_secs),
        );
        self.mail(store, user, &format!("Pending change to your account: {what}"), &body, now_ms);
        failed
    }

    /// Queue an announcement; whether it was queued.
    fn text_notice(&self, number: &str, text: String, now_ms: u64) -> bool {
        match self.texts.notice(number, text, now_ms) {
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

    /// Tell numbers no longer on the account (a removed number hears of its removal).
    pub fn tell_numbers(&self, numbers: &[String], user: &str, body: &str, now_ms: u64) {
        for n in numbers {
            self.text_notice(n, format!("qxfer {}: account {user}: {body}", self.host), now_ms);
        }
    }

    /// Text a code: the cooldown, budget and countries apply.
    fn text_code(&self, number: &str, text: String, now_ms: u64) -> Result<(), super::texts::TextRefused> {
        self.texts.code(number, text, now_ms)
    }
}

/// The record's phones as the policy sees them.
pub fn phones(rec: &RecoveryRecord) -> Vec<Phone> {
    rec.phones.iter().map(|p| Phone { number: p.number.clone(), added: p.added, verified: p.verified }).collect()
}

/// The record's places as the policy sees them (a place that does not parse is skipped).
pub fn places(rec: &RecoveryRecord) -> Vec<Place> {
    rec.places
        .iter()
        .filter_map(|p| {
            Some(Place {
                net: p.net.parse().ok()?,
                first_seen: p.first_seen,
                last_seen: p.last_seen,
                origin: Origin { country: p.country.clone(), asn: p.asn },
            })
        })
        .collect()
}
