//! What the operator vouches for: a new account with the keyed hash of its one-time setup
//! code (`qxfer user add`, which makes and prints the code) and its first number, and the
//! numbers of an account (`qxfer user phone NAME add|remove|replace`, for a lost or
//! recycled number). A number the operator gives is verified and settled at once
//! (`policy::recovery::VOUCHED`); the account's mailbox gets a notice of every number
//! change; pending changes of the account are left as they are.

use crate::policy::account_setup::{MAX_SETUP_WINDOW_SECS, SETUP_CODE_ATTEMPTS, SETUP_PURPOSE};
use crate::policy::recovery::{mask_phone, VOUCHED};
use crate::store::{Change, PhoneRec, RecoveryRecord, SentCode, Store, StoreError, NOTICE_SENDER};
use crate::wire::MAX_PHONES;

/// Why the operator's change of an account's numbers was refused.
#[derive(Debug, thiserror::Error)]
pub enum VouchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Number(#[from] crate::accounts::phone::PhoneError),
    #[error("no such account: {0}")]
    NoAccount(String),
    #[error("{0} is not on the account")]
    NotOnAccount(String),
    #[error("{0} is on the account already")]
    OnAccount(String),
    #[error("an account holds at most {MAX_PHONES} numbers")]
    Full,
}

/// What the operator does to an account's numbers.
#[derive(Debug, Clone, Copy)]
pub enum Vouch<'a> {
    Add(&'a str),
    Remove(&'a str),
    Replace(&'a str, &'a str),
}

/// Create `name` with its setup code's keyed hash (good for `MAX_SETUP_WINDOW_SECS` at
/// most; the listener's `setup_window_secs` decides) and, if given, a first number the
/// operator vouches for. Returns that number (E.164).
pub fn create(
    store: &Store,
    name: &str,
    phc: &str,
    setup_hash: [u8; 32],
    phone: Option<&str>,
    now: u64,
) -> Result<Option<String>, VouchError> {
    let phone = phone.map(crate::accounts::phone::parse).transpose()?;
    store.add_user(name, phc, now)?;
    store.update_recovery(name, |rec| {
        rec.sent.push(SentCode {
            purpose: SETUP_PURPOSE.to_owned(),
            hash: setup_hash,
            expires: now.saturating_add(MAX_SETUP_WINDOW_SECS),
            attempts_left: SETUP_CODE_ATTEMPTS,
        });
        ((), true)
    })?;
    if let Some(number) = &phone {
        change(store, name, Vouch::Add(number), now)?;
    }
    Ok(phone)
}

/// Add, remove or replace a number of `name`; numbers given are settled at once. Returns
/// what was done, in words (numbers masked), as the mailbox's notice says it.
pub fn change(store: &Store, name: &str, vouch: Vouch, now: u64) -> Result<String, VouchError> {
    let vouch = match vouch {
        Vouch::Add(n) => Parsed::Add(crate::accounts::phone::parse(n)?),
        Vouch::Remove(n) => Parsed::Remove(crate::accounts::phone::parse(n)?),
        Vouch::Replace(old, new) => {
            Parsed::Replace(crate::accounts::phone::parse(old)?, crate::accounts::phone::parse(new)?)
        }
    };
    let done = store.update_recovery(name, |rec| match apply(rec, &vouch, now) {
        Ok(done) => (Ok(done), true),
        Err(e) => (Err(e), false),
    })?;
    let done = done.ok_or_else(|| VouchError::NoAccount(name.to_owned()))??;
    let body = format!(
        "The listener's operator changed this account's phone numbers: {done}. A number the operator \
         gives is settled at once (recovery codes and codes that confirm changes may go to it); \
         changes you asked for that are pending stay as they were."
    );
    store.deliver_notice(NOTICE_SENDER, name, &format!("Account changed by the operator: {done}"), &body, now)?;
    Ok(done)
}

/// A change of numbers, each parsed as E.164.
enum Parsed {
    Add(String),
    Remove(String),
    Replace(String, String),
}

fn vouched(number: &str, now: u64) -> PhoneRec {
    PhoneRec { number: number.to_owned(), added: now, verified: Some(VOUCHED) }
}

/// The change on the record; what was done, in words.
fn apply(rec: &mut RecoveryRecord, vouch: &Parsed, now: u64) -> Result<String, VouchError> {
    let on = |rec: &RecoveryRecord, n: &str| rec.phones.iter().position(|p| p.number == n);
    match vouch {
        Parsed::Add(n) => {
            let full = rec.phones.len() >= MAX_PHONES;
            match rec.phones.iter_mut().find(|p| &p.number == n) {
                Some(p) if p.verified == Some(VOUCHED) => return Err(VouchError::OnAccount(mask_phone(n))),
                Some(p) => p.verified = Some(VOUCHED),
                None if full => return Err(VouchError::Full),
                None => rec.phones.push(vouched(n, now)),
            }
            Ok(format!("added {}, settled at once", mask_phone(n)))
        }
        Parsed::Remove(n) => {
            let i = on(rec, n).ok_or_else(|| VouchError::NotOnAccount(mask_phone(n)))?;
            rec.phones.remove(i);
            let dropped = forget_pending_addition(rec, n);
            Ok(format!("removed {}{dropped}", mask_phone(n)))
        }
        Parsed::Replace(old, new) => {
            let i = on(rec, old).ok_or_else(|| VouchError::NotOnAccount(mask_phone(old)))?;
            let dropped = forget_pending_addition(rec, old);
            if on(rec, new).is_some() {
                return Err(VouchError::OnAccount(mask_phone(new)));
            }
            if let Some(p) = rec.phones.get_mut(i) {
                *p = vouched(new, now);
            }
            Ok(format!("replaced {} with {}, settled at once{dropped}", mask_phone(old), mask_phone(new)))
        }
    }
}

/// A number the operator takes off the account must stay off: its pending addition (a
/// thief's number waiting out its delay, perhaps) and its verification code go too.
/// Returns what to add to the words said about it.
fn forget_pending_addition(rec: &mut RecoveryRecord, number: &str) -> &'static str {
    let before = rec.pending.len();
    rec.pending.retain(|p| !matches!(&p.change, Change::AddPhone { number: n } if n == number));
    rec.sent.retain(|s| s.purpose != crate::server::account_guard::codes::verify_purpose(number));
    if rec.pending.len() < before {
        " (and its pending addition dropped)"
    } else {
        ""
    }
}
