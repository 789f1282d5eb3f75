//! The CLI's side of admin requests: through a running listener's admin socket when there
//! is one, otherwise carried out directly on the database file.

use std::path::{Path, PathBuf};

use tokio::net::UnixStream;

use super::socket::{self, SocketError};
use super::Target;
use crate::files::Layout;
use crate::store::{Store, StoreError};
use crate::wire::{AdminRequest, AdminResponse};

#[derive(Debug, thiserror::Error)]
pub enum AdminClientError {
    #[error(transparent)]
    Socket(#[from] SocketError),
    #[error("no listener is running on {0}")]
    NoListener(PathBuf),
    #[error("creating {0}: {1}")]
    CreateDir(PathBuf, #[source] std::io::Error),
    #[error("{0} (if a listener runs on {1}, its admin socket is missing)")]
    Store(#[source] StoreError, PathBuf),
}

/// Send `req` to the listener on `data_dir`, or apply it to the database when none runs.
pub async fn admin(data_dir: &Path, req: AdminRequest) -> Result<AdminResponse, AdminClientError> {
    let layout = Layout::new(data_dir.to_owned());
    match UnixStream::connect(layout.control_socket()).await {
        Ok(mut stream) => {
            socket::write(&mut stream, &req).await?;
            Ok(socket::read(&mut stream).await?)
        }
        Err(_) => {
            if let AdminRequest::Status = req {
                return Err(AdminClientError::NoListener(data_dir.to_owned()));
            }
            crate::files::create_private_dir(data_dir).map_err(|e| AdminClientError::CreateDir(data_dir.into(), e))?;
            let store = Store::open(&layout.database()).map_err(|e| AdminClientError::Store(e, data_dir.to_owned()))?;
            Ok(super::dispatch(&Target { store: &store, layout: &layout, live: None }, req))
        }
    }
}
