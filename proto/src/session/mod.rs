//! The control-session state machine, sans I/O. The connection glue feeds it every decoded
//! request and every file-stream event; it answers what the glue must do, or a violation.
//! It decides what a connection may do from its authenticated state only: nothing a client
//! sends can grant it a right it did not earn by logging in.
//!
//! Call order: `on_request` for each control frame → the glue performs the returned
//! [`Step`] → reports back: `logged_in` or `login_failed` after a login, `delivery_opened`
//! after a `Begin` (with `None` when the glue refused or failed it), `set_have` for each file
//! of an `AddFiles`. Commit, inbox and open need no report. Upload streams: `begin_put`
//! before a byte is written, `end_put` when the stream ends. Download streams: `begin_get`
//! only says whose mailbox to look in; whether the file is there is the glue's check.
//!
//! What this machine enforces: nothing before login, one open delivery at a time, declared
//! counts and sizes (per delivery and per connection), uploads in flight. The recipient's
//! mailbox quota is the glue's check at `Begin`, against the database.

use crate::wire::{Begin, FileEntry, FileMeta, Hash, Request};

/// Caps a session enforces; the listener's configuration fills them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// Login attempts per connection before it is closed.
    pub max_login_attempts: u32,
    /// Largest total size of one delivery.
    pub max_delivery_bytes: u64,
    /// Upload streams in flight at once.
    pub max_puts_in_flight: u32,
    /// Bytes one connection may declare for upload, all deliveries together.
    pub max_connection_bytes: u64,
    /// Bytes of file names one delivery may declare, all together.
    pub max_delivery_path_bytes: u64,
}

impl Default for SessionLimits {
    fn default() -> Self {
        Self {
            max_login_attempts: 3,
            max_delivery_bytes: 1 << 40,
            max_puts_in_flight: 128,
            max_connection_bytes: 1 << 40,
            max_delivery_path_bytes: 16 << 20,
        }
    }
}

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

/// Challenges one connection may ask for before login (a person needs one, perhaps a
/// second to read a clearer picture).
pub const MAX_CHALLENGES: u32 = 4;

/// Recovery requests (start, finish, cancel) and registrations one connection may make
/// before login.
pub const MAX_RECOVERY_REQUESTS: u32 = 4;

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
    /// when `meta`).
    Open { user: String, id: u64, from: u32, meta: bool },
    /// Remove these deliveries, those that are in the user's mailbox.
    Delete { user: String, ids: Vec<u64> },
    /// Mark these deliveries seen, those that are in the user's mailbox.
    MarkSeen { user: String, ids: Vec<u64> },
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

/// What the listener holds of one declared file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    /// Complete and verified.
    Complete { hash: Hash, media_type: String },
    /// A partial file of this many bytes (0: nothing yet), kept for a resume.
    Partial { bytes: u64 },
}

impl Held {
    fn state(self, size: u64) -> FileState {
        match self {
            Held::Complete { hash, media_type } => FileState::Done(hash, media_type),
            Held::Partial { bytes } => FileState::Pending { held: bytes.min(size) },
        }
    }
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

#[derive(Debug, Clone, PartialEq, Eq)]
enum FileState {
    Pending { held: u64 },
    InFlight,
    Done(Hash, String),
}

#[derive(Debug, Clone)]
struct Entry {
    path: String,
    size: u64,
    state: FileState,
    meta: Option<FileMeta>,
}

#[derive(Debug, Clone)]
struct OpenDelivery {
    id: u64,
    to: String,
    begin: Begin,
    also: Vec<String>,
    entries: Vec<Entry>,
    /// Declared paths, as keyed 64-bit hashes: each path is held once (in `entries`). With
    /// random keys, two different paths collide with probability about n²/2⁶⁵ (10⁻⁹ at
    /// 100,000 files), and a collision only refuses the sender's own delivery.
    paths: std::collections::HashSet<u64>,
    hasher: std::collections::hash_map::RandomState,
    entry_bytes: u64,
    path_bytes: u64,
    in_flight: u32,
}

/// One connection's control state.
#[derive(Debug, Clone)]
pub struct Session {
    limits: SessionLimits,
    user: Option<String>,
    failed_logins: u32,
    challenges: u32,
    recoveries: u32,
    told_challenge: bool,
    delivery: Option<OpenDelivery>,
    pending_begin: Option<(Begin, Vec<String>)>,
    declared_bytes: u64,
}

impl Session {
    pub fn new(limits: SessionLimits) -> Self {
        Self {
            limits,
            user: None,
            failed_logins: 0,
            challenges: 0,
            recoveries: 0,
            told_challenge: false,
            delivery: None,
            pending_begin: None,
            declared_bytes: 0,
        }
    }

