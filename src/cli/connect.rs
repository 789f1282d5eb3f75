//! Where a client command goes and how it logs in: `[USER@]HOST[:PORT]` or an alias from
//! the config file, the account, the pinned fingerprint or CA, the password's source and
//! the network limits, as the library's `ConnectOptions`. A bare word that is no alias
//! (while config.toml has some) is said to be one mistyped, with the nearest.

use std::io::IsTerminal;
use std::net::ToSocketAddrs;
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::account_reply::set_paste_target;
use super::args::ClientArgs;
use super::bind::bind_addrs;
use super::dirs::config_dir;
use super::exit::usage;
use super::prompt::read_stdin_line;
use crate::client::aliases::{self, ClientConfig};
use crate::client::trust::NewHost;
use crate::client::{self, ConnectOptions, PasswordSource};
use crate::policy::NetLimits;
use crate::transport::tls;

/// Where a client command goes and as whom: `[USER@]HOST[:PORT]` or an alias from the
/// config file, then `--user`/`QXFER_USER`, then the alias's user.
struct Target {
    host: String,
    user: String,
    fingerprint: Option<String>,
    ca: Option<PathBuf>,
    bind: Option<String>,
    /// `USER@HOST` as typed (an alias stays an alias): what a hint's command names.
    typed: String,
}

fn target(a: &ClientArgs, config: &ClientConfig, config_path: &Path) -> Result<Target> {
    let (user_at, host) = match a.host.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, a.host.as_str()),
    };
    if host.is_empty() {
        return Err(usage(format!("{:?} names no listener: write [USER@]HOST[:PORT]", a.host)));
    }
    // `alias:PORT` is the alias with another port; `HOST:PORT` must have a real port.
    let (alias, port) = match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') || h.ends_with(']') => {
            let port = p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| usage(format!("{host:?}: {p:?} is not a port (1-65535)")))?;
            (config.alias(h), Some(port))
        }
        _ => (config.alias(host), None),
    };
    if alias.is_none() && user_at.is_none() && port.is_none() {
        if let Some(why) = mistyped_alias(host, a.user.is_some(), config, config_path) {
            return Err(usage(why));
        }
    }
    let user = user_at
        .map(str::to_owned)
        .or_else(|| a.user.clone())
        .or_else(|| alias.and_then(|h| h.user.clone()))
        .ok_or_else(|| {
            usage(format!("no account to log in as: write USER@{host}, pass --user NAME or set QXFER_USER"))
        })?;
    crate::wire::validate_account(&user).map_err(|e| usage(format!("account {user:?}: {e}")))?;
    let typed = format!("{user}@{host}");
    let host = match (alias, port) {
        (Some(h), Some(p)) => aliases::HostAlias { port: Some(p), ..h.clone() }.hostport(),
        (Some(h), None) => h.hostport(),
        (None, _) => host.to_owned(),
    };
    Ok(Target {
        host,
        user,
        fingerprint: a.fingerprint.clone().or_else(|| alias.and_then(|h| h.fingerprint.clone())),
        ca: a.ca.clone().or_else(|| alias.and_then(|h| h.ca.clone())),
        bind: a.bind.clone().or_else(|| alias.and_then(|h| h.bind.clone())),
        typed,
    })
}

/// What to say of a bare word (no `@`, port, dot or colon) that names no alias while the
/// config file has some: most likely an alias mistyped. `None` when it may be a host: with
/// an account to log in as, a word that resolves is one on the network (`nas`); without
/// one, the command cannot run either way and the alias is the likelier meaning.
fn mistyped_alias(word: &str, user_known: bool, config: &ClientConfig, path: &Path) -> Option<String> {
    if config.hosts.is_empty() || word.contains(['.', ':', '[']) || word.eq_ignore_ascii_case("localhost") {
        return None;
    }
    if user_known && (word, crate::wire::DEFAULT_PORT).to_socket_addrs().is_ok_and(|mut a| a.next().is_some()) {
        return None;
    }
    let hint = match config.nearest(word) {
        Some(near) => format!("did you mean `{near}`?"),
        None => {
            let names: Vec<String> = config.hosts.keys().map(|k| format!("`{k}`")).collect();
            format!("its aliases: {}", names.join(", "))
        }
    };
    Some(format!("`{word}` is not an alias in {} ({hint})", path.display()))
}

pub fn connect_options(a: &ClientArgs) -> Result<ConnectOptions> {
    let config_dir = config_dir()?;
    let config = ClientConfig::load(&config_dir)?;
    let t = target(a, &config, &config_dir.join(aliases::FILE))?;
    set_paste_target(&t.typed);
    let fingerprint =
        t.fingerprint.as_deref().map(tls::parse_fingerprint).transpose().map_err(|e| usage(e.to_string()))?;
    let bind = match &t.bind {
        Some(b) => bind_addrs(b, 0)?,
        None => Vec::new(),
    };
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let password = if a.password_stdin {
        PasswordSource::Given(read_stdin_line()?)
    } else if let Ok(p) = std::env::var("QXFER_PASSWORD") {
        PasswordSource::Given(p)
    } else if interactive {
        PasswordSource::Prompt
    } else {
        PasswordSource::None
    };
    let new_host = if a.accept_new {
        NewHost::Accept
    } else if interactive {
        NewHost::Ask
    } else {
        NewHost::Refuse
    };
    // An automation token for scripts (`qxfer account tokens new --automation`).
    let token = match std::env::var("QXFER_TOKEN") {
        Ok(hex_token) => {
            Some(hex::decode(hex_token.trim()).ok().and_then(|b| <[u8; 32]>::try_from(b).ok()).ok_or_else(|| {
                usage("QXFER_TOKEN is not a token (64 hex digits, as `qxfer account tokens new` prints)")
            })?)
        }
        Err(_) => None,
    };
    Ok(ConnectOptions {
        token,
        host: t.host,
        bind,
        user: t.user,
        password,
        config_dir,
        fingerprint,
        new_host,
        ca: t.ca,
        // A listener that vanished (crashed, unplugged) is noticed within CLIENT_IDLE:
        // keep-alives every third of it keep a healthy but quiet connection open.
        net: NetLimits { idle_timeout: CLIENT_IDLE, ..NetLimits::default() },
        connect_timeout: match a.connect_timeout {
            Some(0) => return Err(usage("--connect-timeout must be at least 1s")),
            Some(secs) => std::time::Duration::from_secs(secs),
            None => client::CONNECT_TIMEOUT,
        },
        captcha_file: a.captcha_file.clone(),
        work_progress: crate::progress::work_events(),
    })
}

/// How long the client waits on a silent listener before it gives up on the connection.
const CLIENT_IDLE: std::time::Duration = std::time::Duration::from_secs(15);
