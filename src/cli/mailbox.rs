//! `qxfer inbox`, `qxfer read` and `qxfer delete`: a mailbox's list (on a terminal with
//! what is new, sizes for a person and previews), one delivery's message and files, and
//! deleting deliveries.

use std::collections::{HashMap, HashSet};
use std::io::IsTerminal;

use anyhow::{bail, Result};

use super::args::{DeleteArgs, InboxArgs, ReadArgs};
use super::connect::connect_options;
use super::exit::partial;
use super::output::outln;
use super::output::{count, human_bytes};
use crate::client::{self, Client};
use crate::wire::Summary;

pub async fn inbox(a: InboxArgs) -> Result<()> {
    let opts = connect_options(&a.client)?;
    // A person at a terminal gets more than the columns scripts rely on: what is new,
    // sizes in KiB and MiB, and a preview of a message without subject.
    let person = !a.client.json && std::io::stdout().is_terminal();
    let mut client = Client::connect(&opts).await?;
    let listed = async {
        let items = client.inbox(a.new).await?;
        if !person || items.is_empty() {
            return Ok((items, HashSet::new(), HashMap::new()));
        }
        let unseen: HashSet<u64> = if a.new {
            items.iter().map(|s| s.id).collect()
        } else {
            client.inbox(true).await?.into_iter().map(|s| s.id).collect()
        };
        let previews = previews(&mut client, &items).await?;
        Ok::<_, client::ClientError>((items, unseen, previews))
    }
    .await;
    client.close().await;
    let (items, unseen, previews) = listed?;
    if a.client.json {
        let list: Vec<_> = items
            .iter()
            .map(|s| {
                serde_json::json!({
                    "id": s.id, "from": s.from, "time": s.time, "subject": s.subject,
                    "files": s.files, "bytes": s.bytes,
                })
            })
            .collect();
        outln!("{}", serde_json::Value::Array(list))?;
    } else if items.is_empty() && a.new {
        outln!("no new deliveries in {}'s mailbox", opts.user)?;
    } else if items.is_empty() {
        outln!("no deliveries in {}'s mailbox", opts.user)?;
    } else if person {
        outln!("{:>6}  {:<16} {:<20} {:>6} {:>10}  SUBJECT", "ID", "FROM", "TIME", "FILES", "SIZE")?;
        for s in &items {
            let subject = match (&s.subject, previews.get(&s.id)) {
                (Some(subject), _) => subject.clone(),
                (None, Some(preview)) => preview.clone(),
                (None, None) => String::new(),
            };
            outln!(
                "{:>6}{} {:<16} {:<20} {:>6} {:>10}  {subject}",
                s.id,
                if unseen.contains(&s.id) { '*' } else { ' ' },
                s.from,
                crate::clock::format_time(s.time),
                s.files,
                human_bytes(s.bytes),
            )?;
        }
        if !unseen.is_empty() {
            outln!("* new: not fetched or read yet")?;
        }
    } else {
        outln!("{:>6}  {:<16} {:<20} {:>6} {:>12}  SUBJECT", "ID", "FROM", "TIME", "FILES", "BYTES")?;
        for s in items {
            outln!(
                "{:>6}  {:<16} {:<20} {:>6} {:>12}  {}",
                s.id,
                s.from,
                crate::clock::format_time(s.time),
                s.files,
                s.bytes,
                s.subject.unwrap_or_default()
            )?;
        }
    }
    Ok(())
}

/// Most messages `inbox` opens for a preview: the listing does not carry bodies, so each
/// preview is a request of its own (the newest messages, well within the request limits).
const MAX_PREVIEWS: usize = 32;
/// Characters of a body a preview shows.
const PREVIEW_CHARS: usize = 50;

/// One-line previews of message bodies, by delivery id.
type Previews = HashMap<u64, String>;

