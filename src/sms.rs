//! Sending a text message through the gateway the operator picks in `[sms]`, and that
//! section's settings ([`SmsConfig`]):
//! - `spool`: one JSON file per message (`{"to": ..., "text": ...}`, the webhook's body), mode
//!   0600, named `<ms>-<seq>.json`, written under a temporary name and renamed into place;
//!   for development and tests. It sends nothing. The default, under the data directory.
//! - `command`: a program run without a shell, `{to}` in its arguments replaced by the
//!   number, the text on its standard input (never in its arguments, where other users read
//!   it in /proc), killed past a timeout, its exit status checked.
//! - `webhook`: an HTTPS POST of that JSON body with `Authorization: Bearer <token>`, over
//!   rustls with the ring provider passed explicitly (no process-wide default is consulted),
//!   trusting the roots of `ca_file` or of the system bundle. Only `https://` URLs; no proxy
//!   from the environment, no redirects followed. Each attempt is bounded by `timeout_secs`
//!   (connect, handshake, request and response together); network errors and 5xx answers are
//!   retried `retries` times with a doubling backoff from 200 ms, a 4xx never. The token is
//!   read once, when the gateway is built, from a file only its owner may read. Neither the
//!   token nor the text appears in this module's errors or `Debug` output, and the URL only
//!   without its userinfo and query. (This module logs nothing; ureq's own log lines redact
//!   the Authorization header and never show the body, but at trace level show the query.)
//!
//! The cost controls of `[sms]` (budget, cooldown, countries) are decided by the pure
//! `policy::sms`; this module only hands them over ([`SmsConfig::limits`]). Wiring a gateway
//! into the listener (when to text, from which thread) is done elsewhere.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::policy::sms::SmsLimits;

/// Why a text was not handed to the gateway, or a gateway could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    /// The spool directory or a file in it could not be written.
    #[error("writing the text to the spool {0}: {1}")]
    Spool(PathBuf, #[source] std::io::Error),
    /// The SMS command could not be started (or waited for).
    #[error("starting the SMS command {0:?}: {1}")]
    Start(String, #[source] std::io::Error),
    /// The SMS command ran past its timeout and was killed.
    #[error("the SMS command {0:?} did not finish within {1} s; it was stopped")]
    Timeout(String, u64),
    /// The SMS command exited with a failure status.
    #[error("the SMS command {0:?} failed ({1})")]
    Failed(String, std::process::ExitStatus),
    /// The SMS command has no program.
    #[error("the SMS command is empty")]
    NoCommand,
    /// The webhook could not be reached, or the exchange failed (TLS, network, protocol).
    /// `url` has no userinfo or query.
    #[error("the SMS webhook {url}: {reason} (attempts: {attempts})")]
    Webhook { url: String, reason: String, attempts: u32 },
    /// The webhook did not answer within the timeout (on the last attempt).
    #[error("the SMS webhook {url} did not answer within {secs} s (attempts: {attempts})")]
    WebhookTimeout { url: String, secs: u64, attempts: u32 },
    /// The webhook answered with a status other than 2xx (on the last attempt).
    #[error("the SMS webhook {url} answered HTTP {status} (attempts: {attempts})")]
    Status { url: String, status: u16, attempts: u32 },
    /// The webhook's token file is missing, empty, unreadable or open to other users.
    #[error("the SMS webhook token file {}: {reason}", path.display())]
    Token { path: PathBuf, reason: String },
    /// The webhook's `ca_file` could not be read or holds no usable certificate.
    #[error("the SMS webhook CA file {}: {reason}", path.display())]
    CaFile { path: PathBuf, reason: String },
    /// No `ca_file` was given and no system CA bundle could be read.
    #[error("no system CA bundle could be read for the SMS webhook (tried {tried}); set ca_file in [sms.webhook]")]
    NoSystemRoots { tried: String },
    /// The `[sms]` section failed [`SmsConfig::check`].
    #[error("{0}")]
    Config(&'static str),
}

/// A configured gateway.
#[derive(Debug)]
pub enum Gateway {
    /// Writes each text to a JSON file in `dir`; sends nothing.
    Spool {
        /// Where the files go (created 0700 if missing).
        dir: PathBuf,
        /// Tells apart files written in the same millisecond.
        seq: AtomicU64,
    },
    /// Runs `argv` (no shell) per text, the number for `{to}`, the text on stdin.
    Command {
        /// Program and arguments; `{to}` in an argument becomes the number.
        argv: Vec<String>,
        /// How long the program may run before it is killed.
        timeout: Duration,
    },
    /// POSTs each text to an HTTPS webhook (see [`Webhook`]).
    Webhook(Webhook),
}

impl Gateway {
    /// The spool gateway writing under `dir`.
    pub fn spool(dir: PathBuf) -> Gateway {
        Gateway::Spool { dir, seq: AtomicU64::new(0) }
    }

    /// Hand `text` for `to` (E.164) to the gateway; `now_ms` names spool files. Blocking: a
    /// webhook may take `(retries + 1) * timeout` plus its backoff, so call it from a thread
    /// of its own.
    pub fn send(&self, to: &str, text: &str, now_ms: u64) -> Result<(), SmsError> {
        match self {
            Gateway::Spool { dir, seq } => {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                spool(dir, &format!("{now_ms}-{n}.json"), to, text)
            }
            Gateway::Command { argv, timeout } => command(argv, *timeout, to, text),
            Gateway::Webhook(w) => w.post(to, text),
        }
    }
}

/// What every gateway that takes a body sends: `{"to": ..., "text": ...}`.
fn message_body(to: &str, text: &str) -> String {
    serde_json::json!({ "to": to, "text": text }).to_string()
}

/// `[sms]` in the listener's config: which gateway, its timeout and retries, and what texts
/// may cost. At most one of `spool`, `command` and `webhook`; none means the spool under the
/// data directory, which sends nothing.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmsConfig {
    /// Write texts as JSON files in this directory (sends nothing).
    pub spool: Option<PathBuf>,
    /// Run this program per text: `["/usr/local/bin/send-sms", "{to}"]`, the text on stdin.
    pub command: Option<Vec<String>>,
    /// POST texts to this HTTPS webhook (`[sms.webhook]`).
    pub webhook: Option<WebhookConfig>,
    /// Seconds one attempt (webhook) or one run (command) may take, 1 to 120. Default 10.
    pub timeout_secs: u64,
    /// Further webhook attempts after a network error or a 5xx answer, at most 5. Default 2.
    pub retries: u32,
    /// Texts per UTC day, all numbers together; at least 1. Default 200.
    pub daily_budget: u32,
    /// Seconds between two texts to one number; at least 1. Default 60.
    pub cooldown_secs: u64,
    /// Calling codes texts may go to (`"+34"`, `"+44"`); empty (the default): any.
    pub countries: Vec<String>,
    /// How texts name this listener, as users reach it (`files.example.org` or
    /// `files.example.org:4433`): the cancel command in a text must work as written.
    /// Default: the machine's host name.
    pub name: Option<String>,
}

/// `[sms.webhook]`: where texts are POSTed and how the listener authenticates.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The endpoint; must start with `https://` and carry no userinfo (the token goes in
    /// `token_file`).
    pub url: String,
    /// A file holding the bearer token (surrounding white space trimmed), readable by its
    /// owner only (mode 0600 or stricter), read once at start.
    pub token_file: PathBuf,
    /// PEM file of the roots to trust; default: the system bundle.
    pub ca_file: Option<PathBuf>,
}

