//! One request to a running listener over its control socket (the operator commands'
//! way in), with the listener's refusal as an error.

use anyhow::{bail, Result};

use crate::wire::{AdminRequest, AdminResponse};

/// Send `req` to the listener of data directory `dir`; its error answer becomes an error.
pub async fn admin_call(dir: &std::path::Path, req: AdminRequest) -> Result<AdminResponse> {
    match crate::admin::client::admin(dir, req).await? {
        AdminResponse::Error(e) => bail!("{e}"),
        r => Ok(r),
    }
}
