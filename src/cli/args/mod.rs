//! clap definitions, a file per command family; every command's help ends with an example.
//! This file only declares the families and names their types for the rest of `cli`.

mod account;
mod client;
mod command;
mod data;
mod firewall;
mod identity;
mod inspect;
mod listen;
mod mailbox;
mod pending;
mod recovery;
mod transfer;
mod users;
mod values;

pub use account::{AccountCmd, ChangeArgs, CodesCmd, PhoneCmd, QuestionCmd, TokensCmd};
pub use client::ClientArgs;
pub use command::{command, Cli, Command};
pub use data::{DataArgs, InitDataArgs};
pub use firewall::FirewallCmd;
pub use identity::CertCmd;
pub use inspect::{AuditArgs, StatusArgs};
pub use listen::{listen_threads, ListenArgs, RetryArg};
pub use mailbox::{DeleteArgs, InboxArgs, ReadArgs};
pub use pending::PendingCmd;
pub use recovery::{RecoverArgs, RegisterArgs};
pub use transfer::{FetchArgs, SendArgs};
pub use users::{UserCmd, UserPhoneCmd};
