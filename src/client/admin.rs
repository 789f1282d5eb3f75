//! Account administration: through a running listener's admin socket when there is one,
//! otherwise directly on the database file.

use std::path::Path;

use anyhow::{anyhow, bail, Result};
use tokio::net::UnixStream;

use crate::files::Layout;
use crate::server::admin::{apply, read, write};
use crate::store::Store;
use crate::wire::{AdminRequest, AdminResponse};

/// Send `req` to the listener on `data_dir`, or apply it to the database when none runs.
pub async fn admin(data_dir: &Path, req: AdminRequest) -> Result<AdminResponse> {
    let layout = Layout::new(data_dir.to_owned());
    match UnixStream::connect(layout.control_socket()).await {
        Ok(mut stream) => {
            write(&mut stream, &req).await?;
            read(&mut stream).await
        }
        Err(_) => {
            if let AdminRequest::Status = req {
                bail!("no listener is running on {}", data_dir.display());
            }
            std::fs::create_dir_all(data_dir)?;
            let store = Store::open(&layout.database()).map_err(|e| {
                anyhow!("{e} (if a listener runs on {}, its admin socket is missing)", data_dir.display())
            })?;
            Ok(apply(&store, &layout, None, req))
        }
    }
}
