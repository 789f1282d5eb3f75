//! A raw protocol client built from the library's own codec over real QUIC + TLS: it can do
//! what an attacker does (forge, reorder, lie about sizes, trickle, flood).

use std::net::SocketAddr;

use qxfer::policy::NetLimits;
use qxfer::transport::endpoint::client_endpoint;
use qxfer::transport::framed::{read_frame, write_frame};
use qxfer::transport::tls::Trust;
use qxfer::wire::{Begin, Credential, FileEnd, PutReply, Request, Response, StreamHead};

use crate::support::PASSWORD;

pub struct Raw {
    pub _endpoint: quinn::Endpoint,
    pub conn: quinn::Connection,
    pub send: quinn::SendStream,
    pub recv: quinn::RecvStream,
}

impl Raw {
    pub async fn connect(addr: &str) -> Raw {
        Self::connect_from("127.0.0.1", addr).await.expect("connect")
    }

    /// Connect from a chosen loopback address (127.0.0.x), so attackers and legitimate
    /// clients are different sources.
    pub async fn connect_from(bind: &str, addr: &str) -> Result<Raw, quinn::ConnectionError> {
        let bind: std::net::IpAddr = bind.parse().expect("bind");
        // A short idle timeout: an attempt the listener drops (blocked address) fails in seconds.
        let limits = NetLimits { idle_timeout: std::time::Duration::from_secs(2), ..NetLimits::default() };
        let endpoint = client_endpoint(SocketAddr::new(bind, 0), Trust::Pin, &limits).expect("endpoint");
        let addr: SocketAddr = addr.parse().expect("addr");
        let conn = endpoint.connect(addr, "qxfer").expect("connect").await?;
        let (send, recv) = conn.open_bi().await?;
        Ok(Raw { _endpoint: endpoint, conn, send, recv })
    }

    /// Connect from `bind` offering only the protocol `alpn` (a client of an older version).
    pub async fn connect_speaking(alpn: &[u8], bind: &str, addr: &str) -> Result<Raw, quinn::ConnectionError> {
        let mut crypto = qxfer::transport::tls::client_crypto(Trust::Pin).expect("crypto");
        crypto.alpn_protocols = vec![alpn.to_vec()];
        let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(crypto).expect("quic crypto");
        let bind: std::net::IpAddr = bind.parse().expect("bind");
        let limits = NetLimits { idle_timeout: std::time::Duration::from_secs(2), ..NetLimits::default() };
        let endpoint = client_endpoint(SocketAddr::new(bind, 0), Trust::Pin, &limits).expect("endpoint");
        let config = quinn::ClientConfig::new(std::sync::Arc::new(crypto));
        let conn = endpoint.connect_with(config, addr.parse().expect("addr"), "qxfer").expect("connect").await?;
        let (send, recv) = conn.open_bi().await?;
        Ok(Raw { _endpoint: endpoint, conn, send, recv })
    }

    /// Whether a connection from `bind` is admitted: the handshake completes and the
    /// listener does not close it at once (a banned address is told so once, by a close
    /// right after the handshake, then dropped).
    pub async fn admitted_from(bind: &str, addr: &str) -> bool {
        let Ok(raw) = Self::connect_from(bind, addr).await else { return false };
        tokio::time::timeout(std::time::Duration::from_millis(300), raw.conn.closed()).await.is_err()
    }

    pub async fn call(&mut self, req: &Request) -> Option<Response> {
        write_frame(&mut self.send, req).await.ok()?;
        read_frame::<Response>(&mut self.recv).await.ok().flatten()
    }

    pub async fn raw(&mut self, bytes: &[u8]) -> Option<Response> {
        self.send.write_all(bytes).await.ok()?;
        read_frame::<Response>(&mut self.recv).await.ok().flatten()
    }

    pub async fn login(addr: &str, user: &str) -> Raw {
        Self::login_from("127.0.0.1", addr, user).await
    }

    pub async fn login_from(bind: &str, addr: &str, user: &str) -> Raw {
        let mut raw = Raw::connect_from(bind, addr).await.expect("connect");
        let r =
            raw.call(&Request::Login { user: user.into(), credential: Credential::Password(PASSWORD.into()) }).await;
        assert!(matches!(r, Some(Response::LoggedIn { .. })), "{r:?}");
        raw
    }

    pub async fn begin(&mut self, files: u32, bytes: u64, key: u8) -> u64 {
        let begin = Begin { to: None, subject: None, body: None, files, bytes, resume_key: [key; 32] };
        match self.call(&Request::Begin(begin)).await {
            Some(Response::Began { id, .. }) => id,
            r => panic!("{r:?}"),
        }
    }

    pub async fn put(&mut self, id: u64, index: u32, data: &[u8], hash: [u8; 32]) -> Option<PutReply> {
        let (mut send, mut recv) = self.conn.open_bi().await.ok()?;
        write_frame(&mut send, &StreamHead::Put { id, index, offset: 0 }).await.ok()?;
        let _ = send.write_all(data).await;
        let _ = write_frame(&mut send, &FileEnd { hash }).await;
        let _ = send.finish();
        read_frame::<PutReply>(&mut recv).await.ok().flatten()
    }
}

/// Run `f` on a fresh runtime and shut it down without waiting for stragglers (a dropped
/// connection attempt to a listener that ignores us would otherwise hold it for seconds).
pub fn run<F: std::future::Future>(f: F) -> F::Output {
    let rt = rt();
    let out = rt.block_on(f);
    rt.shutdown_timeout(std::time::Duration::from_millis(100));
    out
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime")
}
