//! What an account (and a network) may ask for in a day: recovery starts, texted codes and
//! changes put off. Counted in the account's record.

use std::net::IpAddr;

use super::AccountGuard;
use crate::policy::prefix_of;
use crate::policy::recovery_start::Gate;
use crate::store::{Recent, RecentKind, RecoveryRecord};

/// Requests about phone numbers (`phone add`, `verify`, `remove`) one account may make a
/// day: each could be a probe of which number is behind a masked one, and every such
/// request answers alike whether the number is on the account or not, so at most this
/// many guesses a day. Three numbers added, verified and removed fit.
pub const PHONE_REQUESTS_PER_DAY: usize = 12;

/// Recovery starts one network may make for one account a day (texts actually sent).
pub const STARTS_PER_NETWORK: usize = 2;

impl AccountGuard {
    /// Whether a request of `kind` from `ip` may go ahead today; counts it if so. Recovery
    /// starts (anyone may ask) are limited per network (two a day) and per account
    /// (`max_per_day`), except from a known place of the account (neither limited nor
    /// counted there), so strangers cannot use up the owner's day; codes the logged-in
    /// account asks for and changes put off have `max_per_day` each.
    pub fn allow(&self, rec: &mut RecoveryRecord, kind: RecentKind, ip: IpAddr, now: u64) -> bool {
        // The first password login is kept past the day (a new account sets itself up
        // from its network); every other entry only for the day.
        rec.recent.retain(|r| r.kind == RecentKind::FirstLogin || now.saturating_sub(r.at) < 86_400);
        let net = prefix_of(ip).to_string();
        let of_kind = rec.recent.iter().filter(|r| r.kind == kind).count();
        let ok = match kind {
            // From a known place (the owner's), neither limit, and the start is not counted
            // against them: a code in force is not replaced, so at most one text goes out
            // per code lifetime, and the owner's own starts at home neither use up her
            // starts from elsewhere nor tell a stranger that the account exists (a made-up
            // name has no such starts; `policy::recovery_start`).
            RecentKind::Start if self.known(rec, ip, now) => return true,
            RecentKind::Start => self.start_gate(rec, ip, false, now) == Gate::Text,
            RecentKind::Code | RecentKind::Change => of_kind < self.cfg.max_per_day as usize,
            RecentKind::Phone => of_kind < PHONE_REQUESTS_PER_DAY,
            // A session token made from an unknown place is texted to the owner once a day
            // (later ones only in the mailbox): the thief cannot spend her texts with it.
            RecentKind::TokenTold => of_kind < 1,
            // Not something one asks for: noted by `note_first_login`, never counted here.
            RecentKind::FirstLogin => false,
        };
        if ok {
            rec.recent.push(Recent { at: now, kind, net });
        }
        ok
    }
}
