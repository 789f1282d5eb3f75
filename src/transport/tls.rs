//! TLS 1.3 with one crypto provider (ring): the listener's identity (created with rcgen on
//! first start, or loaded from PEM files), certificate fingerprints, the rustls configs for
//! both sides, and a small private CA for operators who prefer one to pinning.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::wire::{ALPN, ALPN_V1, ALPN_V2, ALPN_V3, ALPN_V4, ALPN_V5};

/// Why an identity, a CA or a TLS configuration could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{what} {}: {source}", path.display())]
    File {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} {}: {source}", path.display())]
    Pem {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("{} holds no certificate", .0.display())]
    NoCertificate(PathBuf),
    #[error("--cert and --key go together")]
    CertWithoutKey,
    #[error("{0}: {1}")]
    Certificate(&'static str, #[source] rcgen::Error),
    #[error("{0}: {1}")]
    Rustls(&'static str, #[source] rustls::Error),
    #[error("a fingerprint is sha256: followed by 64 hex digits")]
    Fingerprint,
    #[error("TLS configuration unusable for QUIC: {0}")]
    Quic(#[from] quinn::crypto::rustls::NoInitialCipherSuite),
}

type Result<T, E = TlsError> = std::result::Result<T, E>;

fn file_error<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> TlsError + 'a {
    move |source| TlsError::File { what, path: path.to_owned(), source }
}

fn pem_error<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(rustls::pki_types::pem::Error) -> TlsError + 'a {
    move |source| TlsError::Pem { what, path: path.to_owned(), source }
}

/// A SHA-256 certificate fingerprint.
pub type Fingerprint = [u8; 32];

/// ring, TLS 1.3 suites only, AES-128-GCM first (hardware AES makes it the fastest here).
pub fn provider() -> Arc<CryptoProvider> {
    use rustls::crypto::ring::{cipher_suite, default_provider};
    let mut p = default_provider();
    p.cipher_suites = vec![
        cipher_suite::TLS13_AES_128_GCM_SHA256,
        cipher_suite::TLS13_AES_256_GCM_SHA384,
        cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
    ];
    Arc::new(p)
}

/// A certificate chain and its private key.
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl Identity {
    pub fn fingerprint(&self) -> Fingerprint {
        self.chain.first().map(fingerprint).unwrap_or([0; 32])
    }

    /// The first name in the certificate that users elsewhere can reach the listener by: a
    /// DNS name with a dot in it, never a wildcard, an address or `localhost` (the
    /// self-signed default names only those and the machine's short host name).
    pub fn public_dns_name(&self) -> Option<String> {
        let (_, cert) = x509_parser::parse_x509_certificate(self.chain.first()?.as_ref()).ok()?;
        let san = cert.subject_alternative_name().ok()??;
        san.value.general_names.iter().find_map(|n| match n {
            x509_parser::extensions::GeneralName::DNSName(d) => public_name(d).then(|| d.to_string()),
            _ => None,
        })
    }
}

/// A name people elsewhere can use: dotted, no wildcard, not an address, not `localhost`.
fn public_name(d: &str) -> bool {
    d.contains('.') && !d.contains('*') && d.parse::<std::net::IpAddr>().is_err() && !d.starts_with("localhost")
}

/// The application protocol a connection agreed on, if any.
pub fn negotiated_protocol(conn: &quinn::Connection) -> Option<Vec<u8>> {
    let data = conn.handshake_data()?;
    data.downcast_ref::<quinn::crypto::rustls::HandshakeData>()?.protocol.clone()
}

