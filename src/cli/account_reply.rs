//! Printing a listener's answer to an account request (`recover`, `register`, `account`):
//! its text, new recovery codes or a token, or JSON with `--json`. A command the text
//! suggests names this command's account and listener as typed (the listener writes
//! `USER@HOST` or `HOST` there), so it can be pasted as it is.

use std::sync::OnceLock;

use super::output::outln;
use crate::clock::format_time;
use crate::wire::AccountReply;

/// `USER@HOST` as this command was given it (one command a process): set when its
/// connection options are read.
static PASTE_TARGET: OnceLock<String> = OnceLock::new();

/// Remember `USER@HOST` as typed, for the commands hints print (the first call wins).
pub fn set_paste_target(user_at_host: &str) {
    let _ = PASTE_TARGET.set(user_at_host.to_owned());
}

/// `text` with the placeholders `USER@HOST` and `HOST` (whole words) replaced by this
/// command's account and listener, when they are known.
pub fn paste_ready(text: &str) -> String {
    match PASTE_TARGET.get() {
        Some(target) => fill(text, target),
        None => text.to_owned(),
    }
}

fn fill(text: &str, target: &str) -> String {
    let word = |c: char| c.is_ascii_alphanumeric() || matches!(c, '@' | '_' | '-' | '.');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((before, after)) = rest.split_once("HOST") {
        let (head, placeholder) = match before.strip_suffix("USER@") {
            Some(head) => (head, "USER@HOST"),
            None => (before, "HOST"),
        };
        let whole = !head.ends_with(word) && !after.starts_with(word);
        out.push_str(head);
        out.push_str(if whole { target } else { placeholder });
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The answer on stdout (a token's advice on stderr), or one JSON object with `json`.
pub fn print_reply(reply: &AccountReply, json: bool) -> std::io::Result<()> {
    if json {
        let v = match reply {
            AccountReply::Done { text } => serde_json::json!({ "done": text }),
            AccountReply::Changed { at, text } => {
                serde_json::json!({ "applied": at.is_none(), "at": at, "text": text })
            }
            AccountReply::Codes { codes, at } => serde_json::json!({ "codes": codes, "at": at }),
            AccountReply::Export { json } => serde_json::from_str(json).unwrap_or_default(),
            AccountReply::Token { token, id } => serde_json::json!({ "token": token, "id": id }),
            AccountReply::Question { question, recovery_codes, tries, until } => serde_json::json!({
                "question": question, "recovery_codes": recovery_codes, "tries": tries, "until": until
            }),
            AccountReply::TokenFrom { token, id, at } => serde_json::json!({ "token": token, "id": id, "at": at }),
            AccountReply::View(_) | AccountReply::Sessions { .. } => serde_json::json!({}),
        };
        return outln!("{v}");
    }
    match reply {
        AccountReply::Done { text } | AccountReply::Changed { text, .. } => outln!("{}", paste_ready(text))?,
        AccountReply::Codes { codes, at } => {
            outln!("Recovery codes (each works once; keep them somewhere safe, they are not shown again):")?;
            for c in codes {
                outln!("  {c}")?;
            }
            if let Some(at) = at {
                outln!(
                    "They work from {} (the change waits, announced to the account's numbers; --confirm-by-text \
                     applies it at once).",
                    format_time(*at)
                )?;
            }
        }
        AccountReply::Export { json } => outln!("{json}")?,
        AccountReply::Token { token, id } => {
            outln!("{token}")?;
            eprintln!(
                "qxfer: token {id} (shown once). Scripts log in with it through QXFER_TOKEN; \
                 revoke it with: {}",
                paste_ready(&format!("qxfer account tokens revoke USER@HOST {id}"))
            );
        }
        AccountReply::Question { question, .. } => match question {
            Some(q) => outln!("Secret question: {q}")?,
            None => outln!("No secret question is set: a recovery code proves the recovery.")?,
        },
        AccountReply::TokenFrom { token, id, at } => {
            outln!("{token}")?;
            eprintln!(
                "qxfer: token {id} (shown once) works from {}: an automation token is a change, announced to the \
                 account's phone numbers, and until then a pending change ({}) that a cancel code texted to them \
                 ends for good (made with --confirm-by-text, a code texted to the account's oldest number, one \
                 works at once). Scripts log in with it through QXFER_TOKEN; revoke it with: {}",
                format_time(*at),
                paste_ready("qxfer account show USER@HOST"),
                paste_ready(&format!("qxfer account tokens revoke USER@HOST {id}"))
            );
        }
        AccountReply::View(_) | AccountReply::Sessions { .. } => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::fill;

    #[test]
    fn placeholders_become_the_real_account_and_listener() {
        let target = "alice@office";
        assert_eq!(
            fill("confirm it with: qxfer account phone verify HOST +34600000001", target),
            "confirm it with: qxfer account phone verify alice@office +34600000001"
        );
        assert_eq!(
            fill("qxfer account tokens revoke USER@HOST 3", target),
            "qxfer account tokens revoke alice@office 3"
        );
        assert_eq!(fill("(qxfer recover cancel HOST CODE)", target), "(qxfer recover cancel alice@office CODE)");
        // Not a placeholder: part of a longer word.
        assert_eq!(fill("LOCALHOST HOSTS a-HOST", target), "LOCALHOST HOSTS a-HOST");
        assert_eq!(fill("no placeholder", target), "no placeholder");
    }
}
