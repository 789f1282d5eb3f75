//! Activity events: what a peer did, as the listener records it. Pure data; the recorder
//! stores them (redb) and feeds the ones that are offences to the [`super::Scorer`].
//! Passwords, message bodies and file contents never appear here.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::Offence;

/// Event kinds. Variant order is the stored format: append only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Kind {
    /// A connection completed its handshake (its address is validated).
    Connected,
    /// A connection attempt refused or dropped before the handshake.
    Refused,
    LoginOk,
    /// Wrong password or token for an existing account.
    LoginFailed,
    /// Login for an account that does not exist.
    UnknownUser,
    /// A delivery was committed.
    Delivery,
    /// A rate, size or quota limit was hit.
    Limit,
    /// A malformed, forged or out-of-order message (detail: what was expected, what came).
    Violation,
    /// No login by the deadline, or a transfer below the minimum rate.
    Timeout,
    /// A request for a delivery or file that is not the caller's.
    Probe,
    /// The connection's task panicked.
    Panic,
    Ban,
    Unban,
    /// The recorder's queue was full: `bytes` holds how many events were dropped.
    Dropped,
    /// A control request (detail: which).
    Request,
    /// A challenge handed out (detail: its kind and effort).
    ChallengeIssued,
    /// A challenge solved (detail: its kind, effort and the time to answer).
    ChallengeSolved,
    /// A challenge answered wrongly, late, twice, from elsewhere or forged, or a login
    /// without the challenge it needed (detail: which).
    ChallengeFailed,
    /// A captcha answered faster than a person reads and types it (detail: how fast).
    TooFast,
    /// Someone asked to recover the account (the reply is the same whether it exists).
    RecoveryRequested,
    /// A text went to a number (detail: what for, the number masked), or could not.
    TextSent,
    /// A wrong texted code or cancel code.
    RecoveryWrongCode,
    /// A wrong secret answer or recovery code after a right texted code.
    RecoveryWrongAnswer,
    /// A recovery or account change made from an unknown place waits (detail: what, until).
    RecoveryDelayed,
    /// A pending change was cancelled (detail: what, and how).
    RecoveryCancelled,
    /// A recovery or account change took effect (detail: what).
    RecoveryCompleted,
    /// Logins, challenge requests or registrations too regular to be human (detail: how).
    TooRegular,
    /// An account registered itself (detail: the name's network limits left).
    Registered,
    /// A registration refused (detail: why: the name, a limit, automated-looking timing).
    RegistrationRefused,
    /// One of the day's text pools passed `sms::LOW_PERCENT` used (detail: which, how
    /// many of how many); once a pool a day.
    TextBudgetLow,
    /// A password login refused whatever its password: its account (or made-up name) is
    /// locked against places it does not know (`policy::lockout`).
    LoginLocked,
    /// A password login from a network the account had not used: its owner is told (a
    /// mailbox notice, and a text with a code that disowns it).
    NewPlace,
    /// A text that was not sent (detail: to whom, masked, and why: a budget, a lane, the
    /// number's cooldown, a country not allowed).
    TextRefused,
}

