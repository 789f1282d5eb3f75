//! `qxfer pending list` and `qxfer pending drop`: your unfinished sends on a listener (a
//! send interrupted and not resumed), listed with what each holds and until when, and
//! abandoned one by one.

use anyhow::{bail, Result};

use super::args::PendingCmd;
use super::connect::connect_options;
use super::exit::partial;
use super::output::{count, outln};
use crate::client::Client;
use crate::clock::format_time;

pub async fn pending(cmd: PendingCmd, quiet: bool) -> Result<()> {
    match cmd {
        PendingCmd::List(a) => {
            let opts = connect_options(&a.client)?;
            let mut client = Client::connect(&opts).await?;
            let listed = client.pending_sends().await;
            client.close().await;
            let sends = listed?;
            if a.client.json {
                let list: Vec<_> = sends
                    .iter()
                    .map(|p| {
                        serde_json::json!({
                            "id": p.id, "to": p.to, "files": p.files, "bytes": p.bytes, "since": p.since,
                            "last": p.last, "held_until": p.held_until, "expires": p.expires,
                        })
                    })
                    .collect();
                outln!("{}", serde_json::Value::Array(list))?;
            } else if sends.is_empty() {
                outln!("no unfinished sends by {}", opts.user)?;
            } else {
                outln!(
                    "{:>6}  {:<16} {:>6} {:>12}  {:<20} {:<20} EXPIRES",
                    "ID",
                    "TO",
                    "FILES",
                    "BYTES",
                    "SINCE",
                    "HELD UNTIL"
                )?;
                for p in &sends {
                    let held = p.held_until.map_or_else(|| "-".to_owned(), format_time);
                    outln!(
                        "{:>6}  {:<16} {:>6} {:>12}  {:<20} {:<20} {}",
                        p.id,
                        p.to,
                        p.files,
                        p.bytes,
                        format_time(p.since),
                        held,
                        format_time(p.expires)
                    )?;
                }
            }
            Ok(())
        }
        PendingCmd::Drop(a) => {
            let opts = connect_options(&a.client)?;
            let mut client = Client::connect(&opts).await?;
            let dropped = async {
                let mut dropped = Vec::new();
                for &id in &a.ids {
                    if client.drop_pending(id).await? && !dropped.contains(&id) {
                        dropped.push(id);
                    }
                }
                Ok::<_, crate::client::ClientError>(dropped)
            }
            .await;
            client.close().await;
            let dropped = dropped?;
            let mut missing: Vec<u64> = a.ids.iter().copied().filter(|id| !dropped.contains(id)).collect();
            missing.dedup();
            if a.client.json {
                outln!("{}", serde_json::json!({ "dropped": dropped, "missing": missing }))?;
            } else if !quiet {
                for id in &dropped {
                    outln!("dropped unfinished send {id}")?;
                }
            }
            for id in &missing {
                eprintln!("qxfer: no unfinished send {id} by {} (finished, dropped or expired)", opts.user);
            }
            match (missing.len(), dropped.len()) {
                (0, _) => Ok(()),
                (_, 0) => bail!("nothing dropped"),
                (n, _) => {
                    Err(partial(format!("{} not found (listed above); the others were dropped", count(n as u64, "id"))))
                }
            }
        }
    }
}
