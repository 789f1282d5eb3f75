//! Every limit the listener enforces, with its default, in one place. The `[limits]`
//! section of the listener's config file (`--config`, TOML) sets any of them; a few have
//! command-line flags. Zero never means "unlimited": each field has a finite value.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::session::SessionLimits;

/// When the listener makes a client prove its address with a QUIC Retry before any
/// handshake work (RFC 9000 §8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RetryMode {
    /// Never send Retry.
    Never,
    /// Retry unvalidated clients once `retry_above` connections are open.
    Load,
    /// Always validate addresses first (one extra round trip per connection).
    Always,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Open connections in all.
    pub max_connections: u32,
    /// Open connections from one IP address.
    pub max_connections_per_ip: u32,
    /// Open connections from one /24 (IPv4) or /64 (IPv6).
    pub max_connections_per_prefix: u32,
    /// New connections per second from one IP address (bursts of `connection_burst_per_ip`).
    pub connections_per_second_per_ip: u32,
    pub connection_burst_per_ip: u32,
    /// Protocol violations one connection may commit before it is closed.
    pub max_violations: u32,
    /// Address validation policy.
    pub retry: RetryMode,
    /// With `retry = "load"`: open connections above which Retry starts.
    pub retry_above: u32,
    /// Seconds to finish the TLS handshake.
    pub handshake_timeout_secs: u64,
    /// Seconds after the handshake within which a connection must log in (LoginGraceTime).
    pub login_deadline_secs: u64,
    /// Seconds of silence after which a connection is closed.
    pub idle_timeout_secs: u64,
    /// An upload or download slower than this many bytes per second, measured over
    /// `progress_window_secs`, is cut off (slowloris, RFC 9000 §21.6).
    pub min_transfer_rate: u64,
    /// Window over which `min_transfer_rate` is measured.
    pub progress_window_secs: u64,
    /// Receive window of one stream, bytes.
    pub stream_window: u32,
    /// Receive window of one connection, bytes.
    pub connection_window: u32,
    /// Streams one connection may have open at once.
    pub max_streams: u32,
    /// Control requests per second from one IP address (sustained; bursts of `request_burst`).
    pub requests_per_second_per_ip: u32,
    /// Control requests per second for one account.
    pub requests_per_second_per_account: u32,
    /// Burst size of both request limits.
    pub request_burst: u32,
    /// Delay before answering a failed login, milliseconds.
    pub failed_login_delay_ms: u64,
    /// Failed logins on one connection before it is closed.
    pub max_login_attempts: u32,
    /// Password hashes computed at once (argon2id, 19 MiB each).
    pub max_concurrent_hashes: u32,
    /// Largest delivery, bytes.
    pub max_delivery_bytes: u64,
    /// Bytes one connection may declare for upload in all.
    pub connection_budget_bytes: u64,
    /// Bytes of delivered files one account's mailbox may hold.
    pub account_quota_bytes: u64,
    /// Files one account's mailbox may hold (zero-byte files count too).
    pub account_max_files: u64,
    /// Bytes of file names one delivery may declare, all its paths together.
    pub max_delivery_path_bytes: u64,
    /// Unfinished deliveries one account may have at once (each reserves room until it is
    /// committed or expires).
    pub max_open_deliveries_per_account: u32,
    /// Seconds an unfinished delivery is kept (for a resume) before it expires: its files
    /// are removed and what it reserved is released.
    pub spool_expiry_secs: u64,
    /// Seconds an unfinished delivery holds room in its recipient's mailbox, counted from
    /// the first of its sender's unfinished sends to that recipient (against the sender's
    /// own spool it counts until it ends). An hour is long enough to resume after a dropped
    /// connection or a restarted laptop, and short enough that sends never finished cannot
    /// keep someone's mailbox full: past it, the send must still fit when it resumes and
    /// when it commits, like any other.
    pub recipient_hold_secs: u64,
    /// Seconds after a sender's hold on a recipient's mailbox began before that sender gets
    /// a new one there, unless it finished a send to that recipient meanwhile: dropping
    /// sends and beginning new ones does not renew the hold.
    pub recipient_hold_renew_secs: u64,
    /// New deliveries are refused while the data directory's file system would have less
    /// than this many bytes free after them.
    pub min_free_disk_bytes: u64,
    /// Uploads in flight on one connection.
    pub max_puts_in_flight: u32,
    /// Seconds a new stream has to send its head frame.
    pub stream_head_timeout_secs: u64,
    /// Uploads of one account written to disk at once (each holds a disk thread); more
    /// wait, at most `progress_window_secs`, then are refused.
    pub max_uploads_per_account: u32,
    /// Uploads written to disk at once, all accounts together: below the runtime's 512
    /// blocking threads, so logins, token checks and listings always find a thread.
    pub max_upload_threads: u32,
    /// Activity events kept, at most (older ones are folded into per-source daily counts).
    pub activity_max_events: u64,
    /// Days an activity event is kept.
    pub activity_retention_days: u64,
    /// Record activity at all (scoring and automatic bans need it).
    pub activity_recording: bool,
}