impl Kind {
    pub const ALL: [Kind; 33] = [
        Kind::Connected,
        Kind::Refused,
        Kind::LoginOk,
        Kind::LoginFailed,
        Kind::UnknownUser,
        Kind::Delivery,
        Kind::Limit,
        Kind::Violation,
        Kind::Timeout,
        Kind::Probe,
        Kind::Panic,
        Kind::Ban,
        Kind::Unban,
        Kind::Dropped,
        Kind::Request,
        Kind::ChallengeIssued,
        Kind::ChallengeSolved,
        Kind::ChallengeFailed,
        Kind::TooFast,
        Kind::RecoveryRequested,
        Kind::TextSent,
        Kind::RecoveryWrongCode,
        Kind::RecoveryWrongAnswer,
        Kind::RecoveryDelayed,
        Kind::RecoveryCancelled,
        Kind::RecoveryCompleted,
        Kind::TooRegular,
        Kind::Registered,
        Kind::RegistrationRefused,
        Kind::TextBudgetLow,
        Kind::LoginLocked,
        Kind::NewPlace,
        Kind::TextRefused,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Connected => "connected",
            Kind::Refused => "refused",
            Kind::LoginOk => "login",
            Kind::LoginFailed => "login_failed",
            Kind::UnknownUser => "unknown_user",
            Kind::Delivery => "delivery",
            Kind::Limit => "limit",
            Kind::Violation => "violation",
            Kind::Timeout => "timeout",
            Kind::Probe => "probe",
            Kind::Panic => "panic",
            Kind::Ban => "ban",
            Kind::Unban => "unban",
            Kind::Dropped => "dropped",
            Kind::Request => "request",
            Kind::ChallengeIssued => "challenge_issued",
            Kind::ChallengeSolved => "challenge_solved",
            Kind::ChallengeFailed => "challenge_failed",
            Kind::TooFast => "too_fast",
            Kind::RecoveryRequested => "recovery_requested",
            Kind::TextSent => "text_sent",
            Kind::RecoveryWrongCode => "recovery_wrong_code",
            Kind::RecoveryWrongAnswer => "recovery_wrong_answer",
            Kind::RecoveryDelayed => "recovery_delayed",
            Kind::RecoveryCancelled => "recovery_cancelled",
            Kind::RecoveryCompleted => "recovery_completed",
            Kind::TooRegular => "too_regular",
            Kind::Registered => "registered",
            Kind::RegistrationRefused => "registration_refused",
            Kind::TextBudgetLow => "text_budget_low",
            Kind::LoginLocked => "login_locked",
            Kind::NewPlace => "new_place",
            Kind::TextRefused => "text_refused",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// The offence this kind of event counts as, if any.
    pub fn offence(self) -> Option<Offence> {
        match self {
            Kind::LoginFailed | Kind::LoginLocked => Some(Offence::AuthFailure),
            Kind::UnknownUser => Some(Offence::UnknownUser),
            Kind::Limit => Some(Offence::LimitHit),
            Kind::Violation => Some(Offence::ProtocolViolation),
            Kind::Timeout => Some(Offence::Timeout),
            Kind::Probe => Some(Offence::Probe),
            Kind::Panic => Some(Offence::PanicCaused),
            Kind::ChallengeFailed => Some(Offence::ChallengeFailed),
            Kind::TooFast => Some(Offence::TooFast),
            Kind::RecoveryWrongCode | Kind::RecoveryWrongAnswer => Some(Offence::RecoveryGuess),
            Kind::TooRegular => Some(Offence::TooRegular),
            _ => None,
        }
    }
}

/// Longest detail text stored.
pub const MAX_DETAIL: usize = 200;

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    pub source: IpAddr,
    pub account: Option<String>,
    pub kind: Kind,
    pub bytes: u64,
    pub detail: String,
}

impl Activity {
    pub fn new(time_ms: u64, source: IpAddr, kind: Kind) -> Self {
        Self { time_ms, source, account: None, kind, bytes: 0, detail: String::new() }
    }

    pub fn account(mut self, a: &str) -> Self {
        self.account = Some(a.chars().take(64).collect());
        self
    }

    pub fn bytes(mut self, n: u64) -> Self {
        self.bytes = n;
        self
    }

    /// Attach a detail, cut to [`MAX_DETAIL`] bytes with control characters removed.
    pub fn detail(mut self, d: impl std::fmt::Display) -> Self {
        let mut out = String::new();
        for c in d.to_string().chars().filter(|c| !c.is_control()) {
            if out.len() + c.len_utf8() > MAX_DETAIL {
                break;
            }
            out.push(c);
        }
        self.detail = out;
        self
    }
}
