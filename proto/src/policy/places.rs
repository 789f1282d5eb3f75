//! Known places, pure: a place is a network (/24 or /64) an account logs in from, and it is
//! *earned*. Only password logins count (a thief can mint a token with the password and let
//! a script log in with it every day); a place is known after password logins on
//! [`PLACE_DAYS`] distinct UTC days spanning at least `new_place_days`, never while its
//! owner has disowned it, and it is forgotten when not seen for `place_expiry_days`.
//!
//! Why three days: one login (the thief's visit of the story) never counts; two could be
//! one evening either side of midnight; three over a week is what an owner who types her
//! password at home does without trying, and a thief must come back on three days spread
//! over a week, each time a new-place notice's chance for the owner to disown him (the
//! first login texts her a disown code). A known place is not a root of trust either: the
//! changes that could take the account over need the oldest settled number whatever the
//! place (`server::requests::protected_change`).
//!
//! GeoIP never makes a place known by itself. It lets a known place follow its own
//! addresses: the GeoIP record's network with the same ASN, capped at /16 (IPv4) or /40
//! (IPv6), that contains the /24 or /64 where the place was earned (a phone's carrier hands
//! out addresses from many /24s).

use std::net::IpAddr;

use ipnet::IpNet;

use super::prefix_of;
use super::recovery::RecoveryConfig;

const DAY: u64 = 24 * 3600;

/// Distinct UTC days of password logins that make a place known (with the span of
/// `new_place_days` between the first and the last).
pub const PLACE_DAYS: u32 = 3;

/// A network an account logged in from: its /24 or /64, first and last seen, where the
/// operator's GeoIP database puts it, and what it has earned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    pub net: IpNet,
    pub first_seen: u64,
    pub last_seen: u64,
    pub origin: Origin,
    /// Distinct UTC days with a password login, and the first and last of them.
    pub days: u32,
    pub first_day: u64,
    pub last_day: u64,
    /// When it became known.
    pub known_since: Option<u64>,
    /// When its owner disowned it.
    pub disowned: Option<u64>,
    /// The GeoIP network (same ASN, capped) the place follows once known.
    pub geo_net: Option<IpNet>,
}

/// Where a network is: its country (ISO code) and autonomous system, when known.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Origin {
    pub country: Option<String>,
    pub asn: Option<u32>,
}

impl Origin {
    /// `ES, AS3352`, or empty when nothing is known.
    pub fn describe(&self) -> String {
        match (&self.country, self.asn) {
            (Some(c), Some(a)) => format!("{c}, AS{a}"),
            (Some(c), None) => c.clone(),
            (None, Some(a)) => format!("AS{a}"),
            (None, None) => String::new(),
        }
    }
}

/// Whether a place is known now: earned, not disowned, seen within `place_expiry_days`.
pub fn place_is_known(p: &Place, cfg: &RecoveryConfig, now: u64) -> bool {
    p.known_since.is_some()
        && p.disowned.is_none()
        && now.saturating_sub(p.last_seen) < cfg.place_expiry_days.saturating_mul(DAY)
}

/// The known place a login from `ip` (at `origin`) comes from: the place of its network,
/// or a known place whose GeoIP network contains `ip` with the same ASN.
pub fn known_place<'a>(
    places: &'a [Place],
    ip: IpAddr,
    origin: &Origin,
    cfg: &RecoveryConfig,
    now: u64,
) -> Option<&'a Place> {
    let net = prefix_of(ip);
    if let Some(p) = places.iter().find(|p| p.net == net) {
        // A disowned network is never known, not even by following another place.
        if p.disowned.is_some() {
            return None;
        }
        if place_is_known(p, cfg, now) {
            return Some(p);
        }
    }
    let follows = |p: &&Place| {
        origin.asn.is_some() && p.origin.asn == origin.asn && p.geo_net.is_some_and(|g| g.contains(&ip.to_canonical()))
    };
    places.iter().filter(|p| place_is_known(p, cfg, now)).find(follows)
}