/// Previews of the newest messages (no files) without a subject, by id. A message deleted
/// meanwhile has none.
async fn previews(client: &mut Client, items: &[Summary]) -> Result<Previews, client::ClientError> {
    let mut out = HashMap::new();
    let wanted = items.iter().rev().filter(|s| s.subject.is_none() && s.files == 0).take(MAX_PREVIEWS);
    for s in wanted {
        match client.open(s.id).await {
            Ok(client::Opened { envelope, .. }) => {
                if let Some(body) = envelope.body {
                    out.insert(s.id, preview(&body));
                }
            }
            Err(client::ClientError::Remote { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// The start of a body on one line, quoted: whitespace and anything unprintable become
/// single spaces, and a cut is marked with "…".
fn preview(body: &str) -> String {
    let flat = body.split(|c: char| c.is_whitespace() || c.is_control()).filter(|w| !w.is_empty());
    let flat = flat.collect::<Vec<_>>().join(" ");
    let mut shown: String = flat.chars().take(PREVIEW_CHARS).collect();
    if shown.len() < flat.len() {
        shown.push('…');
    }
    format!("\"{shown}\"")
}

/// `qxfer read ID`: the message as fetch writes it, then its files; marks it seen.
pub async fn read(a: ReadArgs) -> Result<()> {
    let opts = connect_options(&a.client)?;
    let mut client = Client::connect(&opts).await?;
    let result = async {
        let opened = client.open(a.id).await?;
        // Read or fetched before: perhaps fetched already (the listener does not say which).
        let seen_before = !client.is_unseen(a.id).await?;
        client.mark_seen(&[a.id]).await?;
        Ok::<_, client::ClientError>((opened, seen_before))
    }
    .await;
    client.close().await;
    let (client::Opened { envelope, recipients, files }, seen_before) = result?;
    let mut text = client::message_text(&envelope, &recipients);
    if a.client.json {
        let list: Vec<_> = files
            .iter()
            .map(|(f, _)| {
                serde_json::json!({ "path": f.path, "size": f.size, "hash": hex::encode(f.hash), "media_type": f.media_type })
            })
            .collect();
        let recipients = if recipients.is_empty() { vec![envelope.to.clone()] } else { recipients };
        let v = serde_json::json!({
            "id": envelope.id, "from": envelope.from, "to": envelope.to, "recipients": recipients, "time": envelope.time,
            "subject": envelope.subject, "body": envelope.body, "text": text, "files": list,
            "seen_before": seen_before,
        });
        outln!("{v}")?;
        return Ok(());
    }
    if !files.is_empty() {
        text.push_str(&format!("\n{}:\n", count(files.len() as u64, "file")));
        for (f, _) in &files {
            text.push_str(&format!("  {}  {}  {}\n", f.path, count(f.size, "byte"), f.media_type));
        }
        let them = if files.len() == 1 { "it" } else { "them" };
        let hint = format!("qxfer fetch {} {} downloads {them}", a.client.host, a.id);
        if seen_before {
            text.push_str(&format!("({hint}, if not done already: this delivery was read or fetched before)\n"));
        } else {
            text.push_str(&format!("({hint})\n"));
        }
    }
    use std::io::Write;
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(())
}

/// `qxfer delete ID...`: deletes what may go and reports each id, as `rm` does: deleted
/// (stdout), not in the mailbox or kept by the listener, with why (stderr).
pub async fn delete(a: DeleteArgs, quiet: bool) -> Result<()> {
    let opts = connect_options(&a.client)?;
    let mut client = Client::connect(&opts).await?;
    let done = client.delete_each(&a.ids).await;
    client.close().await;
    let (done, refused) = done?;
    let kept = |id: &u64| refused.iter().any(|r| r.id == *id);
    let mut missing: Vec<u64> = a.ids.iter().copied().filter(|id| !done.contains(id) && !kept(id)).collect();
    missing.dedup();
    if a.client.json {
        let refused: Vec<_> = refused.iter().map(|r| serde_json::json!({ "id": r.id, "why": r.why })).collect();
        outln!("{}", serde_json::json!({ "deleted": done, "missing": missing, "refused": refused }))?;
    } else if !quiet {
        for id in &done {
            outln!("deleted delivery {id}")?;
        }
    }
    for id in &missing {
        eprintln!("qxfer: no delivery {id} in {}'s mailbox", opts.user);
    }
    for r in &refused {
        eprintln!("qxfer: delivery {} not deleted: {}", r.id, r.why);
    }
    match (missing.len() + refused.len(), done.len()) {
        (0, _) => Ok(()),
        (_, 0) => bail!("nothing deleted"),
        (n, _) if refused.is_empty() => {
            Err(partial(format!("{} not found (listed above); the others were deleted", count(n as u64, "id"))))
        }
        (n, _) => {
            Err(partial(format!("{} not deleted (listed above); the others were deleted", count(n as u64, "id"))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_preview_is_one_quoted_line_cut_with_an_ellipsis() {
        assert_eq!(preview("Lunch\n\tat  noon?\n"), "\"Lunch at noon?\"");
        let long = "word ".repeat(30);
        let p = preview(&long);
        assert!(p.ends_with("…\"") && p.chars().count() == PREVIEW_CHARS + 3, "{p}");
    }
}
