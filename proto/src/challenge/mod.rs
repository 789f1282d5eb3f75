//! Challenges that cost a person seconds and a bot real money: listener-signed tickets
//! ([`ticket`]), numbered so the spent ones are one bit each ([`spent`]) and issued within a
//! limit per source ([`issue_limit`]); the proof-of-work puzzle ([`pow`]) and the captcha
//! picture ([`captcha`]).
//! The mechanisms only; when to ask for which, and how hard, is decided in
//! [`crate::policy::challenges`].

pub mod captcha;
pub mod issue_limit;
pub mod pow;
pub mod spent;
pub mod ticket;

pub use issue_limit::IssueLimit;
pub use spent::{SpentBitmap, SpentTickets, TicketId};
pub use ticket::{normalise_answer, ChallengeKind, Issue, Ticket, TicketError, TicketKey};
