//! A new account setting itself up (the decisions are `policy::account_setup`): the network
//! of its first password login, noted in its record when it happens, and whether a change
//! is its first setup, let through at once from that network or with the operator's
//! one-time setup code (kept, as every code, only as a hash keyed with the recovery key;
//! `qxfer user add` makes it).

use std::net::IpAddr;

use super::codes::AUTHORISE;
use super::AccountGuard;
use crate::clock::format_duration;
use crate::policy::account_setup::{self, Has, SetupItem, SetupWay, SETUP_PURPOSE};
use crate::policy::prefix_of;
use crate::policy::recovery::CodeError;
use crate::store::{Change, Recent, RecentKind, RecoveryRecord, Store, StoreError};

/// A change let through at once as a new account's setup: what it set up, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetUp {
    pub item: SetupItem,
    pub way: SetupWay,
}

/// The network of the account's first password login, once there was one.
fn first_network(rec: &RecoveryRecord) -> Option<&str> {
    rec.recent.iter().find(|r| r.kind == RecentKind::FirstLogin).map(|r| r.net.as_str())
}

/// Make `ip`'s network the one the account sets itself up from.
fn set_first_network(rec: &mut RecoveryRecord, ip: IpAddr, now: u64) {
    rec.recent.retain(|r| r.kind != RecentKind::FirstLogin);
    rec.recent.push(Recent { at: now, kind: RecentKind::FirstLogin, net: prefix_of(ip).to_string() });
}

impl AccountGuard {
    /// Note the network of `user`'s first password login (once: a read for every later one).
    pub fn note_first_login(&self, store: &Store, user: &str, ip: IpAddr, now: u64) -> Result<(), StoreError> {
        if store.recovery(user)?.is_none_or(|rec| first_network(&rec).is_some()) {
            return Ok(());
        }
        store.update_recovery(user, |rec| {
            if first_network(rec).is_some() {
                return ((), false);
            }
            set_first_network(rec, ip, now);
            ((), true)
        })?;
        Ok(())
    }

    /// Whether `change`, asked for from `ip` with `auth`, is a new account's first setup
    /// (made `created`), and how it is let through: `Ok(None)` when it is not, and the
    /// ordinary rules hold. From the first login's network no code is needed; elsewhere
    /// `auth` is tried as the setup code (a wrong one is spent as a guess; a texted code in
    /// force to confirm a change goes first), and once the setup code is taken, this
    /// network becomes the one the rest of the setup may come from.
    #[allow(clippy::too_many_arguments)]
    pub fn setup(
        &self,
        rec: &mut RecoveryRecord,
        change: &Change,
        created: Option<u64>,
        ip: IpAddr,
        auth: Option<&str>,
        user: &str,
        now: u64,
    ) -> Result<Option<SetUp>, CodeError> {
        let item = match change {
            Change::AddPhone { .. } => SetupItem::Number,
            Change::Question { .. } => SetupItem::Question,
            Change::Codes { .. } => SetupItem::Codes,
            _ => return Ok(None),
        };
        let has = Has {
            verified_number: rec.phones.iter().any(|p| p.verified.is_some()),
            question: rec.question.is_some(),
            codes: !rec.codes.is_empty(),
        };
        if !account_setup::lacks(item, has) || !account_setup::window_open(self.cfg.setup_window_secs, created, now) {
            return Ok(None);
        }
        if account_setup::from_first_network(first_network(rec), ip) {
            return Ok(Some(SetUp { item, way: SetupWay::FirstNetwork }));
        }
        match auth {
            // A code texted to confirm a change is in force: `auth` is that one.
            Some(_) if Self::code_in_force(rec, AUTHORISE, now) => Ok(None),
            Some(code) if Self::code_in_force(rec, SETUP_PURPOSE, now) => {
                self.take_code(rec, SETUP_PURPOSE, user, code, now)?;
                set_first_network(rec, ip, now);
                Ok(Some(SetUp { item, way: SetupWay::SetupCode }))
            }
            // A setup code used already, or out of tries: said as such.
            Some(_) => Err(CodeError::Expired),
            None => Ok(None),
        }
    }

    /// Why a setup change applied at once, in words.
    pub fn setup_reason(&self, set_up: SetUp) -> String {
        account_setup::reason(set_up.item, set_up.way, &format_duration(self.cfg.setup_window_secs))
    }
}
