//! The `webhook` gateway: an HTTPS POST of the JSON body with `Authorization: Bearer
//! <token>`, over rustls with the ring provider passed explicitly (no process-wide default is
//! consulted), trusting the roots of `ca_file` or of the system bundle. Only `https://` URLs;
//! no proxy from the environment, no redirects followed. Each attempt is bounded by the
//! timeout (connect, handshake, request and response together); network errors and 5xx
//! answers are retried with a doubling backoff from 200 ms, a 4xx never. The token is read
//! once, when the gateway is built, from a file only its owner may read. Neither the token
//! nor the text appears in the errors or `Debug` output, and the URL only without its
//! userinfo and query. Also `[sms.webhook]` ([`WebhookConfig`]) and the rules its URL must
//! meet.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::error::{RootsError, SmsError};
use super::message::message_body;

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

/// The rules `sms.webhook.url` must meet: `https://`, a host, no userinfo, no fragment.
pub(super) fn check_url(url: &str) -> Result<(), &'static str> {
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
pub(super) fn shown_url(url: &str) -> String {
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
    pub(super) fn post(&self, to: &str, text: &str) -> Result<(), SmsError> {
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
fn read_roots(path: &Path) -> Result<Vec<ureq::tls::Certificate<'static>>, RootsError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let file = std::fs::File::open(path).map_err(RootsError::Open)?;
    let mut pem = Vec::new();
    file.take(MAX_CA_BYTES + 1).read_to_end(&mut pem).map_err(RootsError::Read)?;
    if pem.len() as u64 > MAX_CA_BYTES {
        return Err(RootsError::TooLarge(MAX_CA_BYTES >> 20));
    }
    let ders = CertificateDer::pem_slice_iter(&pem).collect::<Result<Vec<_>, _>>().map_err(RootsError::NotPem)?;
    // ureq skips certificates rustls cannot parse without a word: count them here.
    let mut store = rustls::RootCertStore::empty();
    let (usable, _) = store.add_parsable_certificates(ders.iter().cloned());
    if usable == 0 {
        return Err(RootsError::NoUsable);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::atomic::Ordering;
    use std::time::Instant;

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
    fn webhook_config(dir: &Path, port: u16, ca_pem: &str) -> WebhookConfig {
        let ca_file = dir.join("ca.pem");
        let token_file = dir.join("token");
        std::fs::write(&ca_file, ca_pem).expect("ca");
        if !token_file.exists() {
            write_private(&token_file, &format!("{TOKEN}\n"), 0o600);
        }
        let url = format!("https://127.0.0.1:{port}/v1/sms?account=7");
        WebhookConfig { url, token_file, ca_file: Some(ca_file) }
    }

    /// The webhook of `cfg`: `timeout_secs` per attempt, `retries` further attempts.
    fn webhook(cfg: &WebhookConfig, timeout_secs: u64, retries: u32) -> Result<Webhook, SmsError> {
        Webhook::new(cfg, Duration::from_secs(timeout_secs), retries)
    }

    /// The webhook of `cfg`, with a short backoff so retry tests stay quick.
    fn quick_webhook(cfg: &WebhookConfig, timeout_secs: u64, retries: u32) -> Webhook {
        let mut w = webhook(cfg, timeout_secs, retries).expect("webhook");
        w.backoff = Duration::from_millis(10);
        w
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
        let cfg = webhook_config(dir.path(), server.port, &server.cert_pem);
        let w = webhook(&cfg, 5, 2).expect("webhook");
        assert_discreet(&format!("{w:?}"));
        w.post("+34600000001", TEXT).expect("sent");
        let seen = server.seen();
        assert_eq!(seen.len(), 1);
        let r = &seen[0];
        assert_eq!(r.request_line, "POST /v1/sms?account=7 HTTP/1.1");
        assert_eq!(r.header("authorization"), Some(format!("Bearer {TOKEN}").as_str()));
        assert_eq!(r.header("content-type"), Some("application/json"));
        let body: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(body, serde_json::json!({ "to": "+34600000001", "text": TEXT }));
        assert_eq!(r.body, message_body("+34600000001", TEXT).as_bytes());
        assert_eq!(shown_url(&cfg.url), format!("https://127.0.0.1:{}/v1/sms", server.port));
    }

    #[test]
    fn a_5xx_is_retried_and_a_4xx_is_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let failing = server(Answer::Status(500));
        let g = quick_webhook(&webhook_config(dir.path(), failing.port, &failing.cert_pem), 5, 2);
        let err = g.post("+34600000001", TEXT).expect_err("500");
        assert!(matches!(err, SmsError::Status { status: 500, attempts: 3, .. }), "{err:?}");
        assert_eq!(failing.seen().len(), 3);
        assert_discreet(&err.to_string());
        assert!(err.to_string().contains(&format!("https://127.0.0.1:{}/v1/sms", failing.port)), "{err}");

        let refusing = server(Answer::Status(400));
        let g = quick_webhook(&webhook_config(dir.path(), refusing.port, &refusing.cert_pem), 5, 2);
        let err = g.post("+34600000001", TEXT).expect_err("400");
        assert!(matches!(err, SmsError::Status { status: 400, attempts: 1, .. }), "{err:?}");
        assert_eq!(refusing.seen().len(), 1);
        assert_discreet(&err.to_string());
    }

    #[test]
    fn a_certificate_the_roots_do_not_vouch_for_is_refused_without_retries() {
        let server = server(Answer::Status(200));
        let other = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("other");
        let dir = tempfile::tempdir().expect("tempdir");
        let g = quick_webhook(&webhook_config(dir.path(), server.port, &other.cert.pem()), 5, 2);
        let err = g.post("+34600000001", TEXT).expect_err("untrusted");
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
            let g = webhook(&webhook_config(dir.path(), server.port, &server.cert_pem), 1, 0).expect("webhook");
            let started = Instant::now();
            let err = g.post("+34600000001", TEXT).expect_err("timeout");
            let took = started.elapsed();
            assert!(matches!(err, SmsError::WebhookTimeout { secs: 1, attempts: 1, .. }), "{err:?}");
            assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(4), "{took:?}");
            assert_discreet(&err.to_string());
        }
    }

    #[test]
    fn a_token_file_open_to_others_missing_or_empty_is_refused_at_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = webhook_config(dir.path(), 9, "");
        let ca = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
        std::fs::write(dir.path().join("ca.pem"), ca.cert.pem()).expect("ca");
        assert!(webhook(&cfg, 5, 0).is_ok(), "the 0600 token file and the CA are fine");
        let set_token = |cfg: &mut WebhookConfig, name: &str, contents: &str, mode: u32| {
            let path = dir.path().join(name);
            write_private(&path, contents, mode);
            cfg.token_file = path;
        };
        set_token(&mut cfg, "open", TOKEN, 0o644);
        let err = webhook(&cfg, 5, 0).expect_err("0644");
        assert!(matches!(err, SmsError::Token { .. }) && err.to_string().contains("chmod 600"), "{err}");
        assert_discreet(&err.to_string());
        set_token(&mut cfg, "group", TOKEN, 0o640);
        assert!(matches!(webhook(&cfg, 5, 0), Err(SmsError::Token { .. })));
        set_token(&mut cfg, "blank", " \n\t\n", 0o600);
        let err = webhook(&cfg, 5, 0).expect_err("empty");
        assert!(err.to_string().contains("empty"), "{err}");
        set_token(&mut cfg, "spaced", "two words", 0o600);
        assert!(matches!(webhook(&cfg, 5, 0), Err(SmsError::Token { .. })));
        cfg.token_file = dir.path().join("missing");
        assert!(matches!(webhook(&cfg, 5, 0), Err(SmsError::Token { .. })));
    }

    #[test]
    fn roots_come_from_the_ca_file_or_a_named_system_bundle() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = webhook_config(dir.path(), 9, "not a certificate\n");
        assert!(matches!(webhook(&cfg, 5, 0), Err(SmsError::CaFile { .. })));
        cfg.ca_file = Some(dir.path().join("missing.pem"));
        assert!(matches!(webhook(&cfg, 5, 0), Err(SmsError::CaFile { .. })));
        let err = system_roots(&["/no/such/bundle.crt", "/no/such/other.pem"]).expect_err("none");
        let shown = err.to_string();
        assert!(shown.contains("/no/such/bundle.crt") && shown.contains("/no/such/other.pem"), "{shown}");
        assert!(shown.contains("ca_file"), "{shown}");
        // Without ca_file, the first readable system bundle (or an error naming all three).
        cfg.ca_file = None;
        match webhook(&cfg, 5, 0) {
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
