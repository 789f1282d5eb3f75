//! `qxfer inbox`, `qxfer read` and `qxfer delete`: a mailbox's list, one delivery's message
//! and files, and deleting deliveries.

use anyhow::{bail, Result};

use super::args::{DeleteArgs, InboxArgs, ReadArgs};
use super::connect::connect_options;
use super::exit::partial;
use super::output::count;
use super::output::outln;
use crate::client::{self, Client};

pub async fn inbox(a: InboxArgs) -> Result<()> {
    let opts = connect_options(&a.client)?;
    let mut client = Client::connect(&opts).await?;
    let items = client.inbox(a.new).await;
    client.close().await;
    let items = items?;
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

/// `qxfer read ID`: the message as fetch writes it, then its files; marks it seen.
pub async fn read(a: ReadArgs) -> Result<()> {
    let opts = connect_options(&a.client)?;
    let mut client = Client::connect(&opts).await?;
    let result = async {
        let opened = client.open(a.id).await?;
        client.mark_seen(&[a.id]).await?;
        Ok::<_, client::ClientError>(opened)
    }
    .await;
    client.close().await;
    let (envelope, files) = result?;
    let mut text = client::message_text(&envelope);
    if a.client.json {
        let list: Vec<_> = files
            .iter()
            .map(|(f, _)| {
                serde_json::json!({ "path": f.path, "size": f.size, "hash": hex::encode(f.hash), "media_type": f.media_type })
            })
            .collect();
        let v = serde_json::json!({
            "id": envelope.id, "from": envelope.from, "to": envelope.to, "time": envelope.time,
            "subject": envelope.subject, "body": envelope.body, "text": text, "files": list,
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
        text.push_str(&format!("(qxfer fetch {} {} downloads {them})\n", a.client.host, a.id));
    }
    use std::io::Write;
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(())
}

/// `qxfer delete ID...`.
pub async fn delete(a: DeleteArgs, quiet: bool) -> Result<()> {
    let opts = connect_options(&a.client)?;
    let mut client = Client::connect(&opts).await?;
    let done = client.delete(&a.ids).await;
    client.close().await;
    let done = done?;
    let missing: Vec<u64> = a.ids.iter().copied().filter(|id| !done.contains(id)).collect();
    if a.client.json {
        outln!("{}", serde_json::json!({ "deleted": done, "missing": missing }))?;
    } else if !quiet {
        for id in &done {
            outln!("deleted delivery {id}")?;
        }
    }
    for id in &missing {
        eprintln!("qxfer: no delivery {id} in {}'s mailbox", opts.user);
    }
    match (missing.len(), done.len()) {
        (0, _) => Ok(()),
        (_, 0) => bail!("nothing deleted"),
        (n, _) => Err(partial(format!("{} not found (listed above); the others were deleted", count(n as u64, "id")))),
    }
}
