//! The control stream of a connection: the [`Client`] itself, one request and its reply
//! at a time (bounded waits, the listener's refusals read from how the connection ended),
//! and closing it so the listener sees the end.

use std::path::PathBuf;

use quinn::{Connection, Endpoint, RecvStream, SendStream};

use super::error::{refusal, ClientError, Result};
use crate::transport::close;
use crate::transport::framed;
use crate::wire::{Request, Response};

/// How long closing waits for the listener to hear of it.
pub(super) const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// How long a reply from the listener may take (a commit syncs the delivery to disk first).
pub const REPLY_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// An authenticated connection.
pub struct Client {
    pub(super) endpoint: Endpoint,
    pub(super) conn: Connection,
    pub(super) send: SendStream,
    pub(super) recv: RecvStream,
    pub(super) user: String,
    /// `host:port`, for messages.
    pub(super) hostport: String,
    /// Where this client keeps its state (known hosts, sessions, sends in progress).
    pub(super) config_dir: PathBuf,
    /// The listener speaks qxfer/5 (account recovery and settings).
    pub(super) v5: bool,
    /// The listener speaks qxfer/6 (a login with a code past a lockout).
    pub(super) v6: bool,
}

impl Client {
    pub fn user(&self) -> &str {
        &self.user
    }

    /// One request, one response on the control stream.
    pub(crate) async fn call(&mut self, req: &Request) -> Result<Response> {
        tracing::debug!("request: {}", request_name(req));
        let written = tokio::time::timeout(REPLY_WAIT, framed::write_frame(&mut self.send, req))
            .await
            .map_err(|_| ClientError::Lost(format!("the listener took no request for {} s", REPLY_WAIT.as_secs())))?;
        written.map_err(|e| self.lost(e))?;
        let reply = tokio::time::timeout(REPLY_WAIT, framed::read_frame(&mut self.recv))
            .await
            .map_err(|_| ClientError::Lost(format!("the listener did not answer within {} s", REPLY_WAIT.as_secs())))?;
        let resp: Response = match reply {
            Ok(Some(r)) => r,
            Ok(None) => return Err(ClientError::Lost("the listener ended the session".into())),
            Err(e) => return Err(self.lost(e)),
        };
        match resp {
            Response::Error { code, message } => Err(ClientError::Remote { code, message }),
            r => Ok(r),
        }
    }

    fn lost(&self, e: impl std::fmt::Display) -> ClientError {
        match self.conn.close_reason() {
            Some(reason) => refusal(&reason, &self.hostport)
                .unwrap_or_else(|| ClientError::Lost(format!("connection closed: {reason}"))),
            None => ClientError::Lost(format!("control stream: {e}")),
        }
    }

    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }

    /// End the session: finish the control stream and wait (bounded) for the listener to
    /// close the connection, so it has seen the end before this process exits. Waiting for
    /// the listener's close instead of our own drain period saves three probe timeouts.
    pub async fn close(mut self) {
        let _ = self.send.finish();
        if tokio::time::timeout(CLOSE_WAIT, self.conn.closed()).await.is_err() {
            self.conn.close(close::DONE.into(), b"done");
            let _ = tokio::time::timeout(CLOSE_WAIT, self.endpoint.wait_idle()).await;
        }
    }
}

/// A request's kind, for logs (never its credentials or text).
fn request_name(req: &Request) -> &'static str {
    match req {
        Request::Login { .. } | Request::LoginSolved { .. } | Request::LoginWithCode { .. } => "login",
        Request::Challenge { .. } => "challenge",
        Request::Begin(_) | Request::BeginMany { .. } => "begin",
        Request::AddFiles { .. } => "add files",
        Request::Commit => "commit",
        Request::Inbox { .. } => "inbox",
        Request::Open { .. } | Request::OpenMeta { .. } | Request::OpenAll { .. } => "open",
        Request::Unseen { .. } => "unseen",
        Request::Delete { .. } | Request::DeleteEach { .. } => "delete",
        Request::MarkSeen { .. } => "mark seen",
        Request::PendingSends { .. } => "pending sends",
        Request::DropPending { .. } => "drop pending",
        Request::AddFilesMeta { .. } => "add files",
        Request::RecoverStart { .. } => "recover start",
        Request::RecoverFinish { .. } => "recover finish",
        Request::RecoverQuestion { .. } => "recover question",
        Request::CancelChange { .. } => "cancel change",
        Request::Account(_) => "account",
        Request::RegisterChallenge { .. } => "register challenge",
        Request::Register { .. } => "register",
    }
}

pub(crate) fn unexpected(resp: &Response) -> ClientError {
    ClientError::Protocol(format!("unexpected reply from the listener: {resp:?}"))
}
