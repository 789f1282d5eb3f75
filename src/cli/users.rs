//! `qxfer user ...`: add, remove, list accounts and set their passwords on a listener's
//! data directory (through the running listener's control socket).

use std::io::IsTerminal;

use anyhow::{bail, Result};

use super::admin::admin_call;
use super::args::UserCmd;
use super::dirs::existing_data_dir;
use super::exit::usage;
use super::output::outln;
use super::prompt::{check_new_password, read_stdin_line};
use crate::wire::{AdminRequest, AdminResponse};

/// The new password of an account: `--password-stdin`, else `QXFER_PASSWORD`, else typed
/// twice on the terminal.
fn new_password(password_stdin: bool, name: &str) -> Result<String> {
    if password_stdin {
        return read_stdin_line();
    }
    if let Ok(p) = std::env::var("QXFER_PASSWORD") {
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        bail!("no password: pass --password-stdin or set QXFER_PASSWORD");
    }
    let p1 = rpassword::prompt_password(format!("New password for {name}: "))?;
    let p2 = rpassword::prompt_password("Again: ")?;
    if p1 != p2 {
        bail!("the passwords differ");
    }
    Ok(p1)
}

pub async fn user(cmd: UserCmd, quiet: bool) -> Result<()> {
    match cmd {
        UserCmd::Add { name, data, password } => {
            crate::wire::validate_account(&name).map_err(|e| usage(format!("{name:?}: {e}")))?;
            if name == crate::store::NOTICE_SENDER {
                return Err(usage(format!(
                    "the name {name:?} is the listener's own (its notices come from it); pick another"
                )));
            }
            let dir = existing_data_dir(&data.data, data.init)?;
            let pw = new_password(password.password_stdin, &name)?;
            check_new_password(&pw)?;
            let phc = tokio::task::spawn_blocking(move || crate::accounts::hash_password(&pw)).await??;
            admin_call(&dir, AdminRequest::AddUser { name: name.clone(), phc }).await?;
            if !quiet {
                outln!("added user {name}")?;
            }
        }
        UserCmd::Remove { name, data } => {
            admin_call(&existing_data_dir(&data, false)?, AdminRequest::RemoveUser { name: name.clone() }).await?;
            if !quiet {
                outln!("removed user {name}")?;
            }
        }
        UserCmd::Passwd { name, data, password } => {
            let dir = existing_data_dir(&data, false)?;
            let pw = new_password(password.password_stdin, &name)?;
            check_new_password(&pw)?;
            let phc = tokio::task::spawn_blocking(move || crate::accounts::hash_password(&pw)).await??;
            admin_call(&dir, AdminRequest::SetPassword { name: name.clone(), phc }).await?;
            if !quiet {
                outln!("changed password of {name}")?;
            }
        }
        UserCmd::List { data, json } => {
            if let AdminResponse::Users(users) =
                admin_call(&existing_data_dir(&data, false)?, AdminRequest::ListUsers).await?
            {
                for u in users {
                    if json {
                        outln!("{}", serde_json::json!({ "name": u.name, "created": u.created }))?;
                    } else {
                        outln!("{}\t{}", u.name, crate::clock::format_time(u.created))?;
                    }
                }
            }
        }
    }
    Ok(())
}
