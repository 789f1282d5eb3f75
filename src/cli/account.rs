//! `qxfer account ...`: a logged-in account's own settings (phones, secret question,
//! recovery codes, password, sessions). What the client can check (a phone number, a
//! password's length, a code's shape) it checks before it connects.
//!
//! Lines of stdin, for scripts, are read in one order: the login password first
//! (`--password-stdin`, which is also the current password a change needs), then the
//! command's own (`--new-password-stdin`, `--code-stdin`, `--answer-stdin`), then the texted
//! confirmation code (`--auth-code-stdin`).

use anyhow::{bail, Result};

use super::account_reply::{paste_ready, print_reply};
use super::args::{AccountCmd, ChangeArgs, ClientArgs, CodesCmd, PhoneCmd, QuestionCmd, TokensCmd};
use super::codes::texted_code;
use super::connect::connect_options;
use super::exit::usage;
use super::output::outln;
use super::prompt::{line, new_password, read_stdin_line};
use crate::client::{Client, ConnectOptions, PasswordSource};
use crate::clock::{format_duration, format_time};
use crate::wire::{AccountReply, AccountRequest};

/// The current password a change needs: the login's. One no account can have (outside 8
/// to 1024 bytes) is refused here, before it is sent (it would count as a failed login).
fn current_password(opts: &ConnectOptions) -> Result<String> {
    let password = match &opts.password {
        PasswordSource::Given(p) => p.clone(),
        PasswordSource::Prompt => {
            line(false, &format!("Current password for {}", opts.user), true, "--password-stdin")?
        }
        PasswordSource::None => bail!("no password: pass --password-stdin or set QXFER_PASSWORD"),
    };
    let len = password.len();
    if !(crate::wire::MIN_PASSWORD..=crate::wire::MAX_PASSWORD).contains(&len) {
        return Err(crate::client::ClientError::PasswordLength { len }.into());
    }
    Ok(password)
}

/// What connecting needs, read first (`--password-stdin` is the first line of stdin); the
/// password given once serves as the current password too (asked after an unknown
/// listener's certificate is settled).
async fn prepare(c: &ClientArgs) -> Result<ConnectOptions> {
    let mut opts = connect_options(c)?;
    if matches!(opts.password, PasswordSource::Prompt) {
        Client::settle_trust(&opts).await?;
        opts.password = PasswordSource::Given(current_password(&opts)?);
    }
    Ok(opts)
}

/// Connect and log in.
async fn logged_in(c: &ClientArgs) -> Result<(ConnectOptions, Client)> {
    let opts = prepare(c).await?;
    let client = Client::connect(&opts).await?;
    Ok((opts, client))
}

/// Run one change: with --confirm-by-text, a code texted to the oldest number first.
async fn change(
    ch: &ChangeArgs,
    opts: ConnectOptions,
    make: impl FnOnce(String, Option<String>) -> AccountRequest,
) -> Result<AccountReply> {
    // The setup code is on paper: read before connecting, so a slow typist does not outlast
    // the connection's idle time.
    let setup = match ch.setup_code && !ch.confirm_by_text {
        true => {
            Some(texted_code(&line(ch.auth_code_stdin, "Setup code from the operator", true, "--auth-code-stdin")?)?)
        }
        false => None,
    };
    let mut client = Client::connect(&opts).await?;
    let password = current_password(&opts)?;
    let mut auth = setup;
    if ch.confirm_by_text {
        match texted_auth(&mut client, ch.auth_code_stdin).await {
            Ok(code) => auth = Some(code),
            Err(e) => {
                client.close().await;
                return Err(e);
            }
        }
    }
    let req = make(password, auth);
    let password_change = matches!(req, AccountRequest::Passwd { .. });
    let reply = client.account(req).await;
    client.close().await;
    let reply = reply?;
    if let AccountReply::Changed { at: Some(at), .. } | AccountReply::Codes { at: Some(at), .. } = &reply {
        let place = match password_change {
            true => ", or from a known place (a network where the account's password was typed on 3 days over a week)",
            false => "",
        };
        eprintln!(
            "qxfer: the change waits until {} ({}); to apply it now, run it again with --confirm-by-text (a code \
             to the account's phone number verified a week ago or more){place}; a new account's first number, \
             question and codes apply at once from the network it first logged in from, or with --setup-code, \
             within the listener's setup window (a day by default)",
            format_time(*at),
            format_duration(at.saturating_sub(crate::clock::Clock::default().now()))
        );
    }
    Ok(reply)
}

/// Ask for a code texted to the account's oldest settled number, and read it.
async fn texted_auth(client: &mut Client, stdin: bool) -> Result<String> {
    match client.account(AccountRequest::SendAuthCode).await? {
        AccountReply::Done { text } => eprintln!("{text}"),
        other => print_reply(&other, false)?,
    }
    texted_code(&line(stdin, "Code from the text message", false, "--auth-code-stdin")?)
}

