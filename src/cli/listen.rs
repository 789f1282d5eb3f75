//! `qxfer listen`: the listener's configuration from its flags and config file, the ready
//! lines on stdout, and a clean stop on SIGINT or SIGTERM.

use anyhow::{anyhow, Context, Result};

use super::args::{ListenArgs, RetryArg};
use super::bind::bind_addrs;
use super::dirs::data_dir;
use crate::server::{Listener, ListenerConfig};
use crate::transport::tls;

pub async fn listen(a: ListenArgs) -> Result<()> {
    let mut cfg = ListenerConfig::new(data_dir(&a.data)?);
    // Without --bind: every IPv4 and IPv6 address (ListenerConfig's default).
    if !a.bind.is_empty() {
        cfg.binds = Vec::new();
        for b in &a.bind {
            for addr in bind_addrs(b, crate::wire::DEFAULT_PORT)? {
                if !cfg.binds.contains(&addr) {
                    cfg.binds.push(addr);
                }
            }
        }
    }
    cfg.cert = a.cert;
    cfg.key = a.key;
    if let Some(path) = &a.config {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let parsed = crate::config::parse_all(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        cfg.limits = parsed.limits;
        cfg.scoring = parsed.scoring;
        cfg.challenges = parsed.challenges;
        cfg.recovery = parsed.recovery;
        cfg.sms = parsed.sms;
        cfg.geoip = parsed.geoip.databases;
        cfg.registration = parsed.registration;
        cfg.regularity = parsed.regularity;
    }
    if let Some(p) = a.ip_rules {
        cfg.ip_rules = p;
    }
    if let Some(n) = a.max_connections_per_ip {
        cfg.limits.max_connections_per_ip = n;
    }
    if let Some(s) = a.login_deadline {
        cfg.limits.login_deadline_secs = s;
    }
    if let Some(s) = a.idle_timeout {
        cfg.limits.idle_timeout_secs = s;
    }
    if let Some(r) = a.retry {
        cfg.limits.retry = match r {
            RetryArg::Never => crate::policy::RetryMode::Never,
            RetryArg::Load => crate::policy::RetryMode::Load,
            RetryArg::Always => crate::policy::RetryMode::Always,
        };
    }
    let listener = Listener::bind(cfg)?;
    // Handlers are installed before the ready line, so a signal sent on seeing it is caught.
    let shutdown = shutdown_signal()?;
    let fp = tls::format_fingerprint(&listener.fingerprint());
    {
        // A reader that went away (`qxfer listen | head -1`) does not stop the listener:
        // the ready lines are best effort, and nothing else goes to stdout.
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        for addr in listener.local_addrs() {
            let _ = writeln!(out, "listening on {addr} fingerprint {fp}");
        }
        let _ = out.flush();
    }
    Ok(listener.run(shutdown).await?)
}

/// Resolves on SIGINT or SIGTERM. The handlers are installed when this is called.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}
