//! The listener: binds the QUIC endpoints, accepts connections, gives each its own task (a
//! panic or error there closes that connection only), serves the admin socket, and shuts
//! down cleanly. Protocol decisions are the session's; this is the glue around it.

pub mod admin;
pub mod audit;
mod connection;
pub mod firewall;
mod handlers;
pub mod recorder;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::sync::Semaphore;
use tracing::{debug, info};

use crate::files::Layout;
use crate::policy::{Admission, IpList, Limits, Verdict};
use crate::store::Store;
use crate::transport::endpoint;
use crate::transport::{close, tls};
use crate::wire::Status;

/// Default UDP port.
pub const DEFAULT_PORT: u16 = 4433;

/// Everything the listener needs; built from the command line by `cli`.
#[derive(Debug, Clone)]
pub struct ListenerConfig {
    pub data_dir: PathBuf,
    pub binds: Vec<SocketAddr>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// Every limit, in one place (`policy::Limits`).
    pub limits: Limits,
    /// Offence weights, window, threshold and ban times.
    pub scoring: crate::policy::ScoreConfig,
    /// The IP allow/block rules file (default `DATA/ip-rules.txt`), reloaded on change and
    /// on SIGHUP.
    pub ip_rules: PathBuf,
    /// How long shutdown waits for connections to close.
    pub shutdown_grace: Duration,
}

impl ListenerConfig {
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            ip_rules: data_dir.join("ip-rules.txt"),
            data_dir,
            binds: vec![SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT))],
            cert: None,
            key: None,
            limits: Limits::default(),
            scoring: Default::default(),
            shutdown_grace: Duration::from_secs(3),
        }
    }
}

/// Counters, readable through the admin socket.
#[derive(Debug, Default)]
pub struct Counters {
    pub connections_total: AtomicU64,
    pub connections_open: AtomicU64,
    pub bytes_received: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub deliveries: AtomicU64,
    pub protocol_violations: AtomicU64,
    pub auth_failures: AtomicU64,
    pub refused: AtomicU64,
    pub rate_limited: AtomicU64,
    pub timeouts: AtomicU64,
}

impl Counters {
    pub fn snapshot(&self) -> Status {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Status {
            connections_total: g(&self.connections_total),
            connections_open: g(&self.connections_open),
            bytes_received: g(&self.bytes_received),
            bytes_sent: g(&self.bytes_sent),
            deliveries: g(&self.deliveries),
            protocol_violations: g(&self.protocol_violations),
            auth_failures: g(&self.auth_failures),
            refused: g(&self.refused),
            rate_limited: g(&self.rate_limited),
            timeouts: g(&self.timeouts),
        }
    }
}

/// State every connection task shares.
pub(crate) struct Shared {
    pub store: Store,
    pub layout: Layout,
    pub config: ListenerConfig,
    pub counters: Counters,
    pub hash_slots: Semaphore,
    /// The live connection writing each unfinished delivery; a resumed `Begin` takes over.
    pub open_deliveries: std::sync::Mutex<std::collections::HashMap<u64, quinn::Connection>>,
    /// One writer per partial file at a time (a dead client's connection may linger).
    pub part_locks: std::sync::Mutex<std::collections::HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>,
    /// Open connections by source, for admission decisions.
    pub admission: std::sync::Mutex<Admission>,
    /// Live connections, so a new block rule can close them.
    pub live: std::sync::Mutex<std::collections::HashMap<usize, quinn::Connection>>,
    /// The IP allow/block rules in force.
    pub ip_list: std::sync::RwLock<IpList>,
    /// Control requests per source address and per account.
    pub ip_rate: governor::DefaultKeyedRateLimiter<std::net::IpAddr>,
    /// New connections per source address.
    pub handshake_rate: governor::DefaultKeyedRateLimiter<std::net::IpAddr>,
    pub account_rate: governor::DefaultKeyedRateLimiter<String>,
    /// The activity log's queue.
    pub recorder: recorder::Recorder,
    /// Bans (in force or expired; expired ones are skipped).
    pub bans: std::sync::RwLock<Vec<crate::policy::Ban>>,
}

impl Shared {
    /// Admit or refuse a connection attempt before any handshake work.
    fn admit(&self, ip: std::net::IpAddr, validated: bool) -> Verdict {
        let allowed = self.ip_list.read().map(|l| l.lookup(ip) == Some(crate::policy::Rule::Allow)).unwrap_or(false);
        if !allowed && recorder::banned(self, ip) {
            return Verdict::Drop("address is banned");
        }
        // A source that opens connections faster than the limit is refused before the
        // handshake costs anything (handshake floods).
        if self.handshake_rate.check_key(&crate::policy::canonical(ip)).is_err()
            && self.ip_list.read().map(|l| l.lookup(ip) != Some(crate::policy::Rule::Allow)).unwrap_or(true)
        {
            return Verdict::Drop("connection attempts too frequent from this address");
        }
        let list = match self.ip_list.read() {
            Ok(l) => l,
            Err(p) => p.into_inner(),
        };
        let mut adm = match self.admission.lock() {
            Ok(a) => a,
            Err(p) => p.into_inner(),
        };
        let v = adm.decide(ip, validated, &list, &self.config.limits);
        if v == Verdict::Accept {
            adm.opened(ip);
        }
        v
    }

    pub(crate) fn connection_closed(&self, ip: std::net::IpAddr) {
        if let Ok(mut adm) = self.admission.lock() {
            adm.closed(ip);
        }
    }
}

fn rate_limiter<K: std::hash::Hash + Eq + Clone>(per_second: u32, burst: u32) -> governor::DefaultKeyedRateLimiter<K> {
    use std::num::NonZeroU32;
    let rate = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    governor::RateLimiter::keyed(governor::Quota::per_second(rate).allow_burst(burst))
}

