//! TLS 1.3 with one crypto provider (ring): the listener's identity (created with rcgen on
//! first start, or loaded from PEM files), certificate fingerprints, the rustls configs for
//! both sides, and a small private CA for operators who prefer one to pinning.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::wire::ALPN;

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

pub fn parse_fingerprint(s: &str) -> Result<Fingerprint> {
    let hex_part = s.strip_prefix("sha256:").unwrap_or(s);
    let bytes = hex::decode(hex_part.trim()).context("fingerprint is not hex")?;
    bytes.try_into().map_err(|_| anyhow!("a fingerprint is sha256: followed by 64 hex digits"))
}

/// Write a file readable by its owner only, refusing to replace an existing one.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(contents)?;
    f.sync_all()?;
    Ok(())
}

fn load_pem(cert: &Path, key: &Path) -> Result<Identity> {
    let chain = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("reading certificate {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("parsing certificate {}", cert.display()))?;
    if chain.is_empty() {
        bail!("{} holds no certificate", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key).with_context(|| format!("reading key {}", key.display()))?;
    Ok(Identity { chain, key })
}

/// The listener's identity: `--cert/--key` if given, else `DIR/cert.pem` + `DIR/key.pem`,
/// created with a fresh self-signed certificate on first start.
pub fn load_or_create_identity(dir: &Path, cert: Option<&Path>, key: Option<&Path>) -> Result<Identity> {
    if let (Some(c), Some(k)) = (cert, key) {
        return load_pem(c, k);
    }
    if cert.is_some() || key.is_some() {
        bail!("--cert and --key go together");
    }
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    if !cert_path.exists() {
        let host = hostname();
        let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
        if let Some(h) = host {
            names.push(h);
        }
        let ck = rcgen::generate_simple_self_signed(names).context("generating certificate")?;
        write_private(&key_path, ck.signing_key.serialize_pem().as_bytes())?;
        fs::write(&cert_path, ck.cert.pem()).with_context(|| format!("writing {}", cert_path.display()))?;
    }
    load_pem(&cert_path, &key_path)
}

fn hostname() -> Option<String> {
    let h = fs::read_to_string("/etc/hostname").ok()?;
    let h = h.trim();
    (!h.is_empty() && h.len() < 254).then(|| h.to_owned())
}

/// The listener's rustls config: TLS 1.3 only, ALPN `qxfer/1`.
pub fn server_crypto(identity: &Identity) -> Result<rustls::ServerConfig> {
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(identity.chain.clone(), identity.key.clone_key())
        .context("certificate and key do not match")?;
    cfg.alpn_protocols = vec![ALPN.to_vec()];
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
    let certs = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("reading CA {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("parsing CA {}", path.display()))?;
    if certs.is_empty() {
        bail!("{} holds no certificate", path.display());
    }
    Ok(certs)
}

pub fn client_crypto(trust: Trust) -> Result<rustls::ClientConfig> {
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?;
    let mut cfg = match trust {
        Trust::Pin => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinVerifier { provider }))
            .with_no_client_auth(),
        Trust::Ca(certs) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in certs {
                roots.add(c).context("adding CA certificate")?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    cfg.alpn_protocols = vec![ALPN.to_vec()];
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
    fs::create_dir_all(dir)?;
    let key = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
    params.not_after = rcgen::date_time_ymd(2046, 1, 1);
    let cert = params.self_signed(&key)?;
    write_private(&dir.join("ca.key"), key.serialize_pem().as_bytes())?;
    fs::write(dir.join("ca.pem"), cert.pem())?;
    Ok(())
}

/// `qxfer cert issue`: a listener certificate for `names`, signed by the CA in `ca_dir`,
/// written to `out` as `cert.pem` + `key.pem` (the listener's default file names).
pub fn issue_cert(ca_dir: &Path, names: &[String], out: &Path) -> Result<()> {
    let ca_pem = fs::read_to_string(ca_dir.join("ca.pem")).context("reading ca.pem")?;
    let ca_key = rcgen::KeyPair::from_pem(&fs::read_to_string(ca_dir.join("ca.key")).context("reading ca.key")?)?;
    let issuer = rcgen::Issuer::from_ca_cert_pem(&ca_pem, ca_key).context("parsing ca.pem")?;
    let key = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(names.to_vec())?;
    params.distinguished_name.push(rcgen::DnType::CommonName, names.first().map(String::as_str).unwrap_or("qxfer"));
    params.not_after = rcgen::date_time_ymd(2046, 1, 1);
    let cert = params.signed_by(&key, &issuer)?;
    fs::create_dir_all(out)?;
    write_private(&out.join("key.pem"), key.serialize_pem().as_bytes())?;
    let mut chain = cert.pem();
    chain.push_str(&ca_pem);
    fs::write(out.join("cert.pem"), chain)?;
    Ok(())
}
