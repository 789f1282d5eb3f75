//! Logging in on a fresh connection: a saved session token first (or the automation
//! token given), the password if needed (asked before connecting, after an unknown
//! listener's certificate is settled, up to three times on a terminal), the session token
//! kept for the next command, and a listener's challenge answered on a new connection.

use std::io::IsTerminal;
use std::path::PathBuf;

use super::challenge;
use super::connect::{resolve, ConnectOptions, PasswordSource};
use super::control::{unexpected, Client};
use super::error::{self, ClientError, Result};
use super::trust::{KnownHosts, NewHost};
use crate::transport::tls;
use crate::wire::{Credential, ErrorCode, Request, Response, Solution, Token, LOADED_TEXT, LOCKED_TEXT};

/// Captchas one command shows before it gives up (a person misreads one now and then).
pub(super) const CHALLENGE_TRIES: u32 = 3;

/// Passwords one command asks for on a terminal (ssh's `NumberOfPasswordPrompts`).
pub(super) const PASSWORD_TRIES: u32 = 3;

fn token_path(opts: &ConnectOptions, hostport: &str) -> PathBuf {
    let safe: String = format!("{hostport}@{}", opts.user)
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@') { c } else { '_' })
        .collect();
    opts.config_dir.join("sessions").join(safe)
}

fn load_token(path: &std::path::Path) -> Option<Token> {
    let text = std::fs::read_to_string(path).ok()?;
    hex::decode(text.trim()).ok()?.try_into().ok()
}

fn save_token(path: &std::path::Path, token: &Token) -> Result<()> {
    if let Some(dir) = path.parent() {
        crate::files::create_private_dir(dir).map_err(error::local("creating", dir))?;
    }
    let _ = std::fs::remove_file(path);
    Ok(tls::write_private(path, hex::encode(token).as_bytes())?)
}

impl Client {
    /// Connect, check the listener's certificate, and log in. Without a saved session
    /// token the password is asked for before connecting, so a person's typing never runs
    /// into the listener's login deadline; on a terminal, an unknown listener's certificate
    /// is settled first (as ssh asks about the host key before the password), and a wrong
    /// password is asked again, [`PASSWORD_TRIES`] times in all (each a login the listener
    /// counts). A password given (`QXFER_PASSWORD`, `--password-stdin`) has one try.
    ///
    /// A listener that asks for a challenge (after failed logins) gets it answered: the
    /// captcha on the terminal, the proof of work here, then a fresh connection logs in
    /// with the solution (a person may take longer than the login deadline to read it).
    pub async fn connect(opts: &ConnectOptions) -> Result<Client> {
        let (_, hostport, _) = resolve(&opts.host)?;
        let has_token = opts.token.is_some() || load_token(&token_path(opts, &hostport)).is_some();
        match &opts.password {
            PasswordSource::Prompt => {}
            // Without a token to log in with, a password no account can have is refused
            // before anything connects (with one, only if the token is refused: see `login`).
            PasswordSource::Given(p) if !has_token => {
                possible(p)?;
                return Self::connect_solving(opts).await;
            }
            _ => return Self::connect_solving(opts).await,
        }
        if has_token {
            // The session first; the password only if it ended.
            let without = ConnectOptions { password: PasswordSource::None, ..opts.clone() };
            match Self::connect_solving(&without).await {
                Err(ClientError::SessionEnded { .. } | ClientError::NoPassword) => {}
                other => return other,
            }
        } else {
            Self::settle_trust(opts).await?;
        }
        let mut tries = 0;
        loop {
            tries += 1;
            let password = prompt(&opts.user, &hostport).await?;
            // A password no account can have (Enter alone) is asked again: nothing was sent.
            if let Err(e) = possible(&password) {
                if tries < PASSWORD_TRIES {
                    eprintln!("Passwords are 8 to 1024 bytes (nothing was sent); try again.");
                    continue;
                }
                return Err(e);
            }
            let given = ConnectOptions { password: PasswordSource::Given(password), ..opts.clone() };
            match Self::connect_solving(&given).await {
                Err(ClientError::Auth { .. }) if tries < PASSWORD_TRIES => {
                    eprintln!("Wrong user name or password; try again.");
                }
                other => return other,
            }
        }
    }

