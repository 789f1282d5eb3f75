//! The listener's TLS identity: `qxfer fingerprint` (its certificate's fingerprint) and
//! `qxfer cert ...` (a private CA and the certificates it signs).

use anyhow::Result;

use super::args::{CertCmd, InitDataArgs};
use super::dirs::existing_data_dir;
use super::output::outln;
use crate::transport::tls;

/// `qxfer fingerprint`: the fingerprint clients compare with what they are shown.
pub fn fingerprint(a: InitDataArgs) -> Result<()> {
    let dir = existing_data_dir(&a.data, a.init)?;
    let id = tls::load_or_create_identity(&dir, None, None)?;
    outln!("{}", tls::format_fingerprint(&id.fingerprint()))?;
    Ok(())
}

/// `qxfer cert ca` and `qxfer cert issue`.
pub fn cert(cmd: CertCmd) -> Result<()> {
    match cmd {
        CertCmd::Ca { out, name } => {
            tls::make_ca(&out, &name)?;
            outln!("created CA {} and {}", out.join("ca.pem").display(), out.join("ca.key").display())?;
        }
        CertCmd::Issue { ca, out, names } => {
            tls::issue_cert(&ca, &names, &out)?;
            outln!("issued {} and {}", out.join("cert.pem").display(), out.join("key.pem").display())?;
        }
    }
    Ok(())
}
