//! The `spool` gateway's one text: a JSON file (the webhook's body), mode 0600, written
//! under a temporary name and renamed into place, in a directory created 0700. It sends
//! nothing; for development and tests.

use std::io::Write;
use std::path::Path;

use super::error::SmsError;
use super::message::message_body;

/// Write `{"to": to, "text": text}` to `dir/name`.
pub(super) fn write(dir: &Path, name: &str, to: &str, text: &str) -> Result<(), SmsError> {
    use std::os::unix::fs::OpenOptionsExt;
    let err = |e| SmsError::Spool(dir.to_owned(), e);
    crate::files::create_private_dir(dir).map_err(err)?;
    let body = message_body(to, text);
    let tmp = dir.join(format!(".{name}.part"));
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).map_err(err)?;
    f.write_all(body.as_bytes()).and_then(|_| f.sync_all()).map_err(err)?;
    std::fs::rename(&tmp, dir.join(name)).map_err(err)
}