/// Whether a login from `ip` comes from a known place of the account.
pub fn is_known_place(places: &[Place], ip: IpAddr, origin: &Origin, cfg: &RecoveryConfig, now: u64) -> bool {
    known_place(places, ip, origin, cfg, now).is_some()
}

/// What a password login's sighting of its place was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sighting {
    /// A network the account had not logged in from (nor follows from a known place): its
    /// owner is told at once.
    New,
    /// Seen before; not (yet) known.
    Again,
    /// This login made the place known.
    BecameKnown,
    /// A known place (its own network, or followed by GeoIP).
    Known,
}

/// The GeoIP network a place may follow: `geo`'s prefix length, no wider than /16 (IPv4)
/// or /40 (IPv6), around `ip`; nothing when it is no wider than the place itself.
pub fn capped_geo_net(ip: IpAddr, geo_prefix: Option<u8>) -> Option<IpNet> {
    let ip = ip.to_canonical();
    let (floor, place) = match ip {
        IpAddr::V4(_) => (16, 24),
        IpAddr::V6(_) => (40, 64),
    };
    let len = geo_prefix?.max(floor);
    if len >= place {
        return None;
    }
    IpNet::new(ip, len).ok().map(|n| n.trunc())
}

/// Note a successful password login from `ip`: a day counted toward its place (a new place
/// when its network is new), the place made known when it has earned it; expired places
/// go, and past `max_places` a new place takes the room of the stalest one not known.
pub fn note_password_login(
    places: &mut Vec<Place>,
    ip: IpAddr,
    origin: &Origin,
    geo_net: Option<IpNet>,
    cfg: &RecoveryConfig,
    now: u64,
) -> Sighting {
    let net = prefix_of(ip);
    let day = now / DAY;
    let followed = known_place(places, ip, origin, cfg, now).is_some_and(|p| p.net != net);
    places.retain(|p| now.saturating_sub(p.last_seen) < cfg.place_expiry_days.saturating_mul(DAY));
    let Some(p) = places.iter_mut().find(|p| p.net == net) else {
        make_room(places, cfg, now);
        places.push(Place {
            net,
            first_seen: now,
            last_seen: now,
            origin: origin.clone(),
            days: 1,
            first_day: day,
            last_day: day,
            known_since: None,
            disowned: None,
            geo_net,
        });
        return if followed { Sighting::Known } else { Sighting::New };
    };
    p.last_seen = p.last_seen.max(now);
    if origin.asn.is_some() {
        p.origin = origin.clone();
        p.geo_net = geo_net.or(p.geo_net);
    }
    if day > p.last_day {
        p.days = p.days.saturating_add(1);
        p.last_day = day;
    }
    if place_is_known(p, cfg, now) || followed {
        return Sighting::Known;
    }
    let earned = p.days >= PLACE_DAYS && p.last_day.saturating_sub(p.first_day) >= cfg.new_place_days;
    if earned && p.disowned.is_none() {
        p.known_since = Some(now);
        return Sighting::BecameKnown;
    }
    // A known place that expired and came back starts over.
    p.known_since = None;
    Sighting::Again
}

/// A token login: a known place's last sighting moves on (it does not expire while its
/// owner uses it); nothing else counts.
pub fn note_token_login(places: &mut [Place], ip: IpAddr, cfg: &RecoveryConfig, now: u64) -> bool {
    let net = prefix_of(ip);
    match places.iter_mut().find(|p| p.net == net && place_is_known(p, cfg, now)) {
        Some(p) if p.last_seen < now => {
            p.last_seen = now;
            true
        }
        _ => false,
    }
}

/// Room for a new place: new places never push out known ones (they have a quarter of the
/// list, and a new place takes the room of the stalest new one); only when the list is full
/// of known places does the stalest known place go.
fn make_room(places: &mut Vec<Place>, cfg: &RecoveryConfig, now: u64) {
    let is_new = |p: &Place| !place_is_known(p, cfg, now);
    let new_share = (cfg.max_places / 4).max(1);
    let stalest = |places: &Vec<Place>, new_only: bool| {
        places
            .iter()
            .enumerate()
            .filter(|(_, p)| !new_only || is_new(p))
            .min_by_key(|(_, p)| p.last_seen)
            .map(|(i, _)| i)
    };
    let new_count = places.iter().filter(|p| is_new(p)).count();
    let evict = if new_count >= new_share {
        stalest(places, true)
    } else if places.len() >= cfg.max_places.max(1) {
        stalest(places, false)
    } else {
        None
    };
    if let Some(i) = evict {
        places.swap_remove(i);
    }
}

