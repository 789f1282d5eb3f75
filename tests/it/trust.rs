//! Certificate trust: pin on first use, refuse unknown hosts without a terminal, refuse a
//! changed certificate with both fingerprints shown, explicit fingerprints, a private CA.

use std::path::PathBuf;

use crate::support::*;

fn bare(user: &User, sub: &str) -> std::process::Command {
    let mut c = qxfer();
    c.current_dir(user.work.path())
        .env("QXFER_CONFIG_DIR", user.config.path())
        .env("QXFER_PASSWORD", PASSWORD)
        .args([sub, &user.addr, "--user", &user.name]);
    c
}

#[test]
fn unknown_host_is_refused_without_a_terminal() {
    let listener = Listener::start();
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    let out = bare(&alice, "inbox").output().expect("inbox");
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&listener.fingerprint), "{err}");
    assert!(err.contains("--accept-new"), "{err}");
    // Nothing was pinned and no login happened.
    assert!(!alice.config.path().join("known_hosts").exists());
    assert!(!listener.log().contains("logged in"));
}

#[test]
fn accept_new_pins_and_a_changed_certificate_is_refused() {
    let listener = Listener::start();
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    let out = alice.cmd("inbox").output().expect("inbox");
    ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("pinned {} {}", listener.addr, listener.fingerprint)), "{err}");
    let known = std::fs::read_to_string(alice.config.path().join("known_hosts")).expect("known_hosts");
    assert_eq!(known, format!("{} {}\n", listener.addr, listener.fingerprint));

    // Same address, another certificate: as if the listener had been replaced.
    let fake = format!("{} sha256:{}\n", listener.addr, "ab".repeat(32));
    std::fs::write(alice.config.path().join("known_hosts"), fake).expect("write");
    let out = bare(&alice, "inbox").arg("--accept-new").output().expect("inbox");
    assert_eq!(out.status.code(), Some(4));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CERTIFICATE MISMATCH"), "{err}");
    assert!(err.contains(&listener.fingerprint) && err.contains(&"ab".repeat(32)), "{err}");
    assert!(err.contains("known_hosts"), "{err}");
}

#[test]
fn explicit_fingerprint_pins_or_refuses() {
    let listener = Listener::start();
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    let wrong = format!("sha256:{}", "cd".repeat(32));
    let out = bare(&alice, "inbox").args(["--fingerprint", &wrong]).output().expect("inbox");
    assert_eq!(out.status.code(), Some(4));
    ok(&bare(&alice, "inbox").args(["--fingerprint", &listener.fingerprint]).output().expect("inbox"));
    // Pinned now: no flag needed.
    ok(&bare(&alice, "inbox").output().expect("inbox"));
}

#[test]
fn fingerprint_command_matches_the_listener() {
    let listener = Listener::start();
    let out = ok(&listener.admin().arg("fingerprint").output().expect("fingerprint"));
    assert_eq!(out.trim(), listener.fingerprint);
}

#[test]
fn private_ca_instead_of_pinning() {
    let certs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("certs");
    let data = tempfile::tempdir().expect("tempdir");
    let cert = certs.join("test-listener/cert.pem");
    let key = certs.join("test-listener/key.pem");
    let listener =
        Listener::start_in(data, &["--cert", cert.to_str().expect("utf8"), "--key", key.to_str().expect("utf8")]);
    listener.add_user("alice");
    let alice = User::new(&listener, "alice");
    let ca = certs.join("test-ca/ca.pem");
    ok(&bare(&alice, "inbox").arg("--ca").arg(&ca).output().expect("inbox"));
    // Another CA does not vouch for this listener.
    let other = tempfile::tempdir().expect("tempdir");
    ok(&qxfer().args(["cert", "ca", "--out"]).arg(other.path()).output().expect("cert ca"));
    let out = bare(&alice, "inbox").arg("--ca").arg(other.path().join("ca.pem")).output().expect("inbox");
    assert!(!out.status.success());
}

