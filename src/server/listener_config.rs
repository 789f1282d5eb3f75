//! What the listener is told to run with: addresses, identity, data directory and every
//! setting of the config file, built from the command line by `cli`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::files::Layout;
use crate::policy::{Limits, ScoreConfig};
use crate::wire::DEFAULT_PORT;

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
    pub scoring: ScoreConfig,
    /// When logins need a solved challenge, and how hard it is.
    pub challenges: crate::policy::challenges::ChallengeConfig,
    /// Account recovery: new phones and places, the delay, codes.
    pub recovery: crate::policy::recovery::RecoveryConfig,
    /// How texts are sent, and what they may cost.
    pub sms: crate::sms::SmsConfig,
    /// The operator's GeoIP databases (MaxMind format), for known places; none by default.
    pub geoip: Vec<PathBuf>,
    /// Self-registration (off by default), and what a new account may do.
    pub registration: crate::policy::registration::RegistrationConfig,
    /// When behaviour is too regular to be human.
    pub regularity: crate::policy::regularity::RegularityConfig,
    /// The IP allow/block rules file (default `DATA/ip-rules.txt`), reloaded on change and
    /// on SIGHUP.
    pub ip_rules: PathBuf,
    /// How long shutdown waits for connections to close.
    pub shutdown_grace: Duration,
}

impl ListenerConfig {
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            ip_rules: Layout::new(data_dir.clone()).ip_rules(),
            data_dir,
            // Every IPv4 and IPv6 address; on a host without IPv6 the second is skipped.
            binds: vec![
                SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT)),
                SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, DEFAULT_PORT)),
            ],
            cert: None,
            key: None,
            limits: Limits::default(),
            scoring: Default::default(),
            challenges: Default::default(),
            recovery: Default::default(),
            sms: Default::default(),
            geoip: Vec::new(),
            registration: Default::default(),
            regularity: Default::default(),
            shutdown_grace: Duration::from_secs(3),
        }
    }
}
