//! The client's side of account recovery and settings (qxfer/5): the logged-in account's
//! requests, and the requests a person without a password makes (start a recovery, see
//! the secret question with the texted code (qxfer/6), finish it, cancel a pending
//! change), each on a fresh connection with a solved challenge.

use std::io::IsTerminal;

use super::challenge;
use super::connect::ConnectOptions;
use super::control::{unexpected, Client};
use super::error::{ClientError, Result};
use super::login::CHALLENGE_TRIES;
use crate::wire::{AccountReply, AccountRequest, ErrorCode, Request, Response, Solution};

impl Client {
    fn require_v5(&self) -> Result<()> {
        if self.v5 {
            return Ok(());
        }
        Err(ClientError::Protocol(format!(
            "the listener {} speaks an older qxfer protocol (qxfer/4) without account recovery and settings: \
             upgrade qxfer on the listener",
            self.hostport
        )))
    }

    /// One request about the logged-in account.
    pub async fn account(&mut self, req: AccountRequest) -> Result<AccountReply> {
        self.require_v5()?;
        match self.call(&Request::Account(req)).await? {
            Response::Account(reply) => Ok(reply),
            other => Err(unexpected(&other)),
        }
    }

    /// End sessions (the one with `id`, or all): qxfer/6 carries the current password; a
    /// qxfer/5 listener takes the old form without one.
    pub async fn revoke_tokens(&mut self, id: Option<String>, password: String) -> Result<AccountReply> {
        let req = match self.v6 {
            true => AccountRequest::TokensRevokeAs { id, password },
            false => AccountRequest::TokensRevoke { id },
        };
        self.account(req).await
    }

    /// A new token (`automation`: for scripts), with a texted code (`auth`) that makes an
    /// automation token work at once. A qxfer/5 listener takes the old form, without a code.
    pub async fn new_token(
        &mut self,
        password: String,
        automation: bool,
        auth: Option<String>,
    ) -> Result<AccountReply> {
        let req = match (self.v6, auth) {
            (true, auth) => AccountRequest::TokenNewAuth { password, automation, auth },
            (false, None) => AccountRequest::TokenNew { password, automation },
            (false, Some(_)) => {
                return Err(ClientError::Protocol(format!(
                    "the listener {} speaks qxfer/5, which takes no texted code for a new token: make it without \
                     --confirm-by-text, or upgrade qxfer on the listener",
                    self.hostport
                )))
            }
        };
        self.account(req).await
    }

    /// One request before login, on this fresh connection.
    async fn anonymous(&mut self, req: &Request) -> Result<AccountReply> {
        self.require_v5()?;
        match self.call(req).await? {
            Response::Account(reply) => Ok(reply),
            other => Err(unexpected(&other)),
        }
    }
}

/// Cancel a pending change with a texted cancel code (no login).
pub async fn cancel_change(opts: &ConnectOptions, code: &str) -> Result<AccountReply> {
    let mut client = Client::handshake(opts).await?;
    let reply = client.anonymous(&Request::CancelChange { code: code.to_owned() }).await;
    client.close().await;
    reply
}

/// A recovery step for `opts.user` with a solved challenge: the challenge is fetched on one
/// connection, solved (work here, a captcha on the terminal), and the step sent on a fresh
/// one (a person may read longer than the listener waits for a login). A misread captcha
/// gets a fresh one, a few times.
pub async fn recovery_step(opts: &ConnectOptions, step: impl Fn(Solution) -> Request) -> Result<AccountReply> {
    let ask = Request::Challenge { user: opts.user.clone() };
    solved_step(opts, &ask, false, step).await?.ok_or_else(|| ClientError::Protocol("no reply".into()))
}

/// The texted `code` of `opts.user`'s recovery, checked by the listener (not used up),
/// answered with the secret question (`AccountReply::Question`); `None` from a listener
/// older than qxfer/6, which shows no question.
pub async fn recovery_question(opts: &ConnectOptions, code: &str) -> Result<Option<AccountReply>> {
    let ask = Request::Challenge { user: opts.user.clone() };
    let user = opts.user.clone();
    solved_step(opts, &ask, true, |solution| Request::RecoverQuestion {
        user: user.clone(),
        code: code.to_owned(),
        solution,
    })
    .await
}

/// Register `opts.user` with `password`, with the captcha the listener always asks for.
pub async fn register(opts: &ConnectOptions, password: &str) -> Result<AccountReply> {
    let ask = Request::RegisterChallenge { user: opts.user.clone() };
    let step = |solution| Request::Register { user: opts.user.clone(), password: password.to_owned(), solution };
    solved_step(opts, &ask, false, step).await?.ok_or_else(|| ClientError::Protocol("no reply".into()))
}

/// `step` with a solved challenge (asked for with `ask`); `None` when `v6` (the step is
/// qxfer/6's) and the listener is older.
async fn solved_step(
    opts: &ConnectOptions,
    ask: &Request,
    v6: bool,
    step: impl Fn(Solution) -> Request,
) -> Result<Option<AccountReply>> {
    let mut tries = 0;
    loop {
        let mut client = Client::handshake(opts).await?;
        client.require_v5()?;
        if v6 && !client.v6 {
            client.close().await;
            return Ok(None);
        }
        let asked = client.call(ask).await;
        client.close().await;
        let (ticket, picture) = match asked? {
            Response::Challenge { ticket, picture } => (ticket, picture),
            other => return Err(unexpected(&other)),
        };
        let why = match ask {
            Request::RegisterChallenge { .. } => "for a registration",
            _ => "for each step of a recovery",
        };
        let solution =
            challenge::solve(ticket, picture, opts.captcha_file.as_deref(), &opts.work_progress.0, why).await?;
        tries += 1;
        let mut client = Client::handshake(opts).await?;
        let reply = client.anonymous(&step(solution)).await;
        client.close().await;
        match reply {
            Err(ClientError::Remote { code: ErrorCode::ChallengeFailed, message }) => {
                if tries >= CHALLENGE_TRIES || !std::io::stderr().is_terminal() {
                    return Err(ClientError::Challenge(format!("the listener did not accept the answer: {message}")));
                }
                eprintln!("Not accepted ({message}); here is another one.");
            }
            other => return other.map(Some),
        }
    }
}
