//! Telling the owner of a session token made with the password from a place the account
//! does not know (`qxfer account tokens new` there): a thief who has the password could keep
//! a session for a month without typing it again. A notice goes to the mailbox every time;
//! a text to each settled number at most once a day (later ones only in the mailbox), so
//! whoever makes tokens cannot spend the owner's texts with them. Networks are named
//! coarsely, as the new-place notice names them.

use std::net::IpAddr;

use super::new_place::coarse;
use super::AccountGuard;
use crate::clock::{format_duration, format_time};
use crate::policy::recovery::is_settled_number;
use crate::store::{RecentKind, Store, StoreError};

/// What telling the owner of a session token did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenTold {
    /// From a known place: nothing to tell.
    KnownPlace,
    /// Told: in the mailbox, and texted to this many numbers.
    Told { texted: usize },
}

impl AccountGuard {
    /// Tell the owner of `user` that a session token (`id`, valid for `lifetime` seconds) was
    /// made from `ip`, unless `ip` is a known place of the account.
    pub fn tell_session_token(
        &self,
        store: &Store,
        user: &str,
        ip: IpAddr,
        id: &str,
        lifetime: u64,
        now_ms: u64,
    ) -> Result<TokenTold, StoreError> {
        let now = now_ms / 1000;
        let rec = store.recovery(user)?.unwrap_or_default();
        if self.known(&rec, ip, now) {
            return Ok(TokenTold::KnownPlace);
        }
        let net = crate::policy::prefix_of(ip).to_string();
        let place = coarse(&net, self.origin(ip).country.as_deref());
        let when = format_time(now);
        let phones = super::policy_view::phones(&rec);
        let settled: Vec<String> = rec
            .phones
            .iter()
            .filter(|p| is_settled_number(&phones, &p.number, &self.cfg, now))
            .map(|p| p.number.clone())
            .collect();
        // One text a day: counted in the record only when there is someone to text.
        let texting = !settled.is_empty()
            && store.update_recovery(user, |rec| {
                let ok = self.allow(rec, RecentKind::TokenTold, ip, now);
                (ok, ok)
            })? == Some(true);
        let mut texted = 0;
        if texting {
            for number in &settled {
                let text = format!(
                    "qxfer {host}: account {user}: a session token was made with the password from {place} at \
                     {when}. Not you? Your password is known: change it from a place you use (every token ends).",
                    host = self.host
                );
                if self.text_notice(number, self.pool_for(&rec, user, number, true, now), text, now_ms) {
                    texted += 1;
                }
            }
        }
        let how = match texted {
            0 => {
                "No text was sent about it (the account has no settled number, or one was sent about a token today \
                  already)."
            }
            _ => "It was texted to the account's settled phone numbers too.",
        };
        let body = format!(
            "A session token ({id}) was made with the account's password from {place}, a network that is not a \
             known place of the account, at {when}. It works for {life} unless it is revoked. {how}\n\n\
             If this was you, nothing to do.\n\
             If it was not you, someone has your password. From a place the account knows, \
             `qxfer account passwd USER@HOST` sets a new one and ends every session and token, and \
             `qxfer account tokens revoke USER@HOST {id}` ends this one; `qxfer account disown USER@HOST NETWORK` \
             revokes every token issued to that network (as `qxfer account show` lists it).\n",
            life = format_duration(lifetime),
        )
        .replace("USER@HOST", &format!("{user}@{}", self.host));
        self.mail(store, user, &format!("New session token for your account from {place}"), &body, now_ms);
        Ok(TokenTold::Told { texted })
    }
}
