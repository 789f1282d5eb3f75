//! What a gateway hands over for one text: the JSON body `{"to": ..., "text": ...}` the
//! spool writes and the webhook posts.

/// What every gateway that takes a body sends: `{"to": ..., "text": ...}`.
pub(super) fn message_body(to: &str, text: &str) -> String {
    serde_json::json!({ "to": to, "text": text }).to_string()
}
