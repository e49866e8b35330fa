//! What a person alone is told: the notice modal and ephemeral answers.

use serde_json::{Value, json};

use super::blocks::{TITLE_MAX, mrkdwn, section};
use super::text::truncate;

/// A modal that replaces the reason modal to say what happened instead (the answer
/// to a submission: `response_action: update`).
pub fn notice_modal(title: &str, text: &str) -> Value {
    json!({
        "type": "modal",
        "title": {"type": "plain_text", "text": truncate(title, TITLE_MAX)},
        "close": {"type": "plain_text", "text": "OK"},
        "blocks": [section(text)]
    })
}

/// The mrkdwn of a refusal or notice, for an ephemeral answer.
pub fn ephemeral(text: &str) -> Value {
    json!({"response_type": "ephemeral", "text": text,
        "blocks": [{"type": "section", "text": mrkdwn(text)}]})
}
