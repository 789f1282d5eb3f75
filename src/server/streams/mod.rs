//! File streams, one file per kind: a stream opens with a [`StreamHead`] frame that says
//! whether it uploads (`put`) or downloads (`get`). `serve` reads the head, hands the
//! stream to its handler, and applies the [`Outcome`] the handler returns: close the
//! connection at once (there is no control reply to wait for), stop the peer's side, send
//! the reply and finish the stream.

mod get;
mod put;

use std::sync::Arc;
use std::time::Duration;

use quinn::{RecvStream, SendStream};
use serde::Serialize;
use tracing::debug;

use super::conn::Conn;
use super::outcome::Outcome;
use crate::transport::framed::{self, FrameError};
use crate::transport::stream_code;
use crate::wire::{PutReply, StreamHead, MAX_HEAD_FRAME};

/// Serve one file stream (upload or download).
pub(crate) async fn serve(conn: &Arc<Conn>, mut send: SendStream, mut recv: RecvStream) {
    // The head is small and due at once: a stream cannot make the listener wait or buffer
    // before it says what it is.
    let wait = Duration::from_secs(conn.shared.limits().stream_head_timeout_secs);
    let head = match tokio::time::timeout(wait, framed::read_frame_max::<StreamHead>(&mut recv, MAX_HEAD_FRAME)).await {
        Ok(read) => read.and_then(|h| h.ok_or(FrameError::Truncated)),
        Err(_) => {
            let close = conn.timeout(&format_args!("no stream head within {} s", wait.as_secs()));
            let _ = send.reset(stream_code::TOO_SLOW.into());
            let outcome: Outcome<PutReply> = Outcome::silent().stop(stream_code::TOO_SLOW).close(close);
            apply(conn, &mut send, &mut recv, outcome).await;
            return;
        }
    };
    let head = match head {
        Ok(h) => h,
        Err(e @ (FrameError::Decode(_) | FrameError::Body { .. })) => {
            let close = conn.violation(&format_args!("file stream head refused: {e}"));
            let _ = send.reset(stream_code::REFUSED.into());
            let outcome: Outcome<PutReply> = Outcome::silent().stop(stream_code::REFUSED).close(close);
            apply(conn, &mut send, &mut recv, outcome).await;
            return;
        }
        Err(e) => {
            debug!(peer = %conn.peer, "file stream ended before its head: {e}");
            return;
        }
    };
    match head {
        StreamHead::Put { id, index, offset } => {
            let outcome = put::handle(conn, &mut recv, id, index, offset).await;
            apply(conn, &mut send, &mut recv, outcome).await;
        }
        StreamHead::Get { id, index, offset } => {
            let _ = recv.stop(0u32.into());
            let outcome = get::handle(conn, &mut send, id, index, offset).await;
            apply(conn, &mut send, &mut recv, outcome).await;
        }
    }
}

async fn apply<R: Serialize>(conn: &Conn, send: &mut SendStream, recv: &mut RecvStream, o: Outcome<R>) {
    if let Some(close) = o.close {
        conn.close(close);
    }
    if let Some(code) = o.stop {
        let _ = recv.stop(code.into());
    }
    if let Some(reply) = o.reply {
        let wait = super::outcome::REPLY_WRITE_WAIT;
        let _ = tokio::time::timeout(wait, framed::write_frame(send, &reply)).await;
        let _ = send.finish();
    }
}