/// A handshake offering only `alpn`, as a client of another protocol version would.
async fn connect_speaking(alpn: &[u8], addr: &str) -> (quinn::Endpoint, quinn::Connection) {
    use qxfer::policy::NetLimits;
    use qxfer::transport::tls::{client_crypto, Trust};
    let mut crypto = client_crypto(Trust::Pin).expect("crypto");
    crypto.alpn_protocols = vec![alpn.to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(crypto).expect("quic crypto");
    let bind = "127.0.0.1:0".parse().expect("bind");
    let endpoint =
        qxfer::transport::endpoint::client_endpoint(bind, Trust::Pin, &NetLimits::default()).expect("endpoint");
    let config = quinn::ClientConfig::new(std::sync::Arc::new(crypto));
    let addr = addr.parse().expect("addr");
    let conn = endpoint.connect_with(config, addr, "qxfer").expect("connect").await.expect("handshake");
    (endpoint, conn)
}

/// A client of the previous protocol (qxfer/1) is told, in words, to upgrade, and is never
/// scored as an offender.
#[test]
fn an_old_protocol_client_is_told_to_upgrade() {
    let listener = Listener::start();
    let reason = crate::raw::run(async {
        let (_endpoint, conn) = connect_speaking(b"qxfer/1", &listener.addr).await;
        conn.closed().await
    });
    match reason {
        quinn::ConnectionError::ApplicationClosed(c) => {
            assert_eq!(c.error_code.into_inner(), 8);
            assert!(String::from_utf8_lossy(&c.reason).contains("upgrade qxfer"), "{c:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(listener.log().contains("old_protocol"));
    let audit = ok(&listener.admin().args(["audit", "--json"]).output().expect("audit"));
    assert!(!audit.contains("\"type\":\"source\""), "an old client was scored: {audit}");
}

/// A qxfer/2 client (the previous protocol, a subset of qxfer/3) is still served.
#[test]
fn a_qxfer_2_client_is_still_served() {
    use qxfer::transport::framed::{read_frame, write_frame};
    use qxfer::wire::{Credential, Request, Response};
    let listener = Listener::start();
    listener.add_user("alice");
    let reply = crate::raw::run(async {
        let (_endpoint, conn) = connect_speaking(b"qxfer/2", &listener.addr).await;
        let (mut send, mut recv) = conn.open_bi().await.expect("stream");
        let login = Request::Login { user: "alice".into(), credential: Credential::Password(PASSWORD.into()) };
        write_frame(&mut send, &login).await.expect("write");
        read_frame::<Response>(&mut recv).await.expect("read")
    });
    assert!(matches!(reply, Some(Response::LoggedIn { .. })), "{reply:?}");
}

/// Without `[sms] name`, texts name the listener by its certificate's DNS name when it has
/// a public one (never `localhost` or an address), else by the machine's host name, and the
/// start warns to set it either way.
#[test]
fn texts_name_the_listener_by_its_certificate_and_the_start_warns() {
    let ca = tempfile::tempdir().expect("tempdir");
    ok(&qxfer().args(["cert", "ca", "--out"]).arg(ca.path()).output().expect("cert ca"));
    let issued = tempfile::tempdir().expect("tempdir");
    ok(&qxfer()
        .args(["cert", "issue", "--ca"])
        .arg(ca.path())
        .arg("--out")
        .arg(issued.path())
        .args(["127.0.0.1", "files.example.org"])
        .output()
        .expect("cert issue"));
    let (cert, key) = (issued.path().join("cert.pem"), issued.path().join("key.pem"));
    let named = Listener::start_in(
        tempfile::tempdir().expect("tempdir"),
        &["--cert", cert.to_str().expect("utf8"), "--key", key.to_str().expect("utf8")],
    );
    let log = named.log();
    assert!(
        log.contains("[sms] name is not set")
            && log.contains("\"files.example.org:")
            && log.contains("(from its certificate)"),
        "{log}"
    );
    let plain = Listener::start();
    let log = plain.log();
    assert!(log.contains("[sms] name is not set") && log.contains("(from the machine's host name)"), "{log}");
}
