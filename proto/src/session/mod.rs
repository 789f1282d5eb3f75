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
//!
//! The files: `machine.rs` the [`Session`] and its decisions, `delivery.rs` the open
//! delivery's files and uploads, `step.rs` what the glue is told to do, `limits.rs` the caps
//! and allowances, `violation.rs` the refusals.

mod delivery;
mod limits;
mod machine;
mod step;
mod violation;

pub use delivery::Held;
pub use limits::{SessionLimits, MAX_CHALLENGES, MAX_RECOVERY_REQUESTS};
pub use machine::Session;
pub use step::{CommitPlan, CommittedFile, PutPlan, Step};
pub use violation::Violation;