/// `qxfer account ...`.
pub async fn account(cmd: AccountCmd) -> Result<()> {
    match cmd {
        AccountCmd::Show { client: c } => {
            let (_, mut client) = logged_in(&c).await?;
            let reply = client.account(AccountRequest::Show).await;
            client.close().await;
            let AccountReply::View(v) = reply? else { bail!("the listener answered something else") };
            show(&v, c.json)?;
        }
        AccountCmd::Export { client: c } => {
            let (_, mut client) = logged_in(&c).await?;
            let reply = client.account(AccountRequest::Export).await;
            client.close().await;
            print_reply(&reply?, false)?;
        }
        AccountCmd::Phone(PhoneCmd::Add { client: c, number }) => {
            let number = crate::accounts::phone::parse(&number).map_err(|e| usage(e.to_string()))?;
            let (opts, mut client) = logged_in(&c).await?;
            let password = current_password(&opts)?;
            let reply = client.account(AccountRequest::PhoneAdd { number, password }).await;
            client.close().await;
            print_reply(&reply?, c.json)?;
        }
        AccountCmd::Phone(PhoneCmd::Verify { change: ch, number, code_stdin }) => {
            let number = crate::accounts::phone::parse(&number).map_err(|e| usage(e.to_string()))?;
            let opts = prepare(&ch.client).await?;
            let code = texted_code(&line(code_stdin, &format!("Code texted to {number}"), false, "--code-stdin")?)?;
            let reply =
                change(&ch, opts, |password, auth| AccountRequest::PhoneVerify { number, code, password, auth })
                    .await?;
            print_reply(&reply, ch.client.json)?;
        }
        AccountCmd::Phone(PhoneCmd::Remove { change: ch, number }) => {
            let number = crate::accounts::phone::parse(&number).map_err(|e| usage(e.to_string()))?;
            let opts = prepare(&ch.client).await?;
            let reply =
                change(&ch, opts, |password, auth| AccountRequest::PhoneRemove { number, password, auth }).await?;
            print_reply(&reply, ch.client.json)?;
        }
        AccountCmd::Phone(PhoneCmd::List { client: c }) => {
            let (_, mut client) = logged_in(&c).await?;
            let reply = client.account(AccountRequest::Show).await;
            client.close().await;
            let AccountReply::View(v) = reply? else { bail!("the listener answered something else") };
            if c.json {
                let phones: Vec<_> = v
                    .phones
                    .iter()
                    .map(|p| serde_json::json!({"number": p.number, "added": p.added, "verified": p.verified, "recovery": p.recovery}))
                    .collect();
                outln!("{}", serde_json::json!({ "phones": phones }))?;
            } else {
                show_phones(&v)?;
            }
        }
        AccountCmd::Question(QuestionCmd::Set { change: ch, question, answer_stdin }) => {
            if question.trim().is_empty() {
                return Err(usage("the question is empty: write it as you will be asked it"));
            }
            crate::wire::check_subject(&question).map_err(|_| {
                usage("the question must be one line of at most 200 bytes, without control or invisible characters")
            })?;
            let opts = prepare(&ch.client).await?;
            let answer = if answer_stdin {
                read_stdin_line()?
            } else {
                let a1 = line(false, "Answer", true, "--answer-stdin")?;
                if line(false, "Again", true, "--answer-stdin")? != a1 {
                    bail!("the answers differ");
                }
                a1
            };
            if crate::policy::recovery::normalise_secret_answer(&answer).chars().count() < 3 {
                return Err(usage("the answer must be at least 3 characters long"));
            }
            let req = |password, auth| AccountRequest::QuestionSet {
                question: question.clone(),
                answer: answer.clone(),
                password,
                auth,
            };
            req(String::new(), None).validate().map_err(|e| usage(format!("the question or answer: {e}")))?;
            let reply = change(&ch, opts, req).await?;
            print_reply(&reply, ch.client.json)?;
        }
        AccountCmd::Codes(CodesCmd::New { change: ch }) => {
            let opts = prepare(&ch.client).await?;
            let reply = change(&ch, opts, |password, auth| AccountRequest::CodesNew { password, auth }).await?;
            print_reply(&reply, ch.client.json)?;
        }
        AccountCmd::Passwd { change: ch, new_password_stdin } => {
            // The current password comes first (the login's), then the new one, before
            // anything is sent.
            let opts = prepare(&ch.client).await?;
            let new_password = new_password(new_password_stdin, &opts.user)?;
            let reply =
                change(&ch, opts, |password, auth| AccountRequest::Passwd { password, new_password, auth }).await?;
            print_reply(&reply, ch.client.json)?;
        }
        AccountCmd::Cancel { client: c, id } => {
            let (opts, mut client) = logged_in(&c).await?;
            let password = current_password(&opts)?;
            let reply = client.account(AccountRequest::Cancel { id, password }).await;
            client.close().await;
            print_reply(&reply?, c.json)?;
        }
        AccountCmd::Disown { change: ch, net } => {
            let net = net.trim().to_owned();
            let req = |password, auth| AccountRequest::Disown { net: net.clone(), password, auth };
            req("x".repeat(8), None).validate().map_err(|_| {
                usage(format!("{net} is not a network: write it as `qxfer account show` lists it, e.g. 203.0.113.0/24"))
            })?;
            let opts = prepare(&ch.client).await?;
            let reply = change(&ch, opts, req).await?;
            print_reply(&reply, ch.client.json)?;
        }
        AccountCmd::Tokens(TokensCmd::New { client: c, automation, confirm_by_text, auth_code_stdin }) => {
            let (opts, mut client) = logged_in(&c).await?;
            let password = current_password(&opts)?;
            let auth = match confirm_by_text {
                true => match texted_auth(&mut client, auth_code_stdin).await {
                    Ok(code) => Some(code),
                    Err(e) => {
                        client.close().await;
                        return Err(e);
                    }
                },
                false => None,
            };
            let reply = client.new_token(password, automation, auth).await;
            client.close().await;
            print_reply(&reply?, c.json)?;
        }
        AccountCmd::Tokens(TokensCmd::List { client: c }) => {
            let (_, mut client) = logged_in(&c).await?;
            let reply = client.account(AccountRequest::TokensList).await;
            client.close().await;
            let AccountReply::Sessions { sessions } = reply? else { bail!("the listener answered something else") };
            if c.json {
                let list: Vec<_> =
                    sessions.iter().map(|s| serde_json::json!({"id": s.id, "expires": s.expires})).collect();
                outln!("{}", serde_json::json!({ "sessions": list }))?;
            } else {
                for s in &sessions {
                    outln!("{}  expires {}", s.id, format_time(s.expires))?;
                }
            }
        }
        AccountCmd::Tokens(TokensCmd::Revoke { client: c, id, all }) => {
            let id = if all { None } else { id };
            let (opts, mut client) = logged_in(&c).await?;
            let password = current_password(&opts)?;
            let reply = client.revoke_tokens(id, password).await;
            client.close().await;
            print_reply(&reply?, c.json)?;
        }
    }
    Ok(())
}