/// `max_upload_threads` stays below this: the async runtime has 512 blocking threads, and
/// logins, token checks and listings need some of them whatever uploads do.
pub const MAX_UPLOAD_THREADS: u32 = 480;

/// A limit set to a value that would disable a defence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitsError {
    #[error("limits.{0} must be greater than 0")]
    Zero(&'static str),
    #[error("timeouts above one hour are refused")]
    TimeoutTooLong,
    #[error(
        "limits.max_upload_threads must stay below 480: the runtime has 512 blocking threads and logins need some"
    )]
    TooManyUploadThreads,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 512,
            max_connections_per_ip: 16,
            max_connections_per_prefix: 64,
            connections_per_second_per_ip: 10,
            connection_burst_per_ip: 30,
            max_violations: 8,
            retry: RetryMode::Load,
            retry_above: 128,
            handshake_timeout_secs: 10,
            login_deadline_secs: 10,
            idle_timeout_secs: 30,
            min_transfer_rate: 4096,
            progress_window_secs: 20,
            stream_window: 2 << 20,
            connection_window: 8 << 20,
            max_streams: 128,
            requests_per_second_per_ip: 50,
            requests_per_second_per_account: 50,
            request_burst: 200,
            failed_login_delay_ms: 500,
            max_login_attempts: 3,
            max_concurrent_hashes: 2,
            max_delivery_bytes: 1 << 40,
            connection_budget_bytes: 1 << 40,
            account_quota_bytes: 1 << 40,
            account_max_files: 1_000_000,
            max_delivery_path_bytes: 16 << 20,
            max_open_deliveries_per_account: 64,
            spool_expiry_secs: 3 * 24 * 3600,
            recipient_hold_secs: 3600,
            recipient_hold_renew_secs: 24 * 3600,
            min_free_disk_bytes: 1 << 30,
            max_puts_in_flight: 128,
            stream_head_timeout_secs: 10,
            max_uploads_per_account: 64,
            max_upload_threads: 256,
            activity_max_events: 1_000_000,
            activity_retention_days: 30,
            activity_recording: true,
        }
    }
}

