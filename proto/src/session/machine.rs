//! The state machine itself: one connection's [`Session`], deciding on each request from
//! its authenticated state, counting logins, challenges and recoveries, and holding the
//! open delivery (`OpenDelivery`) whose files and uploads it checks.

use crate::wire::{Begin, FileEntry, FileMeta, Request};

use super::delivery::{Held, OpenDelivery};
use super::limits::{SessionLimits, MAX_CHALLENGES, MAX_RECOVERY_REQUESTS};
use super::step::{PutPlan, Step};
use super::violation::Violation;

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
        if let Request::Login { .. } | Request::LoginSolved { .. } | Request::LoginWithCode { .. } = req {
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
        | Request::RecoverQuestion { .. }
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
            | Request::LoginWithCode { .. }
            | Request::Challenge { .. }
            | Request::RecoverStart { .. }
            | Request::RecoverQuestion { .. }
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
            Request::Open { id, from } => Ok(Step::Open { user, id: *id, from: *from, meta: false, recipients: false }),
            Request::OpenMeta { id, from } => {
                Ok(Step::Open { user, id: *id, from: *from, meta: true, recipients: false })
            }
            Request::OpenAll { id, from } => {
                Ok(Step::Open { user, id: *id, from: *from, meta: true, recipients: true })
            }
            Request::Delete { ids } => Ok(Step::Delete { user, ids: ids.clone(), each: false }),
            Request::DeleteEach { ids } => Ok(Step::Delete { user, ids: ids.clone(), each: true }),
            Request::PendingSends { after } => Ok(Step::PendingSends { user, after: *after }),
            Request::DropPending { id } => {
                // The delivery this connection is sending is finished or left, not dropped
                // from under it.
                if self.delivery.as_ref().is_some_and(|d| d.id() == *id) {
                    return Err(Violation::DeliveryOpen);
                }
                Ok(Step::DropPending { user, id: *id })
            }
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
            self.delivery = Some(OpenDelivery::new(id, to, begin, also));
        }
    }

    fn add_files(&mut self, entries: &[FileEntry], meta: Option<&[FileMeta]>) -> Result<Step, Violation> {
        let d = self.delivery.as_mut().ok_or(Violation::NoOpenDelivery)?;
        let first = d.add_files(entries, meta, self.limits.max_delivery_path_bytes)?;
        Ok(Step::AddFiles { id: d.id(), first, count: entries.len() as u32 })
    }

    /// Record what the server already holds for file `index`.
    pub fn set_have(&mut self, index: u32, have: Held) {
        if let Some(d) = self.delivery.as_mut() {
            d.set_have(index, have);
        }
    }

    /// Accept or refuse an upload stream.
    pub fn begin_put(&mut self, id: u64, index: u32, offset: u64) -> Result<PutPlan, Violation> {
        if self.user.is_none() {
            return Err(Violation::NotLoggedIn);
        }
        let max_in_flight = self.limits.max_puts_in_flight;
        let d = self.delivery.as_mut().ok_or(Violation::NoOpenDelivery)?;
        if d.id() != id {
            return Err(Violation::NoOpenDelivery);
        }
        d.begin_put(index, offset, max_in_flight)
    }

    /// An upload stream ended: `Held::Complete` stored and verified, `Held::Partial` failed
    /// with that many bytes kept for a later resume.
    pub fn end_put(&mut self, index: u32, outcome: Held) {
        if let Some(d) = self.delivery.as_mut() {
            d.end_put(index, outcome);
        }
    }

    /// The user may download: returns the account whose mailbox the glue must check.
    pub fn begin_get(&self) -> Result<&str, Violation> {
        self.user.as_deref().ok_or(Violation::NotLoggedIn)
    }

    fn commit(&mut self, user: String) -> Result<Step, Violation> {
        let d = self.delivery.as_ref().ok_or(Violation::NoOpenDelivery)?;
        if !d.is_complete() {
            return Err(Violation::Incomplete);
        }
        let d = self.delivery.take().ok_or(Violation::NoOpenDelivery)?;
        Ok(Step::Commit(d.into_plan(user)))
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
