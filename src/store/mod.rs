//! The embedded database (redb): accounts, session tokens, deliveries and mailboxes. Only
//! this module touches redb. Table names carry a version so a schema change is a new table.
//! Every method is synchronous and short; async callers run them on the blocking pool.
//! A value is a postcard record; records written here are trusted, but a corrupt one is an
//! error, never a panic.
//!
//! One metadata store, one file per domain. `db.rs` holds the handle (`Store`) and the
//! transactions: every public method is one `Store::write` (a `Tx`, committed when its
//! closure succeeds, or rolled back when it says so) or one `Store::read` (an `Rx`), and
//! the domains' building blocks are methods of those transactions, so an operation that
//! spans domains composes them inside one transaction (a commit writes the delivery, the
//! mailbox, the copies owed and the usage together; a recovery change checks the account;
//! a quota check reads the registration caps). What a domain only reads is a `…View`
//! trait, the same in either transaction. A second backend goes behind `Store`, `Tx`
//! and `Rx`; the public methods are its contract.
//!
//! Below the domains, used by all and using none of them:
//! - `error.rs`: `StoreError`;
//! - `tables.rs`: every table and its versioned name (the on-disk contract);
//! - `records.rs`: the stored records and their codec (`encode`, `decode`);
//! - `db.rs`: `Store`, `Tx`, `Rx`, `View`, opening (tables made, then `migrate.rs`);
//! - `migrate.rs`: schema 1 moved, the token and skeleton indexes brought in step (only
//!   tables and records: it runs before any domain can).
//!
//! The domains, each using only those listed before it (never back):
//! 1. `ids.rs`: the counters (delivery ids, the event sequence, activity keys);
//! 2. `users.rs`: the account rows (exists, password hash, when a name was removed);
//! 3. `registration.rs`: name skeletons, caps of self-registered accounts, deliveries a
//!    day, automation tokens (uses users);
//! 4. `recovery.rs`: recovery records and their cancel and due indexes (uses users), the
//!    records themselves and schema 1's shape in `recovery_records.rs`;
//! 5. `mailbox.rs`: committed deliveries, mailboxes, unseen, usage and room, notices
//!    (uses users, ids);
//! 6. `holds.rs`: how long an unfinished delivery holds room in its recipient's mailbox
//!    (uses mailbox);
//! 7. `fanout.rs`: copies owed to further recipients (uses holds, mailbox, registration,
//!    users);
//! 8. `deliveries.rs`: unfinished deliveries, reservations, commits, resume keys (uses
//!    holds, fan-out, mailbox, registration, users, ids);
//! 9. `pending.rs`: unfinished deliveries ending other than by a commit: a sender's list
//!    and drop, expiry, an account or recipient gone (uses deliveries, holds);
//! 10. `accounts.rs`: adding, removing and listing accounts, passwords, session tokens
//!     (uses pending, deliveries, mailbox, recovery, registration, users, ids: removing an account
//!     reaches them all);
//!
//! and apart, using none of them: `activity.rs` (the activity log; uses ids) and
//! `bans.rs` (ban records).

mod accounts;
mod activity;
mod bans;
mod db;
mod deliveries;
mod error;
mod fanout;
mod holds;
#[cfg(test)]
mod holds_tests;
mod ids;
mod mailbox;
mod migrate;
#[cfg(test)]
mod migrate_tests;
mod pending;
mod records;
mod recovery;
mod recovery_records;
mod registration;
mod tables;
mod users;

pub use accounts::{TokenInfo, UserInfo};
pub use db::Store;
pub use deliveries::{Opened, Opening, Reservation};
pub use error::StoreError;
pub use holds::Hold;
pub use mailbox::{Usage, NOTICE_SENDER};
pub use records::stored_bytes;
pub use recovery::{
    token_id, Change, Pending, PhoneRec, PlaceRec, QuestionRec, Recent, RecentKind, RecoveryRecord, SentCode, UsedCode,
};
pub use registration::Registered;