    /// The authenticated account, if any.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// Decide on one control request.
    pub fn on_request(&mut self, req: &Request) -> Result<Step, Violation> {
        if let Request::Login { .. } | Request::LoginSolved { .. } = req {
            if self.user.is_some() {
                return Err(Violation::AlreadyLoggedIn);
            }
            if self.failed_logins >= self.limits.max_login_attempts {
                return Err(Violation::TooManyLogins);
            }
            return Ok(Step::Login);
        }
        if let Request::Challenge { user } | Request::RegisterChallenge { user } = req {
            if self.user.is_some() {
                return Err(Violation::AlreadyLoggedIn);
            }
            if self.challenges >= MAX_CHALLENGES {
                return Err(Violation::TooManyChallenges);
            }
            self.challenges += 1;
            if let Request::RegisterChallenge { .. } = req {
                return Ok(Step::RegisterChallenge { user: user.clone() });
            }
            return Ok(Step::Challenge { user: user.clone() });
        }
        if let Request::RecoverStart { .. }
        | Request::RecoverFinish { .. }
        | Request::CancelChange { .. }
        | Request::Register { .. } = req
        {
            if self.user.is_some() {
                return Err(Violation::AlreadyLoggedIn);
            }
            if self.recoveries >= MAX_RECOVERY_REQUESTS {
                return Err(Violation::TooManyRecoveries);
            }
            self.recoveries += 1;
            return Ok(Step::Recovery);
        }
        let user = self.user.clone().ok_or(Violation::NotLoggedIn)?;
        match req {
            Request::Login { .. }
            | Request::LoginSolved { .. }
            | Request::Challenge { .. }
            | Request::RecoverStart { .. }
            | Request::RecoverFinish { .. }
            | Request::CancelChange { .. }
            | Request::RegisterChallenge { .. }
            | Request::Register { .. } => Err(Violation::AlreadyLoggedIn),
            Request::Account(_) => Ok(Step::Account { user }),
            Request::Begin(begin) => self.begin(user, begin, Vec::new()),
            Request::BeginMany { begin, also } => self.begin(user, begin, also.clone()),
            Request::AddFiles { entries } => self.add_files(entries, None),
            Request::AddFilesMeta { entries, meta } => self.add_files(entries, Some(meta)),
            Request::Commit => self.commit(user),
            Request::Inbox { after } => Ok(Step::Inbox { user, after: *after, unseen: false }),
            Request::Unseen { after } => Ok(Step::Inbox { user, after: *after, unseen: true }),
            Request::Open { id, from } => Ok(Step::Open { user, id: *id, from: *from, meta: false }),
            Request::OpenMeta { id, from } => Ok(Step::Open { user, id: *id, from: *from, meta: true }),
            Request::Delete { ids } => Ok(Step::Delete { user, ids: ids.clone() }),
            Request::MarkSeen { ids } => Ok(Step::MarkSeen { user, ids: ids.clone() }),
        }
    }

    fn begin(&mut self, user: String, begin: &Begin, also: Vec<String>) -> Result<Step, Violation> {
        if self.delivery.is_some() || self.pending_begin.is_some() {
            return Err(Violation::DeliveryOpen);
        }
        if begin.bytes > self.limits.max_delivery_bytes {
            return Err(Violation::DeliveryTooLarge);
        }
        let declared = self.declared_bytes.checked_add(begin.bytes).ok_or(Violation::ConnectionBudget)?;
        if declared > self.limits.max_connection_bytes {
            return Err(Violation::ConnectionBudget);
        }
        self.declared_bytes = declared;
        self.pending_begin = Some((begin.clone(), also.clone()));
        Ok(Step::Begin { user, also })
    }

    /// A login was refused for want of a solved challenge: whether this connection had
    /// been told so before (a real client asks for a challenge once told; a second plain
    /// login is a client ignoring the step-up).
    pub fn challenge_required(&mut self) -> bool {
        std::mem::replace(&mut self.told_challenge, true)
    }

    pub fn logged_in(&mut self, user: &str) {
        self.user = Some(user.to_owned());
    }

    /// Returns true when the connection has used up its attempts and must be closed.
    pub fn login_failed(&mut self) -> bool {
        self.failed_logins = self.failed_logins.saturating_add(1);
        self.failed_logins >= self.limits.max_login_attempts
    }

