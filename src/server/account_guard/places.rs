//! Known places of an account, as the listener keeps them: each password login counts a day
//! toward its network's place (`policy::places` decides when a place is known), a token
//! login only keeps a known place from expiring, and a new network's first login is told to
//! the owner at once (`new_place`). Disowning a place (`disown`) is here too.

use std::net::IpAddr;

use ipnet::IpNet;

use super::policy_view::{place_recs, places};
use super::AccountGuard;
use crate::policy::places::{capped_geo_net, known_place, note_password_login, note_token_login, Sighting};
use crate::policy::prefix_of;
use crate::store::{RecoveryRecord, Store, StoreError};

/// How precisely a place's last sighting is kept: token logins within this of the last one
/// write nothing.
pub const PLACE_GRAIN_SECS: u64 = 3600;

/// A password login's sighting, with what the owner must be told of it.
pub struct Noted {
    pub sighting: Sighting,
    /// The account's first place ever (its owner's first login: nobody to warn).
    pub first: bool,
    /// The record after the login was noted (for the notice).
    pub rec: RecoveryRecord,
    /// The disown code to text the oldest settled number (a new place, at most one such
    /// text a day).
    pub disown_code: Option<String>,
}

impl AccountGuard {
    /// Whether a connection from `ip` comes from a known place of the account.
    pub fn known(&self, rec: &RecoveryRecord, ip: IpAddr, now: u64) -> bool {
        known_place(&places(rec), ip, &self.origin(ip), &self.cfg, now).is_some()
    }

    /// When the known place `ip` comes from became known (`None`: not a known place). A
    /// change requested before that time was not requested after the place was known.
    pub fn known_since(&self, rec: &RecoveryRecord, ip: IpAddr, now: u64) -> Option<u64> {
        known_place(&places(rec), ip, &self.origin(ip), &self.cfg, now).and_then(|p| p.known_since)
    }

    /// The GeoIP network a place earned at `ip` may follow, capped (nothing without GeoIP).
    fn geo_net(&self, ip: IpAddr) -> Option<IpNet> {
        capped_geo_net(ip, self.geoip.as_ref().and_then(|g| g.network_prefix(ip)))
    }

    /// Note a successful password login of `user` from `ip`: a day toward its place. A new
    /// place gets a disown code when the owner can be texted today.
    pub fn note_password_login(
        &self,
        store: &Store,
        user: &str,
        ip: IpAddr,
        now: u64,
    ) -> Result<Option<Noted>, StoreError> {
        let origin = self.origin(ip);
        let geo = self.geo_net(ip);
        let net = prefix_of(ip).to_string();
        let day = now / 86_400;
        // Every command logs in: a place already counted today, known or not, writes nothing.
        let counted = |rec: &RecoveryRecord| {
            rec.places.iter().any(|p| p.net == net && p.last_day == day && now >= p.last_seen && p.disowned.is_none())
        };
        if store.recovery(user)?.is_none_or(|rec| counted(&rec)) {
            return Ok(None);
        }
        let code = super::codes::new_cancel_code().ok();
        let noted = store.update_recovery(user, |rec| {
            let first = rec.places.is_empty();
            let mut list = places(rec);
            let sighting = note_password_login(&mut list, ip, &origin, geo, &self.cfg, now);
            rec.places = place_recs(&list, &rec.places);
            let mut disown_code = None;
            let tell = sighting == Sighting::New && !first;
            if tell && rec.new_place_texted_day < day && self.settled_number(rec, now).is_some() {
                if let (Some(code), Some(p)) = (&code, rec.places.iter_mut().find(|p| p.net == net)) {
                    p.disown_code = Some(self.cancel_hash(code));
                    rec.new_place_texted_day = day;
                    disown_code = Some(code.clone());
                }
            }
            (Noted { sighting, first, rec: rec.clone(), disown_code }, true)
        })?;
        Ok(noted)
    }

    /// Note a successful login of `user` from `ip` (see the module's documentation): the
    /// places carried over from schema 1 listed to the owner once; a password login's day,
    /// a new place told to the owner (not the account's first place: that is the owner's
    /// own first login) and the account's first login's network; a token login's known
    /// place kept from expiring. Returns a password login's sighting.
    pub fn note_login(
        &self,
        store: &Store,
        user: &str,
        ip: IpAddr,
        password: bool,
        now_ms: u64,
    ) -> Result<Option<Sighting>, StoreError> {
        let now = now_ms / 1000;
        self.tell_carried_over(store, user, now_ms)?;
        if !password {
            return self.note_token_login(store, user, ip, now).map(|()| None);
        }
        let noted = self.note_password_login(store, user, ip, now)?;
        if let Some(n) = noted.as_ref().filter(|n| n.sighting == Sighting::New && !n.first) {
            self.tell_new_place(store, user, ip, n, now_ms);
        }
        self.note_first_login(store, user, ip, now)?;
        Ok(noted.filter(|n| !n.first).map(|n| n.sighting))
    }

    /// Note a token login: a known place does not expire while its owner uses it.
    pub fn note_token_login(&self, store: &Store, user: &str, ip: IpAddr, now: u64) -> Result<(), StoreError> {
        let net = prefix_of(ip).to_string();
        let stale = |rec: &RecoveryRecord| {
            rec.places.iter().any(|p| p.net == net && p.known_since.is_some() && now >= p.last_seen + PLACE_GRAIN_SECS)
        };
        if !store.recovery(user)?.is_some_and(|rec| stale(&rec)) {
            return Ok(());
        }
        store.update_recovery(user, |rec| {
            let mut list = places(rec);
            let moved = note_token_login(&mut list, ip, &self.cfg, now);
            rec.places = place_recs(&list, &rec.places);
            ((), moved)
        })?;
        Ok(())
    }
}
