//! The input elements of a modal, and what a `view_submission`'s state reports for each.

use serde_json::{Value, json};

/// Input elements a person types text into (their state carries `value`).
pub(super) const TEXT_INPUTS: [&str; 4] = [
    "plain_text_input",
    "email_text_input",
    "url_text_input",
    "number_text_input",
];

/// An input block's element, as a `view_submission`'s state reports it.
pub(super) struct InputElement {
    pub(super) block_id: String,
    pub(super) action_id: String,
    pub(super) kind: String,
    optional: bool,
    element: Value,
}

pub(super) fn input_elements(blocks: &Value) -> Vec<InputElement> {
    blocks
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["type"] == "input")
        .map(|b| InputElement {
            block_id: b["block_id"].as_str().unwrap_or_default().into(),
            action_id: b["element"]["action_id"]
                .as_str()
                .unwrap_or_default()
                .into(),
            kind: b["element"]["type"].as_str().unwrap_or_default().into(),
            optional: b["optional"] == true,
            element: b["element"].clone(),
        })
        .collect()
}

impl InputElement {
    /// The element's entry in `view.state.values`; `typed` is what the person typed
    /// into it, if they did. Errors where Slack's client would not submit.
    pub(super) fn state(&self, typed: Option<&String>) -> Result<Value, String> {
        let name = format!("{:?}/{:?}", self.block_id, self.action_id);
        let mut entry = json!({"type": self.kind});
        if TEXT_INPUTS.contains(&self.kind.as_str()) {
            let value = match typed {
                Some(text) => text.as_str(),
                None => self.element["initial_value"].as_str().unwrap_or_default(),
            };
            if !value.is_empty() {
                let chars = value.chars().count();
                let max = self.element["max_length"].as_u64().unwrap_or(3000) as usize;
                let min = self.element["min_length"].as_u64().unwrap_or(0) as usize;
                if chars < min || chars > max {
                    return Err(format!(
                        "Slack's client does not submit {name}: {chars} characters, not {min} to {max}"
                    ));
                }
                if self.kind == "number_text_input" && value.trim().parse::<f64>().is_err() {
                    return Err(format!(
                        "Slack's client does not submit {name}: {value:?} is not a number"
                    ));
                }
            }
            entry["value"] = if value.is_empty() {
                Value::Null
            } else {
                json!(value)
            };
        } else if let Some((key, initial, none)) = selection_state(&self.kind) {
            entry[key] = self.element.get(initial).cloned().unwrap_or(none);
        }
        let empty = entry
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| *k != "type")
            .all(|(_, v)| v.is_null() || v.as_array().is_some_and(Vec::is_empty));
        if empty && !self.optional {
            return Err(format!(
                "{name} is required: Slack's client does not submit the view without it"
            ));
        }
        Ok(entry)
    }
}

/// For a selection element: its key in `view.state.values`, the element field that
/// holds its initial selection, and the value when nothing is selected.
fn selection_state(kind: &str) -> Option<(&'static str, &'static str, Value)> {
    let (one, many) = (Value::Null, json!([]));
    Some(match kind {
        "static_select" | "external_select" | "radio_buttons" => {
            ("selected_option", "initial_option", one)
        }
        "multi_static_select" | "multi_external_select" | "checkboxes" => {
            ("selected_options", "initial_options", many)
        }
        "users_select" => ("selected_user", "initial_user", one),
        "multi_users_select" => ("selected_users", "initial_users", many),
        "conversations_select" => ("selected_conversation", "initial_conversation", one),
        "multi_conversations_select" => ("selected_conversations", "initial_conversations", many),
        "channels_select" => ("selected_channel", "initial_channel", one),
        "multi_channels_select" => ("selected_channels", "initial_channels", many),
        "datepicker" => ("selected_date", "initial_date", one),
        "timepicker" => ("selected_time", "initial_time", one),
        "datetimepicker" => ("selected_date_time", "initial_date_time", one),
        _ => return None,
    })
}
