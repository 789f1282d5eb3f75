//! `qxfer send` and `qxfer fetch`: files, a message or mail up to mailboxes, and deliveries
//! down into a directory. What the listener would refuse is refused before connecting;
//! what could not be sent or fetched is listed and the rest goes on (exit 6).

use std::io::Read;
use std::path::Path;

use anyhow::{bail, Context, Result};

use super::args::{FetchArgs, SendArgs};
use super::connect::connect_options;
use super::dirs::config_dir;
use super::exit::{partial, usage};
use super::output::outln;
use super::output::{count, show_progress};
use crate::client::aliases::ClientConfig;
use crate::client::{self, Client, Conflict, Manifest, ManifestOptions, SendJob};

/// scp and rsync put the destination last; qxfer puts the listener first. Catch the
/// usual slips before anything is read or sent: `send FILE HOST`, `send FILE`.
fn check_order(a: &SendArgs) -> Result<()> {
    let host = a.client.host.as_str();
    if host.contains('@') || !Path::new(host).exists() {
        return Ok(());
    }
    if let Ok(dir) = config_dir() {
        if ClientConfig::load(&dir).is_ok_and(|c| c.alias(host).is_some()) {
            return Ok(());
        }
    }
    if a.paths.is_empty() && a.message.is_none() && a.subject.is_none() {
        return Err(usage(format!(
            "the first argument is the listener, then what to send: `qxfer send HOST {host}` ({host:?} is a local file)"
        )));
    }
    if let Some(last) = a.paths.last().filter(|p| !p.exists()) {
        return Err(usage(format!(
            "the first argument is the listener: {host:?} is a local file and {last:?} is not; \
             did you mean `qxfer send {} {host} ...`?",
            last.display()
        )));
    }
    Ok(())
}

pub async fn send(a: SendArgs, quiet: bool) -> Result<()> {
    check_order(&a)?;
    if a.message.as_deref() == Some("-") && a.client.password_stdin {
        return Err(usage(
            "-m - and --password-stdin both read stdin: give the password in QXFER_PASSWORD, or the message as -m TEXT",
        ));
    }
    if a.subject.as_deref() == Some("") {
        return Err(usage("the subject is empty: leave -s out, or write one"));
    }
    let body = match a.message.as_deref() {
        Some("-") => {
            let mut s = String::new();
            std::io::stdin()
                .take(crate::wire::MAX_BODY as u64 + 1)
                .read_to_string(&mut s)
                .context("reading the message from stdin")?;
            Some(s)
        }
        other => other.map(str::to_owned),
    };
    // An empty message is no message.
    let body = body.filter(|b| !b.trim().is_empty());
    // What the listener would refuse is refused here, before connecting.
    if let Some(b) = &body {
        if b.len() > crate::wire::MAX_BODY {
            return Err(usage(format!(
                "the message is longer than {} bytes; send it as a file",
                crate::wire::MAX_BODY
            )));
        }
        crate::wire::check_body(b).map_err(|_| {
            usage("the message holds a control, invisible or direction-changing character; remove it or send the text as a file")
        })?;
    }
    if let Some(s) = &a.subject {
        crate::wire::check_subject(s).map_err(|_| {
            usage(format!(
                "the subject must be one line of at most {} bytes without tabs, control, invisible or direction-changing characters",
                crate::wire::MAX_SUBJECT
            ))
        })?;
    }
    if a.paths.is_empty() && body.is_none() && a.subject.is_none() {
        return Err(usage("nothing to send: give PATHs, -m TEXT or -s SUBJECT"));
    }
    for (i, to) in a.to.iter().enumerate() {
        crate::wire::validate_account(to).map_err(|e| usage(format!("--to {to:?}: {e}")))?;
        if a.to.get(..i).is_some_and(|before| before.contains(to)) {
            return Err(usage(format!("--to {to:?} is given twice")));
        }
    }
    if a.to.len() > crate::wire::MAX_RECIPIENTS {
        return Err(usage(format!("at most {} recipients per send", crate::wire::MAX_RECIPIENTS)));
    }
    let options = ManifestOptions { follow_symlinks: a.follow_symlinks, strict: a.strict };
    let manifest = match Manifest::build(&a.paths, options) {
        Ok(m) => m,
        Err(e @ client::ManifestError::Duplicate(_)) => return Err(usage(e.to_string())),
        Err(e) => return Err(e.into()),
    };
    if !quiet {
        for s in &manifest.passed_over {
            eprintln!("passed over {s}");
        }
    }
    for s in &manifest.problems {
        eprintln!("skipped {s}");
    }
    if manifest.files.is_empty() && body.is_none() && a.subject.is_none() {
        if !manifest.problems.is_empty() {
            bail!("nothing can be sent: every path was skipped (listed above)");
        }
        let named: Vec<String> = a.paths.iter().map(|p| format!("{p:?}")).collect();
        let verb = if named.len() == 1 { "holds" } else { "hold" };
        return Err(usage(format!("nothing to send: {} {verb} no files", named.join(", "))));
    }
    if manifest.files.len() > crate::wire::MAX_FILES as usize {
        return Err(usage(format!(
            "{} files is more than one delivery carries ({}); send them in several deliveries or as an archive",
            manifest.files.len(),
            crate::wire::MAX_FILES
        )));
    }
    let skipped = manifest.problems.len();
    let message_bytes = body.as_ref().map_or(0, |b| b.len() as u64);
    let job = SendJob {
        to: a.to.first().cloned(),
        also: a.to.iter().skip(1).cloned().collect(),
        subject: a.subject.clone(),
        body,
        manifest,
    };
    let opts = connect_options(&a.client)?;
    let mut client = Client::connect(&opts).await?;
    let events = crate::progress::events(show_progress(quiet, a.client.json), "send");
    let report = client.send(&job, events).await;
    client.close().await;
    let report = report?;
    if a.client.json {
        // One object per delivery, one per line, with several recipients; one object
        // (today's form) with one.
        outln!("{}", serde_json::to_string(&report)?)?;
        for c in &report.copies {
            let copy = client::SendReport {
                id: c.id,
                to: c.to.clone(),
                copies: Vec::new(),
                missed: Vec::new(),
                ..report.clone()
            };
            outln!("{}", serde_json::to_string(&copy)?)?;
        }
    } else if !quiet {
        if report.already_delivered {
            outln!(
                "delivery {} to {} was already delivered (the listener committed it before this command was interrupted)",
                report.id, report.to
            )?;
        } else {
            let mut whom = format!("delivery {} to {}", report.id, report.to);
            for c in &report.copies {
                whom.push_str(&format!(", {} to {}", c.id, c.to));
            }
            if !report.copies.is_empty() {
                whom = format!("deliveries {}", whom.trim_start_matches("delivery "));
            }
            if report.files == 0 {
                // A message alone: its own size, not "0 files, 0 bytes".
                outln!("sent {whom}: message, {}", count(message_bytes, "byte"))?;
            } else {
                outln!(
                    "sent {whom}: {}, {} ({} uploaded{})",
                    count(report.files, "file"),
                    count(report.bytes, "byte"),
                    count(report.uploaded, "byte"),
                    if report.resumed { ", resumed" } else { "" }
                )?;
            }
        }
    }
    for m in &report.missed {
        eprintln!("qxfer: no delivery for {}: {}", m.to, m.reason);
    }
    if !report.missed.is_empty() {
        return Err(partial(format!(
            "{} of {} recipients got no delivery (listed above)",
            report.missed.len(),
            report.missed.len() + report.copies.len() + 1
        )));
    }
    if skipped > 0 {
        return Err(partial(format!(
            "{} not sent (listed above); the rest was delivered",
            count(skipped as u64, "path")
        )));
    }
    Ok(())
}

