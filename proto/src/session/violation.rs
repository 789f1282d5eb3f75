//! Why the session refuses a request or a stream: each [`Violation`] names the rule broken.

/// A request or stream the session refuses, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    #[error("log in first")]
    NotLoggedIn,
    #[error("already logged in")]
    AlreadyLoggedIn,
    #[error("too many failed logins")]
    TooManyLogins,
    #[error("too many challenges asked for on one connection")]
    TooManyChallenges,
    #[error("too many recovery requests on one connection")]
    TooManyRecoveries,
    #[error("a delivery is already open on this connection")]
    DeliveryOpen,
    #[error("no delivery is open")]
    NoOpenDelivery,
    #[error("the same path twice in one delivery")]
    DuplicatePath,
    #[error("more files than the delivery declared")]
    TooManyFiles,
    #[error("file sizes exceed the delivery's declared size")]
    TooManyBytes,
    #[error("delivery larger than the server accepts")]
    DeliveryTooLarge,
    #[error("this connection's upload budget is used up")]
    ConnectionBudget,
    #[error("not every declared file was declared and stored")]
    Incomplete,
    #[error("no such file in the open delivery")]
    UnknownFile,
    #[error("file is already being sent or stored")]
    FileBusy,
    #[error("resume offset does not match what the server holds")]
    BadOffset,
    #[error("too many uploads in flight")]
    TooManyInFlight,
    #[error("the delivery's file names are longer than the server accepts, all together")]
    TooManyPathBytes,
}
