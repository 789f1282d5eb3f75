//! Telling the owner of a new place, and disowning one: a password login's first sighting
//! of a network is put in the mailbox at once and texted to the oldest settled number with
//! a code that disowns it (at most one such text a day; later ones only in the mailbox); the
//! mailbox notice has no code (the thief may read it). Networks are named coarsely (their
//! /16 or /32 and country), so a notice does not tell a reader where the owner lives.
//! Schema 1's places, carried over as not yet known, are listed to their owner once.

use std::net::IpAddr;

use ipnet::IpNet;

use super::places::Noted;
use super::AccountGuard;
use crate::clock::format_time;
use crate::policy::places::{may_disown, PLACE_DAYS};
use crate::store::{Change, Store, StoreError};

/// How a notice names a network: its /16 (IPv4) or /32 (IPv6), and its country when the
/// listener has a GeoIP database.
pub fn coarse(net: &str, country: Option<&str>) -> String {
    let wide = net.parse::<IpNet>().ok().and_then(|n| {
        let len = if matches!(n.addr(), IpAddr::V4(_)) { 16 } else { 32 };
        IpNet::new(n.addr(), len.min(n.prefix_len())).ok().map(|w| w.trunc().to_string())
    });
    let wide = wide.unwrap_or_else(|| "a network".into());
    match country {
        Some(c) => format!("{wide} ({c})"),
        None => wide,
    }
}

/// What disowning a place by its texted code found.
pub enum DisownedByCode {
    /// Disowned: the account, the network, and how many tokens issued there were revoked.
    Done { user: String, net: String, tokens: usize },
    /// The code is this account's, but the place may not be disowned from here.
    Refused(&'static str),
}

impl AccountGuard {
    /// Tell the owner of a password login's new place (see the module's documentation).
    pub fn tell_new_place(&self, store: &Store, user: &str, ip: IpAddr, noted: &Noted, now_ms: u64) {
        let net = crate::policy::prefix_of(ip).to_string();
        let country = self.origin(ip).country;
        let place = coarse(&net, country.as_deref());
        let when = format_time(now_ms / 1000);
        let days = self.cfg.new_place_days;
        let texted = match &noted.disown_code {
            Some(code) => match self.settled_number(&noted.rec, now_ms / 1000) {
                Some(number) => {
                    let text = format!(
                        "qxfer {host}: account {user}: first login with the password from a new network, {place}, at \
                         {when}. Not you? Your password is known: disown that network with qxfer recover disown \
                         {host} {code} and change the password.",
                        host = self.host
                    );
                    let pool = self.pool_for(&noted.rec, user, &number, false, now_ms / 1000);
                    self.text_notice(&number, pool, text, now_ms)
                }
                None => false,
            },
            None => false,
        };
        let how = if texted {
            "The code that disowns it was texted to the account's oldest phone number (qxfer recover disown HOST CODE)."
        } else {
            "No code was texted about it (the account has no settled number, or one was texted today already)."
        };
        let body = format!(
            "The account logged in with its password from a network it had not used: {place}, at {when}.\n\n\
             If this was you, nothing to do: a network becomes a known place after password logins on {PLACE_DAYS} \
             different days at least {days} days apart.\n\
             If it was not you, someone has your password: change it (qxfer account passwd USER@HOST), and disown \
             that network. {how} From a place the account already knows, `qxfer account disown USER@HOST NETWORK` \
             (the network as `qxfer account show` lists it) disowns it at once; from anywhere else it is a change \
             that needs the code texted to your oldest number, or waits and is announced.\n",
            how = how.replace("HOST", &self.host),
        )
        .replace("USER@HOST", &format!("{user}@{}", self.host));
        self.mail(store, user, &format!("New sign-in to your account from {place}"), &body, now_ms);
    }

    /// List schema 1's places to the owner once (they are not known until they qualify
    /// again), if this account's record still owes that notice.
    pub fn tell_carried_over(&self, store: &Store, user: &str, now_ms: u64) -> Result<(), StoreError> {
        if !store.recovery(user)?.is_some_and(|r| r.carried_over) {
            return Ok(());
        }
        let Some(rec) = store.update_recovery(user, |rec| {
            let owed = rec.carried_over;
            rec.carried_over = false;
            (rec.clone(), owed)
        })?
        else {
            return Ok(());
        };
        let list: Vec<String> = rec
            .places
            .iter()
            .map(|p| format!("- {} (first seen {})", coarse(&p.net, p.country.as_deref()), format_time(p.first_seen)))
            .collect();
        let body = format!(
            "This listener now makes a network a known place of the account only after password logins on \
             {PLACE_DAYS} different days at least {} days apart, and tells you of every new one. The networks the \
             account was seen from before are kept, but are not known places until they qualify again:\n{}\n",
            self.cfg.new_place_days,
            list.join("\n")
        );
        self.mail(store, user, "Your account's known places were reset", &body, now_ms);
        Ok(())
    }

    /// Disown the place whose texted disown code has the keyed hash `hash`, for a request
    /// from `ip`; `None` when no place has that code.
    pub fn disown_by_code(
        &self,
        store: &Store,
        hash: &[u8; 32],
        ip: IpAddr,
        now_ms: u64,
    ) -> Result<Option<DisownedByCode>, StoreError> {
        let now = now_ms / 1000;
        let Some(user) = store.cancel_owner(hash)? else { return Ok(None) };
        let done = store.update_recovery(&user, |rec| {
            let Some(target) = rec.places.iter().find(|p| p.disown_code.as_ref() == Some(hash)) else {
                return (None, false);
            };
            let net = target.net.clone();
            let Ok(parsed) = net.parse::<IpNet>() else { return (None, false) };
            if let Some(why) = may_disown(&super::policy_view::places(rec), &parsed, ip, &self.cfg, now) {
                return (Some(Err(why)), false);
            }
            let change = Change::Disown { net: net.clone() };
            Self::apply_to_record(rec, &change, now, now);
            (Some(Ok((net, change, rec.clone()))), true)
        })?;
        match done.flatten() {
            None => Ok(None),
            Some(Err(why)) => Ok(Some(DisownedByCode::Refused(why))),
            Some(Ok((net, change, rec))) => {
                let tokens = Self::beyond_the_record(store, &user, &change)?;
                self.announce_applied(store, &user, &rec, &change, 0, false, now_ms);
                Ok(Some(DisownedByCode::Done { user, net, tokens }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::coarse;

    #[test]
    fn notices_name_networks_coarsely() {
        assert_eq!(coarse("81.40.2.0/24", Some("ES")), "81.40.0.0/16 (ES)");
        assert_eq!(coarse("2001:db8:1:2::/64", None), "2001:db8::/32");
        assert_eq!(coarse("nonsense", None), "a network");
    }
}