    /// The glue resolved the `Begin`: `Some((id, recipient))`, or `None` if it was refused.
    pub fn delivery_opened(&mut self, opened: Option<(u64, String)>) {
        let begin = self.pending_begin.take();
        if let (Some((id, to)), Some((begin, also))) = (opened, begin) {
            self.delivery = Some(OpenDelivery {
                id,
                to,
                begin,
                also,
                entries: Vec::new(),
                paths: Default::default(),
                hasher: Default::default(),
                entry_bytes: 0,
                path_bytes: 0,
                in_flight: 0,
            });
        }
    }

    fn add_files(&mut self, entries: &[FileEntry], meta: Option<&[FileMeta]>) -> Result<Step, Violation> {
        let d = self.delivery.as_mut().ok_or(Violation::NoOpenDelivery)?;
        let total = d.entries.len().checked_add(entries.len()).ok_or(Violation::TooManyFiles)?;
        if total > d.begin.files as usize {
            return Err(Violation::TooManyFiles);
        }
        let mut bytes = d.entry_bytes;
        for e in entries {
            bytes = bytes.checked_add(e.size).ok_or(Violation::TooManyBytes)?;
        }
        if bytes > d.begin.bytes {
            return Err(Violation::TooManyBytes);
        }
        let path_bytes = entries.iter().fold(d.path_bytes, |sum, e| sum.saturating_add(e.path.len() as u64));
        if path_bytes > self.limits.max_delivery_path_bytes {
            return Err(Violation::TooManyPathBytes);
        }
        let hashes: Vec<u64> = entries.iter().map(|e| std::hash::BuildHasher::hash_one(&d.hasher, &e.path)).collect();
        let mut batch = std::collections::HashSet::with_capacity(hashes.len());
        for h in &hashes {
            if d.paths.contains(h) || !batch.insert(*h) {
                return Err(Violation::DuplicatePath);
            }
        }
        d.paths.extend(hashes);
        let first = d.entries.len() as u32;
        d.entry_bytes = bytes;
        d.path_bytes = path_bytes;
        d.entries.extend(entries.iter().enumerate().map(|(i, e)| Entry {
            path: e.path.clone(),
            size: e.size,
            state: FileState::Pending { held: 0 },
            meta: meta.and_then(|m| m.get(i)).copied(),
        }));
        Ok(Step::AddFiles { id: d.id, first, count: entries.len() as u32 })
    }

    /// Record what the server already holds for file `index`.
    pub fn set_have(&mut self, index: u32, have: Held) {
        if let Some(e) = self.entry_mut(index) {
            e.state = have.state(e.size);
        }
    }

    fn entry_mut(&mut self, index: u32) -> Option<&mut Entry> {
        self.delivery.as_mut().and_then(|d| d.entries.get_mut(index as usize))
    }

    /// Accept or refuse an upload stream.
    pub fn begin_put(&mut self, id: u64, index: u32, offset: u64) -> Result<PutPlan, Violation> {
        if self.user.is_none() {
            return Err(Violation::NotLoggedIn);
        }
        let max_in_flight = self.limits.max_puts_in_flight;
        let d = self.delivery.as_mut().ok_or(Violation::NoOpenDelivery)?;
        if d.id != id {
            return Err(Violation::NoOpenDelivery);
        }
        if d.in_flight >= max_in_flight {
            return Err(Violation::TooManyInFlight);
        }
        let e = d.entries.get_mut(index as usize).ok_or(Violation::UnknownFile)?;
        let replace = match e.state {
            FileState::Pending { held } if held == offset => false,
            FileState::Pending { .. } => return Err(Violation::BadOffset),
            FileState::Done(..) if offset == 0 => true,
            FileState::Done(..) => return Err(Violation::BadOffset),
            FileState::InFlight => return Err(Violation::FileBusy),
        };
        e.state = FileState::InFlight;
        d.in_flight += 1;
        Ok(PutPlan { id, index, path: e.path.clone(), size: e.size, offset, replace })
    }

    /// An upload stream ended: `Held::Complete` stored and verified, `Held::Partial` failed
    /// with that many bytes kept for a later resume.
    pub fn end_put(&mut self, index: u32, outcome: Held) {
        if let Some(d) = self.delivery.as_mut() {
            if let Some(e) = d.entries.get_mut(index as usize) {
                if e.state == FileState::InFlight {
                    d.in_flight = d.in_flight.saturating_sub(1);
                    e.state = outcome.state(e.size);
                }
            }
        }
    }

