//! Known places of an account: the networks it logs in from, noted at each login (to the
//! hour) and at registration (the network an account registered itself from is known from
//! the start). A change from a known place needs no texted code and no delay.

use std::net::IpAddr;

use super::policy_view::places;
use super::AccountGuard;
use crate::policy::prefix_of;
use crate::policy::recovery::{is_known_place, note_login};
use crate::store::{PlaceRec, RecoveryRecord, Store, StoreError};

/// How precisely a place's last sighting is kept: logins within this of the last one
/// write nothing.
pub const PLACE_GRAIN_SECS: u64 = 3600;

impl AccountGuard {
    /// Whether a connection from `ip` comes from a known place of the account.
    pub fn known(&self, rec: &RecoveryRecord, ip: IpAddr, now: u64) -> bool {
        is_known_place(&places(rec), ip, &self.origin(ip), &self.cfg, now)
    }

    /// Note the place of a successful login of `user` from `ip`.
    pub fn note_place(&self, store: &Store, user: &str, ip: IpAddr, now: u64) -> Result<(), StoreError> {
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
        self.note_place(store, user, ip, settled_since)?;
        self.note_place(store, user, ip, now)
    }
}
