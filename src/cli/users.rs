//! `qxfer user ...`: add, remove, list accounts, set their passwords and give them phone
//! numbers on a listener's data directory (through the running listener's control socket).
//! `user add` makes the account's one-time setup code and prints it: only its hash, keyed
//! with the listener's recovery key, goes to the listener.

use std::io::IsTerminal;

use anyhow::{bail, Result};

use super::admin::admin_call;
use super::args::{UserCmd, UserPhoneCmd};
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
    // A password the listener would refuse is refused before it is typed again.
    check_new_password(&p1)?;
    let p2 = rpassword::prompt_password("Again: ")?;
    if p1 != p2 {
        bail!("the passwords differ");
    }
    Ok(p1)
}

/// A new account's one-time setup code (eight digits) and its hash keyed with the data
/// directory's recovery key (made now if no listener ever ran there).
fn setup_code(dir: &std::path::Path, name: &str) -> Result<(String, [u8; 32])> {
    use crate::policy::account_setup::SETUP_PURPOSE;
    use crate::policy::recovery::{code_hash, digits_code};
    let key =
        crate::server::account_guard::load_or_create_key(&crate::files::Layout::new(dir.to_owned()).recovery_key())?;
    let code = digits_code(crate::server::challenges::random::<8>()?);
    let hash = code_hash(&key, SETUP_PURPOSE, name, &code);
    Ok((code, hash))
}

pub async fn user(cmd: UserCmd, quiet: bool) -> Result<()> {
    match cmd {
        UserCmd::Add { name, data, password, phone } => {
            crate::wire::validate_account(&name).map_err(|e| usage(format!("{name:?}: {e}")))?;
            if name == crate::store::NOTICE_SENDER {
                return Err(usage(format!(
                    "the name {name:?} is the listener's own (its notices come from it); pick another"
                )));
            }
            let phone =
                phone.map(|p| crate::accounts::phone::parse(&p)).transpose().map_err(|e| usage(e.to_string()))?;
            let dir = existing_data_dir(&data.data, data.init)?;
            let pw = new_password(password.password_stdin, &name)?;
            check_new_password(&pw)?;
            let phc = tokio::task::spawn_blocking(move || crate::accounts::hash_password(&pw)).await??;
            let (code, setup_hash) = setup_code(&dir, &name)?;
            let req = AdminRequest::CreateAccount { name: name.clone(), phc, setup_hash, phone: phone.clone() };
            admin_call(&dir, req).await?;
            if !quiet {
                outln!("added user {name}")?;
                if let Some(n) = &phone {
                    outln!("phone {n}: verified and settled at once (you vouch for it)")?;
                }
            }
            // The code is shown once, quiet or not: it is what the command made.
            outln!(
                "setup code for {name}: {code} (one use; within the listener's setup window, [recovery] \
                 setup_window_secs, 1 d by default, it lets {name} set up a first number, secret question and \
                 recovery codes at once from any network, with --setup-code)"
            )?;
        }
        UserCmd::Phone { name, op } => {
            let parse = |n: &str| crate::accounts::phone::parse(n).map_err(|e| usage(format!("{n}: {e}")));
            let (req, data, done) = match op {
                UserPhoneCmd::Add { number, data } => {
                    let number = parse(&number)?;
                    let done = format!("added {number} to {name}, settled at once");
                    (AdminRequest::PhoneAdd { name: name.clone(), number }, data, done)
                }
                UserPhoneCmd::Remove { number, data } => {
                    let number = parse(&number)?;
                    let done = format!("removed {number} from {name}");
                    (AdminRequest::PhoneRemove { name: name.clone(), number }, data, done)
                }
                UserPhoneCmd::Replace { old, new, data } => {
                    let (old, new) = (parse(&old)?, parse(&new)?);
                    let done = format!("replaced {old} with {new} on {name}, settled at once");
                    (AdminRequest::PhoneReplace { name: name.clone(), old, new }, data, done)
                }
            };
            admin_call(&existing_data_dir(&data, false)?, req).await?;
            if !quiet {
                outln!("{done}; the account's mailbox was told")?;
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
