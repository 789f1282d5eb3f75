//! The listener: binds the QUIC endpoints, decides on each connection attempt before any
//! handshake work, gives each admitted connection its own task (a panic or error there
//! closes that connection only), serves the admin socket, and shuts down cleanly. Protocol
//! decisions are the session's and policy's; this is the glue around them.
//!
//! Layout: `connection` runs one connection and applies what handlers decide; `requests/`
//! holds one file per control request and `streams/` one per file-stream kind; `conn` is
//! what a connection's tasks share, `shared` what all connections share; `bans` holds the
//! bans in force; `recorder` is the activity queue and `activity_log` its one writer, which
//! scores offences; `firewall` reloads the IP rules file; `admin` serves the admin socket.

pub(crate) mod account_guard;
mod activity_log;
mod admin;
mod bans;
pub(crate) mod challenges;
mod conn;
mod connection;
mod counters;
mod error;
mod fanout;
mod firewall;
pub(crate) mod hash_queue;
mod humans;
mod listener_config;
mod outcome;
pub mod recorder;
pub(crate) mod recovery;
mod requests;
mod shared;
mod streams;
pub(crate) mod texts;
mod tickets;
pub(crate) mod upload_slots;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tracing::{debug, info};

pub use crate::wire::DEFAULT_PORT;
pub use counters::Counters;
pub use listener_config::ListenerConfig;
pub(crate) use shared::Shared;

use crate::admin::rules::{self, RulesError};
use crate::files::Layout;
use crate::policy::activity::Kind;
use crate::policy::{LimitsError, Verdict};
use crate::store::{Store, StoreError};
use crate::transport::close;
use crate::transport::endpoint::{self, EndpointError};
use crate::transport::tls::{self, TlsError};

