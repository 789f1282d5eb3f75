//! Properties checked on arbitrary input, shared by the cargo-fuzz targets in `fuzz/` and by
//! `cargo test`, which replays the committed corpus and every crash the fuzzer ever found.
//! Each function takes raw bytes and panics only when a rule is broken, never on bad input.

use crate::session::{Held, Session, SessionLimits, Step, Violation};
use crate::wire::{self, *};

/// Decode `data` as each frame type; whatever is accepted must re-encode to exactly `data`
/// (one encoding per value: no slack a forged frame could hide in) and pass validation.
pub fn frame_roundtrip(data: &[u8]) {
    fn check<T>(data: &[u8])
    where
        T: serde::Serialize + serde::de::DeserializeOwned + Validate + std::fmt::Debug,
    {
        if let Ok(value) = wire::decode_frame::<T>(data, MAX_FRAME) {
            if value.validate().is_ok() {
                let again = wire::encode_frame(&value, MAX_FRAME).expect("accepted value re-encodes");
                assert_eq!(again, data, "accepted frame does not re-encode to its input: {value:?}");
            }
        }
    }
    check::<Request>(data);
    check::<Response>(data);
    check::<StreamHead>(data);
    check::<FileEnd>(data);
    check::<PutReply>(data);
    check::<GetReply>(data);
    check::<AdminRequest>(data);
    check::<AdminResponse>(data);
}

/// A name the validator accepts stays inside any base directory once joined, and has only
/// plain components.
pub fn name_rules(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if validate_path(s).is_ok() {
        let base = std::path::Path::new("/base/dir");
        let joined = wire::names::join_validated(base, s);
        assert!(joined.starts_with(base) && joined != base, "{s:?} escapes to {joined:?}");
        for c in joined.strip_prefix(base).expect("prefix").components() {
            assert!(matches!(c, std::path::Component::Normal(_)), "{s:?} has component {c:?}");
        }
        assert!(!s.contains('\0') && !s.contains('\\') && !s.starts_with('/'));
        assert!(!s.ends_with(wire::names::PARTIAL_SUFFIX));
    }
    if validate_account(s).is_ok() {
        assert!(
            s.len() <= 32 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b".-_".contains(&b))
        );
    }
}