/// Whether a failed fetch concerns that delivery only (the others can still be fetched).
fn delivery_only(e: &client::ClientError) -> bool {
    use client::ClientError as E;
    matches!(e, E::Remote { .. } | E::Exists(_) | E::Refused { .. } | E::Integrity { .. } | E::Local { .. })
}

pub async fn fetch(a: FetchArgs, quiet: bool) -> Result<()> {
    if a.ids.is_empty() && !a.all && !a.new {
        return Err(usage("which deliveries? give their IDs (see qxfer inbox), --new or --all"));
    }
    let conflict = if a.overwrite {
        Conflict::Overwrite
    } else if a.skip_existing {
        Conflict::Skip
    } else {
        Conflict::Fail
    };
    let opts = connect_options(&a.client)?;
    let mut client = Client::connect(&opts).await?;
    let mut failed = Vec::new();
    let mut conflicts = 0usize;
    let result = async {
        let ids =
            if a.all || a.new { client.inbox(a.new).await?.into_iter().map(|s| s.id).collect() } else { a.ids.clone() };
        let mut reports = Vec::new();
        for id in ids {
            let events = crate::progress::events(show_progress(quiet, a.client.json), "fetch");
            let r = match client.fetch(id, &a.out, conflict, events).await {
                Ok(r) => r,
                Err(e) if delivery_only(&e) => {
                    match &e {
                        // The listener's own words already name the delivery.
                        client::ClientError::Remote { .. } => eprintln!("qxfer: {e}"),
                        _ => eprintln!("qxfer: delivery {id}: {e}"),
                    }
                    if matches!(e, client::ClientError::Exists(_)) {
                        conflicts += 1;
                    }
                    failed.push(id);
                    continue;
                }
                Err(e) => return Err(e),
            };
            for k in &r.kept {
                eprintln!("kept {k:?}: a different file has its name (--skip-existing)");
            }
            client.mark_seen(&[id]).await?;
            if !quiet && !a.client.json {
                let resumed = if r.resumed {
                    format!(" (resumed: {} already here)", count(r.held, "byte"))
                } else {
                    String::new()
                };
                outln!(
                    "fetched delivery {} from {}: {}, {} downloaded{resumed}",
                    r.id,
                    r.from,
                    count(r.files.len() as u64, "file"),
                    count(r.downloaded, "byte")
                )
                .map_err(|source| client::ClientError::Local {
                    what: "writing to",
                    path: "stdout".into(),
                    source,
                })?;
            }
            reports.push(r);
        }
        Ok::<_, client::ClientError>(reports)
    }
    .await;
    client.close().await;
    let reports = result?;
    if a.client.json {
        outln!("{}", serde_json::to_string(&reports)?)?;
    }
    if a.new && failed.is_empty() && reports.is_empty() && !a.client.json && !quiet {
        outln!("no new deliveries in {}'s mailbox", opts.user)?;
    }
    let failures = match failed.len() {
        1 => "1 delivery".to_owned(),
        n => format!("{n} deliveries"),
    };
    match (failed.len(), reports.len()) {
        (0, _) => Ok(()),
        // A conflict leaves a delivery fetched but for its conflicting files: partial.
        (_, 0) if conflicts == 0 => bail!("no delivery fetched ({failures} failed, listed above)"),
        _ => Err(partial(format!("{failures} not fetched in full (listed above); the others were fetched"))),
    }
}