/// A bound listener, ready to run.
pub struct Listener {
    recorder_rx: Option<tokio::sync::mpsc::Receiver<crate::policy::activity::Activity>>,
    endpoints: Vec<quinn::Endpoint>,
    shared: Arc<Shared>,
    fingerprint: tls::Fingerprint,
}

impl Listener {
    /// Create the data directory, identity and database, and bind every address.
    pub fn bind(config: ListenerConfig) -> Result<Self> {
        create_private_dir(&config.data_dir)?;
        let layout = Layout::new(config.data_dir.clone());
        let identity = tls::load_or_create_identity(&config.data_dir, config.cert.as_deref(), config.key.as_deref())?;
        let fingerprint = identity.fingerprint();
        let store = Store::open(&layout.database()).with_context(|| {
            format!("opening {} (is another listener using this data directory?)", layout.database().display())
        })?;
        config.limits.check().map_err(anyhow::Error::msg)?;
        let server_config = endpoint::server_config(&identity, &config.limits.net())?;
        let ip_list = firewall::load(&config.ip_rules)?;
        let mut endpoints = Vec::new();
        for addr in &config.binds {
            endpoints.push(endpoint::server_endpoint(*addr, server_config.clone())?);
        }
        let bans = store.bans().context("reading bans")?;
        let (recorder, recorder_rx) = recorder::Recorder::new(config.limits.activity_recording);
        let hash_slots = Semaphore::new(config.limits.max_concurrent_hashes.max(1) as usize);
        let ip_rate = rate_limiter(config.limits.requests_per_second_per_ip, config.limits.request_burst);
        let account_rate = rate_limiter(config.limits.requests_per_second_per_account, config.limits.request_burst);
        let handshake_rate =
            rate_limiter(config.limits.connections_per_second_per_ip, config.limits.connection_burst_per_ip);
        let shared = Arc::new(Shared {
            store,
            layout,
            config,
            counters: Counters::default(),
            hash_slots,
            open_deliveries: Default::default(),
            part_locks: Default::default(),
            admission: Default::default(),
            live: Default::default(),
            ip_list: std::sync::RwLock::new(ip_list),
            ip_rate,
            account_rate,
            handshake_rate,
            recorder,
            bans: std::sync::RwLock::new(bans),
        });
        Ok(Self { recorder_rx: Some(recorder_rx), endpoints, shared, fingerprint })
    }

    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.endpoints.iter().filter_map(|e| e.local_addr().ok()).collect()
    }

    pub fn fingerprint(&self) -> tls::Fingerprint {
        self.fingerprint
    }

    /// Serve until `shutdown` resolves, then close every connection with a code and return.
    pub async fn run(mut self, shutdown: impl std::future::Future<Output = ()>) -> Result<()> {
        let admin = admin::serve(self.shared.clone())?;
        let recording = match self.recorder_rx.take() {
            Some(rx) => tokio::spawn(recorder::run(self.shared.clone(), rx)),
            None => tokio::spawn(async {}),
        };
        let rules = tokio::spawn(firewall::watch(self.shared.clone()));
        let mut accept_loops = Vec::new();
        for ep in &self.endpoints {
            accept_loops.push(tokio::spawn(accept_loop(ep.clone(), self.shared.clone())));
        }
        shutdown.await;
        info!("shutting down");
        for ep in &self.endpoints {
            ep.close(close::SHUTDOWN.into(), b"listener shutting down");
        }
        let grace = self.shared.config.shutdown_grace;
        for ep in &self.endpoints {
            let _ = tokio::time::timeout(grace, ep.wait_idle()).await;
        }
        for l in accept_loops {
            l.abort();
        }
        admin.abort();
        rules.abort();
        // Let the activity log write what is queued (bounded), then stop it.
        for _ in 0..200 {
            if self.shared.recorder.is_idle() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        recording.abort();
        let _ = std::fs::remove_file(self.shared.layout.control_socket());
        Ok(())
    }
}

async fn accept_loop(endpoint: quinn::Endpoint, shared: Arc<Shared>) {
    while let Some(incoming) = endpoint.accept().await {
        shared.counters.connections_total.fetch_add(1, Ordering::Relaxed);
        let peer = incoming.remote_address();
        // Decided before any handshake work: refusing costs one small packet.
        match shared.admit(peer.ip(), incoming.remote_address_validated()) {
            Verdict::Accept => {
                let shared = shared.clone();
                tokio::spawn(connection::supervise(incoming, shared));
            }
            Verdict::Retry => {
                if incoming.retry().is_err() {
                    debug!(%peer, "retry not possible");
                }
            }
            Verdict::Refuse(why) => {
                record_refusal(&shared, peer, why);
                shared.counters.refused.fetch_add(1, Ordering::Relaxed);
                info!(%peer, event = "refused", "connection refused: {why}");
                incoming.refuse();
            }
            Verdict::Drop(why) => {
                record_refusal(&shared, peer, why);
                let n = shared.counters.refused.fetch_add(1, Ordering::Relaxed);
                // Dropped attempts can come by the thousand: log one in a hundred.
                if n % 100 == 0 {
                    info!(%peer, event = "dropped", "connection attempt dropped: {why}");
                }
                incoming.ignore();
            }
        }
    }
}

/// A connection attempt refused or dropped before the handshake: recorded, never scored
/// (the source address is not validated).
fn record_refusal(shared: &Shared, peer: SocketAddr, why: &str) {
    use crate::policy::activity::{Activity, Kind};
    shared.recorder.record(Activity::new(recorder::now_ms(), peer.ip(), Kind::Refused).detail(why));
}

fn create_private_dir(dir: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating data directory {}", dir.display()))?;
    }
    Ok(())
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
