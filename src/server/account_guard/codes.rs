//! Codes: the ones the listener texts (to recover an account, to authorise a change at
//! once, to verify a number, to cancel a pending change), kept only as hashes keyed with
//! the recovery key, and the account's recovery codes. Which number a code goes to.

use std::net::IpAddr;

use super::policy_view::phones;
use super::AccountGuard;
use crate::policy::prefix_of;
use crate::policy::recovery::{
    self, check_code, code_hash, digits_code, is_settled_number, letters_code, recovery_phone, settled_phone, Code,
    CodeError,
};
use crate::policy::sms::{Ask, Pool};
use crate::server::challenges::{random, NoRandomness};
use crate::server::texts::{About, TextRefused};
use crate::store::{RecentKind, RecoveryRecord, SentCode, UsedCode};

/// What a texted code is for; part of its keyed hash.
pub const RECOVER: &str = "recover";
pub const AUTHORISE: &str = "authorise";
const CANCEL: &str = "cancel";
pub const RECOVERY_CODE: &str = "recovery-code";

/// Used codes remembered per account, at most (the oldest go first).
pub const MAX_USED: usize = 16;

/// How long a used recovery code is recognised when typed again.
pub const USED_RECOVERY_CODE_SECS: u64 = 30 * 86_400;

/// A texted code that was checked and found right, not yet used up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    /// Attempts left after this check.
    pub left: u32,
    pub expires: u64,
    pub hash: [u8; 32],
}

/// What a code for `purpose` is called in texts and the activity log.
pub fn code_name(purpose: &str) -> &'static str {
    match purpose {
        RECOVER => "recovery code",
        AUTHORISE => "authorisation code",
        p if p.starts_with("verify:") => "verification code",
        "unlock" => "login code",
        _ => "code",
    }
}

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
        let net = prefix_of(ip).to_string();
        let ask = self.code_ask(rec, kind, ip, purpose, user, number, &net, now);
        let code = self.issue_code(rec, purpose, user, now)?;
        let text = format!("qxfer {}: {}", self.host, body(&code, self.cfg.code_ttl_secs / 60));
        let about = About { source: Some(ip), account: Some(user), what: code_name(purpose) };
        Ok(self.texts.send(number, &ask, text, now_ms, about)?)
    }

    /// How a code for `purpose` to `number`, asked for by `kind` from `ip` (its network
    /// `net`), is counted: a verification code on the verification allowances, a code to a
    /// settled number on the owner reserve (the stranger part when `ip` is not a known
    /// place), a recovery start from elsewhere on its network's starts too.
    #[allow(clippy::too_many_arguments)]
    pub fn code_ask<'a>(
        &self,
        rec: &RecoveryRecord,
        kind: RecentKind,
        ip: IpAddr,
        purpose: &str,
        user: &'a str,
        number: &str,
        net: &'a str,
        now: u64,
    ) -> Ask<'a> {
        let stranger = !self.known(rec, ip, now);
        let pool = if purpose == verify_purpose(number) {
            Pool::Verify { account: user, net }
        } else {
            self.pool_for(rec, user, number, stranger, now)
        };
        let start_from = (kind == RecentKind::Start && stranger).then_some(net);
        Ask { pool, start_from, cooldown: true }
    }

    /// Whether a code for `purpose` is in force (unexpired, attempts left).
    pub fn code_in_force(rec: &RecoveryRecord, purpose: &str, now: u64) -> bool {
        Self::code_until(rec, purpose, now).is_some()
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
    /// code is used up (remembered as used until it would have expired), an expired one is
    /// gone, one out of attempts stays (answering `NoAttemptsLeft`) until it expires or a new
    /// one replaces it. A used code typed again is `Used`, and costs the code in force
    /// nothing.
    pub fn take_code(
        &self,
        rec: &mut RecoveryRecord,
        purpose: &str,
        user: &str,
        typed: &str,
        now: u64,
    ) -> Result<(), CodeError> {
        self.check_code(rec, purpose, user, typed, now, false)?;
        Self::use_code(rec, purpose, now);
        Ok(())
    }

    /// Check a typed code for `purpose` without using it up: a wrong one costs an attempt,
    /// a right one costs one only when `charge` (a secret answer or recovery code is about
    /// to be checked with it: every such check is paid for before it is made).
    pub fn check_code(
        &self,
        rec: &mut RecoveryRecord,
        purpose: &str,
        user: &str,
        typed: &str,
        now: u64,
        charge: bool,
    ) -> Result<Checked, CodeError> {
        let hash = self.hash(purpose, user, typed);
        rec.used.retain(|u| u.until > now);
        if rec.used.iter().any(|u| u.purpose == purpose && u.hash == hash) {
            return Err(CodeError::Used);
        }
        let Some(i) = rec.sent.iter().position(|s| s.purpose == purpose) else {
            return Err(CodeError::NotSent);
        };
        let s = &mut rec.sent[i];
        let mut code = Code { hash: s.hash, expires: s.expires, attempts_left: s.attempts_left };
        let result = check_code(&mut code, &hash, now, charge);
        s.attempts_left = code.attempts_left;
        // A code out of attempts stays until it expires (one per purpose; `issue_code`
        // replaces it), so a try past its five is told apart from a code never sent.
        if matches!(result, Err(CodeError::Expired)) {
            rec.sent.remove(i);
        }
        result.map(|left| Checked { left, expires: code.expires, hash })
    }

    /// The code for `purpose` is used up: gone, and remembered as used until it would have
    /// expired (typed again, it is a person's mistake, not a guess).
    pub fn use_code(rec: &mut RecoveryRecord, purpose: &str, now: u64) {
        if let Some(i) = rec.sent.iter().position(|s| s.purpose == purpose) {
            let s = rec.sent.remove(i);
            Self::remember_used(rec, UsedCode { purpose: s.purpose, hash: s.hash, until: s.expires }, now);
        }
    }

    /// Remember a used code (at most [`MAX_USED`], the oldest go first).
    pub fn remember_used(rec: &mut RecoveryRecord, used: UsedCode, now: u64) {
        rec.used.retain(|u| u.until > now);
        rec.used.push(used);
        if rec.used.len() > MAX_USED {
            rec.used.drain(..rec.used.len() - MAX_USED);
        }
    }

    /// Give back the attempt a charged check of the code for `purpose` took (what it was
    /// charged for turned out not to be a guess).
    pub fn refund_attempt(&self, rec: &mut RecoveryRecord, purpose: &str) {
        if let Some(s) = rec.sent.iter_mut().find(|s| s.purpose == purpose) {
            s.attempts_left = (s.attempts_left + 1).min(self.cfg.code_attempts);
        }
    }

    /// The expiry of the code for `purpose` still in force (unexpired, attempts left).
    pub fn code_until(rec: &RecoveryRecord, purpose: &str, now: u64) -> Option<u64> {
        rec.sent.iter().find(|s| s.purpose == purpose && s.expires > now && s.attempts_left > 0).map(|s| s.expires)
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
