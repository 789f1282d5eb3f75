//! The account's record as `policy::recovery` sees it: its phones and its places.

use crate::policy::recovery::{Origin, Phone, Place};
use crate::store::RecoveryRecord;

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