impl Limits {
    /// Refuse values that would disable a defence.
    pub fn check(&self) -> Result<(), LimitsError> {
        let positive = [
            ("max_connections", u64::from(self.max_connections)),
            ("max_connections_per_ip", u64::from(self.max_connections_per_ip)),
            ("max_connections_per_prefix", u64::from(self.max_connections_per_prefix)),
            ("connections_per_second_per_ip", u64::from(self.connections_per_second_per_ip)),
            ("connection_burst_per_ip", u64::from(self.connection_burst_per_ip)),
            ("max_violations", u64::from(self.max_violations)),
            ("handshake_timeout_secs", self.handshake_timeout_secs),
            ("login_deadline_secs", self.login_deadline_secs),
            ("idle_timeout_secs", self.idle_timeout_secs),
            ("progress_window_secs", self.progress_window_secs),
            ("stream_window", u64::from(self.stream_window)),
            ("connection_window", u64::from(self.connection_window)),
            ("max_streams", u64::from(self.max_streams)),
            ("requests_per_second_per_ip", u64::from(self.requests_per_second_per_ip)),
            ("requests_per_second_per_account", u64::from(self.requests_per_second_per_account)),
            ("request_burst", u64::from(self.request_burst)),
            ("max_login_attempts", u64::from(self.max_login_attempts)),
            ("max_concurrent_hashes", u64::from(self.max_concurrent_hashes)),
            ("max_puts_in_flight", u64::from(self.max_puts_in_flight)),
            ("account_max_files", self.account_max_files),
            ("max_delivery_path_bytes", self.max_delivery_path_bytes),
            ("spool_expiry_secs", self.spool_expiry_secs),
            ("recipient_hold_secs", self.recipient_hold_secs),
            ("recipient_hold_renew_secs", self.recipient_hold_renew_secs),
            ("max_open_deliveries_per_account", u64::from(self.max_open_deliveries_per_account)),
            ("stream_head_timeout_secs", self.stream_head_timeout_secs),
            ("max_uploads_per_account", u64::from(self.max_uploads_per_account)),
            ("max_upload_threads", u64::from(self.max_upload_threads)),
            ("activity_max_events", self.activity_max_events),
            ("activity_retention_days", self.activity_retention_days),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(LimitsError::Zero(name));
            }
        }
        if [
            self.idle_timeout_secs,
            self.handshake_timeout_secs,
            self.login_deadline_secs,
            self.stream_head_timeout_secs,
        ]
        .iter()
        .any(|&t| t > 3600)
        {
            return Err(LimitsError::TimeoutTooLong);
        }
        if self.max_upload_threads >= MAX_UPLOAD_THREADS {
            return Err(LimitsError::TooManyUploadThreads);
        }
        Ok(())
    }

    pub fn net(&self) -> NetLimits {
        NetLimits {
            stream_window: self.stream_window,
            connection_window: self.connection_window,
            send_window: u64::from(self.connection_window).max(8 << 20),
            max_streams: self.max_streams,
            idle_timeout: Duration::from_secs(self.idle_timeout_secs),
        }
    }

    pub fn session(&self) -> SessionLimits {
        SessionLimits {
            max_login_attempts: self.max_login_attempts,
            max_delivery_bytes: self.max_delivery_bytes,
            max_puts_in_flight: self.max_puts_in_flight,
            max_connection_bytes: self.connection_budget_bytes,
            max_delivery_path_bytes: self.max_delivery_path_bytes,
        }
    }
}

/// Flow-control and stream settings for one connection.
///
/// The windows bound what a peer can make this side buffer: one stream at most
/// `stream_window`, one connection at most `connection_window`. 2 MiB per stream carries
/// ~40 MB/s per file at 50 ms round trip (1 Gbit/s at 16 ms); parallel files share the
/// 8 MiB connection window (~160 MB/s at 50 ms). Larger windows bought no speed on loopback
/// but multiplied the receiver's memory when its disk was the bottleneck (measured: 8/16 MiB
/// windows, 110 MiB peak RSS receiving 1 GiB; 2/8 MiB, 17 MiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetLimits {
    /// Bytes a peer may send on one stream before the receiver reads them.
    pub stream_window: u32,
    /// Bytes a peer may send on all streams of a connection before the receiver reads them:
    /// the most one connection can make the receiver buffer.
    pub connection_window: u32,
    /// Bytes this side keeps unacknowledged in flight.
    pub send_window: u64,
    /// Bidirectional streams the peer may have open at once.
    pub max_streams: u32,
    /// A connection silent this long is closed.
    pub idle_timeout: Duration,
}

impl Default for NetLimits {
    fn default() -> Self {
        Self {
            stream_window: 2 << 20,
            connection_window: 8 << 20,
            send_window: 16 << 20,
            max_streams: 128,
            idle_timeout: Duration::from_secs(30),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_refuses_disabled_defences() {
        assert_eq!(Limits::default().check(), Ok(()));
        let l = Limits { max_connections: 0, ..Limits::default() };
        assert_eq!(l.check(), Err(LimitsError::Zero("max_connections")));
        let l = Limits { idle_timeout_secs: 7200, ..Limits::default() };
        assert_eq!(l.check(), Err(LimitsError::TimeoutTooLong));
    }
}
