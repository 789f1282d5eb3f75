//! Turns parsed arguments into configuration and library calls, and prints results: a short
//! line per command on stdout, or JSON with `--json`: one document for `send` and `status`
//! (an object), `inbox` and `fetch` (an array); one object per line for `user list`,
//! `firewall list` and `audit`.

use std::io::{BufRead, IsTerminal, Read};
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};

use super::args::*;
use crate::client::trust::NewHost;
use crate::client::{self, Client, ConnectOptions, Manifest, ManifestOptions, PasswordSource, SendJob};
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
        Command::Send(a) => send(a, quiet).await,
        Command::Inbox(a) => inbox(a).await,
        Command::Fetch(a) => fetch(a, quiet).await,
        Command::Fingerprint(a) => {
            let dir = data_dir(&a)?;
            crate::files::create_private_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let id = tls::load_or_create_identity(&dir, None, None)?;
            println!("{}", tls::format_fingerprint(&id.fingerprint()));
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

async fn listen(a: ListenArgs) -> Result<()> {
    let mut cfg = ListenerConfig::new(data_dir(&a.data)?);
    cfg.binds = a.bind;
    cfg.cert = a.cert;
    cfg.key = a.key;
    if let Some(path) = &a.config {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let (limits, scoring) = crate::config::parse(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        cfg.limits = limits;
        cfg.scoring = scoring;
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

fn read_stdin_line() -> Result<String> {
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

async fn admin_call(dir: &std::path::Path, req: AdminRequest) -> Result<AdminResponse> {
    match crate::admin::client::admin(dir, req).await? {
        AdminResponse::Error(e) => bail!("{e}"),
        r => Ok(r),
    }
}

async fn user(cmd: UserCmd, quiet: bool) -> Result<()> {
    match cmd {
        UserCmd::Add { name, data, password } => {
            crate::wire::validate_account(&name).map_err(|e| anyhow!("{name:?}: {e}"))?;
            let dir = data_dir(&data)?;
            let pw = new_password(password.password_stdin, &name)?;
            let phc = tokio::task::spawn_blocking(move || crate::accounts::hash_password(&pw)).await??;
            admin_call(&dir, AdminRequest::AddUser { name: name.clone(), phc }).await?;
            if !quiet {
                println!("added user {name}");
            }
        }
        UserCmd::Remove { name, data } => {
            admin_call(&data_dir(&data)?, AdminRequest::RemoveUser { name: name.clone() }).await?;
            if !quiet {
                println!("removed user {name}");
            }
        }
        UserCmd::Passwd { name, data, password } => {
            let dir = data_dir(&data)?;
            let pw = new_password(password.password_stdin, &name)?;
            let phc = tokio::task::spawn_blocking(move || crate::accounts::hash_password(&pw)).await??;
            admin_call(&dir, AdminRequest::SetPassword { name: name.clone(), phc }).await?;
            if !quiet {
                println!("changed password of {name}");
            }
        }
        UserCmd::List { data, json } => {
            if let AdminResponse::Users(users) = admin_call(&data_dir(&data)?, AdminRequest::ListUsers).await? {
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
        crate::policy::parse_net(net)?;
    }
    let dir = data_dir(&data)?;
    let list_all = matches!(req, AdminRequest::ListRules);
    match admin_call(&dir, req).await? {
        AdminResponse::Rules(rules) => print_rules(&rules, json),
        AdminResponse::Bans(bans) => print_bans(&bans, json),
        _ => bail!("unexpected reply from the listener"),
    }
    if list_all {
        if let AdminResponse::Bans(bans) = admin_call(&dir, AdminRequest::ListBans).await? {
            print_bans(&bans, json);
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
        crate::policy::parse_net(src)?;
    }
    let q = crate::wire::AuditQuery { since_secs: a.since, source: a.source, user: a.user, kind: a.kind };
    let AdminResponse::Audit(r) = admin_call(&data_dir(&a.data)?, AdminRequest::Audit(q)).await? else {
        bail!("unexpected reply from the listener");
    };
    if a.json {
        for s in &r.top_sources {
            println!(
                "{}",
                serde_json::json!({ "type": "source", "source": s.source, "events": s.events, "score": s.score })
            );
        }
        for a in &r.top_accounts {
            println!("{}", serde_json::json!({ "type": "account", "account": a.account, "score": a.score }));
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
        println!("{:<22} {:>8} {:>6}", s.source, s.events, s.score);
    }
    println!("\nACCOUNTS WITH OFFENCES   SCORE");
    for a in &r.top_accounts {
        println!("{:<22} {:>8}", a.account, a.score);
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
    let AdminResponse::Status(s) = admin_call(&data_dir(&a.data)?, AdminRequest::Status).await? else {
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

fn connect_options(a: &ClientArgs) -> Result<ConnectOptions> {
    crate::wire::validate_account(&a.user).map_err(|e| anyhow!("--user {:?}: {e}", a.user))?;
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
    let fingerprint = a.fingerprint.as_deref().map(tls::parse_fingerprint).transpose()?;
    let new_host = if a.accept_new {
        NewHost::Accept
    } else if interactive {
        NewHost::Ask
    } else {
        NewHost::Refuse
    };
    Ok(ConnectOptions {
        host: a.host.clone(),
        bind: a.bind.map(|ip| SocketAddr::new(ip, 0)),
        user: a.user.clone(),
        password,
        config_dir: config_dir()?,
        fingerprint,
        new_host,
        ca: a.ca.clone(),
        // A listener that vanished (crashed, unplugged) is noticed within CLIENT_IDLE:
        // keep-alives every third of it keep a healthy but quiet connection open.
        net: NetLimits { idle_timeout: CLIENT_IDLE, ..NetLimits::default() },
    })
}

/// How long the client waits on a silent listener before it gives up on the connection.
const CLIENT_IDLE: std::time::Duration = std::time::Duration::from_secs(15);

fn show_progress(quiet: bool, json: bool) -> bool {
    !quiet && !json && std::io::stderr().is_terminal()
}

async fn send(a: SendArgs, quiet: bool) -> Result<()> {
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
    // What the listener would refuse is refused here, before connecting.
    if let Some(b) = &body {
        if b.len() > crate::wire::MAX_BODY {
            bail!("the message is longer than {} bytes; send it as a file", crate::wire::MAX_BODY);
        }
        crate::wire::check_body(b).map_err(|_| {
            anyhow!("the message holds a control, invisible or direction-changing character; remove it or send the text as a file")
        })?;
    }
    if let Some(s) = &a.subject {
        crate::wire::check_subject(s).map_err(|_| {
            anyhow!(
                "the subject must be one line of at most {} bytes without control, invisible or direction-changing characters",
                crate::wire::MAX_SUBJECT
            )
        })?;
    }
    if a.paths.is_empty() && body.is_none() && a.subject.is_none() {
        bail!("nothing to send: give PATHs, -m TEXT or -s SUBJECT");
    }
    if let Some(to) = &a.to {
        crate::wire::validate_account(to).map_err(|e| anyhow!("--to {to:?}: {e}"))?;
    }
    let manifest = Manifest::build(&a.paths, ManifestOptions { follow_symlinks: a.follow_symlinks })?;
    if manifest.files.len() > crate::wire::MAX_FILES as usize {
        bail!(
            "{} files is more than one delivery carries ({}); send them in several deliveries or as an archive",
            manifest.files.len(),
            crate::wire::MAX_FILES
        );
    }
    if !quiet {
        for s in &manifest.skipped {
            eprintln!("skipped {} (symbolic link or special file; -L follows links)", s.display());
        }
    }
    let job = SendJob { to: a.to.clone(), subject: a.subject.clone(), body, manifest };
    let opts = connect_options(&a.client)?;
    let mut client = Client::connect(&opts).await?;
    let events = crate::progress::events(show_progress(quiet, a.client.json), "send");
    let report = client.send(&job, events).await;
    client.close().await;
    let report = report?;
    if a.client.json {
        println!("{}", serde_json::to_string(&report)?);
    } else if !quiet {
        if report.already_delivered {
            println!(
                "delivery {} to {} was already delivered (the listener committed it before this command was interrupted)",
                report.id, report.to
            );
            return Ok(());
        }
        println!(
            "sent delivery {} to {}: {} files, {} bytes ({} bytes uploaded{})",
            report.id,
            report.to,
            report.files,
            report.bytes,
            report.uploaded,
            if report.resumed { ", resumed" } else { "" }
        );
    }
    Ok(())
}

async fn inbox(a: InboxArgs) -> Result<()> {
    let opts = connect_options(&a.client)?;
    let mut client = Client::connect(&opts).await?;
    let items = client.inbox().await;
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

async fn fetch(a: FetchArgs, quiet: bool) -> Result<()> {
    let opts = connect_options(&a.client)?;
    let mut client = Client::connect(&opts).await?;
    let result = async {
        let ids = if a.all { client.inbox().await?.into_iter().map(|s| s.id).collect() } else { a.ids.clone() };
        let mut reports = Vec::new();
        for id in ids {
            let events = crate::progress::events(show_progress(quiet, a.client.json), "fetch");
            let r = client.fetch(id, &a.out, events).await?;
            if !quiet && !a.client.json {
                println!(
                    "fetched delivery {} from {}: {} files, {} bytes downloaded",
                    r.id,
                    r.from,
                    r.files.len(),
                    r.downloaded
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
    Ok(())
}
