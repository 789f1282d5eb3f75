//! Printing a listener's answer to an account request (`recover`, `register`, `account`):
//! its text, new recovery codes or a token, or JSON with `--json`.

use super::output::outln;
use crate::clock::format_time;
use crate::wire::AccountReply;

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
            AccountReply::View(_) | AccountReply::Sessions { .. } => serde_json::json!({}),
        };
        return outln!("{v}");
    }
    match reply {
        AccountReply::Done { text } | AccountReply::Changed { text, .. } => outln!("{text}")?,
        AccountReply::Codes { codes, at } => {
            outln!("Recovery codes (each works once; keep them somewhere safe, they are not shown again):")?;
            for c in codes {
                outln!("  {c}")?;
            }
            if let Some(at) = at {
                outln!("They work from {} (this network is not a known place of the account).", format_time(*at))?;
            }
        }
        AccountReply::Export { json } => outln!("{json}")?,
        AccountReply::Token { token, id } => {
            outln!("{token}")?;
            eprintln!(
                "qxfer: token {id} (shown once). Scripts log in with it through QXFER_TOKEN; \
                 revoke it with: qxfer account tokens revoke USER@HOST {id}"
            );
        }
        AccountReply::View(_) | AccountReply::Sessions { .. } => {}
    }
    Ok(())
}
