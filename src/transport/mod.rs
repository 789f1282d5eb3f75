//! quinn + rustls glue: certificates and trust (`tls`), endpoints with their transport
//! settings (`endpoint`), and frame I/O on QUIC streams (`framed`). The only module that
//! touches quinn.

pub mod body;
pub mod endpoint;
pub mod framed;
pub mod tls;

/// Application close codes, one per failure class.
pub mod close {
    /// Normal end of a command.
    pub const DONE: u32 = 0;
    /// The peer broke the protocol (bad frame, wrong order, forged values).
    pub const PROTOCOL: u32 = 1;
    /// Too many failed logins.
    pub const AUTH: u32 = 2;
    /// A limit was hit.
    pub const LIMIT: u32 = 3;
    /// The server failed (an error or a panic in this connection's task).
    pub const INTERNAL: u32 = 4;
    /// The listener is shutting down.
    pub const SHUTDOWN: u32 = 5;
    /// Another connection of the same sender resumed this connection's delivery.
    pub const SUPERSEDED: u32 = 6;
    /// No login within the deadline, or a transfer slower than the minimum rate.
    pub const TIMEOUT: u32 = 7;
    /// The peer speaks an older protocol (qxfer/1): upgrade qxfer.
    pub const UPGRADE: u32 = 8;
    /// The source is banned; the reason is a `wire::BanNotice`. Sent once per ban.
    pub const BANNED: u32 = 9;
}

/// Stream stop/reset codes.
pub mod stream_code {
    /// The stream's head or trailer was invalid, or the request was refused.
    pub const REFUSED: u32 = 1;
    /// The stream carried more bytes than declared.
    pub const TOO_LONG: u32 = 2;
    /// The receiver could not store the data.
    pub const FAILED: u32 = 3;
    /// The transfer was slower than the minimum rate.
    pub const TOO_SLOW: u32 = 4;
}
