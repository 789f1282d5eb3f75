//! Account recovery and an account's own settings on the wire (qxfer/5): the requests a
//! person without a password may make (start a recovery, finish it, cancel a pending
//! change), the logged-in account's settings (phones, secret question, recovery codes,
//! password, sessions), and their replies. Every field is capped and checked here, before
//! the listener sees it.

use serde::{Deserialize, Serialize};

use super::caps::MAX_PASSWORD;
use super::error::DecodeError;
use super::names::is_deceptive;

/// Longest phone number as typed (E.164 is `+` and at most 15 digits; spaces and dashes are
/// allowed as people write them, and removed by the listener's parser).
pub const MAX_PHONE: usize = 32;
/// Length of a texted code: eight digits.
pub const CODE_DIGITS: usize = 8;
/// Longest recovery or cancel code as typed (with dashes and spaces).
pub const MAX_TYPED_CODE: usize = 32;
/// Longest secret question, in bytes.
pub const MAX_QUESTION: usize = 200;
/// Longest secret answer, in bytes.
pub const MAX_SECRET_ANSWER: usize = 200;
/// Most phone numbers an account holds.
pub const MAX_PHONES: usize = 4;
/// Recovery codes in a set.
pub const RECOVERY_CODES: usize = 10;
/// Longest free text in an account reply (a notice, a pending change's description).
pub const MAX_ACCOUNT_TEXT: usize = 512;
/// Most places, pending changes or sessions one view lists.
pub const MAX_VIEW_ITEMS: usize = 256;
/// Largest `account export`, in bytes of JSON.
pub const MAX_EXPORT: usize = 128 * 1024;

/// What proves a recovery besides the texted code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Proof {
    /// The answer to the account's secret question.
    Answer(String),
    /// One of the account's one-time recovery codes.
    RecoveryCode(String),
}

/// A logged-in account's own settings. Every change carries the current password; a
/// change also needs a known place or `auth`, a code texted to the oldest number
/// (`SendAuthCode`), or else it waits `recovery.unknown_place_delay`, announced and
/// cancellable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccountRequest {
    /// Phones, places, question, pending changes. Answered with `View`.
    Show,
    /// Everything the listener holds about the account, as JSON. Answered with `Export`.
    Export,
    /// Text a code to the oldest settled number, to authorise a change from here now.
    SendAuthCode,
    /// Add a number (unverified until `PhoneVerify`); a code is texted to it.
    PhoneAdd { number: String, password: String },
    /// Verify a number with the code texted to it.
    PhoneVerify { number: String, code: String, password: String, auth: Option<String> },
    /// Remove a number.
    PhoneRemove { number: String, password: String, auth: Option<String> },
    /// Set the secret question and its answer.
    QuestionSet { question: String, answer: String, password: String, auth: Option<String> },
    /// A new set of recovery codes (the old set stops working). Answered with `Codes`.
    CodesNew { password: String, auth: Option<String> },
    /// Change the password (every session ends when it takes effect).
    Passwd { password: String, new_password: String, auth: Option<String> },
    /// Cancel a pending change of this account (not a pending recovery: whoever has the
    /// password could, so a recovery is cancelled only with a texted cancel code).
    Cancel { id: u64, password: String },
    /// The account's sessions. Answered with `Sessions`.
    TokensList,
    /// End sessions: the one with this id, or all (`None`).
    TokensRevoke { id: Option<String> },
    /// A new token for scripts (`automation`: exempt from the human-timing signals, never
    /// from rate limits or bans). Answered with `Token`.
    TokenNew { password: String, automation: bool },
    /// Disown a place of the account (its network as `Show` lists it): never known again,
    /// and every token issued there revoked. At once from a known place; from elsewhere a
    /// change (the code texted to the oldest settled number, or the delay). qxfer/6.
    Disown { net: String, password: String, auth: Option<String> },
    /// End sessions with the current password: the one with this id, or all (`None`). From
    /// a known place any of the account's tokens; from elsewhere only those issued to the
    /// requester's network. qxfer/6 (`TokensRevoke`, without a password, keeps working for
    /// qxfer/5 clients, under the same rule).
    TokensRevokeAs { id: Option<String>, password: String },
    /// A new token, with a texted code (`auth`, from `SendAuthCode`) for an automation
    /// token: an automation token is a protected change, made now but working only when
    /// the delay ends unless `auth` is the right code. A session token from a place that is
    /// not known is announced. Answered with `Token`, or `TokenFrom` when it waits. qxfer/6.
    TokenNewAuth { password: String, automation: bool, auth: Option<String> },
}