impl Default for SmsConfig {
    fn default() -> Self {
        let limits = SmsLimits::default();
        SmsConfig {
            spool: None,
            command: None,
            webhook: None,
            timeout_secs: 10,
            retries: 2,
            daily_budget: limits.daily_budget,
            cooldown_secs: limits.cooldown_secs,
            countries: limits.countries,
            name: None,
        }
    }
}

/// The longest `timeout_secs` accepted.
const MAX_TIMEOUT_SECS: u64 = 120;
/// The most `retries` accepted.
const MAX_RETRIES: u32 = 5;

impl SmsConfig {
    /// Values that would switch a defence off, leak a secret, or cannot work.
    pub fn check(&self) -> Result<(), &'static str> {
        if let Some(name) = &self.name {
            let ok = !name.is_empty()
                && name.len() <= 255
                && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
            if !ok {
                return Err("sms.name must be a host name or address as users write it (letters, digits, . - : [ ])");
            }
        }
        let chosen = [self.spool.is_some(), self.command.is_some(), self.webhook.is_some()];
        if chosen.iter().filter(|c| **c).count() > 1 {
            return Err("sms: choose at most one of spool, command and webhook");
        }
        if let Some(argv) = &self.command {
            if argv.first().is_none_or(|p| p.is_empty()) {
                return Err("sms.command needs a program: command = [\"/path/to/program\", \"{to}\"]");
            }
        }
        if let Some(w) = &self.webhook {
            check_url(&w.url)?;
        }
        if !(1..=MAX_TIMEOUT_SECS).contains(&self.timeout_secs) {
            return Err("sms.timeout_secs must be between 1 and 120");
        }
        if self.retries > MAX_RETRIES {
            return Err("sms.retries is at most 5");
        }
        if self.daily_budget == 0 {
            return Err("sms.daily_budget must be at least 1 (remove [sms] to send no texts)");
        }
        if self.cooldown_secs == 0 {
            return Err("sms.cooldown_secs must be at least 1");
        }
        if !self.countries.iter().all(|c| is_calling_code(c)) {
            return Err("sms.countries holds calling codes: + and 1 to 3 digits, like \"+34\" or \"+1\"");
        }
        Ok(())
    }

    /// The cost controls for `policy::sms::SmsLedger` (`max_numbers` at its default).
    pub fn limits(&self) -> SmsLimits {
        SmsLimits {
            daily_budget: self.daily_budget,
            cooldown_secs: self.cooldown_secs,
            countries: self.countries.clone(),
            ..SmsLimits::default()
        }
    }

    /// Build the chosen gateway (checking the section first); with none chosen, the spool at
    /// `data_dir/sms-spool`. A webhook's token and roots are read here, so a bad path or a
    /// token file open to others fails at start, not at the first text.
    pub fn gateway(&self, data_dir: &Path) -> Result<Gateway, SmsError> {
        self.check().map_err(SmsError::Config)?;
        let timeout = Duration::from_secs(self.timeout_secs);
        if let Some(w) = &self.webhook {
            return Ok(Gateway::Webhook(Webhook::new(w, timeout, self.retries)?));
        }
        if let Some(argv) = &self.command {
            return Ok(Gateway::Command { argv: argv.clone(), timeout });
        }
        Ok(Gateway::spool(self.spool.clone().unwrap_or_else(|| data_dir.join(DEFAULT_SPOOL))))
    }

    /// One line for the start-up log: `spool DIR (sends nothing)`, `command PROGRAM` or
    /// `webhook https://host/path` (no userinfo, no query).
    pub fn describe(&self) -> String {
        if let Some(w) = &self.webhook {
            return format!("webhook {}", shown_url(&w.url));
        }
        if let Some(argv) = &self.command {
            return format!("command {}", argv.first().map_or("(none)", String::as_str));
        }
        match &self.spool {
            Some(dir) => format!("spool {} (sends nothing)", dir.display()),
            None => format!("spool DATA_DIR/{DEFAULT_SPOOL} (sends nothing)"),
        }
    }
}

