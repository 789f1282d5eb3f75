//! Reaching a listener: the options a command gives, the address, the QUIC + TLS 1.3
//! handshake with the certificate pinned in `known_hosts` (or checked against a CA), and
//! the control stream opened, before any login.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use quinn::Connection;

use super::control::{Client, CLOSE_WAIT};
use super::error::{lost, refusal, ClientError, Result};
use super::events::EventSink;
use super::trust::{KnownHosts, NewHost};
use crate::policy::NetLimits;
use crate::transport::close;
use crate::transport::endpoint;
use crate::transport::tls::{self, Fingerprint, Trust};
use crate::wire::Token;

/// How long the QUIC + TLS handshake may take unless `--connect-timeout` says otherwise:
/// on loopback or a LAN it takes milliseconds, across the world well under a second, and
/// QUIC retransmits a lost first packet after about one.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// TLS alert `no_application_protocol`: the listener offered no protocol we speak.
const NO_APPLICATION_PROTOCOL: u8 = 120;

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
    /// Where a proof of work's progress goes when a listener asks for one (the binary
    /// renders it; [`EventSink::default`] for nowhere).
    pub work_progress: EventSink,
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

impl Client {
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
        let protocol = tls::negotiated_protocol(&conn);
        let v5 = matches!(protocol.as_deref(), Some(crate::wire::ALPN | crate::wire::ALPN_V5));
        let v6 = protocol.as_deref() == Some(crate::wire::ALPN);
        Ok(Client {
            endpoint,
            conn,
            send,
            recv,
            user: opts.user.clone(),
            hostport: hostport.clone(),
            config_dir: opts.config_dir.clone(),
            v5,
            v6,
        })
    }
}

fn peer_fingerprint(conn: &Connection) -> Option<Fingerprint> {
    let identity = conn.peer_identity()?;
    let certs = identity.downcast_ref::<Vec<rustls::pki_types::CertificateDer<'static>>>()?;
    certs.first().map(tls::fingerprint)
}
