//! Challenges that cost a person seconds and a bot real money: listener-signed tickets
//! ([`ticket`]), the proof-of-work puzzle ([`pow`]) and the captcha picture ([`captcha`]).
//! The mechanisms only; when to ask for which, and how hard, is decided in
//! [`crate::policy::challenges`].

pub mod captcha;
pub mod pow;
pub mod ticket;

pub use ticket::{normalise_answer, ChallengeKind, Issue, Spent, Ticket, TicketError, TicketKey};