/// The spool's directory under the data directory when `[sms]` names no gateway.
const DEFAULT_SPOOL: &str = "sms-spool";

/// `+` and 1 to 3 digits.
fn is_calling_code(c: &str) -> bool {
    c.strip_prefix('+').is_some_and(|d| (1..=3).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

fn check_url(url: &str) -> Result<(), &'static str> {
    let Some(rest) = url.strip_prefix("https://") else {
        return Err("sms.webhook.url must start with https:// (the token and the texts never travel in clear)");
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err("sms.webhook.url must not carry a user or password; put the token in token_file");
    }
    if url.contains('#') {
        return Err("sms.webhook.url must not carry a #fragment");
    }
    match url.parse::<ureq::http::Uri>() {
        Ok(uri) if uri.host().is_some_and(|h| !h.is_empty()) => Ok(()),
        _ => Err("sms.webhook.url is not a valid URL with a host (https://host/path)"),
    }
}

/// `url` as it may appear in messages: scheme, host, port and path; no userinfo, query or
/// fragment.
fn shown_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!("{scheme}://{host}{path}")
}

/// The largest token file read.
const MAX_TOKEN_BYTES: u64 = 4096;
/// The largest CA file read.
const MAX_CA_BYTES: u64 = 4 << 20;
/// Where the system's roots are looked for, in this order, when no `ca_file` is given.
const SYSTEM_BUNDLES: &[&str] =
    &["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"];
/// The wait before the first retry; it doubles for each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// An HTTPS webhook ready to post: its agent (rustls with ring, the roots loaded, no proxy,
/// no redirects, a timeout per attempt) and its token. `Debug` shows neither the token nor
/// the URL's query.
pub struct Webhook {
    url: String,
    shown: String,
    authorization: String,
    agent: ureq::Agent,
    timeout: Duration,
    retries: u32,
    backoff: Duration,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &self.shown)
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .finish_non_exhaustive()
    }
}

impl Webhook {
    /// Read the token and the roots named by `cfg` and build the client: each attempt bounded
    /// by `timeout`, `retries` further attempts after network errors and 5xx answers.
    pub fn new(cfg: &WebhookConfig, timeout: Duration, retries: u32) -> Result<Webhook, SmsError> {
        check_url(&cfg.url).map_err(SmsError::Config)?;
        let token = read_token(&cfg.token_file)?;
        let roots = match &cfg.ca_file {
            Some(path) => read_roots(path).map_err(|reason| SmsError::CaFile { path: path.clone(), reason })?,
            None => system_roots(SYSTEM_BUNDLES)?,
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(provider)
            .root_certs(ureq::tls::RootCerts::Specific(Arc::new(roots)))
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .https_only(true)
            .proxy(None)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .user_agent(concat!("qxfer/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Ok(Webhook {
            url: cfg.url.clone(),
            shown: shown_url(&cfg.url),
            authorization: format!("Bearer {token}"),
            agent,
            timeout,
            retries,
            backoff: FIRST_BACKOFF,
        })
    }

    /// POST `{"to": to, "text": text}`; a 2xx is success. Network errors and 5xx answers
    /// are retried (a request that timed out may have reached the provider, so a retry can
    /// deliver a text twice); 4xx, 3xx and TLS failures are not.
    fn post(&self, to: &str, text: &str) -> Result<(), SmsError> {
        let body = message_body(to, text);
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let sent = self
                .agent
                .post(&self.url)
                .header("Authorization", &self.authorization)
                .header("Content-Type", "application/json")
                .send(body.as_str());
            let (error, retry) = match sent {
                Ok(answer) if answer.status().is_success() => return Ok(()),
                Ok(answer) => {
                    let status = answer.status();
                    let error = SmsError::Status { url: self.shown.clone(), status: status.as_u16(), attempts };
                    (error, status.is_server_error())
                }
                Err(e) => (self.failure(&e, attempts), retryable(&e)),
            };
            if !retry || attempts > self.retries {
                return Err(error);
            }
            std::thread::sleep(self.backoff.saturating_mul(1 << (attempts - 1).min(16)));
        }
    }

