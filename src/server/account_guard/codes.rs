//! Codes: the ones the listener texts (to recover an account, to authorise a change at
//! once, to verify a number, to cancel a pending change), kept only as hashes keyed with
//! the recovery key, and the account's recovery codes. Which number a code goes to.

use std::net::IpAddr;

use super::policy_view::phones;
use super::AccountGuard;
use crate::policy::prefix_of;
use crate::policy::recovery::{
    self, code_hash, digits_code, is_settled_number, letters_code, recovery_phone, settled_phone, try_code, Code,
    CodeError,
};
use crate::policy::sms::{Ask, Pool};
use crate::server::challenges::{random, NoRandomness};
use crate::server::texts::TextRefused;
use crate::store::{RecentKind, RecoveryRecord, SentCode};

/// What a texted code is for; part of its keyed hash.
pub const RECOVER: &str = "recover";
pub const AUTHORISE: &str = "authorise";
const CANCEL: &str = "cancel";
const RECOVERY_CODE: &str = "recovery-code";

/// The purpose of the code that verifies `number`.
pub fn verify_purpose(number: &str) -> String {
    format!("verify:{number}")
}

/// Why a code was not texted (nothing of it was kept).
#[derive(Debug, Clone, Copy, thiserror::Error)]
pub enum SendCodeError {
    #[error("the day's recovery texts for this account (or from this network) are used up")]
    StartsUsedUp,
    #[error("the account's texted codes for today are used up")]
    CodesUsedUp,
    #[error(transparent)]
    Random(#[from] NoRandomness),
    #[error(transparent)]
    Text(#[from] TextRefused),
}

impl AccountGuard {
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

    /// The number a recovery code goes to (the oldest settled one, else the oldest verified).
    pub fn owner_number(&self, rec: &RecoveryRecord, now: u64) -> Option<String> {
        recovery_phone(&phones(rec), &self.cfg, now).map(|p| p.number.clone())
    }

    /// The number a code that authorises a change at once goes to: a settled one only.
    pub fn settled_number(&self, rec: &RecoveryRecord, now: u64) -> Option<String> {
        settled_phone(&phones(rec), &self.cfg, now).map(|p| p.number.clone())
    }

    /// Which pool a text to `number` of `user` draws from: the owner reserve for a settled
    /// number (`stranger` when the request behind it came from a place the account does not
    /// know), the general pool otherwise.
    pub fn pool_for<'a>(
        &self,
        rec: &RecoveryRecord,
        user: &'a str,
        number: &str,
        stranger: bool,
        now: u64,
    ) -> Pool<'a> {
        if is_settled_number(&phones(rec), number, &self.cfg, now) {
            Pool::Owner { account: user, stranger }
        } else {
            Pool::General
        }
    }

    /// Text a fresh code for `purpose` to `number`, worded by `body` (given the code and the
    /// minutes it works), as a request of `kind` from `ip`: counted, and the code kept, only
    /// when its text is queued. A verification code draws on the verification allowances
    /// and the general pool; a code to a settled number on the owner reserve (the
    /// stranger part when `ip` is not a known place); a recovery start from elsewhere
    /// also on its network's starts across accounts. `Ok` means the record is to be written; on `Err` nothing of
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
    ) -> Result<(), SendCodeError> {
        let now = now_ms / 1000;
        if !self.allow(rec, kind, ip, now) {
            return Err(match kind {
                RecentKind::Start => SendCodeError::StartsUsedUp,
                _ => SendCodeError::CodesUsedUp,
            });
        }
        let stranger = !self.known(rec, ip, now);
        let net = prefix_of(ip).to_string();
        let pool = if purpose == verify_purpose(number) {
            Pool::Verify { account: user, net: &net }
        } else {
            self.pool_for(rec, user, number, stranger, now)
        };
        let start_from = (kind == RecentKind::Start && stranger).then_some(net.as_str());
        let ask = Ask { pool, start_from, cooldown: true };
        let code = self.issue_code(rec, purpose, user, now)?;
        let text = format!("qxfer {}: {}", self.host, body(&code, self.cfg.code_ttl_secs / 60));
        Ok(self.texts.send(number, &ask, text, now_ms)?)
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
    /// code or an expired one is gone afterwards, one out of attempts stays (answering
    /// `NoAttemptsLeft`) until it expires or a new one replaces it.
    pub fn take_code(
        &self,
        rec: &mut RecoveryRecord,
        purpose: &str,
        user: &str,
        typed: &str,
        now: u64,
    ) -> Result<(), CodeError> {
        let Some(i) = rec.sent.iter().position(|s| s.purpose == purpose) else {
            return Err(CodeError::NotSent);
        };
        let s = &mut rec.sent[i];
        let mut code = Code { hash: s.hash, expires: s.expires, attempts_left: s.attempts_left };
        let result = try_code(&mut code, &self.hash(purpose, user, typed), now);
        s.attempts_left = code.attempts_left;
        // A code out of attempts stays until it expires (one per purpose; `issue_code`
        // replaces it), so a try past its five is told apart from a code never sent.
        if result.is_ok() || matches!(result, Err(CodeError::Expired)) {
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
}

/// A new cancel or disown code: fifteen letters (70 bits), typed from a text.
pub fn new_cancel_code() -> Result<String, NoRandomness> {
    Ok(letters_code(&random::<30>()?))
}
