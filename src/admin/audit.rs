//! `qxfer audit`: read the activity log (newest first, bounded), filter it, and summarise
//! it: offending sources and accounts with their offence scores, counts by kind and by
//! hour, and the latest events.

use std::collections::HashMap;

use crate::clock::HOUR_MS;
use crate::policy::activity::{Activity, Kind};
use crate::policy::{parse_net, NetError, ScoreConfig};
use crate::store::{Store, StoreError};
use crate::wire::{AccountScore, AuditQuery, AuditReport, EventView, HourCount, KindCount, SourceScore};

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("unknown kind {0:?}; kinds are {kinds}", kinds = Kind::ALL.iter().map(|k| k.name()).collect::<Vec<_>>().join(", "))]
    UnknownKind(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Events scanned per audit, at most.
pub const SCAN: usize = 200_000;
/// Latest events returned, at most (they must fit one admin frame).
pub const LATEST: usize = 200;
/// Rows of each top list.
pub const TOP: usize = 20;

pub fn audit(store: &Store, scoring: &ScoreConfig, q: &AuditQuery, now_ms: u64) -> Result<AuditReport, AuditError> {
    let source = q.source.as_deref().map(parse_net).transpose()?;
    let kind = match q.kind.as_deref() {
        Some(k) => Some(Kind::parse(k).ok_or_else(|| AuditError::UnknownKind(k.to_owned()))?),
        None => None,
    };
    let since = now_ms.saturating_sub(q.since_secs.saturating_mul(1000));
    let keep = |a: &Activity| {
        source.is_none_or(|n| n.contains(&a.source))
            && q.user.as_deref().is_none_or(|u| a.account.as_deref() == Some(u))
            && kind.is_none_or(|k| a.kind == k)
    };
    let events = store.activity(since, SCAN, keep)?;
    let mut sources: HashMap<String, (u64, u64)> = HashMap::new();
    let mut accounts: HashMap<String, u64> = HashMap::new();
    let mut kinds: HashMap<&'static str, u64> = HashMap::new();
    let mut hours: HashMap<u64, u64> = HashMap::new();
    for e in &events {
        let weight = e.kind.offence().map_or(0, |o| scoring.weight_milli(o));
        let s = sources.entry(e.source.to_string()).or_default();
        s.0 += 1;
        s.1 += weight;
        if let (Some(a), true) = (&e.account, weight > 0) {
            *accounts.entry(a.clone()).or_default() += weight;
        }
        *kinds.entry(e.kind.name()).or_default() += 1;
        *hours.entry(e.time_ms / HOUR_MS * 3600).or_default() += 1;
    }
    let mut top_sources: Vec<SourceScore> = sources
        .into_iter()
        .filter(|(_, (_, w))| *w > 0)
        .map(|(source, (events, score))| SourceScore { source, events, score })
        .collect();
    top_sources.sort_by(|a, b| b.score.cmp(&a.score).then(b.events.cmp(&a.events)).then(a.source.cmp(&b.source)));
    top_sources.truncate(TOP);
    let mut top_accounts: Vec<AccountScore> =
        accounts.into_iter().map(|(account, score)| AccountScore { account, score }).collect();
    top_accounts.sort_by(|a, b| b.score.cmp(&a.score).then(a.account.cmp(&b.account)));
    top_accounts.truncate(TOP);
    let mut by_kind: Vec<KindCount> =
        kinds.into_iter().map(|(k, count)| KindCount { kind: k.to_owned(), count }).collect();
    by_kind.sort_by(|a, b| b.count.cmp(&a.count).then(a.kind.cmp(&b.kind)));
    let mut by_hour: Vec<HourCount> = hours.into_iter().map(|(hour, count)| HourCount { hour, count }).collect();
    by_hour.sort_by_key(|h| h.hour);
    let latest = events
        .iter()
        .take(LATEST)
        .map(|e| EventView {
            time_ms: e.time_ms,
            source: e.source.to_string(),
            account: e.account.clone(),
            kind: e.kind.name().to_owned(),
            bytes: e.bytes,
            detail: e.detail.clone(),
        })
        .collect();
    Ok(AuditReport { matched: events.len() as u64, top_sources, top_accounts, by_kind, by_hour, latest })
}
