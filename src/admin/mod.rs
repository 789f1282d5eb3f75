//! Operator requests (`qxfer user …`, `firewall …`, `audit`, `status`; the accounts and
//! numbers the operator vouches for are `vouched`), carried out in one
//! place whether they arrive through a running listener's admin socket (`server::admin`)
//! or, when no listener runs, straight from the CLI on the database (`client`). A running
//! listener adds what only it has through [`Live`]: counters, the bans and rules in force,
//! its scoring and its clock.

pub mod audit;
pub mod client;
pub mod rules;
pub mod socket;
pub mod vouched;

use std::path::Path;

use ipnet::IpNet;
use tracing::info;

use crate::clock::Clock;
use crate::files::Layout;
use crate::policy::recovery::mask_phone;
use crate::policy::{parse_net, Ban, IpList, NetError, ScoreConfig};
use crate::store::{Store, StoreError};
use crate::wire::{clean_error_text, AdminRequest, AdminResponse, BanView, Status, UserView};
use vouched::Vouch;

/// Bans listed at most (they must fit one admin frame).
const MAX_BANS_LISTED: usize = 1000;

/// Why an admin request failed; its text is what the operator reads.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Net(#[from] NetError),
    #[error(transparent)]
    Rules(#[from] rules::RulesError),
    #[error(transparent)]
    Audit(#[from] audit::AuditError),
    #[error("no ban in force for {0}")]
    NoBan(IpNet),
    #[error("no listener is running")]
    NoListener,
    #[error("only a running debug build of the listener can move its clock")]
    ClockFixed,
    #[error("the name {0:?} is the listener's own (its notices come from it); pick another")]
    Reserved(String),
    #[error(transparent)]
    Vouched(#[from] vouched::VouchError),
}

/// The one conversion from a failed admin request to its reply.
impl From<AdminError> for AdminResponse {
    fn from(e: AdminError) -> Self {
        AdminResponse::Error(clean_error_text(&e.to_string()))
    }
}

/// What a running listener adds to an admin request.
pub trait Live: Send + Sync {
    fn status(&self) -> Status;
    fn clock(&self) -> &Clock;
    fn scoring(&self) -> &ScoreConfig;
    fn rules_file(&self) -> &Path;
    /// Bans in memory (in force or expired).
    fn bans(&self) -> Vec<Ban>;
    /// Put a ban in force now (and close the connections it covers).
    fn ban(&self, ban: Ban);
    /// Lift a ban now; whether one was in force.
    fn unban(&self, net: IpNet) -> bool;
    /// Install new IP rules (and close the connections they block).
    fn install_rules(&self, list: IpList);
    /// Close every connection logged in as `account`.
    fn end_sessions(&self, account: &str, reason: &'static str);
    /// Close the connections writing these (dropped) deliveries.
    fn end_deliveries(&self, ids: &[u64]);
    /// Run the periodic upkeep now (pruning, expiry).
    fn upkeep(&self);
}

/// Where an admin request is carried out: the database and data directory, and the running
/// listener if there is one.
pub struct Target<'a> {
    pub store: &'a Store,
    pub layout: &'a Layout,
    pub live: Option<&'a dyn Live>,
}

impl Target<'_> {
    fn now(&self, offline: &Clock) -> u64 {
        self.live.map_or(offline, |l| l.clock()).now()
    }
}

/// Carry out one admin request.
pub fn dispatch(target: &Target, req: AdminRequest) -> AdminResponse {
    apply(target, req).unwrap_or_else(AdminResponse::from)
}

fn apply(t: &Target, req: AdminRequest) -> Result<AdminResponse, AdminError> {
    let offline_clock = Clock::default();
    let now = t.now(&offline_clock);
    let default_scoring = ScoreConfig::default();
    let scoring = t.live.map_or(&default_scoring, |l| l.scoring());
    let rules_file = t.live.map_or_else(|| t.layout.ip_rules(), |l| l.rules_file().to_owned());
    Ok(match req {
        AdminRequest::AddUser { name, phc } => {
            if name == crate::store::NOTICE_SENDER {
                return Err(AdminError::Reserved(name));
            }
            t.store.add_user(&name, &phc, now)?;
            info!(user = %name, event = "user_added", "account created");
            AdminResponse::Done
        }
        AdminRequest::RemoveUser { name } => {
            let dropped = t.store.remove_user(&name)?;
            // Writers first (sessions of the account, and connections sending to it), so
            // nothing writes into a spool after it is removed.
            if let Some(live) = t.live {
                live.end_sessions(&name, "account removed");
                live.end_deliveries(&dropped);
            }
            for id in dropped {
                let _ = std::fs::remove_dir_all(t.layout.spool(id));
            }
            let _ = std::fs::remove_dir_all(t.layout.mailbox(&name));
            // The activity log keeps what happened, not who it was: the name becomes an
            // alias of its own (the same for all its events, so they still read together).
            let alias = format!("removed-{}", hex::encode(random_tag()));
            let renamed = t.store.pseudonymise_activity(&name, &alias)?;
            info!(user = %name, event = "user_removed", renamed, "account removed; its sessions ended, its phones, places, answers and codes purged, its events renamed {alias}");
            AdminResponse::Done
        }
        AdminRequest::SetPassword { name, phc } => {
            t.store.set_password(&name, &phc)?;
            if let Some(live) = t.live {
                live.end_sessions(&name, "password changed");
            }
            info!(user = %name, event = "password_changed", "password changed; sessions and tokens revoked");
            AdminResponse::Done
        }
        AdminRequest::ListUsers => AdminResponse::Users(
            t.store.list_users()?.into_iter().map(|u| UserView { name: u.name, created: u.created }).collect(),
        ),
        AdminRequest::Status => AdminResponse::Status(t.live.ok_or(AdminError::NoListener)?.status()),
        AdminRequest::SetRule { .. } | AdminRequest::RemoveRule { .. } | AdminRequest::ListRules => {
            let changes = !matches!(req, AdminRequest::ListRules);
            let list = rules::edit(&rules_file, &req)?;
            if let (true, Some(live)) = (changes, t.live) {
                info!(event = "rules_changed", "IP rules changed: {req:?}");
                live.install_rules(list.clone());
            }
            rules::reply(&list)
        }
        AdminRequest::Ban { net, secs } => {
            let net = parse_net(&net)?;
            let level = t.store.bans()?.iter().filter(|b| b.net == net).map(|b| b.level).max().unwrap_or(0) + 1;
            let secs = secs.unwrap_or_else(|| scoring.ban_length(level));
            let ban = Ban { net, until: now.saturating_add(secs), level, reason: "banned by hand".into() };
            t.store.put_ban(&ban)?;
            if let Some(live) = t.live {
                live.ban(ban);
            }
            bans_reply(t, now)?
        }
        AdminRequest::Unban { net } => {
            let net = parse_net(&net)?;
            let in_memory = t.live.is_some_and(|l| l.unban(net));
            let stored = t.store.lift_ban(&net.to_string(), now)?;
            if !(stored || in_memory) {
                return Err(AdminError::NoBan(net));
            }
            bans_reply(t, now)?
        }
        AdminRequest::ListBans => bans_reply(t, now)?,
        AdminRequest::Audit(q) => AdminResponse::Audit(audit::audit(t.store, scoring, &q, now * 1000)?),
        AdminRequest::AdvanceClock { secs } => advance_clock(t.live, secs)?,
        AdminRequest::CreateAccount { name, phc, setup_hash, phone } => {
            if name == crate::store::NOTICE_SENDER {
                return Err(AdminError::Reserved(name));
            }
            let phone = vouched::create(t.store, &name, &phc, setup_hash, phone.as_deref(), now)?;
            let with = phone.map(|n| format!(", with {} (settled at once)", mask_phone(&n))).unwrap_or_default();
            info!(user = %name, event = "user_added", "account created{with}");
            AdminResponse::Done
        }
        AdminRequest::PhoneAdd { name, number } => vouch(t, &name, Vouch::Add(&number), now)?,
        AdminRequest::PhoneRemove { name, number } => vouch(t, &name, Vouch::Remove(&number), now)?,
        AdminRequest::PhoneReplace { name, old, new } => vouch(t, &name, Vouch::Replace(&old, &new), now)?,
    })
}

/// The operator's change of an account's numbers, logged.
fn vouch(t: &Target, name: &str, v: Vouch, now: u64) -> Result<AdminResponse, AdminError> {
    let done = vouched::change(t.store, name, v, now)?;
    info!(user = %name, event = "phones_changed", "by the operator: {done}");
    Ok(AdminResponse::Done)
}

#[cfg(debug_assertions)]
fn advance_clock(live: Option<&dyn Live>, secs: u64) -> Result<AdminResponse, AdminError> {
    let live = live.ok_or(AdminError::ClockFixed)?;
    live.clock().advance(secs);
    info!(event = "clock_advanced", secs, "listener clock moved forward by {secs} s");
    // What time-based upkeep would do by then, done now.
    live.upkeep();
    Ok(AdminResponse::Done)
}

#[cfg(not(debug_assertions))]
fn advance_clock(_: Option<&dyn Live>, _: u64) -> Result<AdminResponse, AdminError> {
    Err(AdminError::ClockFixed)
}

/// The bans in force: the running listener's (in memory, current to the moment), else the
/// database's.
fn bans_reply(t: &Target, now: u64) -> Result<AdminResponse, AdminError> {
    let bans = match t.live {
        Some(live) => live.bans(),
        None => t.store.bans()?,
    };
    Ok(AdminResponse::Bans(
        bans.iter()
            .filter(|b| b.until > now)
            .take(MAX_BANS_LISTED)
            .map(|b| BanView {
                net: b.net.to_string(),
                until: b.until,
                level: b.level,
                reason: clean_error_text(&b.reason),
            })
            .collect(),
    ))
}

/// Four random bytes (a removed account's alias in the activity log); zeros without
/// system randomness (the alias is then still not the name).
fn random_tag() -> [u8; 4] {
    let mut b = [0u8; 4];
    let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b);
    b
}
