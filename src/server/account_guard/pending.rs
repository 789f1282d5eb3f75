//! Changes put off: a change asked for from a network that is not a known place, without a
//! texted code, waits `recovery.unknown_place_delay_secs` with a cancel code for each
//! settled number. At most [`MAX_PENDING`] wait at once; a pending recovery has a place of
//! its own.

use std::net::IpAddr;

use super::policy_view::phones;
use super::AccountGuard;
use crate::policy::prefix_of;
use crate::policy::recovery::{cancel_phones, letters_code};
use crate::server::challenges::{random, NoRandomness};
use crate::store::{Change, Pending, RecoveryRecord};

/// Pending changes per account, at most (a pending recovery has a place of its own).
pub const MAX_PENDING: usize = 4;

/// A change and the cancel codes texted about it, by number.
pub struct Scheduled {
    pub pending: Pending,
    pub cancel_codes: Vec<(String, String)>,
}

impl AccountGuard {
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

    /// A pending change was cancelled: a number it would have verified goes too (it was
    /// never confirmed by anyone but the one who asked).
    pub fn forget_cancelled(rec: &mut RecoveryRecord, change: &Change) {
        if let Change::AddPhone { number } = change {
            rec.phones.retain(|p| &p.number != number || p.verified.is_some());
        }
    }
}