    /// An error worth showing: no token, text or query in it (ureq's errors that carry a
    /// URI are replaced by a fixed reason).
    fn failure(&self, e: &ureq::Error, attempts: u32) -> SmsError {
        let url = self.shown.clone();
        let reason = match e {
            ureq::Error::Timeout(_) => return SmsError::WebhookTimeout { url, secs: self.timeout.as_secs(), attempts },
            ureq::Error::BadUri(_) => "the URL cannot be used".to_owned(),
            ureq::Error::RequireHttpsOnly(_) => "only https:// is allowed".to_owned(),
            ureq::Error::ConnectProxyFailed(_) => "a proxy refused the connection".to_owned(),
            ureq::Error::HostNotFound => "its host name did not resolve".to_owned(),
            other => other.to_string(),
        };
        SmsError::Webhook { url, reason, attempts }
    }
}

/// Whether another attempt may succeed: network trouble yes; a certificate the roots do
/// not vouch for, or a request ureq refuses to make, no.
fn retryable(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Io(io) => io.get_ref().is_none_or(|inner| !inner.is::<rustls::Error>()),
        ureq::Error::Timeout(_)
        | ureq::Error::HostNotFound
        | ureq::Error::ConnectionFailed
        | ureq::Error::Protocol(_)
        | ureq::Error::BodyStalled => true,
        _ => false,
    }
}

/// The bearer token in `path`, trimmed: the file must be readable by its owner only (as ssh
/// asks of keys), at most 4 KiB, and the token non-empty, printable ASCII without spaces.
fn read_token(path: &Path) -> Result<String, SmsError> {
    use std::os::unix::fs::PermissionsExt;
    let refuse = |reason: String| SmsError::Token { path: path.to_owned(), reason };
    let file = std::fs::File::open(path).map_err(|e| refuse(format!("cannot be opened: {e}")))?;
    let meta = file.metadata().map_err(|e| refuse(format!("cannot be read: {e}")))?;
    if !meta.is_file() {
        return Err(refuse("is not a regular file".to_owned()));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(refuse(format!(
            "is open to group or others (mode {mode:03o}); run chmod 600 on it, as ssh asks of keys"
        )));
    }
    let mut bytes = Vec::new();
    file.take(MAX_TOKEN_BYTES + 1).read_to_end(&mut bytes).map_err(|e| refuse(format!("cannot be read: {e}")))?;
    if bytes.len() as u64 > MAX_TOKEN_BYTES {
        return Err(refuse(format!("is longer than {MAX_TOKEN_BYTES} bytes")));
    }
    let token = bytes.trim_ascii();
    if token.is_empty() {
        return Err(refuse("is empty".to_owned()));
    }
    if !token.iter().all(|b| b.is_ascii_graphic()) {
        return Err(refuse("holds characters a bearer token cannot carry (spaces, control or non-ASCII)".to_owned()));
    }
    // All ASCII, checked above.
    Ok(token.iter().map(|&b| char::from(b)).collect())
}

/// The certificates of the PEM file `path`, at least one of them usable as a root.
fn read_roots(path: &Path) -> Result<Vec<ureq::tls::Certificate<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let file = std::fs::File::open(path).map_err(|e| format!("cannot be opened: {e}"))?;
    let mut pem = Vec::new();
    file.take(MAX_CA_BYTES + 1).read_to_end(&mut pem).map_err(|e| format!("cannot be read: {e}"))?;
    if pem.len() as u64 > MAX_CA_BYTES {
        return Err(format!("is larger than {} MiB", MAX_CA_BYTES >> 20));
    }
    let ders =
        CertificateDer::pem_slice_iter(&pem).collect::<Result<Vec<_>, _>>().map_err(|e| format!("is not PEM: {e}"))?;
    // ureq skips certificates rustls cannot parse without a word: count them here.
    let mut store = rustls::RootCertStore::empty();
    let (usable, _) = store.add_parsable_certificates(ders.iter().cloned());
    if usable == 0 {
        return Err("holds no usable certificate (PEM \"BEGIN CERTIFICATE\" blocks)".to_owned());
    }
    Ok(ders.iter().map(|d| ureq::tls::Certificate::from_der(d.as_ref()).to_owned()).collect())
}

/// The roots of the first bundle in `paths` that reads; the error names every path tried.
fn system_roots(paths: &[&str]) -> Result<Vec<ureq::tls::Certificate<'static>>, SmsError> {
    let mut tried = Vec::new();
    for path in paths {
        match read_roots(Path::new(path)) {
            Ok(roots) => return Ok(roots),
            Err(reason) => tried.push(format!("{path}: {reason}")),
        }
    }
    Err(SmsError::NoSystemRoots { tried: tried.join("; ") })
}

fn spool(dir: &Path, name: &str, to: &str, text: &str) -> Result<(), SmsError> {
    use std::os::unix::fs::OpenOptionsExt;
    let err = |e| SmsError::Spool(dir.to_owned(), e);
    crate::files::create_private_dir(dir).map_err(err)?;
    let body = message_body(to, text);
    let tmp = dir.join(format!(".{name}.part"));
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).map_err(err)?;
    f.write_all(body.as_bytes()).and_then(|_| f.sync_all()).map_err(err)?;
    std::fs::rename(&tmp, dir.join(name)).map_err(err)
}

