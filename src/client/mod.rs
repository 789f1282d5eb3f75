//! The client library: connect (with certificate pinning), log in (session token first,
//! password if needed), then send, list or fetch over one QUIC connection. It reports
//! progress as typed [`Event`]s; rendering them is the binary's business.

mod account;
pub mod aliases;
mod challenge;
pub mod error;
mod fetch;
mod manifest;
mod outdir;
mod pending;
mod send;
pub mod trust;

use std::io::IsTerminal;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;

use quinn::{Connection, Endpoint, RecvStream, SendStream};

pub use account::{cancel_change, recovery_step, register};
use error::lost;
pub use error::{exit, ClientError, Result};
pub use fetch::{message_text, Conflict, FetchReport, FetchedFile};
pub use manifest::{Manifest, ManifestError, ManifestOptions, Skipped};
pub use send::{SendJob, SendReport};
use trust::{KnownHosts, NewHost};

use crate::policy::NetLimits;
use crate::transport::close;
use crate::transport::endpoint;
use crate::transport::framed;
use crate::transport::tls::{self, Fingerprint, Trust};
use crate::wire::{Credential, ErrorCode, Request, Response, Solution, Summary, Token};

/// How long the QUIC + TLS handshake may take unless `--connect-timeout` says otherwise:
/// on loopback or a LAN it takes milliseconds, across the world well under a second, and
/// QUIC retransmits a lost first packet after about one.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// TLS alert `no_application_protocol`: the listener offered no protocol we speak.
const NO_APPLICATION_PROTOCOL: u8 = 120;

/// How long closing waits for the listener to hear of it.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// How long a reply from the listener may take (a commit syncs the delivery to disk first).
pub const REPLY_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// A download slower than this is a stalled listener: the command fails (and can resume).
pub const MIN_RATE: crate::transport::body::MinRate =
    crate::transport::body::MinRate { bytes_per_sec: 4096, window: std::time::Duration::from_secs(20) };

/// Most deliveries `inbox` accepts from a listener (a listing is kept in memory).
pub const MAX_LISTED: usize = 100_000;

/// Upload or download streams in flight at once.
pub const PARALLEL_STREAMS: usize = 32;

/// Progress of a transfer, for a renderer.
#[derive(Debug, Clone)]
pub enum Event {
    /// A transfer of `files` files and `bytes` bytes starts; `done` bytes are already there.
    Start {
        files: u64,
        bytes: u64,
        done: u64,
    },
    FileStart {
        index: u32,
        path: String,
        size: u64,
        offset: u64,
    },
    Bytes {
        index: u32,
        n: u64,
    },
    FileDone {
        index: u32,
    },
    Finish,
}

/// Where progress events go.
pub type Events = Arc<dyn Fn(Event) + Send + Sync>;

/// Events to nowhere.
pub fn no_events() -> Events {
    Arc::new(|_| {})
}

/// Where a password comes from when no session token works.
#[derive(Debug, Clone)]
pub enum PasswordSource {
    /// Given (from `QXFER_PASSWORD` or `--password-stdin`).
    Given(String),
    /// Ask on the terminal.
    Prompt,
    /// No way to get one.
    None,
}

/// How to reach and log in to a listener.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// `HOST[:PORT]` as the user wrote it.
    pub host: String,
    /// Local addresses to send from (`--bind`, a name may give several): the first of the
    /// listener's address family is used. Empty: any.
    pub bind: Vec<SocketAddr>,
    pub user: String,
    pub password: PasswordSource,
    pub config_dir: PathBuf,
    pub fingerprint: Option<Fingerprint>,
    pub new_host: NewHost,
    pub ca: Option<PathBuf>,
    pub net: NetLimits,
    /// How long the handshake may take ([`CONNECT_TIMEOUT`] by default).
    pub connect_timeout: std::time::Duration,
    /// Where to write a captcha as PNG too (`--captcha-file`), when the listener asks for one.
    pub captcha_file: Option<PathBuf>,
    /// A token to log in with instead of a saved session (`QXFER_TOKEN`: an automation
    /// token for scripts); when it is refused, nothing else is tried.
    pub token: Option<Token>,
}

