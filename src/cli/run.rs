//! Turns parsed arguments into configuration and library calls, and prints results: a short
//! line per command on stdout, or JSON with `--json`: one document for `send` and `status`
//! (an object), `inbox` and `fetch` (an array); one object per line for `user list`,
//! `firewall list` and `audit`.

use std::io::{BufRead, IsTerminal, Read};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

use super::args::*;
use super::{partial, usage, Exit};
use crate::client::aliases::ClientConfig;
use crate::client::trust::NewHost;
use crate::client::{self, Client, Conflict, ConnectOptions, Manifest, ManifestOptions, PasswordSource, SendJob};
use crate::files::Layout;
use crate::policy::NetLimits;
use crate::server::{Listener, ListenerConfig};
use crate::transport::tls;
use crate::wire::{AdminRequest, AdminResponse};

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "", "qxfer")
}

/// `--data`, else `QXFER_DATA_DIR`, else the platform data directory.
pub fn data_dir(arg: &DataArgs) -> Result<PathBuf> {
    if let Some(d) = &arg.data {
        return Ok(d.clone());
    }
    if let Some(d) = std::env::var_os("QXFER_DATA_DIR") {
        return Ok(PathBuf::from(d));
    }
    project_dirs()
        .map(|p| p.data_dir().to_owned())
        .ok_or_else(|| anyhow!("no home directory: pass --data or set QXFER_DATA_DIR"))
}

/// `QXFER_CONFIG_DIR`, else the platform config directory.
pub fn config_dir() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("QXFER_CONFIG_DIR") {
        return Ok(PathBuf::from(d));
    }
    project_dirs().map(|p| p.config_dir().to_owned()).ok_or_else(|| anyhow!("no home directory: set QXFER_CONFIG_DIR"))
}

pub async fn run(cli: Cli) -> Result<()> {
    let quiet = cli.quiet;
    // Whatever the listener's side creates (the data directory, its database, identity,
    // rules file, spool and mailboxes) is private from the first byte, whichever command
    // creates it. Client commands keep the user's umask for what they fetch.
    if matches!(
        cli.command,
        Command::Listen(_)
            | Command::User(_)
            | Command::Fingerprint(_)
            | Command::Status(_)
            | Command::Firewall(_)
            | Command::Audit(_)
            | Command::Cert(_)
    ) {
        rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    }
    match cli.command {
        Command::Listen(a) => listen(a).await,
        Command::User(cmd) => user(cmd, quiet).await,
        Command::Send(a) => interruptible(send(a, quiet)).await,
        Command::Inbox(a) => interruptible(inbox(a)).await,
        Command::Fetch(a) => interruptible(fetch(a, quiet)).await,
        Command::Read(a) => interruptible(read(a)).await,
        Command::Delete(a) => interruptible(delete(a, quiet)).await,
        Command::Recover(a) => interruptible(super::account::recover(a)).await,
        Command::Register(a) => interruptible(super::account::register(a)).await,
        Command::Account(cmd) => interruptible(super::account::account(cmd)).await,
        Command::Fingerprint(a) => {
            let dir = existing_data_dir(&a.data, a.init)?;
            let id = tls::load_or_create_identity(&dir, None, None)?;
            println!("{}", tls::format_fingerprint(&id.fingerprint()));
            Ok(())
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut super::command(), "qxfer", &mut std::io::stdout());
            Ok(())
        }
        Command::Man { out: None } => {
            clap_mangen::Man::new(super::command()).render(&mut std::io::stdout())?;
            Ok(())
        }
        Command::Man { out: Some(dir) } => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {dir:?}"))?;
            let mut written = Vec::new();
            write_man_pages(super::command(), "qxfer", &dir, &mut written)?;
            if !quiet {
                println!("wrote {} manual pages to {dir:?}", written.len());
            }
            Ok(())
        }
        Command::Status(a) => status(a).await,
        Command::Firewall(cmd) => firewall(cmd).await,
        Command::Audit(a) => audit(a).await,
        Command::Cert(CertCmd::Ca { out, name }) => {
            tls::make_ca(&out, &name)?;
            println!("created CA {} and {}", out.join("ca.pem").display(), out.join("ca.key").display());
            Ok(())
        }
        Command::Cert(CertCmd::Issue { ca, out, names }) => {
            tls::issue_cert(&ca, &names, &out)?;
            println!("issued {} and {}", out.join("cert.pem").display(), out.join("key.pem").display());
            Ok(())
        }
    }
}

