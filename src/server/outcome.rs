//! What a request or stream handler asks the connection to do: the reply to send, the code
//! to stop the peer's stream with, and whether to close the whole connection (after the
//! reply on the control stream, at once on a file stream). Handlers decide; the connection
//! applies.

/// How long writing one reply may take (the peer must grant flow-control credit for it),
/// on the control stream and on file streams alike.
pub(crate) const REPLY_WRITE_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// Close the connection with this application code and reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Close {
    pub code: u32,
    pub reason: &'static str,
}

/// A handler's answer.
#[derive(Debug)]
pub struct Outcome<R> {
    pub reply: Option<R>,
    /// Stop the peer's sending side of the stream with this code.
    pub stop: Option<u32>,
    pub close: Option<Close>,
}

impl<R> Outcome<R> {
    pub fn reply(reply: R) -> Self {
        Self { reply: Some(reply), stop: None, close: None }
    }

    /// Nothing more to send.
    pub fn silent() -> Self {
        Self { reply: None, stop: None, close: None }
    }

    pub fn stop(mut self, code: u32) -> Self {
        self.stop = Some(code);
        self
    }

    /// Close the connection too (a `None` leaves it open).
    pub fn close(mut self, close: Option<Close>) -> Self {
        self.close = self.close.or(close);
        self
    }
}
