//! `QuestionSet`: the secret question and its answer (kept as an argon2id hash of the
//! normalised answer), a protected change.

use std::sync::Arc;

use super::answer::{change, refuse, Reply};
use super::current_password::password_ok;
use crate::accounts;
use crate::policy::recovery::normalise_secret_answer;
use crate::server::conn::Conn;
use crate::server::Shared;
use crate::store::Change;
use crate::wire::ErrorCode;

pub(super) async fn set(
    conn: &Arc<Conn>,
    user: String,
    question: String,
    answer: String,
    password: String,
    auth: Option<String>,
) -> Reply {
    let ip = conn.peer.ip();
    let phc = match password_ok(conn, &user, password).await? {
        Ok(phc) => phc,
        Err(refused) => return Ok(refused),
    };
    let normalised = normalise_secret_answer(&answer);
    if normalised.chars().count() < 3 {
        return refuse(ErrorCode::BadRequest, "the secret answer must be at least 3 characters long");
    }
    let Some(_slot) = super::super::hash_wait::other_slot(conn, &user, 0).await else {
        return refuse(ErrorCode::Limit, "the listener is busy; try again in a moment");
    };
    // The answer is hashed as a password is (argon2id); short answers are padded by
    // nothing: the texted code in front of it is what limits guessing.
    let hashed = Shared::blocking(move || accounts::hash_secret(&normalised)).await?;
    let answer_phc = match hashed {
        Ok(p) => p,
        Err(e) => return refuse(ErrorCode::Internal, e),
    };
    drop(_slot);
    change(conn, &user, Change::Question { text: question.trim().to_owned(), answer_phc }, ip, auth, phc).await
}
