//! QUIC endpoints and their transport settings. Windows are explicit: quinn's default
//! connection receive window is unlimited, which would let one peer make the listener
//! buffer without bound. The numbers live in [`NetLimits`], documented in the README.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{Endpoint, EndpointConfig, IdleTimeout, TransportConfig, VarInt};

use super::tls::{self, Identity, Trust};

/// UDP socket buffer size asked for (the kernel caps it at `rmem_max`/`wmem_max`).
pub const SOCKET_BUFFER: usize = 4 << 20;

/// Flow-control and stream settings for one connection.
///
/// The windows bound what a peer can make this side buffer: one stream at most
/// `stream_window`, one connection at most `connection_window`. 2 MiB per stream carries
/// ~40 MB/s per file at 50 ms round trip (1 Gbit/s at 16 ms); parallel files share the
/// 8 MiB connection window (~160 MB/s at 50 ms). Larger windows bought no speed on loopback
/// but multiplied the receiver's memory when its disk was the bottleneck (measured: 8/16 MiB
/// windows, 110 MiB peak RSS receiving 1 GiB; 2/8 MiB, 17 MiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetLimits {
    /// Bytes a peer may send on one stream before the receiver reads them.
    pub stream_window: u32,
    /// Bytes a peer may send on all streams of a connection before the receiver reads them:
    /// the most one connection can make the receiver buffer.
    pub connection_window: u32,
    /// Bytes this side keeps unacknowledged in flight.
    pub send_window: u64,
    /// Bidirectional streams the peer may have open at once.
    pub max_streams: u32,
    /// A connection silent this long is closed.
    pub idle_timeout: Duration,
}

impl Default for NetLimits {
    fn default() -> Self {
        Self {
            stream_window: 2 << 20,
            connection_window: 8 << 20,
            send_window: 16 << 20,
            max_streams: 128,
            idle_timeout: Duration::from_secs(30),
        }
    }
}

fn transport(limits: &NetLimits, keep_alive: bool) -> Result<TransportConfig> {
    let mut t = TransportConfig::default();
    t.stream_receive_window(VarInt::from_u32(limits.stream_window))
        .receive_window(VarInt::from_u32(limits.connection_window))
        .send_window(limits.send_window)
        .max_concurrent_bidi_streams(VarInt::from_u32(limits.max_streams))
        // The protocol uses bidirectional streams only.
        .max_concurrent_uni_streams(VarInt::from_u32(0))
        .datagram_receive_buffer_size(None)
        .max_idle_timeout(Some(IdleTimeout::try_from(limits.idle_timeout).context("idle timeout too large")?));
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
    socket.bind(&addr.into()).with_context(|| format!("binding UDP {addr}"))?;
    Ok(socket.into())
}

/// What a connection may do before it logs in: the control stream plus one, and a small
/// connection window, so an unauthenticated peer cannot make the listener receive (and
/// decrypt) much of anything. [`grant`] lifts both to the full limits after login.
pub const PRELOGIN_STREAMS: u32 = 2;
pub const PRELOGIN_WINDOW: u32 = 64 << 10;

pub fn server_config(identity: &Identity, limits: &NetLimits) -> Result<quinn::ServerConfig> {
    let crypto = QuicServerConfig::try_from(tls::server_crypto(identity)?)?;
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
    let crypto = QuicClientConfig::try_from(tls::client_crypto(trust)?)?;
    let mut cfg = quinn::ClientConfig::new(Arc::new(crypto));
    cfg.transport_config(Arc::new(transport(limits, true)?));
    endpoint.set_default_client_config(cfg);
    Ok(endpoint)
}