    /// On a terminal, before a password is asked for: an unknown listener's certificate
    /// shown and pinned (or refused) on a connection of its own, which logs nothing in.
    /// Nothing to do when it is pinned, a fingerprint or CA is given, or no one is asked.
    pub async fn settle_trust(opts: &ConnectOptions) -> Result<()> {
        let (_, hostport, _) = resolve(&opts.host)?;
        if trust_unsettled(opts, &hostport) {
            Self::handshake(opts).await?.close().await;
        }
        Ok(())
    }

    /// Log in with what `opts` gives, answering challenges: a misread captcha gets a fresh
    /// one, a few times, without typing the password again; a listener under load gets the
    /// work it suggests attached. An account locked against this
    /// network asks a person for the texted code once (qxfer/6), then logs in with it on a
    /// fresh connection.
    async fn connect_solving(opts: &ConnectOptions) -> Result<Client> {
        let mut tries = 0;
        let mut code = None;
        loop {
            let mut loaded = false;
            let challenge = match Self::connect_with(opts, None, code.as_deref()).await {
                Err(ClientError::NeedsChallenge(c)) => *c,
                Err(ClientError::Loaded(ticket)) => {
                    loaded = true;
                    (*ticket, None)
                }
                Err(ClientError::NeedsCode) if code.is_none() => {
                    code = Some(prompt_code().await?);
                    continue;
                }
                other => return other,
            };
            let (ticket, picture) = challenge;
            let solution = if loaded {
                tracing::info!(
                    "the listener is under load; the login attaches the work it suggests ({} bits)",
                    ticket.bits
                );
                challenge::attach_work(ticket, &opts.work_progress.0).await?
            } else {
                tracing::info!("the listener asks for a challenge ({} bits of work)", ticket.bits);
                challenge::solve(
                    ticket,
                    picture,
                    opts.captcha_file.as_deref(),
                    &opts.work_progress.0,
                    "after failed logins for this account or address",
                )
                .await?
            };
            tries += 1;
            match Self::connect_with(opts, Some(solution), code.as_deref()).await {
                Err(ClientError::Remote { code: ErrorCode::ChallengeFailed, message }) => {
                    if tries >= CHALLENGE_TRIES || !std::io::stderr().is_terminal() {
                        return Err(ClientError::Challenge(format!(
                            "the listener did not accept the answer: {message}"
                        )));
                    }
                    eprintln!("Not accepted ({message}); here is another one.");
                }
                Err(ClientError::NeedsCode) if code.is_none() => code = Some(prompt_code().await?),
                other => return other,
            }
        }
    }

    async fn connect_with(opts: &ConnectOptions, solution: Option<Solution>, code: Option<&str>) -> Result<Client> {
        let mut client = Self::handshake(opts).await?;
        let hostport = client.hostport.clone();
        match client.login(opts, &hostport, solution, code).await {
            Ok(()) => Ok(client),
            Err(e) => {
                client.close().await;
                Err(e)
            }
        }
    }

