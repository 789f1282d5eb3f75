//! QUIC endpoints and their transport settings. Windows are explicit: quinn's default
//! connection receive window is unlimited, which would let one peer make the listener
//! buffer without bound. The numbers live in [`NetLimits`] (`policy`), documented in docs/listener.md.

use std::net::SocketAddr;
use std::sync::Arc;

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{Endpoint, EndpointConfig, IdleTimeout, TransportConfig, VarInt};

use super::tls::{self, Identity, Trust};
use crate::policy::NetLimits;

/// Why an endpoint could not be made.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("binding UDP {0}: {1}")]
    Bind(SocketAddr, #[source] std::io::Error),
    #[error("UDP socket: {0}")]
    Socket(#[from] std::io::Error),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("idle timeout too large")]
    IdleTimeout,
}

type Result<T, E = EndpointError> = std::result::Result<T, E>;

/// UDP socket buffer size asked for (the kernel caps it at `rmem_max`/`wmem_max`).
pub const SOCKET_BUFFER: usize = 4 << 20;

fn transport(limits: &NetLimits, keep_alive: bool) -> Result<TransportConfig> {
    let mut t = TransportConfig::default();
    t.stream_receive_window(VarInt::from_u32(limits.stream_window))
        .receive_window(VarInt::from_u32(limits.connection_window))
        .send_window(limits.send_window)
        .max_concurrent_bidi_streams(VarInt::from_u32(limits.max_streams))
        // The protocol uses bidirectional streams only.
        .max_concurrent_uni_streams(VarInt::from_u32(0))
        .datagram_receive_buffer_size(None)
        .max_idle_timeout(Some(IdleTimeout::try_from(limits.idle_timeout).map_err(|_| EndpointError::IdleTimeout)?));
    if keep_alive {
        t.keep_alive_interval(Some(limits.idle_timeout / 3));
    }
    Ok(t)
}

/// A UDP socket with enlarged buffers (loss at full speed drops sharply with them).
pub fn bind_udp(addr: SocketAddr) -> Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    // Best effort: a smaller buffer only costs speed.
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
    socket.bind(&addr.into()).map_err(|e| EndpointError::Bind(addr, e))?;
    Ok(socket.into())
}

/// What a connection may do before it logs in: the control stream plus one, and a small
/// connection window, so an unauthenticated peer cannot make the listener receive (and
/// decrypt) much of anything. [`grant`] lifts both to the full limits after login.
pub const PRELOGIN_STREAMS: u32 = 2;
pub const PRELOGIN_WINDOW: u32 = 64 << 10;

pub fn server_config(identity: &Identity, limits: &NetLimits) -> Result<quinn::ServerConfig> {
    let crypto = QuicServerConfig::try_from(tls::server_crypto(identity)?).map_err(tls::TlsError::from)?;
    let mut cfg = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    let prelogin = NetLimits {
        max_streams: PRELOGIN_STREAMS.min(limits.max_streams),
        connection_window: PRELOGIN_WINDOW.min(limits.connection_window),
        ..*limits
    };
    cfg.transport_config(Arc::new(transport(&prelogin, false)?));
    cfg.migration(false);
    Ok(cfg)
}

/// Give a logged-in connection its full stream count and connection window.
pub fn grant(conn: &quinn::Connection, limits: &NetLimits) {
    conn.set_max_concurrent_bi_streams(VarInt::from_u32(limits.max_streams));
    conn.set_receive_window(VarInt::from_u32(limits.connection_window));
}

pub fn server_endpoint(addr: SocketAddr, config: quinn::ServerConfig) -> Result<Endpoint> {
    let socket = bind_udp(addr)?;
    let runtime = Arc::new(quinn::TokioRuntime);
    Ok(Endpoint::new(EndpointConfig::default(), Some(config), socket, runtime)?)
}

pub fn client_endpoint(bind: SocketAddr, trust: Trust, limits: &NetLimits) -> Result<Endpoint> {
    let socket = bind_udp(bind)?;
    let runtime = Arc::new(quinn::TokioRuntime);
    let mut endpoint = Endpoint::new(EndpointConfig::default(), None, socket, runtime)?;
    let crypto = QuicClientConfig::try_from(tls::client_crypto(trust)?).map_err(tls::TlsError::from)?;
    let mut cfg = quinn::ClientConfig::new(Arc::new(crypto));
    cfg.transport_config(Arc::new(transport(limits, true)?));
    endpoint.set_default_client_config(cfg);
    Ok(endpoint)
}