/// Captchas one command shows before it gives up (a person misreads one now and then).
const CHALLENGE_TRIES: u32 = 3;

/// An authenticated connection.
pub struct Client {
    endpoint: Endpoint,
    conn: Connection,
    send: SendStream,
    recv: RecvStream,
    user: String,
    /// `host:port`, for messages.
    hostport: String,
    /// Where this client keeps its state (known hosts, sessions, sends in progress).
    config_dir: PathBuf,
    /// The listener speaks qxfer/5 (account recovery and settings).
    v5: bool,
}

/// What a connection's end means for the user, when the listener refused us: a ban it
/// told us of (close code `BANNED`), or a refusal before the handshake.
fn refusal(e: &quinn::ConnectionError, hostport: &str) -> Option<ClientError> {
    match e {
        quinn::ConnectionError::ApplicationClosed(c) if c.error_code == close::BANNED.into() => {
            let notice = crate::wire::BanNotice::parse(&c.reason);
            Some(match notice {
                Some(n) => ClientError::Banned { hostport: hostport.to_owned(), net: n.net, secs: n.secs },
                None => ClientError::ListenerRefused { hostport: hostport.to_owned() },
            })
        }
        quinn::ConnectionError::ConnectionClosed(c)
            if c.error_code == quinn::TransportErrorCode::CONNECTION_REFUSED =>
        {
            Some(ClientError::ListenerRefused { hostport: hostport.to_owned() })
        }
        _ => None,
    }
}

