//! Block Kit helpers every message shares: the message, status block, limits, console links.

use serde_json::{Value, json};

use super::text::truncate;

pub const STATUS_BLOCK: &str = "ssm_status";
/// The section of fields (runbook, started by, and while the step waits: approvals
/// needed and time-out).
pub const FIELDS_BLOCK: &str = "ssm_fields";
/// Fields that only mean something while the step waits.
pub(super) const WAITING_FIELDS: [&str; 3] =
    ["*Approvals needed*", "*Times out*", "*Who may decide*"];

// Block Kit limits (characters).
pub(super) const HEADER_MAX: usize = 150;
pub(super) const SECTION_MAX: usize = 3000;
pub(super) const FIELD_MAX: usize = 2000;
pub(super) const NOTIFICATION_MAX: usize = 300;
pub(super) const BUTTON_VALUE_MAX: usize = 2000;
/// A modal title holds at most 24 characters.
pub(super) const TITLE_MAX: usize = 24;

/// A message as `chat.postMessage`, `chat.update` and `response_url` take it.
#[derive(Debug, Clone, PartialEq)]
pub struct SlackMessage {
    /// Notification and accessibility text.
    pub text: String,
    pub blocks: Vec<Value>,
}

/// Where the execution can be opened in the AWS console.
pub fn console_url(region: &str, execution_id: &str) -> String {
    format!(
        "https://{region}.console.aws.amazon.com/systems-manager/automation/execution/{execution_id}?region={region}"
    )
}

/// The list of automation executions in the AWS console.
pub fn console_executions_url(region: &str) -> String {
    format!(
        "https://{region}.console.aws.amazon.com/systems-manager/automation/executions?region={region}"
    )
}

/// Blocks echoed back from a click are sent as text again: `verbatim` on every mrkdwn
/// object, whatever Slack's copy kept of it.
pub(super) fn verbatim(mut block: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(o) => {
                if o.get("type").and_then(Value::as_str) == Some("mrkdwn") {
                    o.insert("verbatim".into(), Value::Bool(true));
                }
                o.values_mut().for_each(walk);
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut block);
    block
}

/// A mrkdwn text object. `verbatim` stops Slack from turning bare URLs, channel
/// names and `@names` into links and mentions; what we escaped stays text.
pub(crate) fn mrkdwn(text: &str) -> Value {
    json!({"type": "mrkdwn", "text": truncate(text, SECTION_MAX), "verbatim": true})
}

pub(super) fn status_block(text: String) -> Value {
    json!({"type": "section", "block_id": STATUS_BLOCK, "text": mrkdwn(&text)})
}

pub(crate) fn section(text: &str) -> Value {
    json!({"type": "section", "text": mrkdwn(text)})
}

pub(crate) fn context(text: &str) -> Value {
    json!({"type": "context", "elements": [mrkdwn(text)]})
}

/// A message's top-level `text` (the notification): already escaped by the caller.
pub(crate) fn notification(escaped: &str) -> String {
    truncate(escaped, NOTIFICATION_MAX)
}

pub(super) fn block_id(block: &Value) -> Option<&str> {
    block.get("block_id").and_then(Value::as_str)
}
