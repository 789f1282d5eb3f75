//! The admin socket: `DATA/control.sock`, mode 0600 inside a 0700 data directory, and peers
//! must run as the listener's own user. `qxfer user …`, `firewall …`, `audit` and `status`
//! reach a running listener through it (the database admits one process at a time); the
//! requests themselves are carried out by `crate::admin`, with this listener as the
//! [`Live`](crate::admin::Live) part.

use std::sync::Arc;

use tokio::net::{UnixListener, UnixStream};
use tracing::{debug, warn};

use super::Shared;
use crate::admin::socket::{self, SocketError};
use crate::admin::{dispatch, Target};
use crate::wire::AdminRequest;

/// Bind the socket and serve it until the task is aborted.
pub(crate) fn serve(shared: Arc<Shared>) -> std::io::Result<tokio::task::JoinHandle<()>> {
    use std::os::unix::fs::PermissionsExt;
    let path = shared.layout().control_socket();
    // A socket left by a listener that died is stale: we hold the database lock, so no
    // other listener uses this directory.
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let shared = shared.clone();
            tokio::spawn(async move {
                if let Err(e) = client(stream, shared).await {
                    debug!("admin client: {e}");
                }
            });
        }
    }))
}

async fn client(mut stream: UnixStream, shared: Arc<Shared>) -> Result<(), SocketError> {
    let cred = stream.peer_cred()?;
    if cred.uid() != rustix::process::geteuid().as_raw() {
        warn!(uid = cred.uid(), event = "admin_refused", "admin socket peer runs as another user");
        return Ok(());
    }
    let req: AdminRequest = socket::read(&mut stream).await?;
    let response = tokio::task::spawn_blocking(move || {
        let target = Target { store: shared.store(), layout: shared.layout(), live: Some(&*shared) };
        dispatch(&target, req)
    })
    .await
    .map_err(|e| SocketError::Io(std::io::Error::other(e)))?;
    socket::write(&mut stream, &response).await
}