/// `host:port` with the default port filled in, and its first resolved address.
pub fn resolve(host: &str) -> Result<(String, String, SocketAddr)> {
    let default_port = crate::wire::DEFAULT_PORT;
    let (name, hostport) = if let Ok(addr) = host.parse::<SocketAddr>() {
        (addr.ip().to_string(), addr.to_string())
    } else if let Ok(ip) = host.trim_matches(['[', ']']).parse::<std::net::IpAddr>() {
        (ip.to_string(), SocketAddr::new(ip, default_port).to_string())
    } else if let Some((h, p)) = host.rsplit_once(':') {
        p.parse::<u16>().map_err(|_| ClientError::Address(format!("bad port in {host}")))?;
        (h.to_owned(), host.to_owned())
    } else {
        (host.to_owned(), format!("{host}:{default_port}"))
    };
    let addr = hostport
        .to_socket_addrs()
        .map_err(|e| ClientError::Address(format!("resolving {hostport}: {e}")))?
        .next()
        .ok_or_else(|| ClientError::Address(format!("{hostport} resolves to no address")))?;
    Ok((name, hostport, addr))
}

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
    /// into the listener's login deadline.
    ///
    /// A listener that asks for a challenge (after failed logins) gets it answered: the
    /// captcha on the terminal, the proof of work here, then a fresh connection logs in
    /// with the solution (a person may take longer than the login deadline to read it).
    pub async fn connect(opts: &ConnectOptions) -> Result<Client> {
        let (_, hostport, _) = resolve(&opts.host)?;
        let asked;
        let opts = if matches!(opts.password, PasswordSource::Prompt)
            && opts.token.is_none()
            && load_token(&token_path(opts, &hostport)).is_none()
        {
            let password = prompt(&opts.user, &hostport).await?;
            asked = ConnectOptions { password: PasswordSource::Given(password), ..opts.clone() };
            &asked
        } else {
            opts
        };
        // A misread captcha gets a fresh one, a few times, without typing the password again.
        let mut tries = 0;
        loop {
            let challenge = match Self::connect_with(opts, None).await {
                Err(ClientError::NeedsChallenge(c)) => *c,
                other => return other,
            };
            let (ticket, picture) = challenge;
            tracing::info!("the listener asks for a challenge ({} bits of work)", ticket.bits);
            let solution = challenge::solve(ticket, picture, opts.captcha_file.as_deref()).await?;
            tries += 1;
            match Self::connect_with(opts, Some(solution)).await {
                Err(ClientError::Remote { code: ErrorCode::ChallengeFailed, message }) => {
                    if tries >= CHALLENGE_TRIES || !std::io::stderr().is_terminal() {
                        return Err(ClientError::Challenge(format!(
                            "the listener did not accept the answer: {message}"
                        )));
                    }
                    eprintln!("Not accepted ({message}); here is another one.");
                }
                other => return other,
            }
        }
    }

    async fn connect_with(opts: &ConnectOptions, solution: Option<Solution>) -> Result<Client> {
        let mut client = Self::handshake(opts).await?;
        let hostport = client.hostport.clone();
        match client.login(opts, &hostport, solution).await {
            Ok(()) => Ok(client),
            Err(e) => {
                client.close().await;
                Err(e)
            }
        }
    }

    /// Connect and check the listener's certificate, without logging in (recovery).
    pub(crate) async fn handshake(opts: &ConnectOptions) -> Result<Client> {
        let (name, hostport, addr) = resolve(&opts.host)?;
        let bind = match opts.bind.iter().find(|b| b.is_ipv6() == addr.is_ipv6()) {
            Some(b) => *b,
            None if !opts.bind.is_empty() => {
                return Err(ClientError::Address(format!(
                    "--bind names no {} address, and the listener {hostport} is reached over {}",
                    if addr.is_ipv6() { "IPv6" } else { "IPv4" },
                    if addr.is_ipv6() { "IPv6" } else { "IPv4" }
                )))
            }
            None if addr.is_ipv6() => SocketAddr::from(([0u16; 8], 0)),
            None => SocketAddr::from(([0u8; 4], 0)),
        };
        let trust = match &opts.ca {
            Some(ca) => Trust::Ca(tls::load_ca(ca)?),
            None => Trust::Pin,
        };
        let endpoint = endpoint::client_endpoint(bind, trust, &opts.net)?;
        // With pinning the name is not checked; with a CA it must match the certificate.
        let server_name = if opts.ca.is_some() { name.clone() } else { "qxfer".to_owned() };
        let connect_error =
            |e: &dyn std::fmt::Display| ClientError::Connect { hostport: hostport.clone(), reason: e.to_string() };
        tracing::info!("connecting to {hostport} ({addr}) from {bind}");
        let started = std::time::Instant::now();
        let connecting = endpoint.connect(addr, &server_name).map_err(|e| connect_error(&e))?;
        let conn = match tokio::time::timeout(opts.connect_timeout, connecting).await {
            Ok(Err(quinn::ConnectionError::ConnectionClosed(c)))
                if c.error_code == quinn::TransportErrorCode::crypto(NO_APPLICATION_PROTOCOL) =>
            {
                return Err(ClientError::Connect {
                    hostport,
                    reason: "the listener speaks an older qxfer protocol: upgrade qxfer on the listener".into(),
                });
            }
            Ok(Err(e)) => return Err(refusal(&e, &hostport).unwrap_or_else(|| connect_error(&e))),
            Ok(Ok(c)) => c,
            Err(_) => {
                return Err(ClientError::NoAnswer { hostport, secs: opts.connect_timeout.as_secs_f64().ceil() as u64 })
            }
        };
        tracing::info!(
            "QUIC + TLS 1.3 handshake with {} done in {} ms",
            conn.remote_address(),
            started.elapsed().as_millis()
        );
        if opts.ca.is_none() {
            let seen = peer_fingerprint(&conn)
                .ok_or_else(|| ClientError::Protocol("the listener sent no certificate".into()))?;
            let known = KnownHosts::new(&opts.config_dir);
            if let Err(e) = known.check(&hostport, &seen, opts.fingerprint.as_ref(), opts.new_host) {
                conn.close(close::DONE.into(), b"untrusted certificate");
                let _ = tokio::time::timeout(CLOSE_WAIT, endpoint.wait_idle()).await;
                return Err(e);
            }
        }
        let (send, recv) = conn.open_bi().await.map_err(|e| refusal(&e, &hostport).unwrap_or_else(|| lost(e)))?;
        let v5 = tls::negotiated_protocol(&conn).as_deref() == Some(crate::wire::ALPN);
        Ok(Client {
            endpoint,
            conn,
            send,
            recv,
            user: opts.user.clone(),
            hostport: hostport.clone(),
            config_dir: opts.config_dir.clone(),
            v5,
        })
    }

    async fn login(&mut self, opts: &ConnectOptions, hostport: &str, solution: Option<Solution>) -> Result<()> {
        if let Some(token) = opts.token {
            let req = Request::Login { user: opts.user.clone(), credential: Credential::Token(token) };
            return match self.call(&req).await {
                Ok(Response::LoggedIn { .. }) => {
                    tracing::info!("logged in as {} with the token in QXFER_TOKEN", opts.user);
                    Ok(())
                }
                Err(ClientError::Remote { code: ErrorCode::AuthFailed, .. }) => {
                    Err(ClientError::Auth { user: opts.user.clone() })
                }
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
            PasswordSource::Given(p) => p.clone(),
            PasswordSource::Prompt => prompt(&opts.user, hostport).await?,
            PasswordSource::None if session_ended => return Err(ClientError::SessionEnded { user: opts.user.clone() }),
            PasswordSource::None => return Err(ClientError::NoPassword),
        };
        let credential = Credential::Password(password);
        let req = match solution {
            Some(solution) => Request::LoginSolved { user: opts.user.clone(), credential, solution },
            None => Request::Login { user: opts.user.clone(), credential },
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
            Err(ClientError::Remote { code: ErrorCode::AuthFailed, .. }) => {
                Err(ClientError::Auth { user: opts.user.clone() })
            }
            Err(ClientError::Remote { code: ErrorCode::ChallengeRequired, .. }) => {
                match self.call(&Request::Challenge { user: opts.user.clone() }).await? {
                    Response::Challenge { ticket, picture } => {
                        Err(ClientError::NeedsChallenge(Box::new((ticket, picture))))
                    }
                    other_reply => Err(unexpected(&other_reply)),
                }
            }
            Err(e) => Err(e),
        }
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    /// One request, one response on the control stream.
    pub(crate) async fn call(&mut self, req: &Request) -> Result<Response> {
        tracing::debug!("request: {}", request_name(req));
        let written = tokio::time::timeout(REPLY_WAIT, framed::write_frame(&mut self.send, req))
            .await
            .map_err(|_| ClientError::Lost(format!("the listener took no request for {} s", REPLY_WAIT.as_secs())))?;
        written.map_err(|e| self.lost(e))?;
        let reply = tokio::time::timeout(REPLY_WAIT, framed::read_frame(&mut self.recv))
            .await
            .map_err(|_| ClientError::Lost(format!("the listener did not answer within {} s", REPLY_WAIT.as_secs())))?;
        let resp: Response = match reply {
            Ok(Some(r)) => r,
            Ok(None) => return Err(ClientError::Lost("the listener ended the session".into())),
            Err(e) => return Err(self.lost(e)),
        };
        match resp {
            Response::Error { code, message } => Err(ClientError::Remote { code, message }),
            r => Ok(r),
        }
    }

    fn lost(&self, e: impl std::fmt::Display) -> ClientError {
        match self.conn.close_reason() {
            Some(reason) => refusal(&reason, &self.hostport)
                .unwrap_or_else(|| ClientError::Lost(format!("connection closed: {reason}"))),
            None => ClientError::Lost(format!("control stream: {e}")),
        }
    }

    /// All deliveries in the caller's mailbox (only those not yet seen, with `unseen`).
    pub async fn inbox(&mut self, unseen: bool) -> Result<Vec<Summary>> {
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let req = if unseen { Request::Unseen { after } } else { Request::Inbox { after } };
            match self.call(&req).await? {
                Response::InboxPage { items, more } => {
                    let last = items.last().map(|s| s.id);
                    // Ids only go up, and the listing has a cap: a listener cannot keep the
                    // client paging forever or fill its memory.
                    if items.iter().any(|s| s.id <= after) {
                        return Err(ClientError::Protocol("the listener listed deliveries out of order".into()));
                    }
                    all.extend(items);
                    if all.len() > MAX_LISTED {
                        return Err(ClientError::Protocol(format!(
                            "the listener listed more than {MAX_LISTED} deliveries; stopping"
                        )));
                    }
                    match (more, last) {
                        (true, Some(id)) if id > after => after = id,
                        _ => return Ok(all),
                    }
                }
                other_reply => return Err(unexpected(&other_reply)),
            }
        }
    }

    /// Delete deliveries from the caller's mailbox; returns those deleted (the others were
    /// not in it).
    pub async fn delete(&mut self, ids: &[u64]) -> Result<Vec<u64>> {
        self.affect(ids, |ids| Request::Delete { ids }).await
    }

    /// Mark deliveries seen (fetched or read); returns those marked.
    pub async fn mark_seen(&mut self, ids: &[u64]) -> Result<Vec<u64>> {
        self.affect(ids, |ids| Request::MarkSeen { ids }).await
    }

    async fn affect(&mut self, ids: &[u64], req: impl Fn(Vec<u64>) -> Request) -> Result<Vec<u64>> {
        let mut done = Vec::new();
        for chunk in ids.chunks(crate::wire::MAX_PAGE) {
            match self.call(&req(chunk.to_vec())).await? {
                // Only ids that were asked for count: a listener cannot make the client
                // report others.
                Response::Affected { ids } => done.extend(ids.into_iter().filter(|id| chunk.contains(id))),
                r => return Err(unexpected(&r)),
            }
        }
        Ok(done)
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }

    /// End the session: finish the control stream and wait (bounded) for the listener to
    /// close the connection, so it has seen the end before this process exits. Waiting for
    /// the listener's close instead of our own drain period saves three probe timeouts.
    pub async fn close(mut self) {
        let _ = self.send.finish();
        if tokio::time::timeout(CLOSE_WAIT, self.conn.closed()).await.is_err() {
            self.conn.close(close::DONE.into(), b"done");
            let _ = tokio::time::timeout(CLOSE_WAIT, self.endpoint.wait_idle()).await;
        }
    }
}

