//! `qxfer recover` and `qxfer register`: recovery of an account without its password, and
//! a new account (with, optionally, a phone number verified by a texted code). What the
//! client can check (a phone number, a password's length, a code's shape) it checks before
//! it connects.
//!
//! `qxfer recover` reads the answer (or recovery code), then the new password
//! (`--password-stdin`), checks them, and only then has a code texted and reads it
//! (`--code-stdin`).

use anyhow::Result;

use super::account_reply::print_reply;
use super::args::{RecoverArgs, RegisterArgs};
use super::codes::{letters_code, texted_code};
use super::connect::connect_options;
use super::exit::usage;
use super::prompt::{check_new_password, line, new_password, read_stdin_line};
use crate::client::{self, Client, ConnectOptions, PasswordSource};
use crate::wire::{AccountReply, AccountRequest, Proof, Request};

/// `qxfer recover HOST --user NAME`, `qxfer recover cancel HOST CODE` and `qxfer recover
/// disown HOST CODE` (the same request: the texted code says what it cancels or disowns).
pub async fn recover(a: RecoverArgs) -> Result<()> {
    if a.client.host == "cancel" || a.client.host == "disown" {
        let verb = a.client.host.clone();
        let [host, code] = a.rest.as_slice() else {
            return Err(usage(format!("write: qxfer recover {verb} HOST CODE")));
        };
        letters_code(code, 15, &format!("{verb} code"))?;
        let mut client_args = a.client;
        client_args.host = host.clone();
        if client_args.user.is_none() && !host.contains('@') {
            // No account is named by a cancel code; the target needs one to parse.
            client_args.user = Some("nobody".into());
        }
        let opts = connect_options(&client_args)?;
        let reply = client::cancel_change(&opts, code).await?;
        print_reply(&reply, client_args.json)?;
        return Ok(());
    }
    if !a.rest.is_empty() {
        return Err(usage(
            "qxfer recover takes one HOST (or: qxfer recover cancel HOST CODE, qxfer recover disown HOST CODE)",
        ));
    }
    // Everything but the texted code is asked for, and checked, before a code is texted.
    let mut client_args = a.client;
    let password_stdin = std::mem::take(&mut client_args.password_stdin);
    let opts = ConnectOptions { password: PasswordSource::None, ..connect_options(&client_args)? };
    let user = opts.user.clone();
    let proof = if a.recovery_code_stdin {
        Proof::RecoveryCode(letters_code(&read_stdin_line()?, 10, "recovery code")?)
    } else if a.answer_stdin {
        Proof::Answer(read_stdin_line()?)
    } else {
        let answer =
            line(false, "Answer to your secret question (empty: use a recovery code)", true, "--answer-stdin")?;
        if answer.trim().is_empty() {
            Proof::RecoveryCode(letters_code(
                &line(false, "Recovery code", false, "--recovery-code-stdin")?,
                10,
                "recovery code",
            )?)
        } else {
            Proof::Answer(answer)
        }
    };
    proof.validate().map_err(|e| usage(format!("the answer: {e}")))?;
    let new_password = new_password(password_stdin, &user)?;
    let started =
        client::recovery_step(&opts, |solution| Request::RecoverStart { user: user.clone(), solution }).await?;
    if client_args.json {
        if let AccountReply::Done { text } = &started {
            eprintln!("{text}");
        }
    } else {
        print_reply(&started, false)?;
    }
    let code = texted_code(&line(a.code_stdin, "Code from the text message", false, "--code-stdin")?)?;
    let reply = client::recovery_step(&opts, |solution| Request::RecoverFinish {
        user: user.clone(),
        code: code.clone(),
        proof: proof.clone(),
        new_password: new_password.clone(),
        solution,
    })
    .await?;
    print_reply(&reply, client_args.json)?;
    Ok(())
}

/// `qxfer register [USER@]HOST [--phone +NUMBER]`: everything the client can check (the
/// name, a reserved name, the number, the password's length) is checked before it connects.
pub async fn register(a: RegisterArgs) -> Result<()> {
    let mut client_args = a.client;
    let password_stdin = std::mem::take(&mut client_args.password_stdin);
    let opts = ConnectOptions { password: PasswordSource::None, ..connect_options(&client_args)? };
    let user = opts.user.clone();
    crate::policy::registration::reserved(&user, &Default::default()).map_err(|e| usage(e.to_string()))?;
    let phone = a.phone.as_deref().map(crate::accounts::phone::parse).transpose().map_err(|e| usage(e.to_string()))?;
    let password = match std::env::var("QXFER_PASSWORD") {
        Ok(p) if !password_stdin => {
            check_new_password(&p)?;
            p
        }
        _ => new_password(password_stdin, &user)?,
    };
    let reply = client::register(&opts, &password).await?;
    print_reply(&reply, client_args.json)?;
    let Some(number) = phone else { return Ok(()) };
    // The new account logs in, and adds its number (from the network it was made from, a
    // known place: no delay).
    let opts = ConnectOptions { password: PasswordSource::Given(password.clone()), ..opts };
    let mut client = Client::connect(&opts).await?;
    let added = client.account(AccountRequest::PhoneAdd { number: number.clone(), password: password.clone() }).await;
    if let Err(e) = added {
        client.close().await;
        return Err(e.into());
    }
    let code = texted_code(&line(a.code_stdin, &format!("Code texted to {number}"), false, "--code-stdin")?)?;
    let reply = client.account(AccountRequest::PhoneVerify { number, code, password, auth: None }).await;
    client.close().await;
    print_reply(&reply?, client_args.json)?;
    Ok(())
}
