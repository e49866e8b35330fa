//! The Web API's answers: `ok`, and errors (`{"ok":false,"error":…}`) with their HTTP status.

use serde_json::{Value, json};

use super::JSON;
use crate::Outgoing;

/// A Web API error answer: HTTP `status` and `{"ok":false,"error":error}`.
pub(super) fn refusal(status: u16, error: &str) -> Outgoing {
    Outgoing::json(status, &json!({"ok": false, "error": error}), JSON)
}

/// Slack's answer to arguments it refuses, with its reasons.
pub(super) fn invalid_arguments(messages: Vec<String>) -> Outgoing {
    Outgoing::json(
        200,
        &json!({"ok": false, "error": "invalid_arguments", "response_metadata": {"messages": messages}}),
        JSON,
    )
}

pub(super) fn ok(mut body: Value) -> Outgoing {
    body["ok"] = json!(true);
    Outgoing::json(200, &body, JSON)
}

pub(super) fn fail(error: &str) -> Outgoing {
    refusal(200, error)
}