/// The listener's answer to an account or recovery request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccountReply {
    /// Done, or accepted; `text` says what happened in words.
    Done { text: String },
    /// A change: applied now (`at` is `None`) or pending until `at` (seconds since the
    /// epoch), cancellable with the code texted to every verified number.
    Changed { at: Option<u64>, text: String },
    /// Fresh recovery codes, shown once; valid from `at` when the change waits.
    Codes { codes: Vec<String>, at: Option<u64> },
    /// What `Show` lists.
    View(AccountView),
    /// What `Export` prints.
    Export { json: String },
    /// What `TokensList` lists.
    Sessions { sessions: Vec<SessionView> },
    /// A new token, shown once (hex), and its id as `TokensList` shows it.
    Token { token: String, id: String },
    /// qxfer/6, the answer to `RecoverQuestion`: the account's secret question (`None`: it
    /// has none), whether it has recovery codes left (either proves the recovery with the
    /// texted code), and the texted code's tries left and expiry (seconds since the epoch).
    Question { question: Option<String>, recovery_codes: bool, tries: u32, until: u64 },
    /// A new automation token, shown once, that works only from `at` (seconds since the
    /// epoch): the change was announced, and cancelling it revokes the token. qxfer/6.
    TokenFrom { token: String, id: String, at: u64 },
}

/// An account as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    pub phones: Vec<PhoneView>,
    pub places: Vec<PlaceView>,
    pub question: Option<String>,
    pub codes_left: u32,
    pub pending: Vec<PendingView>,
    /// Whether the connection asking comes from a known place.
    pub here_known: bool,
}

/// A phone number of the account (in full: the owner sees their own numbers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneView {
    pub number: String,
    pub added: u64,
    pub verified: Option<u64>,
    /// The number a recovery code would go to now.
    pub recovery: bool,
}

/// A place the account logged in from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceView {
    pub net: String,
    pub first_seen: u64,
    pub last_seen: u64,
    /// Country and ASN when the listener has a GeoIP database, else empty.
    pub origin: String,
    pub known: bool,
}

/// A change waiting for its time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingView {
    pub id: u64,
    pub what: String,
    pub requested: u64,
    pub at: u64,
    pub from: String,
}

/// A session token of the account (its id is a prefix of the token's hash, never the token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    pub id: String,
    pub expires: u64,
}

fn cap(s: &str, max: usize, field: &'static str) -> Result<(), DecodeError> {
    if s.len() > max {
        return Err(DecodeError::FieldTooLong { field, max });
    }
    if s.chars().any(|c| c.is_control() || is_deceptive(c)) {
        return Err(DecodeError::Invalid(field));
    }
    Ok(())
}

/// A phone number as the wire carries it: `+`, digits, and the spaces, dashes, dots and
/// brackets people write; whether it is a real number is the listener's check.
pub fn check_phone_text(s: &str) -> Result<(), DecodeError> {
    cap(s, MAX_PHONE, "phone number")?;
    let ok = s.starts_with('+')
        && s.chars().skip(1).all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'))
        && s.chars().filter(char::is_ascii_digit).count() >= 4;
    if !ok {
        return Err(DecodeError::Invalid("phone number"));
    }
    Ok(())
}

/// A texted code: exactly eight digits.
pub fn check_code_text(s: &str) -> Result<(), DecodeError> {
    if s.len() != CODE_DIGITS || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(DecodeError::Invalid("code"));
    }
    Ok(())
}

/// A recovery or cancel code as typed: letters, digits, dashes and spaces.
pub fn check_typed_code(s: &str) -> Result<(), DecodeError> {
    cap(s, MAX_TYPED_CODE, "code")?;
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ' ') {
        return Err(DecodeError::Invalid("code"));
    }
    Ok(())
}

fn password(s: &str) -> Result<(), DecodeError> {
    if s.len() > MAX_PASSWORD {
        return Err(DecodeError::FieldTooLong { field: "password", max: MAX_PASSWORD });
    }
    Ok(())
}

fn auth(a: &Option<String>) -> Result<(), DecodeError> {
    a.as_deref().map_or(Ok(()), check_code_text)
}

impl Proof {
    pub fn validate(&self) -> Result<(), DecodeError> {
        match self {
            Proof::Answer(a) => {
                cap(a, MAX_SECRET_ANSWER, "secret answer")?;
                if a.trim().is_empty() {
                    return Err(DecodeError::Invalid("secret answer"));
                }
                Ok(())
            }
            Proof::RecoveryCode(c) => check_typed_code(c),
        }
    }
}

impl AccountRequest {
    pub fn validate(&self) -> Result<(), DecodeError> {
        match self {
            AccountRequest::Show
            | AccountRequest::Export
            | AccountRequest::SendAuthCode
            | AccountRequest::TokensList => Ok(()),
            AccountRequest::PhoneAdd { number, password: p } => {
                check_phone_text(number)?;
                password(p)
            }
            AccountRequest::PhoneVerify { number, code, password: p, auth: a } => {
                check_phone_text(number)?;
                check_code_text(code)?;
                password(p)?;
                auth(a)
            }
            AccountRequest::PhoneRemove { number, password: p, auth: a } => {
                check_phone_text(number)?;
                password(p)?;
                auth(a)
            }
            AccountRequest::QuestionSet { question, answer, password: p, auth: a } => {
                cap(question, MAX_QUESTION, "secret question")?;
                Proof::Answer(answer.clone()).validate()?;
                if question.trim().is_empty() {
                    return Err(DecodeError::Invalid("secret question"));
                }
                password(p)?;
                auth(a)
            }
            AccountRequest::CodesNew { password: p, auth: a } => {
                password(p)?;
                auth(a)
            }
            AccountRequest::Passwd { password: p, new_password, auth: a } => {
                password(p)?;
                password(new_password)?;
                auth(a)
            }
            AccountRequest::Cancel { password: p, .. } => password(p),
            AccountRequest::Disown { net, password: p, auth: a } => {
                // A network as `Show` lists it: an address and a prefix length, nothing else.
                if net.len() > 64 || net.parse::<ipnet::IpNet>().is_err() {
                    return Err(DecodeError::Invalid("network"));
                }
                password(p)?;
                auth(a)
            }
            AccountRequest::TokensRevoke { id } => id.as_deref().map_or(Ok(()), check_typed_code),
            AccountRequest::TokenNew { password: p, .. } => password(p),
            AccountRequest::TokensRevokeAs { id, password: p } => {
                id.as_deref().map_or(Ok(()), check_typed_code)?;
                password(p)
            }
            AccountRequest::TokenNewAuth { password: p, auth: a, .. } => {
                password(p)?;
                auth(a)
            }
        }
    }
}