/// Drive a session with an arbitrary sequence of requests and stream events (each op read
/// from the bytes) and check its rules: nothing but login before login, declared counts and
/// bytes never exceeded, uploads only into the open delivery, commit only when complete.
pub fn session_ops(data: &[u8]) {
    let limits = SessionLimits {
        max_login_attempts: 3,
        max_delivery_bytes: 1 << 20,
        max_puts_in_flight: 4,
        max_connection_bytes: 1 << 22,
        max_delivery_path_bytes: 4096,
    };
    let mut s = Session::new(limits);
    let mut bytes = data.iter().copied();
    let mut next = move || bytes.next();
    let mut declared: Option<(u64, u32, u64)> = None; // (id, files, bytes)
    let mut added_files = 0u32;
    let mut added_bytes = 0u64;
    let mut next_id = 1u64;
    let mut recoveries = 0u32;
    while let Some(op) = next() {
        let arg = next().unwrap_or(0);
        let logged_in = s.user().is_some();
        match op % 8 {
            0 => {
                let req = Request::Login { user: "u".into(), credential: Credential::Token([arg; 32]) };
                match s.on_request(&req) {
                    Ok(Step::Login) => {
                        assert!(!logged_in);
                        if arg % 2 == 0 {
                            s.logged_in("u");
                        } else {
                            s.login_failed();
                        }
                    }
                    Ok(other) => panic!("login gave {other:?}"),
                    Err(_) => {}
                }
            }
            1 => {
                let files = u32::from(arg % 5);
                let total = u64::from(next().unwrap_or(0)) * 1000;
                let begin = Begin {
                    to: None,
                    subject: None,
                    body: Some("b".into()),
                    files,
                    bytes: total,
                    resume_key: [arg; 32],
                };
                match s.on_request(&Request::Begin(begin)) {
                    Ok(Step::Begin { user, .. }) => {
                        assert!(logged_in && declared.is_none());
                        assert_eq!(user, "u");
                        if arg % 3 == 0 {
                            s.delivery_opened(None);
                        } else {
                            s.delivery_opened(Some((next_id, "u".into())));
                            declared = Some((next_id, files, total));
                            next_id += 1;
                            added_files = 0;
                            added_bytes = 0;
                        }
                    }
                    Ok(other) => panic!("begin gave {other:?}"),
                    Err(v) => assert!(
                        !logged_in
                            || declared.is_some()
                            || matches!(v, Violation::DeliveryTooLarge | Violation::ConnectionBudget),
                        "{v:?}"
                    ),
                }
            }
            2 => {
                let n = usize::from(arg % 3) + 1;
                let entries: Vec<FileEntry> = (0..n)
                    .map(|i| FileEntry {
                        path: format!("f{}", added_files as usize + i),
                        size: u64::from(next().unwrap_or(0)) * 500,
                    })
                    .collect();
                let sum: u64 = entries.iter().map(|e| e.size).sum();
                match s.on_request(&Request::AddFiles { entries }) {
                    Ok(Step::AddFiles { id, first, count }) => {
                        let (did, files, total) = declared.expect("add without a delivery");
                        assert_eq!((id, first), (did, added_files));
                        added_files += count;
                        added_bytes += sum;
                        assert!(added_files <= files && added_bytes <= total, "quota broken");
                        if next().unwrap_or(0) % 2 == 0 {
                            s.set_have(first, Held::Partial { bytes: 0 });
                        }
                    }
                    Ok(other) => panic!("add gave {other:?}"),
                    Err(_) => {}
                }
            }
            3 | 4 => {
                let id = declared.map_or(u64::from(arg), |d| if arg % 4 == 0 { d.0 + 1 } else { d.0 });
                let index = u32::from(next().unwrap_or(0) % 4);
                let offset = u64::from(next().unwrap_or(0) % 2);
                if let Ok(plan) = s.begin_put(id, index, offset) {
                    let (did, _, _) = declared.expect("put without a delivery");
                    assert!(logged_in && plan.id == did && index < added_files && plan.offset <= plan.size);
                    let outcome = if op % 2 == 0 {
                        Held::Complete { hash: [arg; 32], media_type: "text/plain".into() }
                    } else {
                        Held::Partial { bytes: plan.offset }
                    };
                    s.end_put(index, outcome);
                }
            }
            5 => match s.on_request(&Request::Commit) {
                Ok(Step::Commit(plan)) => {
                    let (did, files, total) = declared.take().expect("commit without a delivery");
                    assert_eq!(plan.id, did);
                    assert_eq!(plan.files.len(), files as usize);
                    assert_eq!(plan.files.iter().map(|f| f.size).sum::<u64>(), total);
                    assert_eq!(plan.from, "u");
                }
                Ok(other) => panic!("commit gave {other:?}"),
                Err(_) => {}
            },
            6 if arg % 3 == 1 => {
                // Recovery requests: only before login, a few per connection.
                let r = s.on_request(&Request::CancelChange { code: "k4x9m".into() });
                assert_eq!(r.is_ok(), !logged_in && recoveries < crate::session::MAX_RECOVERY_REQUESTS);
                if let Ok(step) = r {
                    assert_eq!(step, Step::Recovery);
                    recoveries += 1;
                }
            }
            6 if arg % 3 == 2 => {
                let r = s.on_request(&Request::Account(crate::wire::AccountRequest::Show));
                assert_eq!(r.is_ok(), logged_in);
                if let Ok(step) = r {
                    assert_eq!(step, Step::Account { user: "u".into() });
                }
            }
            6 => {
                let r = s.on_request(&Request::Inbox { after: u64::from(arg) });
                assert_eq!(r.is_ok(), logged_in);
            }
            _ => {
                assert_eq!(s.begin_get().is_ok(), logged_in);
            }
        }
    }
}

/// An envelope or a `Begin` that passes validation is safe to show and store: one-line
/// subject, body within its cap and free of terminal control characters, account names
/// safe, counts consistent.
pub fn envelope_rules(data: &[u8]) {
    let text_ok = |s: &str| !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r');
    if let Ok(b) = wire::decode_body::<Begin>(data) {
        if b.validate().is_ok() {
            assert!(b.subject.as_deref().is_none_or(|s| s.len() <= MAX_SUBJECT && !s.chars().any(char::is_control)));
            assert!(b.body.as_deref().is_none_or(|s| s.len() <= MAX_BODY && text_ok(s)));
            assert!(b.to.as_deref().is_none_or(|t| validate_account(t).is_ok()));
            assert!(b.files <= MAX_FILES && (b.files > 0 || b.bytes == 0));
        }
    }
    if let Ok(r) = wire::decode_body::<Response>(data) {
        if r.validate().is_ok() {
            if let Response::Envelope { envelope, attachments, .. } = &r {
                assert!(validate_account(&envelope.from).is_ok() && validate_account(&envelope.to).is_ok());
                assert!(envelope.subject.as_deref().is_none_or(|s| !s.chars().any(char::is_control)));
                assert!(envelope.body.as_deref().is_none_or(text_ok));
                assert!(attachments.len() <= MAX_PAGE);
                assert!(attachments.iter().all(|a| validate_path(&a.path).is_ok()));
            }
        }
    }
}
