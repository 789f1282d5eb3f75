//! The account's record as `policy::recovery` and `policy::places` see it: its phones and
//! its places, and the places written back.

use crate::policy::places::{Origin, Place};
use crate::policy::recovery::Phone;
use crate::store::{PlaceRec, RecoveryRecord};

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
                days: p.days,
                first_day: p.first_day,
                last_day: p.last_day,
                known_since: p.known_since,
                disowned: p.disowned,
                geo_net: p.geo_net.as_deref().and_then(|g| g.parse().ok()),
            })
        })
        .collect()
}

/// The policy's places as the record keeps them; what only the record knows (a place's
/// disown code) is kept from `before`.
pub fn place_recs(list: &[Place], before: &[PlaceRec]) -> Vec<PlaceRec> {
    list.iter()
        .map(|p| {
            let net = p.net.to_string();
            let disown_code = before.iter().find(|b| b.net == net).and_then(|b| b.disown_code);
            PlaceRec {
                net,
                first_seen: p.first_seen,
                last_seen: p.last_seen,
                country: p.origin.country.clone(),
                asn: p.origin.asn,
                days: p.days,
                first_day: p.first_day,
                last_day: p.last_day,
                known_since: p.known_since,
                disowned: p.disowned,
                disown_code,
                geo_net: p.geo_net.map(|g| g.to_string()),
            }
        })
        .collect()
}
