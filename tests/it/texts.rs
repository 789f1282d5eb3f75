//! Texts through the real gateways, from a real listener: the webhook posts the right JSON
//! with the bearer token to a local HTTPS server started here; a webhook that hangs is
//! reported and holds up nothing else; the command gets the number in its arguments and
//! the text on stdin.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::*;

const PHONE: &str = "+34612345678";
const TOKEN: &str = "s3cret-bearer-token";

/// One request the server read: its head and body.
#[derive(Debug, Clone)]
struct Seen {
    head: String,
    body: String,
}

/// An HTTPS server on 127.0.0.1 (a fresh self-signed certificate for 127.0.0.1) that
/// answers 200, or never answers (`hang`). Stops when dropped, or after 60 s.
struct Server {
    port: u16,
    cert_pem: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn server(hang: bool) -> Server {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).expect("certificate");
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
    let stop = Arc::new(AtomicBool::new(false));
    let (seen2, stop2) = (seen.clone(), stop.clone());
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut held = Vec::new();
        while !stop2.load(Ordering::Relaxed) && Instant::now() < deadline {
            let tcp = match listener.accept() {
                Ok((tcp, _)) => tcp,
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
            };
            let _ = tcp.set_nonblocking(false);
            let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
            let Ok(conn) = rustls::ServerConnection::new(tls.clone()) else { continue };
            let mut stream = rustls::StreamOwned::new(conn, tcp);
            let Some(request) = read_request(&mut stream) else { continue };
            seen2.lock().expect("lock").push(request);
            if hang {
                held.push(stream);
                continue;
            }
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            stream.conn.send_close_notify();
            let _ = stream.flush();
        }
    });
    Server { port, cert_pem: ck.cert.pem(), seen, stop }
}

fn read_request(stream: &mut impl Read) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = stream.read(&mut chunk).ok().filter(|n| *n > 0)?;
        buf.extend_from_slice(chunk.get(..n)?);
        if buf.len() > 64 << 10 {
            return None;
        }
    };
    let head = String::from_utf8(buf.get(..end)?.to_vec()).ok()?;
    let length: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf.get(end + 4..)?.to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).ok().filter(|n| *n > 0)?;
        body.extend_from_slice(chunk.get(..n)?);
    }
    Some(Seen { head, body: String::from_utf8_lossy(&body).into_owned() })
}

/// A listener whose texts go to `server`'s webhook.
fn listener_with_webhook(server: &Server, extra: &str) -> Listener {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &server.cert_pem).expect("ca");
    let token = dir.path().join("token");
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&token).expect("token");
        f.write_all(format!("{TOKEN}\n").as_bytes()).expect("token");
    }
    let l = Listener::with_config(&format!(
        "[scoring]\nthreshold = 1000000\nprefix_threshold = 1000000\n[challenges]\nmin_bits = 8\nmax_bits = 12\n\
         [sms]\n{extra}\nwebhook = {{ url = \"https://127.0.0.1:{}/v1/sms\", token_file = {:?}, ca_file = {:?} }}\n",
        server.port,
        token.to_string_lossy(),
        ca.to_string_lossy()
    ));
    // The token and CA are read at start; the directory may go.
    drop(dir);
    l.add_user("alice");
    l
}

fn phone_add(u: &User) -> std::process::Output {
    let mut c = qxfer();
    c.current_dir(u.work.path()).env("QXFER_CONFIG_DIR", u.config.path()).env("QXFER_PASSWORD", PASSWORD).args([
        "account",
        "phone",
        "add",
        &u.addr,
        "--user",
        &u.name,
        "--accept-new",
        PHONE,
    ]);
    c.output().expect("phone add")
}