fn show_phones(v: &crate::wire::AccountView) -> std::io::Result<()> {
    let now = crate::clock::Clock::default().now();
    if v.phones.is_empty() {
        outln!("{}", paste_ready("phones: none (add one: qxfer account phone add USER@HOST +NUMBER)"))?;
    }
    for p in &v.phones {
        let state = match p.verified {
            Some(crate::policy::recovery::VOUCHED) => "vouched for by the operator (settled)".into(),
            Some(t) => format!("verified {} ago", format_duration(now.saturating_sub(t))),
            None => "not verified".into(),
        };
        let role = if p.recovery { ", gets recovery codes" } else { "" };
        outln!("phone {}  added {} ago, {state}{role}", p.number, format_duration(now.saturating_sub(p.added)))?;
    }
    Ok(())
}

fn show(v: &crate::wire::AccountView, json: bool) -> std::io::Result<()> {
    if json {
        let phones: Vec<_> = v
            .phones
            .iter()
            .map(|p| serde_json::json!({"number": p.number, "added": p.added, "verified": p.verified, "recovery": p.recovery}))
            .collect();
        let places: Vec<_> = v
            .places
            .iter()
            .map(|p| serde_json::json!({"network": p.net, "first_seen": p.first_seen, "last_seen": p.last_seen, "origin": p.origin, "known": p.known}))
            .collect();
        let pending: Vec<_> = v
            .pending
            .iter()
            .map(|p| serde_json::json!({"id": p.id, "what": p.what, "requested": p.requested, "at": p.at, "from": p.from}))
            .collect();
        outln!(
            "{}",
            serde_json::json!({"phones": phones, "places": places, "question": v.question, "recovery_codes_left": v.codes_left, "pending": pending, "here_known": v.here_known})
        )?;
        return Ok(());
    }
    show_phones(v)?;
    for p in &v.places {
        let known = if p.known { "known" } else { "new" };
        let origin = if p.origin.is_empty() { String::new() } else { format!(" ({})", p.origin) };
        outln!(
            "place {}{origin}  {known}, first {}, last {}",
            p.net,
            format_time(p.first_seen),
            format_time(p.last_seen)
        )?;
    }
    match &v.question {
        Some(q) => outln!("secret question: {q}")?,
        None => outln!(
            "{}",
            paste_ready("secret question: none (set one: qxfer account question set USER@HOST --question TEXT)")
        )?,
    }
    outln!("recovery codes left: {}", v.codes_left)?;
    for p in &v.pending {
        outln!("pending {}: {} from {}, takes effect at {}", p.id, p.what, p.from, format_time(p.at))?;
    }
    outln!("this network is {}", if v.here_known { "a known place" } else { "not a known place yet" })
}