    /// The user may download: returns the account whose mailbox the glue must check.
    pub fn begin_get(&self) -> Result<&str, Violation> {
        self.user.as_deref().ok_or(Violation::NotLoggedIn)
    }

    fn commit(&mut self, user: String) -> Result<Step, Violation> {
        let d = self.delivery.as_ref().ok_or(Violation::NoOpenDelivery)?;
        let complete = d.entries.len() == d.begin.files as usize
            && d.entry_bytes == d.begin.bytes
            && d.entries.iter().all(|e| matches!(e.state, FileState::Done(..)));
        if !complete {
            return Err(Violation::Incomplete);
        }
        let d = self.delivery.take().ok_or(Violation::NoOpenDelivery)?;
        let files = d
            .entries
            .into_iter()
            .filter_map(|e| match e.state {
                FileState::Done(hash, media_type) => {
                    Some(CommittedFile { path: e.path, size: e.size, hash, media_type, meta: e.meta })
                }
                _ => None,
            })
            .collect();
        Ok(Step::Commit(CommitPlan {
            id: d.id,
            from: user,
            to: d.to,
            subject: d.begin.subject,
            body: d.begin.body,
            files,
            resume_key: d.begin.resume_key,
            also: d.also,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Credential;

    fn login(s: &mut Session) {
        let req = Request::Login { user: "alice".into(), credential: Credential::Token([0; 32]) };
        assert_eq!(s.on_request(&req), Ok(Step::Login));
        s.logged_in("alice");
    }

    fn begin(files: u32, bytes: u64) -> Request {
        Request::Begin(Begin { to: None, subject: None, body: Some("hi".into()), files, bytes, resume_key: [1; 32] })
    }

    #[test]
    fn nothing_before_login() {
        let mut s = Session::new(SessionLimits::default());
        for req in [begin(0, 0), Request::Commit, Request::Inbox { after: 0 }, Request::Open { id: 1, from: 0 }] {
            assert_eq!(s.on_request(&req), Err(Violation::NotLoggedIn));
        }
        assert_eq!(s.begin_put(1, 0, 0), Err(Violation::NotLoggedIn));
        assert_eq!(s.begin_get(), Err(Violation::NotLoggedIn));
    }

    #[test]
    fn second_login_refused() {
        let mut s = Session::new(SessionLimits::default());
        login(&mut s);
        let req = Request::Login { user: "bob".into(), credential: Credential::Token([0; 32]) };
        assert_eq!(s.on_request(&req), Err(Violation::AlreadyLoggedIn));
        assert_eq!(s.user(), Some("alice"));
    }

    #[test]
    fn login_attempts_are_capped() {
        let mut s = Session::new(SessionLimits::default());
        let req = Request::Login { user: "bob".into(), credential: Credential::Token([0; 32]) };
        for _ in 0..2 {
            assert_eq!(s.on_request(&req), Ok(Step::Login));
            assert!(!s.login_failed());
        }
        assert_eq!(s.on_request(&req), Ok(Step::Login));
        assert!(s.login_failed());
        assert_eq!(s.on_request(&req), Err(Violation::TooManyLogins));
    }

    #[test]
    fn full_delivery_flow_and_quota() {
        let mut s = Session::new(SessionLimits::default());
        login(&mut s);
        assert_eq!(s.on_request(&begin(2, 10)), Ok(Step::Begin { user: "alice".into(), also: vec![] }));
        s.delivery_opened(Some((7, "alice".into())));
        let too_big = Request::AddFiles { entries: vec![FileEntry { path: "a".into(), size: 11 }] };
        assert_eq!(s.on_request(&too_big), Err(Violation::TooManyBytes));
        let add = Request::AddFiles {
            entries: vec![FileEntry { path: "a".into(), size: 4 }, FileEntry { path: "b".into(), size: 6 }],
        };
        assert_eq!(s.on_request(&add), Ok(Step::AddFiles { id: 7, first: 0, count: 2 }));
        let more = Request::AddFiles { entries: vec![FileEntry { path: "c".into(), size: 0 }] };
        assert_eq!(s.on_request(&more), Err(Violation::TooManyFiles));
        let dup = Request::AddFiles { entries: vec![FileEntry { path: "a".into(), size: 0 }] };
        assert_eq!(s.on_request(&dup), Err(Violation::TooManyFiles));
        s.set_have(1, Held::Partial { bytes: 3 });
        assert_eq!(s.on_request(&Request::Commit), Err(Violation::Incomplete));
        assert_eq!(s.begin_put(8, 0, 0), Err(Violation::NoOpenDelivery));
        assert_eq!(s.begin_put(7, 2, 0), Err(Violation::UnknownFile));
        assert_eq!(s.begin_put(7, 1, 0), Err(Violation::BadOffset));
        let plan = s.begin_put(7, 1, 3).expect("resume at held offset");
        assert_eq!((plan.size, plan.offset), (6, 3));
        assert_eq!(s.begin_put(7, 1, 3), Err(Violation::FileBusy));
        s.end_put(1, Held::Complete { hash: [2; 32], media_type: "text/plain".into() });
        // A complete file can be sent again from the start (it changed), never resumed.
        assert_eq!(s.begin_put(7, 1, 2), Err(Violation::BadOffset));
        let again = s.begin_put(7, 1, 0).expect("replace a complete file");
        assert!(again.replace);
        s.end_put(1, Held::Complete { hash: [4; 32], media_type: "text/plain".into() });
        assert!(s.begin_put(7, 0, 0).is_ok());
        s.end_put(0, Held::Partial { bytes: 1 });
        assert!(s.begin_put(7, 0, 1).is_ok());
        s.end_put(0, Held::Complete { hash: [3; 32], media_type: "text/plain".into() });
        match s.on_request(&Request::Commit) {
            Ok(Step::Commit(plan)) => {
                assert_eq!(plan.id, 7);
                assert_eq!(plan.files.len(), 2);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.on_request(&Request::Commit), Err(Violation::NoOpenDelivery));
    }

    #[test]
    fn duplicate_paths_refused() {
        let mut s = Session::new(SessionLimits::default());
        login(&mut s);
        s.on_request(&begin(3, 3)).expect("begin");
        s.delivery_opened(Some((1, "alice".into())));
        let twice = Request::AddFiles {
            entries: vec![FileEntry { path: "a".into(), size: 1 }, FileEntry { path: "a".into(), size: 1 }],
        };
        assert_eq!(s.on_request(&twice), Err(Violation::DuplicatePath));
        let once = Request::AddFiles { entries: vec![FileEntry { path: "a".into(), size: 1 }] };
        assert!(s.on_request(&once).is_ok());
        assert_eq!(s.on_request(&once), Err(Violation::DuplicatePath));
    }

    #[test]
    fn in_flight_cap() {
        let limits = SessionLimits { max_puts_in_flight: 1, ..SessionLimits::default() };
        let mut s = Session::new(limits);
        login(&mut s);
        s.on_request(&begin(2, 2)).expect("begin");
        s.delivery_opened(Some((1, "alice".into())));
        let add = Request::AddFiles {
            entries: vec![FileEntry { path: "a".into(), size: 1 }, FileEntry { path: "b".into(), size: 1 }],
        };
        s.on_request(&add).expect("add");
        assert!(s.begin_put(1, 0, 0).is_ok());
        assert_eq!(s.begin_put(1, 1, 0), Err(Violation::TooManyInFlight));
    }

    #[test]
    fn modes_and_times_travel_to_the_commit_and_mailbox_steps_need_a_login() {
        use crate::wire::FileMeta;
        let mut s = Session::new(SessionLimits::default());
        assert_eq!(s.on_request(&Request::Delete { ids: vec![1] }), Err(Violation::NotLoggedIn));
        assert_eq!(s.on_request(&Request::Unseen { after: 0 }), Err(Violation::NotLoggedIn));
        s.logged_in("alice");
        assert_eq!(
            s.on_request(&Request::Unseen { after: 3 }),
            Ok(Step::Inbox { user: "alice".into(), after: 3, unseen: true })
        );
        assert_eq!(
            s.on_request(&Request::MarkSeen { ids: vec![4] }),
            Ok(Step::MarkSeen { user: "alice".into(), ids: vec![4] })
        );
        let begin = Begin { to: None, subject: None, body: None, files: 1, bytes: 1, resume_key: [1; 32] };
        assert!(s.on_request(&Request::Begin(begin)).is_ok());
        s.delivery_opened(Some((7, "alice".into())));
        let meta = FileMeta { mode: 0o640, mtime: 9 };
        let add = Request::AddFilesMeta { entries: vec![FileEntry { path: "f".into(), size: 1 }], meta: vec![meta] };
        assert!(s.on_request(&add).is_ok());
        s.set_have(0, Held::Complete { hash: [0; 32], media_type: "x/y".into() });
        match s.on_request(&Request::Commit) {
            Ok(Step::Commit(plan)) => assert_eq!(plan.files[0].meta, Some(meta)),
            other => panic!("{other:?}"),
        }
    }
}