/// Why the listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("data directory {0:?}: {1}")]
    DataDir(PathBuf, #[source] std::io::Error),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("opening {0} (is another listener using this data directory?): {1}")]
    Database(PathBuf, #[source] StoreError),
    #[error("reading bans: {0}")]
    Bans(#[source] StoreError),
    #[error(transparent)]
    Limits(#[from] LimitsError),
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    #[error(transparent)]
    Rules(#[from] RulesError),
    #[error("admin socket {0}: {1}")]
    AdminSocket(PathBuf, #[source] std::io::Error),
    #[error(transparent)]
    Random(#[from] challenges::NoRandomness),
    #[error(transparent)]
    RecoveryKey(#[from] account_guard::KeyError),
    #[error("[sms]: {0}")]
    Sms(String),
    #[error("[recovery]: {0}")]
    Recovery(&'static str),
    #[error(transparent)]
    GeoIp(#[from] crate::geoip::GeoIpError),
    #[error(
        "data directory {} is open to other users (mode {mode:o}): they could read mail and the database. \
         Run `chmod 700 {}` and start again",
        .path.display(),
        .path.display()
    )]
    DataDirOpen { path: PathBuf, mode: u32 },
    #[error("data directory {} belongs to another user (uid {owner}); the listener runs as uid {me}", .path.display())]
    DataDirOwner { path: PathBuf, owner: u32, me: u32 },
}

/// Refuse a data directory that other users can read, write or enter, or that another user
/// owns (as ssh refuses a private key others can read).
fn check_private(dir: &std::path::Path) -> Result<(), ListenError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(dir).map_err(|e| ListenError::DataDir(dir.to_owned(), e))?;
    if !meta.is_dir() {
        let e = std::io::Error::new(std::io::ErrorKind::NotADirectory, "it is a file, not a directory");
        return Err(ListenError::DataDir(dir.to_owned(), e));
    }
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return Err(ListenError::DataDirOwner { path: dir.to_owned(), owner: meta.uid(), me });
    }
    if meta.mode() & 0o077 != 0 {
        return Err(ListenError::DataDirOpen { path: dir.to_owned(), mode: meta.mode() & 0o7777 });
    }
    Ok(())
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
    pub fn bind(config: ListenerConfig) -> Result<Self, ListenError> {
        // An existing path is left as it is; `check_private` says if it is not a directory.
        crate::files::create_private_dir(&config.data_dir)
            .map_err(|e| ListenError::DataDir(config.data_dir.clone(), e))?;
        check_private(&config.data_dir)?;
        let layout = Layout::new(config.data_dir.clone());
        let identity = tls::load_or_create_identity(&config.data_dir, config.cert.as_deref(), config.key.as_deref())?;
        let fingerprint = identity.fingerprint();
        let store = Store::open(&layout.database()).map_err(|e| ListenError::Database(layout.database(), e))?;
        config.limits.check()?;
        let server_config = endpoint::server_config(&identity, &config.limits.net())?;
        let ip_list = rules::load(&config.ip_rules)?;
        let mut endpoints = Vec::new();
        for addr in &config.binds {
            match endpoint::server_endpoint(*addr, server_config.clone()) {
                Ok(ep) => endpoints.push(ep),
                // The default binds both families; a host without IPv6 still listens on IPv4.
                Err(EndpointError::Bind(a, e)) if a.is_ipv6() && a.ip().is_unspecified() && config.binds.len() > 1 => {
                    tracing::warn!(event = "bind_skipped", "not listening on {a}: {e}");
                }
                Err(e) => return Err(e.into()),
            }
        }
        let bans = store.bans().map_err(ListenError::Bans)?;
        recovery::recover(&store, &layout).map_err(|e| ListenError::Database(layout.database(), e))?;
        let (recorder, recorder_rx) = recorder::Recorder::new(config.limits.activity_recording);
        let port = endpoints.first().and_then(|e| e.local_addr().ok()).map(|a| a.port());
        let guard = account_guard(&config, &layout, identity.public_dns_name(), port, recorder.clone())?;
        let shared = Arc::new(Shared::new(store, layout, config, ip_list, bans, recorder, guard)?);
        // Copies a crash left owed to further recipients, after `recover` swept their
        // half-placed files.
        let database = shared.layout().database();
        shared.finish_copies().map_err(|e| ListenError::Database(database, e))?;
        Ok(Self { recorder_rx: Some(recorder_rx), endpoints, shared, fingerprint })
    }

    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.endpoints.iter().filter_map(|e| e.local_addr().ok()).collect()
    }

    pub fn fingerprint(&self) -> tls::Fingerprint {
        self.fingerprint
    }

    /// Serve until `shutdown` resolves, then close every connection with a code and return.
    pub async fn run(mut self, shutdown: impl std::future::Future<Output = ()>) -> Result<(), ListenError> {
        let socket = self.shared.layout().control_socket();
        let admin = admin::serve(self.shared.clone()).map_err(|e| ListenError::AdminSocket(socket.clone(), e))?;
        let recording = match self.recorder_rx.take() {
            Some(rx) => tokio::spawn(activity_log::run(self.shared.clone(), rx)),
            None => tokio::spawn(async {}),
        };
        let rules = tokio::spawn(firewall::watch(self.shared.clone()));
        let upkeep = tokio::spawn(upkeep(self.shared.clone()));
        let mut accept_loops = Vec::new();
        for ep in &self.endpoints {
            accept_loops.push(tokio::spawn(accept_loop(ep.clone(), self.shared.clone())));
        }
        shutdown.await;
        info!("shutting down");
        for ep in &self.endpoints {
            ep.close(close::SHUTDOWN.into(), b"listener shutting down");
        }
        let grace = self.shared.config().shutdown_grace;
        for ep in &self.endpoints {
            let _ = tokio::time::timeout(grace, ep.wait_idle()).await;
        }
        for l in accept_loops {
            l.abort();
        }
        admin.abort();
        rules.abort();
        upkeep.abort();
        // Let the activity log write what is queued (bounded), then stop it.
        for _ in 0..200 {
            if self.shared.recorder().is_idle() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        recording.abort();
        let _ = std::fs::remove_file(socket);
        Ok(())
    }
}

async fn accept_loop(endpoint: quinn::Endpoint, shared: Arc<Shared>) {
    while let Some(incoming) = endpoint.accept().await {
        counters::bump(&shared.counters().connections_total);
        let peer = incoming.remote_address();
        // Decided before any handshake work: refusing costs one small packet.
        match shared.admit(peer.ip(), incoming.remote_address_validated()) {
            Verdict::Accept => {
                tokio::spawn(connection::supervise(incoming, shared.clone()));
            }
            Verdict::Retry => {
                if incoming.retry().is_err() {
                    debug!(%peer, "retry not possible");
                }
            }
            Verdict::Refuse(why) => {
                record_refusal(&shared, peer, why);
                counters::bump(&shared.counters().refused);
                info!(%peer, event = "refused", "connection refused: {why}");
                incoming.refuse();
            }
            Verdict::Banned { net, until } => {
                record_refusal(&shared, peer, "address is banned (told once)");
                counters::bump(&shared.counters().refused);
                let secs = until.saturating_sub(shared.now());
                info!(%peer, event = "ban_notice", %net, secs, "telling a banned address of its ban, once");
                tokio::spawn(tell_banned(incoming, crate::wire::BanNotice { secs, net }));
            }
            Verdict::Drop(why) => {
                record_refusal(&shared, peer, why);
                let n = counters::bump(&shared.counters().refused);
                // Dropped attempts can come by the thousand: log one in a hundred.
                if n % 100 == 0 {
                    info!(%peer, event = "dropped", "connection attempt dropped: {why}");
                }
                incoming.ignore();
            }
        }
    }
}

/// How long the one handshake that tells a banned address of its ban may take.
const BAN_NOTICE_WAIT: Duration = Duration::from_secs(5);

/// Complete the handshake only to close it at once with `close::BANNED` and the ban in the
/// reason; no stream is ever read. Bounded in time; one per address per ban.
async fn tell_banned(incoming: quinn::Incoming, notice: crate::wire::BanNotice) {
    let Ok(connecting) = incoming.accept() else { return };
    if let Ok(Ok(conn)) = tokio::time::timeout(BAN_NOTICE_WAIT, connecting).await {
        conn.close(close::BANNED.into(), notice.encode().as_bytes());
    }
}

/// Recovery's key, texts and GeoIP databases, from the config (a bad path or value fails
/// the start, not the first recovery). `cert_name` is the certificate's public DNS name,
/// the name texts give the listener when `[sms] name` is not set (with `:PORT` when it
/// listens on another port than the default, so the commands in texts connect).
fn account_guard(
    config: &ListenerConfig,
    layout: &Layout,
    cert_name: Option<String>,
    port: Option<u16>,
    recorder: recorder::Recorder,
) -> Result<account_guard::AccountGuard, ListenError> {
    config.recovery.check().map_err(ListenError::Recovery)?;
    config.sms.check().map_err(|e| ListenError::Sms(e.to_string()))?;
    let key = account_guard::load_or_create_key(&layout.recovery_key())?;
    let gateway = config.sms.gateway(layout.root()).map_err(|e| ListenError::Sms(e.to_string()))?;
    let described = match (&config.sms.spool, &config.sms.command, &config.sms.webhook) {
        (None, None, None) => format!("spool {} (sends nothing)", layout.root().join("sms-spool").display()),
        _ => config.sms.describe(),
    };
    tracing::info!(event = "texts", "texts go to the {described}");
    if config.sms.countries.is_empty() {
        // SMS pumping: paid texts to premium numbers abroad, asked for by strangers.
        tracing::warn!(
            event = "texts_any_country",
            "[sms] countries is empty: texts may go to any country; list the calling codes your users have, \
             e.g. countries = [\"+34\"]"
        );
    }
    let texts = texts::Texts::start(gateway, config.sms.limits(), recorder)
        .map_err(|e| ListenError::Sms(format!("starting the text sender: {e}")))?;
    let geoip = if config.geoip.is_empty() { None } else { Some(crate::geoip::GeoIp::open(&config.geoip)?) };
    let host = match &config.sms.name {
        Some(name) => name.clone(),
        None => {
            let (mut name, from) = match cert_name {
                Some(name) => (name, "its certificate"),
                None => (rustix::system::uname().nodename().to_string_lossy().into_owned(), "the machine's host name"),
            };
            if let Some(p) = port.filter(|p| *p != crate::wire::DEFAULT_PORT) {
                name = format!("{name}:{p}");
            }
            tracing::warn!(
                event = "sms_name",
                "[sms] name is not set: texts name this listener {name:?} (from {from}); set [sms] name to the \
                 name users reach it by, or the commands texts give (qxfer recover cancel HOST CODE) may not \
                 work from elsewhere"
            );
            name
        }
    };
    Ok(account_guard::AccountGuard::new(config.recovery, key, texts, geoip, host))
}

/// How often per-source and per-account state is pruned.
const UPKEEP_EVERY: Duration = Duration::from_secs(10);
/// Unfinished deliveries are checked for expiry every this many upkeep ticks (a minute).
const EXPIRE_EVERY_TICKS: u64 = 6;

/// Keep every keyed map bounded and the spool clean: prune what no longer matters and
/// expire unfinished deliveries, periodically.
async fn upkeep(shared: Arc<Shared>) {
    for tick in 1u64.. {
        tokio::time::sleep(UPKEEP_EVERY).await;
        shared.prune();
        if tick % EXPIRE_EVERY_TICKS != 0 {
            continue;
        }
        let sh = shared.clone();
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || sh.expire()).await {
            tracing::warn!(event = "expiry_failed", "{e}");
        }
        let sh = shared.clone();
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || sh.finish_copies()).await {
            tracing::warn!(event = "copies_failed", "{e}");
        }
        let sh = shared.clone();
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || sh.apply_due_changes()).await {
            tracing::warn!(event = "pending_changes_failed", "{e}");
        }
    }
}

/// A connection attempt refused or dropped before the handshake: recorded, never scored
/// (the source address is not validated).
fn record_refusal(shared: &Shared, peer: SocketAddr, why: &str) {
    shared.record(shared.activity(peer.ip(), Kind::Refused).detail(why));
}
