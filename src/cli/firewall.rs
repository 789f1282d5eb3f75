//! `qxfer firewall ...`: a listener's IP rules and bans, changed and listed while it runs.

use anyhow::{bail, Result};

use super::admin::admin_call;
use super::args::FirewallCmd;
use super::dirs::existing_data_dir;
use super::exit::usage;
use super::output::outln;
use crate::wire::{AdminRequest, AdminResponse};

pub async fn firewall(cmd: FirewallCmd) -> Result<()> {
    let (data, req, json) = match cmd {
        FirewallCmd::Allow { net, data } => (data, AdminRequest::SetRule { net, allow: true }, false),
        FirewallCmd::Block { net, data } => (data, AdminRequest::SetRule { net, allow: false }, false),
        FirewallCmd::Remove { net, data } => (data, AdminRequest::RemoveRule { net }, false),
        FirewallCmd::Ban { net, duration, data } => (data, AdminRequest::Ban { net, secs: duration }, false),
        FirewallCmd::Unban { net, data } => (data, AdminRequest::Unban { net }, false),
        FirewallCmd::List { data, json } => (data, AdminRequest::ListRules, json),
    };
    if let AdminRequest::SetRule { net, .. }
    | AdminRequest::RemoveRule { net }
    | AdminRequest::Ban { net, .. }
    | AdminRequest::Unban { net } = &req
    {
        crate::policy::parse_net(net).map_err(|e| usage(e.to_string()))?;
    }
    let dir = existing_data_dir(&data, false)?;
    let list_all = matches!(req, AdminRequest::ListRules);
    let unbanned = match &req {
        AdminRequest::Unban { net } => Some(net.clone()),
        _ => None,
    };
    let removed = match &req {
        AdminRequest::RemoveRule { net } => Some(net.clone()),
        _ => None,
    };
    let mut shown = 0;
    match admin_call(&dir, req).await? {
        AdminResponse::Rules(rules) => {
            if let Some(net) = removed {
                outln!("removed the rule for {}", crate::policy::parse_net(&net)?)?;
            }
            shown += rules.len();
            print_rules(&rules, json)?;
        }
        // `unban` confirms what it did, as `allow` and `block` show the rule in force.
        AdminResponse::Bans(_) if unbanned.is_some() => {
            let net = crate::policy::parse_net(unbanned.as_deref().unwrap_or_default())?;
            outln!("unbanned {net} (its level is kept: a new offence bans it longer)")?;
        }
        AdminResponse::Bans(bans) => print_bans(&bans, json)?,
        _ => bail!("unexpected reply from the listener"),
    }
    if list_all {
        if let AdminResponse::Bans(bans) = admin_call(&dir, AdminRequest::ListBans).await? {
            shown += bans.len();
            print_bans(&bans, json)?;
        }
        // `--json` is JSON Lines (an object per rule or ban, as `audit --json` and `user
        // list --json`): nothing in force is no line at all, never a `[]` a line reader
        // would take for a rule. A person still hears of it, on stderr.
        match (shown, json) {
            (0, false) => outln!("no IP rules and no bans in force")?,
            (0, true) => eprintln!("qxfer: no IP rules and no bans in force"),
            _ => {}
        }
    }
    Ok(())
}

fn print_rules(rules: &[crate::wire::RuleView], json: bool) -> std::io::Result<()> {
    for r in rules {
        let rule = if r.allow { "allow" } else { "block" };
        if json {
            outln!("{}", serde_json::json!({ "rule": rule, "net": r.net }))?;
        } else {
            outln!("{rule} {}", r.net)?;
        }
    }
    Ok(())
}

fn print_bans(bans: &[crate::wire::BanView], json: bool) -> std::io::Result<()> {
    for b in bans {
        if json {
            outln!(
                "{}",
                serde_json::json!({ "rule": "ban", "net": b.net, "until": b.until, "level": b.level, "reason": b.reason })
            )?;
        } else {
            outln!("ban {} until {} level {} ({})", b.net, crate::clock::format_time(b.until), b.level, b.reason)?;
        }
    }
    Ok(())
}