/// Ask for the password on the terminal, on a blocking thread: the connection (if any)
/// keeps being served while the person types.
async fn prompt(user: &str, hostport: &str) -> Result<String> {
    let text = format!("Password for {user}@{hostport}: ");
    tokio::task::spawn_blocking(move || rpassword::prompt_password(text)).await?.map_err(ClientError::Password)
}

fn peer_fingerprint(conn: &Connection) -> Option<Fingerprint> {
    let identity = conn.peer_identity()?;
    let certs = identity.downcast_ref::<Vec<rustls::pki_types::CertificateDer<'static>>>()?;
    certs.first().map(tls::fingerprint)
}

/// A request's kind, for logs (never its credentials or text).
fn request_name(req: &Request) -> &'static str {
    match req {
        Request::Login { .. } | Request::LoginSolved { .. } => "login",
        Request::Challenge { .. } => "challenge",
        Request::Begin(_) | Request::BeginMany { .. } => "begin",
        Request::AddFiles { .. } => "add files",
        Request::Commit => "commit",
        Request::Inbox { .. } => "inbox",
        Request::Open { .. } | Request::OpenMeta { .. } => "open",
        Request::Unseen { .. } => "unseen",
        Request::Delete { .. } => "delete",
        Request::MarkSeen { .. } => "mark seen",
        Request::AddFilesMeta { .. } => "add files",
        Request::RecoverStart { .. } => "recover start",
        Request::RecoverFinish { .. } => "recover finish",
        Request::CancelChange { .. } => "cancel change",
        Request::Account(_) => "account",
        Request::RegisterChallenge { .. } => "register challenge",
        Request::Register { .. } => "register",
    }
}

pub(crate) fn unexpected(resp: &Response) -> ClientError {
    ClientError::Protocol(format!("unexpected reply from the listener: {resp:?}"))
}
