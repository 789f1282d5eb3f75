//! `--bind` values, for the listener and for a client alike: an IP address or a host name,
//! with or without `:PORT`, turned into socket addresses.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use anyhow::Result;

use super::exit::usage;

/// A `--bind` value: an IP address or host name, with or without `:PORT`.
pub fn bind_addrs(text: &str, default_port: u16) -> Result<Vec<SocketAddr>> {
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Ok(vec![a]);
    }
    if let Ok(ip) = text.trim_matches(['[', ']']).parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, default_port)]);
    }
    let (host, port) = match text.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => {
            (h, p.parse::<u16>().map_err(|_| usage(format!("--bind {text:?}: {p:?} is not a port")))?)
        }
        _ => (text, default_port),
    };
    let mut addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| usage(format!("--bind {text:?}: not an address or a known host name ({e})")))?
        .collect();
    addrs.dedup();
    if addrs.is_empty() {
        return Err(usage(format!("--bind {text:?} names no address")));
    }
    Ok(addrs)
}
