//! What the session answers the glue: the [`Step`] to perform for an accepted request,
//! with the plans it carries (a delivery to make durable, an upload stream to write).

use crate::wire::{FileMeta, Hash};

/// What the glue must do for an accepted request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Check these credentials (and the challenge of a `LoginSolved`), then call
    /// `logged_in` or `login_failed`.
    Login,
    /// Issue the challenge a login as `user` needs from this connection's network.
    Challenge { user: String },
    /// Issue the captcha registering the name `user` needs.
    RegisterChallenge { user: String },
    /// Resolve the recipient (and the further ones, `also`, that a `BeginMany` names), find
    /// or create the delivery, then `delivery_opened`.
    Begin { user: String, also: Vec<String> },
    /// Look up what is already held for files `first..first+count`, then `set_have`.
    AddFiles { id: u64, first: u32, count: u32 },
    /// Make the delivery durable.
    Commit(CommitPlan),
    /// List the user's mailbox (only what is not seen yet, with `unseen`).
    Inbox { user: String, after: u64, unseen: bool },
    /// Read a delivery, if it is in the user's mailbox (with its files' modes and times
    /// when `meta`, and every recipient it was sent to when `recipients`).
    Open { user: String, id: u64, from: u32, meta: bool, recipients: bool },
    /// Remove these deliveries, those that are in the user's mailbox (`each`: all that may
    /// go, each other answered with why; else all or none of those that are there).
    Delete { user: String, ids: Vec<u64>, each: bool },
    /// Mark these deliveries seen, those that are in the user's mailbox.
    MarkSeen { user: String, ids: Vec<u64> },
    /// List the user's unfinished sends with ids above `after`.
    PendingSends { user: String, after: u64 },
    /// Abandon the user's unfinished send `id`, if it is one of the user's.
    DropPending { user: String, id: u64 },
    /// A recovery request of a connection that has not logged in (start, finish, cancel)
    /// or a registration: the glue checks its challenge and does it.
    Recovery,
    /// The logged-in user's own account settings.
    Account { user: String },
}

/// Everything needed to make a finished delivery durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitPlan {
    pub id: u64,
    pub from: String,
    pub to: String,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub files: Vec<CommittedFile>,
    pub resume_key: Hash,
    /// Further recipients, each to get a delivery of its own at commit.
    pub also: Vec<String>,
}

/// A stored, verified file of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedFile {
    pub path: String,
    pub size: u64,
    pub hash: Hash,
    pub media_type: String,
    /// Permission bits and time, when the sender sent them.
    pub meta: Option<FileMeta>,
}

/// What an accepted upload stream must write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutPlan {
    pub id: u64,
    pub index: u32,
    pub path: String,
    pub size: u64,
    pub offset: u64,
    /// The listener holds a complete file under this name that the sender says changed:
    /// remove it first (only from offset 0, only in the sender's own open delivery).
    pub replace: bool,
}
