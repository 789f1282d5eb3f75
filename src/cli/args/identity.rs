//! `qxfer cert ...`: a private CA and the listener certificates it signs.

use std::path::PathBuf;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum CertCmd {
    /// Create a private CA (ca.pem, ca.key) in DIR.
    #[command(after_help = "Example:\n  qxfer cert ca --out ./my-ca")]
    Ca {
        /// Directory to write ca.pem and ca.key to.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// The CA's common name.
        #[arg(long, default_value = "qxfer private CA")]
        name: String,
    },
    /// Issue a listener certificate (cert.pem, key.pem) for NAMEs (DNS names or IPs).
    #[command(after_help = "Example:\n  qxfer cert issue --ca ./my-ca --out /var/lib/qxfer host.example 192.0.2.7")]
    Issue {
        /// Directory of the CA (ca.pem, ca.key) that signs.
        #[arg(long, value_name = "DIR")]
        ca: PathBuf,
        /// Directory to write cert.pem and key.pem to.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// DNS names or IP addresses the certificate is for.
        #[arg(required = true)]
        names: Vec<String>,
    },
}