#[test]
fn the_webhook_posts_the_text_as_json_with_the_bearer_token() {
    let server = server(false);
    let l = listener_with_webhook(&server, "");
    let alice = User::new(&l, "alice");
    ok(&phone_add(&alice));
    let start = Instant::now();
    while server.seen.lock().expect("lock").is_empty() {
        assert!(start.elapsed() < Duration::from_secs(10), "nothing posted; log: {}", l.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    let seen = server.seen.lock().expect("lock").clone();
    let r = seen.first().expect("a request");
    assert!(r.head.starts_with("POST /v1/sms HTTP/1.1"), "{}", r.head);
    let head = r.head.to_ascii_lowercase();
    assert!(head.contains(&format!("authorization: bearer {}", TOKEN.to_ascii_lowercase())), "{}", r.head);
    assert!(head.contains("content-type: application/json"), "{}", r.head);
    let json: serde_json::Value = serde_json::from_str(&r.body).expect("json body");
    assert_eq!(json["to"], PHONE);
    let text = json["text"].as_str().expect("text");
    assert!(text.contains("to add this number to account alice"), "{text}");
    // The code in it verifies the number: the text is the one the listener meant.
    let code: String = text.split(|c: char| !c.is_ascii_digit()).find(|w| w.len() == 8).expect("code").to_owned();
    let mut c = qxfer();
    c.current_dir(alice.work.path())
        .env("QXFER_CONFIG_DIR", alice.config.path())
        .env("QXFER_PASSWORD", PASSWORD)
        .args(["account", "phone", "verify", &alice.addr, "--user", "alice", "--accept-new", PHONE, "--code-stdin"]);
    let out = ok(&run_stdin(&mut c, &code));
    assert!(out.contains("add phone"), "{out}");
    let log = l.log();
    assert!(log.contains("text_sent") && log.contains("webhook https://127.0.0.1"), "{log}");
    assert!(!log.contains(TOKEN) && !log.contains(PHONE), "the token or a full number in the log");
}

#[test]
fn a_hanging_webhook_is_reported_and_holds_up_nothing_else() {
    let server = server(true);
    let l = listener_with_webhook(&server, "timeout_secs = 30\nretries = 0");
    l.add_user("bob");
    let alice = User::new(&l, "alice");
    // The request that queues a text is answered while the gateway still hangs (the
    // failure is logged only when its 30 s timeout ends)...
    ok(&phone_add(&alice));
    let start = Instant::now();
    while server.seen.lock().expect("lock").is_empty() {
        assert!(start.elapsed() < Duration::from_secs(10), "nothing posted");
        std::thread::sleep(Duration::from_millis(20));
    }
    // ...and so is everyone else.
    let bob = User::new(&l, "bob");
    ok(&bob.cmd("send").args(["-m", "hello"]).output().expect("send"));
    ok(&bob.cmd("inbox").output().expect("inbox"));
    // A second code to the same number within the cooldown is refused in words.
    let again = phone_add(&alice);
    assert!(String::from_utf8_lossy(&again.stderr).contains("wait a little"), "{again:?}");
    assert!(!l.log().contains("text_failed"), "the gateway gave up before the others were served");
    // Then the failure is reported, once the gateway's timeout ends.
    let start = Instant::now();
    while !l.log().contains("text_failed") {
        assert!(start.elapsed() < Duration::from_secs(60), "no text_failed: {}", l.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(l.log().contains("did not answer") || l.log().contains("timed out") || l.log().contains("timeout"));
    drop(server);
}

#[test]
fn the_command_gateway_gets_the_number_as_an_argument_and_the_text_on_stdin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("texts.txt");
    let script = format!("cat >> {0}; echo \" -> $1\" >> {0}", out.display());
    let l = Listener::with_config(&format!(
        "[scoring]\nthreshold = 1000000\nprefix_threshold = 1000000\n[challenges]\nmin_bits = 8\nmax_bits = 12\n\
         [sms]\ncommand = [\"sh\", \"-c\", {script:?}, \"sms\", \"{{to}}\"]\n"
    ));
    l.add_user("alice");
    let alice = User::new(&l, "alice");
    ok(&phone_add(&alice));
    let start = Instant::now();
    while !std::fs::read_to_string(&out).unwrap_or_default().contains(" -> ") {
        assert!(start.elapsed() < Duration::from_secs(10), "the command never ran; log: {}", l.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    let written = std::fs::read_to_string(&out).expect("out");
    assert!(written.contains("to add this number to account alice"), "{written}");
    assert!(written.trim_end().ends_with(&format!(" -> {PHONE}")), "{written}");
}