/// Whether the owner may disown `target` from a request coming from `ip`: never the place
/// the request comes from, nor a place known before the requester's own place was first
/// seen (a thief who earned a place cannot disown the owner's older home). `None` when
/// allowed, or why not.
pub fn may_disown(
    places: &[Place],
    target: &IpNet,
    ip: IpAddr,
    cfg: &RecoveryConfig,
    now: u64,
) -> Option<&'static str> {
    let here = prefix_of(ip);
    if *target == here {
        return Some("a request cannot disown the network it comes from");
    }
    let Some(t) = places.iter().find(|p| p.net == *target) else {
        return Some("the account has no such place");
    };
    let mine = places.iter().find(|p| p.net == here).map_or(now, |p| p.first_seen);
    if place_is_known(t, cfg, now) && t.known_since.is_some_and(|k| k < mine) {
        return Some("that place was known before this network was first seen");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000 - (1_800_000_000 % DAY) + 12 * 3600;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn a_place_is_earned_over_three_days_spanning_a_week() {
        let cfg = RecoveryConfig::default();
        let none = Origin::default();
        let mut places = Vec::new();
        let home = ip("192.0.2.7");
        assert_eq!(note_password_login(&mut places, home, &none, None, &cfg, NOW), Sighting::New);
        // Many logins on one day, and on the next: still two days.
        for h in 0..5 {
            assert_eq!(note_password_login(&mut places, home, &none, None, &cfg, NOW + h * 60), Sighting::Again);
        }
        assert_eq!(note_password_login(&mut places, home, &none, None, &cfg, NOW + DAY), Sighting::Again);
        // A third day too soon after the first: not yet.
        assert_eq!(note_password_login(&mut places, home, &none, None, &cfg, NOW + 2 * DAY), Sighting::Again);
        assert!(!is_known_place(&places, home, &none, &cfg, NOW + 2 * DAY));
        // A week after the first: known.
        assert_eq!(note_password_login(&mut places, home, &none, None, &cfg, NOW + 7 * DAY), Sighting::BecameKnown);
        assert!(is_known_place(&places, ip("192.0.2.200"), &none, &cfg, NOW + 7 * DAY));
        assert!(!is_known_place(&places, ip("192.0.3.1"), &none, &cfg, NOW + 7 * DAY));
        assert!(!is_known_place(&places, home, &none, &cfg, NOW + 400 * DAY), "forgotten after a year unseen");
    }

    #[test]
    fn a_single_visit_is_never_known_however_long_ago() {
        let cfg = RecoveryConfig::default();
        let none = Origin::default();
        let mut places = Vec::new();
        note_password_login(&mut places, ip("198.51.100.9"), &none, None, &cfg, NOW - 30 * DAY);
        assert!(!is_known_place(&places, ip("198.51.100.9"), &none, &cfg, NOW));
    }

    #[test]
    fn a_disowned_place_is_never_known_and_token_logins_earn_nothing() {
        let cfg = RecoveryConfig::default();
        let none = Origin::default();
        let mut places = Vec::new();
        let thief = ip("127.0.9.5");
        note_password_login(&mut places, thief, &none, None, &cfg, NOW);
        if let Some(p) = places.first_mut() {
            p.disowned = Some(NOW);
        }
        for d in 1..30 {
            assert_ne!(
                note_password_login(&mut places, thief, &none, None, &cfg, NOW + d * DAY),
                Sighting::BecameKnown
            );
        }
        assert!(!is_known_place(&places, thief, &none, &cfg, NOW + 30 * DAY));
        let mut other = Vec::new();
        note_password_login(&mut other, thief, &none, None, &cfg, NOW);
        for d in 1..30 {
            note_token_login(&mut other, thief, &cfg, NOW + d * DAY);
        }
        assert!(!is_known_place(&other, thief, &none, &cfg, NOW + 30 * DAY), "token logins count no days");
    }

    #[test]
    fn geoip_lets_a_known_place_follow_its_own_addresses_never_makes_one() {
        let cfg = RecoveryConfig::default();
        let es = Origin { country: Some("ES".into()), asn: Some(3352) };
        let geo = capped_geo_net(ip("81.40.2.7"), Some(12));
        assert_eq!(geo, Some("81.40.0.0/16".parse().expect("net")), "capped at /16");
        let mut places = Vec::new();
        // A first login from another network of the same ISP is not known.
        note_password_login(&mut places, ip("81.40.2.7"), &es, geo, &cfg, NOW);
        assert!(!is_known_place(&places, ip("81.40.9.9"), &es, &cfg, NOW));
        for d in [1, 7] {
            note_password_login(&mut places, ip("81.40.2.7"), &es, geo, &cfg, NOW + d * DAY);
        }
        let later = NOW + 8 * DAY;
        assert!(is_known_place(&places, ip("81.40.9.9"), &es, &cfg, later), "inside the place's GeoIP network");
        assert!(!is_known_place(&places, ip("81.41.9.9"), &es, &cfg, later), "the same ASN elsewhere");
        let other_asn = Origin { asn: Some(1), ..es.clone() };
        assert!(!is_known_place(&places, ip("81.40.9.9"), &other_asn, &cfg, later));
        assert!(!is_known_place(&places, ip("81.40.9.9"), &Origin::default(), &cfg, later), "no GeoIP: the /24 only");
        assert_eq!(
            note_password_login(&mut places, ip("81.40.9.9"), &es, geo, &cfg, later),
            Sighting::Known,
            "a followed network is no new place"
        );
        assert_eq!(capped_geo_net(ip("81.40.2.7"), Some(28)), None, "narrower than the place");
        assert_eq!(capped_geo_net(ip("2001:db8::1"), Some(20)), Some("2001:db8::/40".parse().expect("net")));
    }

    #[test]
    fn a_flood_of_new_places_never_pushes_out_a_known_one() {
        let cfg = RecoveryConfig::default();
        let none = Origin::default();
        let home = ip("192.0.2.7");
        let mut places = Vec::new();
        for d in [0, 1, 8] {
            note_password_login(&mut places, home, &none, None, &cfg, NOW + d * DAY);
        }
        let t = NOW + 9 * DAY;
        for i in 0..200u32 {
            let ip = IpAddr::from([10, (i / 256) as u8, (i % 256) as u8, 1]);
            note_password_login(&mut places, ip, &none, None, &cfg, t + u64::from(i));
        }
        assert!(is_known_place(&places, home, &none, &cfg, t + 1000), "home was pushed out");
        assert!(places.len() <= cfg.max_places / 4 + 1, "{}", places.len());
    }

    #[test]
    fn no_one_disowns_their_own_network_or_an_older_known_place() {
        let cfg = RecoveryConfig::default();
        let none = Origin::default();
        let (home, thief) = (ip("192.0.2.7"), ip("127.0.9.5"));
        let mut places = Vec::new();
        for d in [0, 1, 8] {
            note_password_login(&mut places, home, &none, None, &cfg, NOW + d * DAY);
        }
        for d in [10, 11, 18] {
            note_password_login(&mut places, thief, &none, None, &cfg, NOW + d * DAY);
        }
        let t = NOW + 19 * DAY;
        let home_net = prefix_of(home);
        let thief_net = prefix_of(thief);
        assert!(may_disown(&places, &home_net, thief, &cfg, t).is_some(), "the thief cannot disown her home");
        assert!(may_disown(&places, &thief_net, thief, &cfg, t).is_some(), "nor his own network");
        assert_eq!(may_disown(&places, &thief_net, home, &cfg, t), None, "she can disown his");
    }
}
