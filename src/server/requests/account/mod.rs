//! `Account`: a logged-in account's own settings, one file per area: phone numbers
//! (`phones`, with `number` parsing what was typed), the secret question (`question`),
//! recovery codes (`codes`), the password (`password`), pending changes (`cancel`),
//! sessions and tokens (`tokens`), places not hers (`disown`), and what the listener holds about it (`view`). This file
//! only dispatches.
//!
//! A typed password alone is not a strong check (a thief has it), and neither is a known
//! place (a patient thief earns one), so every change needs the current password
//! (`current_password`) AND a code texted to the oldest settled number (`auth_code`; a new
//! password also applies from a known place); without it it waits
//! `recovery.unknown_place_delay_secs`, announced to every number and the mailbox,
//! cancellable (`protected_change`, one level up: recovery uses it too). `answer` is how
//! each area replies.

mod answer;
mod auth_code;
mod cancel;
mod codes;
mod current_password;
mod disown;
mod number;
mod password;
mod phones;
mod question;
mod tokens;
mod view;

use std::sync::Arc;

use crate::server::conn::Conn;
use crate::server::error::ServerError;
use crate::server::outcome::Outcome;
use crate::wire::{AccountRequest, Response};

pub(super) async fn handle(
    conn: &Arc<Conn>,
    user: String,
    req: AccountRequest,
) -> Result<Outcome<Response>, ServerError> {
    match req {
        AccountRequest::Show => view::show(conn, user).await,
        AccountRequest::Export => view::export(conn, user).await,
        AccountRequest::SendAuthCode => auth_code::send(conn, user).await,
        AccountRequest::PhoneAdd { number, password } => phones::add(conn, user, number, password).await,
        AccountRequest::PhoneVerify { number, code, password, auth } => {
            phones::verify(conn, user, number, code, password, auth).await
        }
        AccountRequest::PhoneRemove { number, password, auth } => {
            phones::remove(conn, user, number, password, auth).await
        }
        AccountRequest::QuestionSet { question, answer, password, auth } => {
            question::set(conn, user, question, answer, password, auth).await
        }
        AccountRequest::CodesNew { password, auth } => codes::renew(conn, user, password, auth).await,
        AccountRequest::Passwd { password, new_password, auth } => {
            password::change_password(conn, user, password, new_password, auth).await
        }
        AccountRequest::Cancel { id, password } => cancel::cancel(conn, user, id, password).await,
        AccountRequest::TokenNew { password, automation } => {
            tokens::new(conn, user, password, automation, None, tokens::Form::V5).await
        }
        AccountRequest::TokensList => tokens::list(conn, user).await,
        AccountRequest::TokensRevoke { id } => tokens::revoke(conn, user, id, None).await,
        AccountRequest::Disown { net, password, auth } => disown::disown(conn, user, net, password, auth).await,
        AccountRequest::TokensRevokeAs { id, password } => tokens::revoke(conn, user, id, Some(password)).await,
        AccountRequest::TokenNewAuth { password, automation, auth } => {
            tokens::new(conn, user, password, automation, auth, tokens::Form::V6).await
        }
    }
}