/// `NAME.1` for `cmd` and `NAME-SUB.1` for each of its subcommands, recursively.
fn write_man_pages(cmd: clap::Command, name: &str, dir: &Path, written: &mut Vec<PathBuf>) -> Result<()> {
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone()).title(name.to_owned()).render(&mut page)?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, page).with_context(|| format!("writing {path:?}"))?;
    written.push(path);
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        write_man_pages(sub.clone(), &format!("{name}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}

/// Run a client command until it ends or the user presses Ctrl-C (exit 130; what was
/// transferred is kept, and the same command resumes).
async fn interruptible(work: impl std::future::Future<Output = Result<()>>) -> Result<()> {
    tokio::select! {
        r = work => r,
        _ = tokio::signal::ctrl_c() => Err(Exit {
            code: client::exit::INTERRUPTED,
            message: "interrupted; run the same command again to resume".into(),
        }
        .into()),
    }
}

/// The data directory of a listener that exists (one `qxfer listen` created), or, with
/// `init`, one created now: commands that manage a listener do not make a new identity or
/// database by accident in a mistyped directory.
fn existing_data_dir(arg: &DataArgs, init: bool) -> Result<PathBuf> {
    let dir = data_dir(arg)?;
    let layout = Layout::new(dir.clone());
    let exists = [layout.database(), layout.control_socket(), dir.join("cert.pem")].iter().any(|p| p.exists());
    if exists {
        return Ok(dir);
    }
    if init {
        crate::files::create_private_dir(&dir).with_context(|| format!("creating {dir:?}"))?;
        return Ok(dir);
    }
    let what = if dir.is_dir() { "holds no listener data (no qxfer.redb, no cert.pem)" } else { "does not exist" };
    bail!(
        "no listener data directory at {dir:?}: it {what}. `qxfer listen` creates one (--data DIR or \
         QXFER_DATA_DIR name another); add --init to create it now"
    )
}

/// A `--bind` value: an IP address or host name, with or without `:PORT`.
fn bind_addrs(text: &str, default_port: u16) -> Result<Vec<SocketAddr>> {
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

async fn listen(a: ListenArgs) -> Result<()> {
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
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        for addr in listener.local_addrs() {
            writeln!(out, "listening on {addr} fingerprint {fp}")?;
        }
        out.flush()?;
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

pub(super) fn read_stdin_line() -> Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("reading password from stdin")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

fn new_password(password_stdin: bool, name: &str) -> Result<String> {
    if password_stdin {
        return read_stdin_line();
    }
    if let Ok(p) = std::env::var("QXFER_PASSWORD") {
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        bail!("no password: pass --password-stdin or set QXFER_PASSWORD");
    }
    let p1 = rpassword::prompt_password(format!("New password for {name}: "))?;
    let p2 = rpassword::prompt_password("Again: ")?;
    if p1 != p2 {
        bail!("the passwords differ");
    }
    Ok(p1)
}

/// A new password the listener would refuse is a usage error.
fn check_new_password(pw: &str) -> Result<()> {
    if pw.len() < 8 || pw.len() > crate::wire::MAX_PASSWORD {
        return Err(usage(format!("a password is 8 to {} bytes long", crate::wire::MAX_PASSWORD)));
    }
    Ok(())
}

async fn admin_call(dir: &std::path::Path, req: AdminRequest) -> Result<AdminResponse> {
    match crate::admin::client::admin(dir, req).await? {
        AdminResponse::Error(e) => bail!("{e}"),
        r => Ok(r),
    }
}

async fn user(cmd: UserCmd, quiet: bool) -> Result<()> {
    match cmd {
        UserCmd::Add { name, data, password } => {
            crate::wire::validate_account(&name).map_err(|e| usage(format!("{name:?}: {e}")))?;
            if name == crate::server::NOTICE_SENDER {
                return Err(usage(format!(
                    "the name {name:?} is the listener's own (its notices come from it); pick another"
                )));
            }
            let dir = existing_data_dir(&data.data, data.init)?;
            let pw = new_password(password.password_stdin, &name)?;
            check_new_password(&pw)?;
            let phc = tokio::task::spawn_blocking(move || crate::accounts::hash_password(&pw)).await??;
            admin_call(&dir, AdminRequest::AddUser { name: name.clone(), phc }).await?;
            if !quiet {
                println!("added user {name}");
            }
        }
        UserCmd::Remove { name, data } => {
            admin_call(&existing_data_dir(&data, false)?, AdminRequest::RemoveUser { name: name.clone() }).await?;
            if !quiet {
                println!("removed user {name}");
            }
        }
        UserCmd::Passwd { name, data, password } => {
            let dir = existing_data_dir(&data, false)?;
            let pw = new_password(password.password_stdin, &name)?;
            check_new_password(&pw)?;
            let phc = tokio::task::spawn_blocking(move || crate::accounts::hash_password(&pw)).await??;
            admin_call(&dir, AdminRequest::SetPassword { name: name.clone(), phc }).await?;
            if !quiet {
                println!("changed password of {name}");
            }
        }
        UserCmd::List { data, json } => {
            if let AdminResponse::Users(users) =
                admin_call(&existing_data_dir(&data, false)?, AdminRequest::ListUsers).await?
            {
                for u in users {
                    if json {
                        println!("{}", serde_json::json!({ "name": u.name, "created": u.created }));
                    } else {
                        println!("{}\t{}", u.name, crate::clock::format_time(u.created));
                    }
                }
            }
        }
    }
    Ok(())
}

async fn firewall(cmd: FirewallCmd) -> Result<()> {
    let (data, req, json) = match cmd {
        FirewallCmd::Allow { net, data } => (data, AdminRequest::SetRule { net, allow: true }, false),
        FirewallCmd::Block { net, data } => (data, AdminRequest::SetRule { net, allow: false }, false),
        FirewallCmd::Remove { net, data } => (data, AdminRequest::RemoveRule { net }, false),
        FirewallCmd::Ban { net, duration, data } => (data, AdminRequest::Ban { net, secs: duration }, false),
        FirewallCmd::Unban { net, data } => (data, AdminRequest::Unban { net }, false),
        FirewallCmd::List { data, json } => (data, AdminRequest::ListRules, json),
    };
    if let AdminRequest::SetRule { net, .. }
    | AdminRequest::RemoveRule { net }
    | AdminRequest::Ban { net, .. }
    | AdminRequest::Unban { net } = &req
    {
        crate::policy::parse_net(net).map_err(|e| usage(e.to_string()))?;
    }
    let dir = existing_data_dir(&data, false)?;
    let list_all = matches!(req, AdminRequest::ListRules);
    let unbanned = match &req {
        AdminRequest::Unban { net } => Some(net.clone()),
        _ => None,
    };
    let removed = match &req {
        AdminRequest::RemoveRule { net } => Some(net.clone()),
        _ => None,
    };
    let mut shown = 0;
    match admin_call(&dir, req).await? {
        AdminResponse::Rules(rules) => {
            if let Some(net) = removed {
                println!("removed the rule for {}", crate::policy::parse_net(&net)?);
            }
            shown += rules.len();
            print_rules(&rules, json);
        }
        // `unban` confirms what it did, as `allow` and `block` show the rule in force.
        AdminResponse::Bans(_) if unbanned.is_some() => {
            let net = crate::policy::parse_net(unbanned.as_deref().unwrap_or_default())?;
            println!("unbanned {net} (its level is kept: a new offence bans it longer)");
        }
        AdminResponse::Bans(bans) => print_bans(&bans, json),
        _ => bail!("unexpected reply from the listener"),
    }
    if list_all {
        if let AdminResponse::Bans(bans) = admin_call(&dir, AdminRequest::ListBans).await? {
            shown += bans.len();
            print_bans(&bans, json);
        }
        if shown == 0 && !json {
            println!("no IP rules and no bans in force");
        }
    }
    Ok(())
}

fn print_rules(rules: &[crate::wire::RuleView], json: bool) {
    for r in rules {
        let rule = if r.allow { "allow" } else { "block" };
        if json {
            println!("{}", serde_json::json!({ "rule": rule, "net": r.net }));
        } else {
            println!("{rule} {}", r.net);
        }
    }
}

fn print_bans(bans: &[crate::wire::BanView], json: bool) {
    for b in bans {
        if json {
            println!(
                "{}",
                serde_json::json!({ "rule": "ban", "net": b.net, "until": b.until, "level": b.level, "reason": b.reason })
            );
        } else {
            println!("ban {} until {} level {} ({})", b.net, crate::clock::format_time(b.until), b.level, b.reason);
        }
    }
}

async fn audit(a: AuditArgs) -> Result<()> {
    if let Some(src) = &a.source {
        crate::policy::parse_net(src).map_err(|e| usage(format!("--source: {e}")))?;
    }
    if let Some(k) = &a.kind {
        if crate::policy::activity::Kind::parse(k).is_none() {
            let kinds: Vec<&str> = crate::policy::activity::Kind::ALL.iter().map(|k| k.name()).collect();
            return Err(usage(format!("--kind {k:?} is not a kind of event; kinds are {}", kinds.join(", "))));
        }
    }
    let q = crate::wire::AuditQuery { since_secs: a.since, source: a.source, user: a.user, kind: a.kind };
    let AdminResponse::Audit(r) = admin_call(&existing_data_dir(&a.data, false)?, AdminRequest::Audit(q)).await? else {
        bail!("unexpected reply from the listener");
    };
    if a.json {
        for s in &r.top_sources {
            println!(
                "{}",
                serde_json::json!({ "type": "source", "source": s.source, "events": s.events, "score": crate::policy::points(s.score) })
            );
        }
        for a in &r.top_accounts {
            println!(
                "{}",
                serde_json::json!({ "type": "account", "account": a.account, "score": crate::policy::points(a.score) })
            );
        }
        for k in &r.by_kind {
            println!("{}", serde_json::json!({ "type": "kind", "kind": k.kind, "count": k.count }));
        }
        for h in &r.by_hour {
            println!("{}", serde_json::json!({ "type": "hour", "hour": h.hour, "count": h.count }));
        }
        for e in &r.latest {
            println!(
                "{}",
                serde_json::json!({ "type": "event", "time_ms": e.time_ms, "source": e.source, "account": e.account,
                    "kind": e.kind, "bytes": e.bytes, "detail": e.detail })
            );
        }
        return Ok(());
    }
    println!("{} events matched", r.matched);
    println!("\nOFFENDING SOURCES        EVENTS  SCORE");
    for s in &r.top_sources {
        println!("{:<22} {:>8} {:>6}", s.source, s.events, crate::policy::points(s.score));
    }
    println!("\nACCOUNTS WITH OFFENCES   SCORE");
    for a in &r.top_accounts {
        println!("{:<22} {:>8}", a.account, crate::policy::points(a.score));
    }
    println!("\nEVENTS BY KIND");
    for k in &r.by_kind {
        println!("{:<22} {:>8}", k.kind, k.count);
    }
    println!("\nEVENTS BY HOUR");
    for h in &r.by_hour {
        println!("{:<22} {:>8}", crate::clock::format_time(h.hour), h.count);
    }
    println!("\nLATEST EVENTS");
    for e in &r.latest {
        println!(
            "{} {:<16} {:<12} {:<13} {}",
            crate::clock::format_time(e.time_ms / 1000),
            e.source,
            e.account.as_deref().unwrap_or("-"),
            e.kind,
            e.detail
        );
    }
    Ok(())
}

async fn status(a: StatusArgs) -> Result<()> {
    let AdminResponse::Status(s) = admin_call(&existing_data_dir(&a.data, false)?, AdminRequest::Status).await? else {
        bail!("unexpected reply from the listener");
    };
    if a.json {
        println!("{}", serde_json::to_string(&s)?);
    } else {
        println!(
            "connections: {} open, {} total, {} refused\nreceived: {} bytes\nsent: {} bytes\ndeliveries: {}\nprotocol violations: {}\nauthentication failures: {}\nrate limited: {}\ntimeouts: {}",
            s.connections_open,
            s.connections_total,
            s.refused,
            s.bytes_received,
            s.bytes_sent,
            s.deliveries,
            s.protocol_violations,
            s.auth_failures,
            s.rate_limited,
            s.timeouts
        );
    }
    Ok(())
}

/// Where a client command goes and as whom: `[USER@]HOST[:PORT]` or an alias from the
/// config file, then `--user`/`QXFER_USER`, then the alias's user.
struct Target {
    host: String,
    user: String,
    fingerprint: Option<String>,
    ca: Option<PathBuf>,
}

fn target(a: &ClientArgs, config: &ClientConfig) -> Result<Target> {
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
    let user = user_at
        .map(str::to_owned)
        .or_else(|| a.user.clone())
        .or_else(|| alias.and_then(|h| h.user.clone()))
        .ok_or_else(|| usage("no account to log in as: write USER@HOST, pass --user NAME or set QXFER_USER"))?;
    crate::wire::validate_account(&user).map_err(|e| usage(format!("account {user:?}: {e}")))?;
    let host = match (alias, port) {
        (Some(h), Some(p)) => crate::client::aliases::HostAlias { port: Some(p), ..h.clone() }.hostport(),
        (Some(h), None) => h.hostport(),
        (None, _) => host.to_owned(),
    };
    Ok(Target {
        host,
        user,
        fingerprint: a.fingerprint.clone().or_else(|| alias.and_then(|h| h.fingerprint.clone())),
        ca: a.ca.clone().or_else(|| alias.and_then(|h| h.ca.clone())),
    })
}

pub(super) fn connect_options(a: &ClientArgs) -> Result<ConnectOptions> {
    let config_dir = config_dir()?;
    let config = ClientConfig::load(&config_dir)?;
    let t = target(a, &config)?;
    let fingerprint =
        t.fingerprint.as_deref().map(tls::parse_fingerprint).transpose().map_err(|e| usage(e.to_string()))?;
    let bind = match &a.bind {
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

fn show_progress(quiet: bool, json: bool) -> bool {
    !quiet && !json && std::io::stderr().is_terminal()
}

/// "1 file", "2 files".
fn count(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// scp and rsync put the destination last; qxfer puts the listener first. Catch the
/// usual slips before anything is read or sent: `send FILE HOST`, `send FILE`.
fn check_order(a: &SendArgs) -> Result<()> {
    let host = a.client.host.as_str();
    if host.contains('@') || !Path::new(host).exists() {
        return Ok(());
    }
    if let Ok(dir) = config_dir() {
        if ClientConfig::load(&dir).is_ok_and(|c| c.alias(host).is_some()) {
            return Ok(());
        }
    }
    if a.paths.is_empty() && a.message.is_none() && a.subject.is_none() {
        return Err(usage(format!(
            "the first argument is the listener, then what to send: `qxfer send HOST {host}` ({host:?} is a local file)"
        )));
    }
    if let Some(last) = a.paths.last().filter(|p| !p.exists()) {
        return Err(usage(format!(
            "the first argument is the listener: {host:?} is a local file and {last:?} is not; \
             did you mean `qxfer send {} {host} ...`?",
            last.display()
        )));
    }
    Ok(())
}

async fn send(a: SendArgs, quiet: bool) -> Result<()> {
    check_order(&a)?;
    if a.message.as_deref() == Some("-") && a.client.password_stdin {
        return Err(usage(
            "-m - and --password-stdin both read stdin: give the password in QXFER_PASSWORD, or the message as -m TEXT",
        ));
    }
    if a.subject.as_deref() == Some("") {
        return Err(usage("the subject is empty: leave -s out, or write one"));
    }
    let body = match a.message.as_deref() {
        Some("-") => {
            let mut s = String::new();
            std::io::stdin()
                .take(crate::wire::MAX_BODY as u64 + 1)
                .read_to_string(&mut s)
                .context("reading the message from stdin")?;
            Some(s)
        }
        other => other.map(str::to_owned),
    };
    // An empty message is no message.
    let body = body.filter(|b| !b.trim().is_empty());
    // What the listener would refuse is refused here, before connecting.
    if let Some(b) = &body {
        if b.len() > crate::wire::MAX_BODY {
            return Err(usage(format!(
                "the message is longer than {} bytes; send it as a file",
                crate::wire::MAX_BODY
            )));
        }
        crate::wire::check_body(b).map_err(|_| {
            usage("the message holds a control, invisible or direction-changing character; remove it or send the text as a file")
        })?;
    }
    if let Some(s) = &a.subject {
        crate::wire::check_subject(s).map_err(|_| {
            usage(format!(
                "the subject must be one line of at most {} bytes without tabs, control, invisible or direction-changing characters",
                crate::wire::MAX_SUBJECT
            ))
        })?;
    }
    if a.paths.is_empty() && body.is_none() && a.subject.is_none() {
        return Err(usage("nothing to send: give PATHs, -m TEXT or -s SUBJECT"));
    }
    for (i, to) in a.to.iter().enumerate() {
        crate::wire::validate_account(to).map_err(|e| usage(format!("--to {to:?}: {e}")))?;
        if a.to.get(..i).is_some_and(|before| before.contains(to)) {
            return Err(usage(format!("--to {to:?} is given twice")));
        }
    }
    if a.to.len() > crate::wire::MAX_RECIPIENTS {
        return Err(usage(format!("at most {} recipients per send", crate::wire::MAX_RECIPIENTS)));
    }
    let options = ManifestOptions { follow_symlinks: a.follow_symlinks, strict: a.strict };
    let manifest = match Manifest::build(&a.paths, options) {
        Ok(m) => m,
        Err(e @ client::ManifestError::Duplicate(_)) => return Err(usage(e.to_string())),
        Err(e) => return Err(e.into()),
    };
    if !quiet {
        for s in &manifest.passed_over {
            eprintln!("passed over {s}");
        }
    }
    for s in &manifest.problems {
        eprintln!("skipped {s}");
    }
    if manifest.files.is_empty() && body.is_none() && a.subject.is_none() {
        if !manifest.problems.is_empty() {
            bail!("nothing can be sent: every path was skipped (listed above)");
        }
        let named: Vec<String> = a.paths.iter().map(|p| format!("{p:?}")).collect();
        let verb = if named.len() == 1 { "holds" } else { "hold" };
        return Err(usage(format!("nothing to send: {} {verb} no files", named.join(", "))));
    }
    if manifest.files.len() > crate::wire::MAX_FILES as usize {
        return Err(usage(format!(
            "{} files is more than one delivery carries ({}); send them in several deliveries or as an archive",
            manifest.files.len(),
            crate::wire::MAX_FILES
        )));
    }
    let skipped = manifest.problems.len();
    let job = SendJob {
        to: a.to.first().cloned(),
        also: a.to.iter().skip(1).cloned().collect(),
        subject: a.subject.clone(),
        body,
        manifest,
    };
    let opts = connect_options(&a.client)?;
    let mut client = Client::connect(&opts).await?;
    let events = crate::progress::events(show_progress(quiet, a.client.json), "send");
    let report = client.send(&job, events).await;
    client.close().await;
    let report = report?;
    if a.client.json {
        // One object per delivery, one per line, with several recipients; one object
        // (today's form) with one.
        println!("{}", serde_json::to_string(&report)?);
        for c in &report.copies {
            let copy = client::SendReport {
                id: c.id,
                to: c.to.clone(),
                copies: Vec::new(),
                missed: Vec::new(),
                ..report.clone()
            };
            println!("{}", serde_json::to_string(&copy)?);
        }
    } else if !quiet {
        if report.already_delivered {
            println!(
                "delivery {} to {} was already delivered (the listener committed it before this command was interrupted)",
                report.id, report.to
            );
        } else {
            let mut whom = format!("delivery {} to {}", report.id, report.to);
            for c in &report.copies {
                whom.push_str(&format!(", {} to {}", c.id, c.to));
            }
            if !report.copies.is_empty() {
                whom = format!("deliveries {}", whom.trim_start_matches("delivery "));
            }
            println!(
                "sent {whom}: {}, {} ({} uploaded{})",
                count(report.files, "file"),
                count(report.bytes, "byte"),
                count(report.uploaded, "byte"),
                if report.resumed { ", resumed" } else { "" }
            );
        }
    }
    for m in &report.missed {
        eprintln!("qxfer: no delivery for {}: {}", m.to, m.reason);
    }
    if !report.missed.is_empty() {
        return Err(partial(format!(
            "{} of {} recipients got no delivery (listed above)",
            report.missed.len(),
            report.missed.len() + report.copies.len() + 1
        )));
    }
    if skipped > 0 {
        return Err(partial(format!(
            "{} not sent (listed above); the rest was delivered",
            count(skipped as u64, "path")
        )));
    }
    Ok(())
}

async fn inbox(a: InboxArgs) -> Result<()> {
    let opts = connect_options(&a.client)?;
    let mut client = Client::connect(&opts).await?;
    let items = client.inbox(a.new).await;
    client.close().await;
    let items = items?;
    if a.client.json {
        let list: Vec<_> = items
            .iter()
            .map(|s| {
                serde_json::json!({
                    "id": s.id, "from": s.from, "time": s.time, "subject": s.subject,
                    "files": s.files, "bytes": s.bytes,
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(list));
    } else if items.is_empty() && a.new {
        println!("no new deliveries in {}'s mailbox", opts.user);
    } else if items.is_empty() {
        println!("no deliveries in {}'s mailbox", opts.user);
    } else {
        println!("{:>6}  {:<16} {:<20} {:>6} {:>12}  SUBJECT", "ID", "FROM", "TIME", "FILES", "BYTES");
        for s in items {
            println!(
                "{:>6}  {:<16} {:<20} {:>6} {:>12}  {}",
                s.id,
                s.from,
                crate::clock::format_time(s.time),
                s.files,
                s.bytes,
                s.subject.unwrap_or_default()
            );
        }
    }
    Ok(())
}

/// `qxfer read ID`: the message as fetch writes it, then its files; marks it seen.
async fn read(a: ReadArgs) -> Result<()> {
    let opts = connect_options(&a.client)?;
    let mut client = Client::connect(&opts).await?;
    let result = async {
        let opened = client.open(a.id).await?;
        client.mark_seen(&[a.id]).await?;
        Ok::<_, client::ClientError>(opened)
    }
    .await;
    client.close().await;
    let (envelope, files) = result?;
    let mut text = client::message_text(&envelope);
    if a.client.json {
        let list: Vec<_> = files
            .iter()
            .map(|(f, _)| {
                serde_json::json!({ "path": f.path, "size": f.size, "hash": hex::encode(f.hash), "media_type": f.media_type })
            })
            .collect();
        let v = serde_json::json!({
            "id": envelope.id, "from": envelope.from, "to": envelope.to, "time": envelope.time,
            "subject": envelope.subject, "body": envelope.body, "text": text, "files": list,
        });
        println!("{v}");
        return Ok(());
    }
    if !files.is_empty() {
        text.push_str(&format!("\n{}:\n", count(files.len() as u64, "file")));
        for (f, _) in &files {
            text.push_str(&format!("  {}  {}  {}\n", f.path, count(f.size, "byte"), f.media_type));
        }
        let them = if files.len() == 1 { "it" } else { "them" };
        text.push_str(&format!("(qxfer fetch {} {} downloads {them})\n", a.client.host, a.id));
    }
    use std::io::Write;
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(())
}

/// `qxfer delete ID...`.
async fn delete(a: DeleteArgs, quiet: bool) -> Result<()> {
    let opts = connect_options(&a.client)?;
    let mut client = Client::connect(&opts).await?;
    let done = client.delete(&a.ids).await;
    client.close().await;
    let done = done?;
    let missing: Vec<u64> = a.ids.iter().copied().filter(|id| !done.contains(id)).collect();
    if a.client.json {
        println!("{}", serde_json::json!({ "deleted": done, "missing": missing }));
    } else if !quiet {
        for id in &done {
            println!("deleted delivery {id}");
        }
    }
    for id in &missing {
        eprintln!("qxfer: no delivery {id} in {}'s mailbox", opts.user);
    }
    match (missing.len(), done.len()) {
        (0, _) => Ok(()),
        (_, 0) => bail!("nothing deleted"),
        (n, _) => Err(partial(format!("{} not found (listed above); the others were deleted", count(n as u64, "id")))),
    }
}

/// Whether a failed fetch concerns that delivery only (the others can still be fetched).
fn delivery_only(e: &client::ClientError) -> bool {
    use client::ClientError as E;
    matches!(e, E::Remote { .. } | E::Exists(_) | E::Refused { .. } | E::Integrity { .. } | E::Local { .. })
}

async fn fetch(a: FetchArgs, quiet: bool) -> Result<()> {
    if a.ids.is_empty() && !a.all && !a.new {
        return Err(usage("which deliveries? give their IDs (see qxfer inbox), --new or --all"));
    }
    let conflict = if a.overwrite {
        Conflict::Overwrite
    } else if a.skip_existing {
        Conflict::Skip
    } else {
        Conflict::Fail
    };
    let opts = connect_options(&a.client)?;
    let mut client = Client::connect(&opts).await?;
    let mut failed = Vec::new();
    let mut conflicts = 0usize;
    let result = async {
        let ids =
            if a.all || a.new { client.inbox(a.new).await?.into_iter().map(|s| s.id).collect() } else { a.ids.clone() };
        let mut reports = Vec::new();
        for id in ids {
            let events = crate::progress::events(show_progress(quiet, a.client.json), "fetch");
            let r = match client.fetch(id, &a.out, conflict, events).await {
                Ok(r) => r,
                Err(e) if delivery_only(&e) => {
                    match &e {
                        // The listener's own words already name the delivery.
                        client::ClientError::Remote { .. } => eprintln!("qxfer: {e}"),
                        _ => eprintln!("qxfer: delivery {id}: {e}"),
                    }
                    if matches!(e, client::ClientError::Exists(_)) {
                        conflicts += 1;
                    }
                    failed.push(id);
                    continue;
                }
                Err(e) => return Err(e),
            };
            for k in &r.kept {
                eprintln!("kept {k:?}: a different file has its name (--skip-existing)");
            }
            client.mark_seen(&[id]).await?;
            if !quiet && !a.client.json {
                println!(
                    "fetched delivery {} from {}: {}, {} downloaded",
                    r.id,
                    r.from,
                    count(r.files.len() as u64, "file"),
                    count(r.downloaded, "byte")
                );
            }
            reports.push(r);
        }
        Ok::<_, client::ClientError>(reports)
    }
    .await;
    client.close().await;
    let reports = result?;
    if a.client.json {
        println!("{}", serde_json::to_string(&reports)?);
    }
    if a.new && failed.is_empty() && reports.is_empty() && !a.client.json && !quiet {
        println!("no new deliveries in {}'s mailbox", opts.user);
    }
    let failures = match failed.len() {
        1 => "1 delivery".to_owned(),
        n => format!("{n} deliveries"),
    };
    match (failed.len(), reports.len()) {
        (0, _) => Ok(()),
        // A conflict leaves a delivery fetched but for its conflicting files: partial.
        (_, 0) if conflicts == 0 => bail!("no delivery fetched ({failures} failed, listed above)"),
        _ => Err(partial(format!("{failures} not fetched in full (listed above); the others were fetched"))),
    }
}
