//! Account recovery and protected changes, the glue around `policy::recovery`: the guard
//! itself (what it holds), one file per job around it. The decisions are pure
//! (`policy::recovery`); these modules read and write the account's record and send texts.
//!
//! - `key`: the listener's recovery key;
//! - `policy_view`: the account's record as the policy sees it (phones, places);
//! - `places`: known places, earned by password logins on several days;
//! - `new_place`: the owner told of a new place, and disowning one;
//! - `daily`: what an account and a network may ask for in a day;
//! - `codes`: texted codes (only their keyed hashes are kept) and recovery codes;
//! - `starts`: a recovery's texted code from start to finish, alike for names that cannot
//!   be texted (their phantoms), and when the next code can be texted;
//! - `setup`: a new account setting itself up (its first login's network, the setup code);
//! - `pending`: changes put off until their delay ends;
//! - `apply`: changes taking effect, at once or when their delay ended;
//! - `notices`: announcements, texted and in the mailbox;
//! - `token_notices`: a session token made from a place that is not known, told.

pub(crate) mod apply;
pub(crate) mod codes;
mod daily;
mod key;
pub(crate) mod new_place;
pub(crate) mod notices;
pub(crate) mod pending;
pub(crate) mod places;
pub(crate) mod policy_view;
pub(crate) mod setup;
pub(crate) mod starts;
pub(crate) mod token_notices;

use std::net::IpAddr;

use super::texts::Texts;
use crate::policy::places::Origin;
use crate::policy::recovery::RecoveryConfig;

pub use key::{load_or_create_key, KeyError};

/// Recovery starts worked on at once, at most; past that a start texts nothing and is
/// answered so ("busy, try again in a minute", the same for every name; logged).
pub const MAX_BACKGROUND_STARTS: usize = 16;

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
    /// Names that cannot be texted, answered like accounts (`starts`).
    phantoms: std::sync::Mutex<crate::policy::recovery_start::Phantoms>,
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
            phantoms: Default::default(),
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

    /// How texts name this listener (`[sms] name`): the HOST of the commands they give.
    pub fn host(&self) -> &str {
        &self.host
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
}
