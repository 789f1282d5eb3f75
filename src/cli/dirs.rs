//! Where qxfer keeps its files: a listener's data directory (`--data`, `QXFER_DATA_DIR`)
//! and the client's config directory (`QXFER_CONFIG_DIR`), else the platform's.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context, Result};

use super::args::DataArgs;
use crate::files::Layout;

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

/// The data directory of a listener that exists (one `qxfer listen` created), or, with
/// `init`, one created now: commands that manage a listener do not make a new identity or
/// database by accident in a mistyped directory.
pub fn existing_data_dir(arg: &DataArgs, init: bool) -> Result<PathBuf> {
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
