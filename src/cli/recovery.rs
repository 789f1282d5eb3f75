//! `qxfer recover` and `qxfer register`: recovery of an account without its password, and
//! a new account (with, optionally, a phone number verified by a texted code). What the
//! client can check (a phone number, a password's length, a code's shape) it checks before
//! it connects.
//!
//! `qxfer recover` has a code texted, reads it, shows the secret question (qxfer/6: the
//! listener sends it once the code is right), reads its answer (hidden; empty for a
//! recovery code, also hidden), then the new password, twice. A wrong answer costs one of
//! the code's tries, and the answer is asked again while it has some. From stdin (for
//! scripts) the order is as it always was: the answer or recovery code, the new password,
//! then the texted code.

use std::io::IsTerminal;

use anyhow::{bail, Result};

use super::account_reply::print_reply;
use super::args::{RecoverArgs, RegisterArgs};
use super::codes::{letters_code, texted_code};
use super::connect::connect_options;
use super::exit::usage;
use super::prompt::{check_new_password, line, new_password, read_stdin_line};
use crate::client::{self, Client, ConnectOptions, PasswordSource};
use crate::wire::{AccountReply, AccountRequest, ErrorCode, Proof, Request};

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
    // What scripts give on stdin is read first, in the order it always was.
    let mut client_args = a.client;
    let password_stdin = std::mem::take(&mut client_args.password_stdin);
    let opts = ConnectOptions { password: PasswordSource::None, ..connect_options(&client_args)? };
    let user = opts.user.clone();
    let given = if a.recovery_code_stdin {
        Some(Proof::RecoveryCode(letters_code(&read_stdin_line()?, 10, "recovery code")?))
    } else if a.answer_stdin {
        Some(Proof::Answer(read_stdin_line()?))
    } else {
        None
    };
    if let Some(p) = &given {
        p.validate().map_err(|e| usage(format!("the answer: {e}")))?;
    }
    let given_password = if password_stdin { Some(new_password(true, &user)?) } else { None };
    // What is not on stdin is asked on the terminal: without one, say so before a code is
    // texted.
    if (given.is_none() || given_password.is_none()) && !std::io::stdin().is_terminal() {
        return Err(usage(
            "no terminal to ask the answer and the new password on; pass --answer-stdin (or \
             --recovery-code-stdin) and --password-stdin to read them from stdin",
        ));
    }
    // A start that texts nothing is refused with why and when the next code can be texted.
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
    // The question, before its answer is asked (a listener older than qxfer/6 sends none).
    let (asked, mut tries) = match &given {
        Some(_) => (Asked::Unknown, 0),
        None => match client::recovery_question(&opts, &code).await? {
            Some(AccountReply::Question { question, recovery_codes, tries, .. }) => {
                (Asked::Question { question, codes: recovery_codes }, tries)
            }
            _ => (Asked::Unknown, 0),
        },
    };
    let mut proof = match given {
        Some(p) => p,
        None => ask_proof(&asked, &user)?,
    };
    let new_password = match given_password {
        Some(p) => p,
        None => ask_new_password(&user)?,
    };
    loop {
        let reply = client::recovery_step(&opts, |solution| Request::RecoverFinish {
            user: user.clone(),
            code: code.clone(),
            proof: proof.clone(),
            new_password: new_password.clone(),
            solution,
        })
        .await;
        // A wrong answer at the terminal: the same code has tries left (each answer costs
        // one, the question step told how many), so the answer is asked again.
        tries = tries.saturating_sub(1);
        match reply {
            Err(client::ClientError::Remote { code: ErrorCode::AuthFailed, message }) if tries > 0 => {
                eprintln!("qxfer: {message}");
                proof = ask_proof(&asked, &user)?;
            }
            reply => {
                print_reply(&reply?, client_args.json)?;
                return Ok(());
            }
        }
    }
}

/// The new password, typed twice at the terminal; asked again (a few times) when the two
/// differ or it is one the listener would refuse: the texted code is waiting.
fn ask_new_password(user: &str) -> Result<String> {
    for _ in 1..3 {
        match new_password(false, user) {
            Ok(p) => return Ok(p),
            Err(e) => eprintln!("qxfer: {e}; once more"),
        }
    }
    new_password(false, user)
}

/// What the listener said of the account's proofs.
enum Asked {
    /// Nothing (a listener older than qxfer/6).
    Unknown,
    /// Its secret question (`None`: none is set), and whether it has recovery codes.
    Question { question: Option<String>, codes: bool },
}

/// The secret answer (hidden), after showing the question; or, when it is left empty (or
/// there is no question), a recovery code (hidden too: it is as secret as a password).
fn ask_proof(asked: &Asked, user: &str) -> Result<Proof> {
    let answer = match asked {
        Asked::Unknown => {
            line(false, "Answer to your secret question (empty: use a recovery code)", true, "--answer-stdin")?
        }
        Asked::Question { question: Some(q), codes } => {
            eprintln!("Secret question of {user}: {q}");
            let prompt = if *codes { "Answer (empty: use a recovery code instead)" } else { "Answer" };
            line(false, prompt, true, "--answer-stdin")?
        }
        Asked::Question { question: None, codes: true } => String::new(),
        Asked::Question { question: None, codes: false } => bail!(
            "{user} has neither a secret question nor recovery codes, so its recovery cannot be finished; the \
             listener's operator can set a new password (qxfer user passwd {user})"
        ),
    };
    let proof = match answer.trim().is_empty() {
        false => Proof::Answer(answer),
        true if matches!(asked, Asked::Question { codes: false, .. }) => {
            return Err(usage(format!("{user} has no recovery codes: the answer to its question is needed")))
        }
        true => Proof::RecoveryCode(letters_code(
            &line(false, "Recovery code", true, "--recovery-code-stdin")?,
            10,
            "recovery code",
        )?),
    };
    proof.validate().map_err(|e| usage(format!("the answer: {e}")))?;
    Ok(proof)
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