/// SHA-256 of a certificate's DER bytes.
pub fn fingerprint(cert: &CertificateDer<'_>) -> Fingerprint {
    let d = ring::digest::digest(&ring::digest::SHA256, cert.as_ref());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// `sha256:<64 hex digits>`.
pub fn format_fingerprint(fp: &Fingerprint) -> String {
    format!("sha256:{}", hex::encode(fp))
}

/// `sha256:<64 hex digits>`, or the digits alone; the prefix in any case (`SHA256:`, as ssh
/// writes it) and the digits in either.
pub fn parse_fingerprint(s: &str) -> Result<Fingerprint> {
    let s = s.trim();
    let hex_part = match (s.get(..7), s.get(7..)) {
        (Some(prefix), Some(rest)) if prefix.eq_ignore_ascii_case("sha256:") => rest,
        _ => s,
    };
    let bytes = hex::decode(hex_part.trim()).map_err(|_| TlsError::Fingerprint)?;
    bytes.try_into().map_err(|_| TlsError::Fingerprint)
}

/// Write a file readable by its owner only, refusing to replace an existing one.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(file_error("creating", path))?;
    f.write_all(contents).and_then(|()| f.sync_all()).map_err(file_error("writing", path))
}

fn load_pem(cert: &Path, key: &Path) -> Result<Identity> {
    let chain = read_certificates(cert, "reading certificate")?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(pem_error("reading key", key))?;
    Ok(Identity { chain, key })
}

/// The listener's identity: `--cert/--key` if given, else `DIR/cert.pem` + `DIR/key.pem`,
/// created with a fresh self-signed certificate on first start.
pub fn load_or_create_identity(dir: &Path, cert: Option<&Path>, key: Option<&Path>) -> Result<Identity> {
    if let (Some(c), Some(k)) = (cert, key) {
        return load_pem(c, k);
    }
    if cert.is_some() || key.is_some() {
        return Err(TlsError::CertWithoutKey);
    }
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    if !cert_path.exists() {
        let host = hostname();
        let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
        if let Some(h) = host {
            names.push(h);
        }
        let ck = rcgen::generate_simple_self_signed(names)
            .map_err(|e| TlsError::Certificate("generating certificate", e))?;
        write_private(&key_path, ck.signing_key.serialize_pem().as_bytes())?;
        fs::write(&cert_path, ck.cert.pem()).map_err(file_error("writing", &cert_path))?;
    }
    load_pem(&cert_path, &key_path)
}

fn hostname() -> Option<String> {
    let h = fs::read_to_string("/etc/hostname").ok()?;
    let h = h.trim();
    (!h.is_empty() && h.len() < 254).then(|| h.to_owned())
}

/// The listener's rustls config: TLS 1.3 only, ALPN `qxfer/6`, `qxfer/5`, `qxfer/4`, `qxfer/3`, `qxfer/2` (and `qxfer/1`, only so the
/// listener can tell an old client to upgrade).
pub fn server_crypto(identity: &Identity) -> Result<rustls::ServerConfig> {
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TlsError::Rustls("TLS 1.3", e))?
        .with_no_client_auth()
        .with_single_cert(identity.chain.clone(), identity.key.clone_key())
        .map_err(|e| TlsError::Rustls("certificate and key do not match", e))?;
    cfg.alpn_protocols =
        vec![ALPN.to_vec(), ALPN_V5.to_vec(), ALPN_V4.to_vec(), ALPN_V3.to_vec(), ALPN_V2.to_vec(), ALPN_V1.to_vec()];
    cfg.max_early_data_size = 0;
    Ok(cfg)
}

/// How a client decides to trust a listener.
pub enum Trust {
    /// Accept any certificate whose key signs the handshake; the caller compares the
    /// fingerprint with its pin before sending a single request (ssh-style pinning).
    Pin,
    /// Verify the chain against these CA certificates and the host name.
    Ca(Vec<CertificateDer<'static>>),
}

pub fn load_ca(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    read_certificates(path, "reading CA")
}

/// The certificates of a PEM file; none is an error.
fn read_certificates(path: &Path, what: &'static str) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(pem_error(what, path))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_error(what, path))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(path.to_owned()));
    }
    Ok(certs)
}

pub fn client_crypto(trust: Trust) -> Result<rustls::ClientConfig> {
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TlsError::Rustls("TLS 1.3", e))?;
    let mut cfg = match trust {
        Trust::Pin => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinVerifier { provider }))
            .with_no_client_auth(),
        Trust::Ca(certs) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in certs {
                roots.add(c).map_err(|e| TlsError::Rustls("adding CA certificate", e))?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    // qxfer/5 and qxfer/4 too: everything but a login with a code (qxfer/6), and account
    // recovery and settings (qxfer/5), works with such a listener.
    cfg.alpn_protocols = vec![ALPN.to_vec(), ALPN_V5.to_vec(), ALPN_V4.to_vec()];
    cfg.enable_early_data = false;
    Ok(cfg)
}