    async fn login(
        &mut self,
        opts: &ConnectOptions,
        hostport: &str,
        solution: Option<Solution>,
        code: Option<&str>,
    ) -> Result<()> {
        if let Some(token) = opts.token {
            let req = Request::Login { user: opts.user.clone(), credential: Credential::Token(token) };
            return match self.call(&req).await {
                Ok(Response::LoggedIn { .. }) => {
                    tracing::info!("logged in as {} with the token in QXFER_TOKEN", opts.user);
                    Ok(())
                }
                Err(ClientError::Remote { code: ErrorCode::AuthFailed, .. }) => Err(ClientError::TokenRefused {
                    user: opts.user.clone(),
                    target: format!("{}@{}", opts.user, opts.host),
                }),
                Ok(other_reply) => Err(unexpected(&other_reply)),
                Err(e) => Err(e),
            };
        }
        let token_file = token_path(opts, hostport);
        let mut session_ended = false;
        if let Some(token) = load_token(&token_file) {
            let req = Request::Login { user: opts.user.clone(), credential: Credential::Token(token) };
            match self.call(&req).await {
                Ok(Response::LoggedIn { .. }) => {
                    tracing::info!("logged in as {} with the saved session token", opts.user);
                    return Ok(());
                }
                Err(ClientError::Remote { code: ErrorCode::AuthFailed, .. }) => {
                    let _ = std::fs::remove_file(&token_file);
                    session_ended = true;
                }
                Ok(other_reply) => return Err(unexpected(&other_reply)),
                Err(e) => return Err(e),
            }
        }
        let password = match &opts.password {
            PasswordSource::Given(p) => possible(p)?.clone(),
            PasswordSource::Prompt => possible(&prompt(&opts.user, hostport).await?)?.clone(),
            PasswordSource::None if session_ended => return Err(ClientError::SessionEnded { user: opts.user.clone() }),
            PasswordSource::None => return Err(ClientError::NoPassword),
        };
        let credential = Credential::Password(password);
        let user = opts.user.clone();
        let req = match (code.filter(|_| self.v6), solution) {
            (Some(code), solution) => Request::LoginWithCode { user, credential, code: code.to_owned(), solution },
            (None, Some(solution)) => Request::LoginSolved { user, credential, solution },
            (None, None) => Request::Login { user, credential },
        };
        match self.call(&req).await {
            Ok(Response::LoggedIn { token, .. }) => {
                tracing::info!("logged in as {} with a password", opts.user);
                if let Some(token) = token {
                    // A token saves the next command the password check; failing to keep it is not fatal.
                    if let Err(e) = save_token(&token_file, &token) {
                        tracing::warn!("could not keep the session token: {e}");
                    }
                }
                Ok(())
            }
            Ok(other_reply) => Err(unexpected(&other_reply)),
            // Locked against this network: a person is asked for the texted code (qxfer/6);
            // otherwise, or with a wrong code, the listener's words say what to do (exit 3).
            Err(e @ ClientError::Remote { code: ErrorCode::AuthFailed, .. }) if e.to_string() == LOCKED_TEXT => {
                let ask = self.v6 && code.is_none() && std::io::stdin().is_terminal();
                Err(if ask { ClientError::NeedsCode } else { e })
            }
            Err(ClientError::Remote { code: ErrorCode::AuthFailed, .. }) => {
                Err(ClientError::Auth { user: opts.user.clone() })
            }
            // After failed logins (the step-up), or under load (work only, with the login).
            Err(ClientError::Remote { code: ErrorCode::ChallengeRequired, message }) => {
                match self.call(&Request::Challenge { user: opts.user.clone() }).await? {
                    Response::Challenge { ticket, picture: None } if message == LOADED_TEXT => {
                        Err(ClientError::Loaded(Box::new(ticket)))
                    }
                    Response::Challenge { ticket, picture } => {
                        Err(ClientError::NeedsChallenge(Box::new((ticket, picture))))
                    }
                    other_reply => Err(unexpected(&other_reply)),
                }
            }
            Err(e) => Err(e),
        }
    }
}

/// Whether connecting would ask on the terminal about the listener's certificate: no CA,
/// no fingerprint given, and none pinned for `hostport` yet.
fn trust_unsettled(opts: &ConnectOptions, hostport: &str) -> bool {
    opts.new_host == NewHost::Ask
        && opts.ca.is_none()
        && opts.fingerprint.is_none()
        && KnownHosts::new(&opts.config_dir).get(hostport).is_none()
}

/// Ask for the password on the terminal, on a blocking thread: the connection (if any)
/// keeps being served while the person types.
async fn prompt(user: &str, hostport: &str) -> Result<String> {
    let text = format!("Password for {user}@{hostport}: ");
    tokio::task::spawn_blocking(move || rpassword::prompt_password(text)).await?.map_err(ClientError::Password)
}

/// A password some account could have (8 to 1024 bytes), or the mistake, said before the
/// password reaches the listener (where a wrong one costs a try and counts toward a ban).
fn possible(password: &String) -> Result<&String> {
    let len = password.len();
    if (crate::wire::MIN_PASSWORD..=crate::wire::MAX_PASSWORD).contains(&len) {
        Ok(password)
    } else {
        Err(ClientError::PasswordLength { len })
    }
}

/// Ask for the code that lets the owner past a lockout, on the terminal (visible: it is
/// single-use).
async fn prompt_code() -> Result<String> {
    let read = tokio::task::spawn_blocking(|| {
        eprint!("Code from the text message, or a recovery code: ");
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line.trim().to_owned())
    });
    read.await?.map_err(ClientError::Password)
}