impl AccountReply {
    pub fn validate(&self) -> Result<(), DecodeError> {
        let many = |n: usize, field| {
            if n > MAX_VIEW_ITEMS {
                return Err(DecodeError::FieldTooLong { field, max: MAX_VIEW_ITEMS });
            }
            Ok(())
        };
        match self {
            AccountReply::Done { text } | AccountReply::Changed { text, .. } => cap(text, MAX_ACCOUNT_TEXT, "text"),
            AccountReply::Codes { codes, .. } => {
                if codes.len() > RECOVERY_CODES {
                    return Err(DecodeError::FieldTooLong { field: "recovery codes", max: RECOVERY_CODES });
                }
                codes.iter().try_for_each(|c| check_typed_code(c))
            }
            AccountReply::View(v) => {
                if v.phones.len() > MAX_PHONES {
                    return Err(DecodeError::FieldTooLong { field: "phones", max: MAX_PHONES });
                }
                // A number is shown whole from a known place, else masked (`+34•••••5678`).
                for p in &v.phones {
                    let masked = p.number.starts_with('+')
                        && p.number.chars().skip(1).all(|c| c.is_ascii_digit() || c == '•')
                        && p.number.len() <= MAX_PHONE * 3;
                    if check_phone_text(&p.number).is_err() && !masked {
                        return Err(DecodeError::Invalid("phone number"));
                    }
                }
                many(v.places.len(), "places")?;
                many(v.pending.len(), "pending changes")?;
                for p in &v.places {
                    cap(&p.net, 64, "place")?;
                    cap(&p.origin, 64, "place")?;
                }
                for p in &v.pending {
                    cap(&p.what, MAX_ACCOUNT_TEXT, "pending change")?;
                    cap(&p.from, 64, "pending change")?;
                }
                v.question.as_deref().map_or(Ok(()), |q| cap(q, MAX_QUESTION, "secret question"))
            }
            AccountReply::Export { json } => {
                if json.len() > MAX_EXPORT {
                    return Err(DecodeError::FieldTooLong { field: "export", max: MAX_EXPORT });
                }
                Ok(())
            }
            AccountReply::Sessions { sessions } => {
                many(sessions.len(), "sessions")?;
                sessions.iter().try_for_each(|s| check_typed_code(&s.id))
            }
            AccountReply::Token { token, id } | AccountReply::TokenFrom { token, id, .. } => {
                if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(DecodeError::Invalid("token"));
                }
                check_typed_code(id)
            }
            AccountReply::Question { question, .. } => {
                question.as_deref().map_or(Ok(()), |q| cap(q, MAX_QUESTION, "secret question"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_and_code_texts_are_checked() {
        assert!(check_phone_text("+34 612 34-67 89").is_ok());
        assert!(check_phone_text("34612346789").is_err(), "a + first");
        assert!(check_phone_text("+34\u{202e}6789").is_err());
        assert!(check_phone_text("+12").is_err());
        assert!(check_phone_text(&format!("+{}", "1".repeat(40))).is_err());
        assert!(check_code_text("12345678").is_ok());
        assert!(check_code_text("1234567").is_err());
        assert!(check_code_text("1234567a").is_err());
        assert!(check_typed_code("abcde-fghij").is_ok());
        assert!(check_typed_code("").is_err());
        assert!(check_typed_code("a;b").is_err());
    }

    #[test]
    fn requests_are_capped() {
        let long = "x".repeat(MAX_QUESTION + 1);
        let q = AccountRequest::QuestionSet { question: long, answer: "a".into(), password: "p".into(), auth: None };
        assert!(q.validate().is_err());
        let blank = AccountRequest::QuestionSet {
            question: "q?".into(),
            answer: "  ".into(),
            password: "p".into(),
            auth: None,
        };
        assert!(blank.validate().is_err());
        let bad_auth = AccountRequest::CodesNew { password: "p".into(), auth: Some("12".into()) };
        assert!(bad_auth.validate().is_err());
        assert!(AccountReply::Codes { codes: vec!["a".into(); RECOVERY_CODES + 1], at: None }.validate().is_err());
    }
}