/// Proves the peer holds the key of the certificate it shows; which certificate is
/// acceptable is decided by the pin check right after the handshake.
#[derive(Debug)]
struct PinVerifier {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::PeerIncompatible(rustls::PeerIncompatible::Tls12NotOffered))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// `qxfer cert ca`: a new private CA in `dir` (`ca.pem`, `ca.key`).
pub fn make_ca(dir: &Path, name: &str) -> Result<()> {
    let cert_error = |e| TlsError::Certificate("making the CA certificate", e);
    fs::create_dir_all(dir).map_err(file_error("creating", dir))?;
    let key = rcgen::KeyPair::generate().map_err(cert_error)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(cert_error)?;
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
    params.not_after = rcgen::date_time_ymd(2046, 1, 1);
    let cert = params.self_signed(&key).map_err(cert_error)?;
    write_private(&dir.join("ca.key"), key.serialize_pem().as_bytes())?;
    let ca_pem = dir.join("ca.pem");
    fs::write(&ca_pem, cert.pem()).map_err(file_error("writing", &ca_pem))
}

/// `qxfer cert issue`: a listener certificate for `names`, signed by the CA in `ca_dir`,
/// written to `out` as `cert.pem` + `key.pem` (the listener's default file names).
pub fn issue_cert(ca_dir: &Path, names: &[String], out: &Path) -> Result<()> {
    let (ca_pem_path, ca_key_path) = (ca_dir.join("ca.pem"), ca_dir.join("ca.key"));
    let ca_pem = fs::read_to_string(&ca_pem_path).map_err(file_error("reading", &ca_pem_path))?;
    let ca_key_pem = fs::read_to_string(&ca_key_path).map_err(file_error("reading", &ca_key_path))?;
    let ca_key = rcgen::KeyPair::from_pem(&ca_key_pem).map_err(|e| TlsError::Certificate("parsing ca.key", e))?;
    let issuer =
        rcgen::Issuer::from_ca_cert_pem(&ca_pem, ca_key).map_err(|e| TlsError::Certificate("parsing ca.pem", e))?;
    let cert_error = |e| TlsError::Certificate("issuing the certificate", e);
    let key = rcgen::KeyPair::generate().map_err(cert_error)?;
    let mut params = rcgen::CertificateParams::new(names.to_vec()).map_err(cert_error)?;
    params.distinguished_name.push(rcgen::DnType::CommonName, names.first().map(String::as_str).unwrap_or("qxfer"));
    params.not_after = rcgen::date_time_ymd(2046, 1, 1);
    let cert = params.signed_by(&key, &issuer).map_err(cert_error)?;
    fs::create_dir_all(out).map_err(file_error("creating", out))?;
    write_private(&out.join("key.pem"), key.serialize_pem().as_bytes())?;
    let mut chain = cert.pem();
    chain.push_str(&ca_pem);
    let cert_pem = out.join("cert.pem");
    fs::write(&cert_pem, chain).map_err(file_error("writing", &cert_pem))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(names: &[&str]) -> Identity {
        let ck = rcgen::generate_simple_self_signed(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .expect("certificate");
        Identity {
            chain: vec![ck.cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into()),
        }
    }

    #[test]
    fn the_public_name_is_a_dotted_dns_name_never_a_wildcard_or_an_address() {
        let id = identity(&["localhost", "*.example.org", "10.0.0.1", "files.example.org", "other.example.org"]);
        assert_eq!(id.public_dns_name().as_deref(), Some("files.example.org"));
        // The self-signed default: localhost, loopback addresses, a short host name.
        assert_eq!(identity(&["localhost", "127.0.0.1", "::1", "vm"]).public_dns_name(), None);
        assert_eq!(identity(&["localhost.localdomain"]).public_dns_name(), None);
    }
}
