//! `qxfer audit` and `qxfer status`: what a running listener recorded (offenders, events by
//! kind and hour, the latest events) and what it counts.

use anyhow::{bail, Result};

use super::admin::admin_call;
use super::args::{AuditArgs, StatusArgs};
use super::dirs::existing_data_dir;
use super::exit::usage;
use super::output::outln;
use crate::wire::{AdminRequest, AdminResponse};

pub async fn audit(a: AuditArgs) -> Result<()> {
    if let Some(src) = &a.source {
        crate::policy::parse_net(src).map_err(|e| usage(format!("--source: {e}")))?;
    }
    if let Some(k) = &a.kind {
        if crate::policy::activity::Kind::parse(k).is_none() {
            let kinds: Vec<&str> = crate::policy::activity::Kind::ALL.iter().map(|k| k.name()).collect();
            return Err(usage(format!("--kind {k:?} is not a kind of event; kinds are {}", kinds.join(", "))));
        }
    }
    let q = crate::wire::AuditQuery { since_secs: a.since, source: a.source, user: a.user, kind: a.kind };
    let AdminResponse::Audit(r) = admin_call(&existing_data_dir(&a.data, false)?, AdminRequest::Audit(q)).await? else {
        bail!("unexpected reply from the listener");
    };
    if a.json {
        for s in &r.top_sources {
            outln!(
                "{}",
                serde_json::json!({ "type": "source", "source": s.source, "events": s.events, "score": crate::policy::points(s.score) })
            )?;
        }
        for a in &r.top_accounts {
            outln!(
                "{}",
                serde_json::json!({ "type": "account", "account": a.account, "score": crate::policy::points(a.score) })
            )?;
        }
        for k in &r.by_kind {
            outln!("{}", serde_json::json!({ "type": "kind", "kind": k.kind, "count": k.count }))?;
        }
        for h in &r.by_hour {
            outln!("{}", serde_json::json!({ "type": "hour", "hour": h.hour, "count": h.count }))?;
        }
        for e in &r.latest {
            outln!(
                "{}",
                serde_json::json!({ "type": "event", "time_ms": e.time_ms, "source": e.source, "account": e.account,
                    "kind": e.kind, "bytes": e.bytes, "detail": e.detail })
            )?;
        }
        return Ok(());
    }
    outln!("{} events matched", r.matched)?;
    outln!("\nOFFENDING SOURCES        EVENTS  SCORE")?;
    for s in &r.top_sources {
        outln!("{:<22} {:>8} {:>6}", s.source, s.events, crate::policy::points(s.score))?;
    }
    outln!("\nACCOUNTS WITH OFFENCES   SCORE")?;
    for a in &r.top_accounts {
        outln!("{:<22} {:>8}", a.account, crate::policy::points(a.score))?;
    }
    outln!("\nEVENTS BY KIND")?;
    for k in &r.by_kind {
        outln!("{:<22} {:>8}", k.kind, k.count)?;
    }
    outln!("\nEVENTS BY HOUR")?;
    for h in &r.by_hour {
        outln!("{:<22} {:>8}", crate::clock::format_time(h.hour), h.count)?;
    }
    outln!("\nLATEST EVENTS")?;
    for e in &r.latest {
        outln!(
            "{} {:<16} {:<12} {:<13} {}",
            crate::clock::format_time(e.time_ms / 1000),
            e.source,
            e.account.as_deref().unwrap_or("-"),
            e.kind,
            e.detail
        )?;
    }
    Ok(())
}

pub async fn status(a: StatusArgs) -> Result<()> {
    let AdminResponse::Status(s) = admin_call(&existing_data_dir(&a.data, false)?, AdminRequest::Status).await? else {
        bail!("unexpected reply from the listener");
    };
    if a.json {
        outln!("{}", serde_json::to_string(&s)?)?;
    } else {
        outln!(
            "connections: {} open, {} total, {} refused\nreceived: {} bytes\nsent: {} bytes\ndeliveries: {}\nprotocol violations: {}\nauthentication failures: {}\nrate limited: {}\ntimeouts: {}\ntexts today: {} of {} general, {} of {} owner reserve",
            s.connections_open,
            s.connections_total,
            s.refused,
            s.bytes_received,
            s.bytes_sent,
            s.deliveries,
            s.protocol_violations,
            s.auth_failures,
            s.rate_limited,
            s.timeouts,
            s.texts_general_used,
            s.texts_general,
            s.texts_reserve_used,
            s.texts_reserve
        )?;
    }
    Ok(())
}