fn command(argv: &[String], timeout: Duration, to: &str, text: &str) -> Result<(), SmsError> {
    let (program, args) = argv.split_first().ok_or(SmsError::NoCommand)?;
    let shown = program.clone();
    let mut child = Command::new(program)
        .args(args.iter().map(|a| a.replace("{to}", to)))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| SmsError::Start(shown.clone(), e))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A text is far smaller than a pipe's buffer: writing it never waits on the command.
        let _ = stdin.write_all(text.as_bytes());
    }
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(SmsError::Failed(shown, status)),
            Ok(None) if started.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(SmsError::Timeout(shown, timeout.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(SmsError::Start(shown, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spool_writes_one_private_json_file_per_text() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spool_dir = dir.path().join("sms");
        let g = Gateway::spool(spool_dir.clone());
        g.send("+34600000001", "code 12345678", 1_800_000_000_000).expect("first");
        g.send("+34600000002", "code 87654321", 1_800_000_000_000).expect("second");
        let mut names: Vec<String> = std::fs::read_dir(&spool_dir)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["1800000000000-0.json", "1800000000000-1.json"]);
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(spool_dir.join(&names[0])).expect("read")).expect("json");
        assert_eq!((v["to"].as_str(), v["text"].as_str()), (Some("+34600000001"), Some("code 12345678")));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(spool_dir.join(&names[0])).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(std::fs::metadata(&spool_dir).expect("meta").permissions().mode() & 0o777, 0o700);
    }

    #[test]
    fn the_command_gets_the_number_in_its_arguments_and_the_text_on_stdin() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("out");
        let script = format!("cat > {}; echo \"$1\" >> {}", out.display(), out.display());
        let argv = vec!["sh".into(), "-c".into(), script, "sms".into(), "{to}".into()];
        let g = Gateway::Command { argv, timeout: Duration::from_secs(5) };
        g.send("+34600000001", "code 12345678\n", 0).expect("sent");
        assert_eq!(std::fs::read_to_string(&out).expect("out"), "code 12345678\n+34600000001\n");
    }

    #[test]
    fn a_failing_or_hanging_command_is_reported() {
        let fail = Gateway::Command { argv: vec!["false".into()], timeout: Duration::from_secs(5) };
        assert!(matches!(fail.send("+1", "x", 0), Err(SmsError::Failed(..))));
        let hang = Gateway::Command { argv: vec!["sleep".into(), "30".into()], timeout: Duration::from_millis(200) };
        let started = Instant::now();
        assert!(matches!(hang.send("+1", "x", 0), Err(SmsError::Timeout(..))));
        assert!(started.elapsed() < Duration::from_secs(5));
        let missing = Gateway::Command { argv: vec!["/no/such/sms-tool".into()], timeout: Duration::from_secs(1) };
        assert!(matches!(missing.send("+1", "x", 0), Err(SmsError::Start(..))));
        assert!(matches!(
            Gateway::Command { argv: vec![], timeout: Duration::from_secs(1) }.send("+1", "x", 0),
            Err(SmsError::NoCommand)
        ));
    }

    // ---- the webhook, against a small HTTPS server on 127.0.0.1 ----

    use std::net::TcpListener;
    use std::sync::atomic::{AtomicBool, AtomicUsize};
    use std::sync::Mutex;

    const TOKEN: &str = "tok-3f9a1c77d2e8";
    const TEXT: &str = "Your qxfer code is 4711 0815";

    /// How the test server answers.
    #[derive(Clone, Copy)]
    enum Answer {
        /// Read the request, answer this status.
        Status(u16),
        /// Read the request, never answer.
        Hang,
        /// Accept the TCP connection, never speak (no TLS handshake).
        Silent,
    }

    /// One request the server read.
    #[derive(Debug, Clone)]
    struct Seen {
        request_line: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Seen {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
        }
    }

    struct Server {
        port: u16,
        cert_pem: String,
        seen: Arc<Mutex<Vec<Seen>>>,
        connections: Arc<AtomicUsize>,
        stop: Arc<AtomicBool>,
    }

    impl Drop for Server {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::Relaxed);
        }
    }

    impl Server {
        fn seen(&self) -> Vec<Seen> {
            self.seen.lock().expect("lock").clone()
        }
    }

    /// An HTTPS server on 127.0.0.1 with a fresh self-signed certificate for localhost and
    /// 127.0.0.1, one request per connection; it stops when dropped (or after 30 s).
    fn server(answer: Answer) -> Server {
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("certificate");
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
        let tls = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![ck.cert.der().clone()], key)
            .expect("server config");
        let tls = Arc::new(tls);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, connections2, stop2) = (seen.clone(), connections.clone(), stop.clone());
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(30);
            let mut held: Vec<Box<dyn Send>> = Vec::new();
            while !stop2.load(Ordering::Relaxed) && Instant::now() < deadline {
                let tcp = match listener.accept() {
                    Ok((tcp, _)) => tcp,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                    Err(_) => return,
                };
                connections2.fetch_add(1, Ordering::Relaxed);
                let _ = tcp.set_nonblocking(false);
                let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
                if let Answer::Silent = answer {
                    held.push(Box::new(tcp));
                    continue;
                }
                let Ok(conn) = rustls::ServerConnection::new(tls.clone()) else { continue };
                let mut stream = rustls::StreamOwned::new(conn, tcp);
                let Some(request) = read_request(&mut stream) else { continue };
                seen2.lock().expect("lock").push(request);
                match answer {
                    Answer::Status(status) => {
                        let head = format!("HTTP/1.1 {status} Test\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                        let _ = stream.write_all(head.as_bytes());
                        stream.conn.send_close_notify();
                        let _ = stream.flush();
                    }
                    Answer::Hang | Answer::Silent => held.push(Box::new(stream)),
                }
            }
        });
        Server { port, cert_pem: ck.cert.pem(), seen, connections, stop }
    }

    /// An HTTP/1.1 request: head up to the blank line, then a Content-Length body.
    fn read_request(stream: &mut impl Read) -> Option<Seen> {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            let n = stream.read(&mut chunk).ok().filter(|n| *n > 0)?;
            buf.extend_from_slice(&chunk[..n]);
            if buf.len() > 64 << 10 {
                return None;
            }
        };
        let head = String::from_utf8(buf[..head_end].to_vec()).ok()?;
        let mut lines = head.split("\r\n");
        let request_line = lines.next()?.to_owned();
        let headers: Vec<(String, String)> =
            lines.filter_map(|l| l.split_once(':')).map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned())).collect();
        let mut seen = Seen { request_line, headers, body: buf[head_end + 4..].to_vec() };
        let length: usize = seen.header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        while seen.body.len() < length {
            let n = stream.read(&mut chunk).ok().filter(|n| *n > 0)?;
            seen.body.extend_from_slice(&chunk[..n]);
        }
        Some(seen)
    }

    fn write_private(path: &Path, contents: &str, mode: u32) {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(path).expect("create");
        f.write_all(contents.as_bytes()).expect("write");
    }

    /// An `[sms]` section for a webhook at `port` on 127.0.0.1 trusting `ca_pem`; the token
    /// (with a trailing newline, as editors leave it) in a 0600 file.
    fn webhook_config(dir: &Path, port: u16, ca_pem: &str, timeout_secs: u64, retries: u32) -> SmsConfig {
        let ca_file = dir.join("ca.pem");
        let token_file = dir.join("token");
        std::fs::write(&ca_file, ca_pem).expect("ca");
        if !token_file.exists() {
            write_private(&token_file, &format!("{TOKEN}\n"), 0o600);
        }
        let url = format!("https://127.0.0.1:{port}/v1/sms?account=7");
        SmsConfig {
            webhook: Some(WebhookConfig { url, token_file, ca_file: Some(ca_file) }),
            timeout_secs,
            retries,
            ..SmsConfig::default()
        }
    }

    /// The gateway of `cfg`, with a short backoff so retry tests stay quick.
    fn quick_gateway(cfg: &SmsConfig, data_dir: &Path) -> Gateway {
        let mut g = cfg.gateway(data_dir).expect("gateway");
        if let Gateway::Webhook(w) = &mut g {
            w.backoff = Duration::from_millis(10);
        }
        g
    }

    /// Nothing secret in what an error or the gateway's Debug shows.
    fn assert_discreet(shown: &str) {
        for secret in [TOKEN, TEXT, "account=7"] {
            assert!(!shown.contains(secret), "{secret:?} shown in {shown:?}");
        }
    }

    #[test]
    fn the_webhook_posts_the_json_with_the_bearer_token() {
        let server = server(Answer::Status(202));
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = webhook_config(dir.path(), server.port, &server.cert_pem, 5, 2);
        let g = cfg.gateway(dir.path()).expect("gateway");
        assert_discreet(&format!("{g:?}"));
        g.send("+34600000001", TEXT, 0).expect("sent");
        let seen = server.seen();
        assert_eq!(seen.len(), 1);
        let r = &seen[0];
        assert_eq!(r.request_line, "POST /v1/sms?account=7 HTTP/1.1");
        assert_eq!(r.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
        assert_eq!(r.header("content-type"), Some("application/json"));
        let body: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(body, serde_json::json!({ "to": "+34600000001", "text": TEXT }));
        assert_eq!(r.body, message_body("+34600000001", TEXT).as_bytes());
        assert_eq!(cfg.describe(), format!("webhook https://127.0.0.1:{}/v1/sms", server.port));
    }

    #[test]
    fn a_5xx_is_retried_and_a_4xx_is_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let failing = server(Answer::Status(500));
        let g = quick_gateway(&webhook_config(dir.path(), failing.port, &failing.cert_pem, 5, 2), dir.path());
        let err = g.send("+34600000001", TEXT, 0).expect_err("500");
        assert!(matches!(err, SmsError::Status { status: 500, attempts: 3, .. }), "{err:?}");
        assert_eq!(failing.seen().len(), 3);
        assert_discreet(&err.to_string());
        assert!(err.to_string().contains(&format!("https://127.0.0.1:{}/v1/sms", failing.port)), "{err}");

        let refusing = server(Answer::Status(400));
        let g = quick_gateway(&webhook_config(dir.path(), refusing.port, &refusing.cert_pem, 5, 2), dir.path());
        let err = g.send("+34600000001", TEXT, 0).expect_err("400");
        assert!(matches!(err, SmsError::Status { status: 400, attempts: 1, .. }), "{err:?}");
        assert_eq!(refusing.seen().len(), 1);
        assert_discreet(&err.to_string());
    }

    #[test]
    fn a_certificate_the_roots_do_not_vouch_for_is_refused_without_retries() {
        let server = server(Answer::Status(200));
        let other = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("other");
        let dir = tempfile::tempdir().expect("tempdir");
        let g = quick_gateway(&webhook_config(dir.path(), server.port, &other.cert.pem(), 5, 2), dir.path());
        let err = g.send("+34600000001", TEXT, 0).expect_err("untrusted");
        assert!(matches!(err, SmsError::Webhook { attempts: 1, .. }), "{err:?}");
        assert!(server.seen().is_empty());
        assert_eq!(server.connections.load(Ordering::Relaxed), 1);
        assert_discreet(&err.to_string());
    }

    #[test]
    fn a_webhook_that_never_answers_times_out() {
        for answer in [Answer::Hang, Answer::Silent] {
            let server = server(answer);
            let dir = tempfile::tempdir().expect("tempdir");
            let g = webhook_config(dir.path(), server.port, &server.cert_pem, 1, 0).gateway(dir.path()).expect("gw");
            let started = Instant::now();
            let err = g.send("+34600000001", TEXT, 0).expect_err("timeout");
            let took = started.elapsed();
            assert!(matches!(err, SmsError::WebhookTimeout { secs: 1, attempts: 1, .. }), "{err:?}");
            assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(4), "{took:?}");
            assert_discreet(&err.to_string());
        }
    }

    // ---- the [sms] section ----

    fn parse(text: &str) -> Result<SmsConfig, String> {
        let cfg: SmsConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        cfg.check().map_err(str::to_owned)?;
        Ok(cfg)
    }

    #[test]
    fn the_section_parses_with_defaults_and_limits() {
        let empty = parse("").expect("empty");
        assert_eq!(empty, SmsConfig::default());
        assert_eq!((empty.timeout_secs, empty.retries), (10, 2));
        assert_eq!(empty.limits(), SmsLimits::default());
        let cfg = parse(
            "timeout_secs = 5\nretries = 1\ndaily_budget = 50\ncooldown_secs = 120\ncountries = [\"+34\", \"+1\"]\n\
             [webhook]\nurl = \"https://user:pw@sms.example:8443/v1/send?key=x\"\ntoken_file = \"/etc/qxfer/sms-token\"\n",
        );
        assert!(cfg.is_err(), "userinfo in the URL is refused");
        let cfg = parse(
            "timeout_secs = 5\nretries = 1\ndaily_budget = 50\ncooldown_secs = 120\ncountries = [\"+34\", \"+1\"]\n\
             [webhook]\nurl = \"https://sms.example:8443/v1/send?key=x\"\ntoken_file = \"/etc/qxfer/sms-token\"\n",
        )
        .expect("webhook");
        let w = cfg.webhook.as_ref().expect("webhook");
        assert_eq!((w.token_file.as_path(), w.ca_file.as_deref()), (Path::new("/etc/qxfer/sms-token"), None));
        assert_eq!(cfg.describe(), "webhook https://sms.example:8443/v1/send");
        let l = cfg.limits();
        assert_eq!((l.daily_budget, l.cooldown_secs, l.countries.clone()), (50, 120, vec!["+34".into(), "+1".into()]));
        assert_eq!(l.max_numbers, SmsLimits::default().max_numbers);
        let cmd = parse("command = [\"/usr/local/bin/send-sms\", \"{to}\"]\n").expect("command");
        assert_eq!(cmd.describe(), "command /usr/local/bin/send-sms");
        assert_eq!(
            parse("spool = \"/var/tmp/sms\"\n").expect("spool").describe(),
            "spool /var/tmp/sms (sends nothing)"
        );
    }

    #[test]
    fn the_section_refuses_what_would_not_work_or_would_leak() {
        let hook = "[webhook]\nurl = \"https://sms.example/send\"\ntoken_file = \"/t\"\n";
        for bad in [
            "spool = \"/tmp/s\"\ncommand = [\"x\"]\n".to_owned(),
            format!("spool = \"/tmp/s\"\n{hook}"),
            format!("command = [\"x\"]\n{hook}"),
            "[webhook]\nurl = \"http://sms.example/send\"\ntoken_file = \"/t\"\n".to_owned(),
            "[webhook]\nurl = \"HTTPS://sms.example/send\"\ntoken_file = \"/t\"\n".to_owned(),
            "[webhook]\nurl = \"https://\"\ntoken_file = \"/t\"\n".to_owned(),
            "[webhook]\nurl = \"https://sms.example/send#x\"\ntoken_file = \"/t\"\n".to_owned(),
            "[webhook]\nurl = \"https://sms.example/send\"\n".to_owned(),
            format!("{hook}token = \"inline\"\n"),
            "command = []\n".to_owned(),
            "command = [\"\", \"{to}\"]\n".to_owned(),
            "countries = [\"34\"]\n".to_owned(),
            "countries = [\"+1234\"]\n".to_owned(),
            "countries = [\"+\"]\n".to_owned(),
            "countries = [\"+3a\"]\n".to_owned(),
            "daily_budget = 0\n".to_owned(),
            "cooldown_secs = 0\n".to_owned(),
            "timeout_secs = 0\n".to_owned(),
            "timeout_secs = 121\n".to_owned(),
            "retries = 6\n".to_owned(),
            "no_such_knob = 1\n".to_owned(),
        ] {
            assert!(parse(&bad).is_err(), "accepted: {bad}");
        }
        let http = parse("[webhook]\nurl = \"http://sms.example/send\"\ntoken_file = \"/t\"\n").expect_err("http");
        assert!(http.contains("https://"), "{http}");
        assert!(parse("countries = [\"+1\", \"+44\", \"+358\"]\ntimeout_secs = 120\nretries = 5\n").is_ok());
    }

    #[test]
    fn the_default_gateway_is_the_spool_under_the_data_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = SmsConfig::default();
        match cfg.gateway(dir.path()).expect("gateway") {
            Gateway::Spool { dir: spool, .. } => assert_eq!(spool, dir.path().join("sms-spool")),
            other => panic!("not the spool: {other:?}"),
        }
        assert_eq!(cfg.describe(), "spool DATA_DIR/sms-spool (sends nothing)");
        let cmd = SmsConfig { command: Some(vec!["send-sms".into()]), timeout_secs: 7, ..SmsConfig::default() };
        assert!(
            matches!(cmd.gateway(dir.path()), Ok(Gateway::Command { timeout, .. }) if timeout == Duration::from_secs(7))
        );
        let both = SmsConfig { spool: Some(dir.path().into()), ..cmd };
        assert!(matches!(both.gateway(dir.path()), Err(SmsError::Config(_))));
    }

    #[test]
    fn a_token_file_open_to_others_missing_or_empty_is_refused_at_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = webhook_config(dir.path(), 9, "", 5, 0);
        let ca = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
        std::fs::write(dir.path().join("ca.pem"), ca.cert.pem()).expect("ca");
        assert!(cfg.gateway(dir.path()).is_ok(), "the 0600 token file and the CA are fine");
        let set_token = |cfg: &mut SmsConfig, name: &str, contents: &str, mode: u32| {
            let path = dir.path().join(name);
            write_private(&path, contents, mode);
            if let Some(w) = cfg.webhook.as_mut() {
                w.token_file = path;
            }
        };
        set_token(&mut cfg, "open", TOKEN, 0o644);
        let err = cfg.gateway(dir.path()).expect_err("0644");
        assert!(matches!(err, SmsError::Token { .. }) && err.to_string().contains("chmod 600"), "{err}");
        assert_discreet(&err.to_string());
        set_token(&mut cfg, "group", TOKEN, 0o640);
        assert!(matches!(cfg.gateway(dir.path()), Err(SmsError::Token { .. })));
        set_token(&mut cfg, "blank", " \n\t\n", 0o600);
        let err = cfg.gateway(dir.path()).expect_err("empty");
        assert!(err.to_string().contains("empty"), "{err}");
        set_token(&mut cfg, "spaced", "two words", 0o600);
        assert!(matches!(cfg.gateway(dir.path()), Err(SmsError::Token { .. })));
        if let Some(w) = cfg.webhook.as_mut() {
            w.token_file = dir.path().join("missing");
        }
        assert!(matches!(cfg.gateway(dir.path()), Err(SmsError::Token { .. })));
    }

    #[test]
    fn roots_come_from_the_ca_file_or_a_named_system_bundle() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = webhook_config(dir.path(), 9, "not a certificate\n", 5, 0);
        assert!(matches!(cfg.gateway(dir.path()), Err(SmsError::CaFile { .. })));
        if let Some(w) = cfg.webhook.as_mut() {
            w.ca_file = Some(dir.path().join("missing.pem"));
        }
        assert!(matches!(cfg.gateway(dir.path()), Err(SmsError::CaFile { .. })));
        let err = system_roots(&["/no/such/bundle.crt", "/no/such/other.pem"]).expect_err("none");
        let shown = err.to_string();
        assert!(shown.contains("/no/such/bundle.crt") && shown.contains("/no/such/other.pem"), "{shown}");
        assert!(shown.contains("ca_file"), "{shown}");
        // Without ca_file, the first readable system bundle (or an error naming all three).
        if let Some(w) = cfg.webhook.as_mut() {
            w.ca_file = None;
        }
        match cfg.gateway(dir.path()) {
            Ok(_) => assert!(SYSTEM_BUNDLES.iter().any(|p| Path::new(p).exists())),
            Err(SmsError::NoSystemRoots { tried }) => assert!(SYSTEM_BUNDLES.iter().all(|p| tried.contains(p))),
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn urls_are_shown_without_userinfo_query_or_fragment() {
        assert_eq!(shown_url("https://u:p@h.example:8443/a/b?k=v#f"), "https://h.example:8443/a/b");
        assert_eq!(shown_url("https://h.example?k=v"), "https://h.example");
        assert_eq!(shown_url("https://[::1]:443/x"), "https://[::1]:443/x");
    }
}
