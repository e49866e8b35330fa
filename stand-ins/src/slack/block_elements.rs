//! Block Kit's parts inside blocks, as Slack checks them: text objects, interactive
//! elements (buttons, menus, inputs), confirmation dialogs and options.

use std::collections::HashSet;

use serde_json::Value;

/// The number of characters of a string (0 for anything else).
pub(super) fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

/// Which text objects a field takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Text {
    /// Only `plain_text` (headers, buttons, labels, dialog titles, …).
    Plain,
    /// `plain_text` or `mrkdwn`.
    Any,
}

/// Where an element stands: each place takes its own element types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Place {
    /// An `actions` block's `elements`.
    Actions,
    /// A `section` block's `accessory`.
    Accessory,
    /// An `input` block's `element`.
    Input,
}

const SELECTS: [&str; 10] = [
    "static_select",
    "external_select",
    "users_select",
    "conversations_select",
    "channels_select",
    "multi_static_select",
    "multi_external_select",
    "multi_users_select",
    "multi_conversations_select",
    "multi_channels_select",
];

/// Whether Slack takes an element of type `kind` at `place`.
fn fits(kind: &str, place: Place) -> bool {
    let choices = ["checkboxes", "radio_buttons", "datepicker", "timepicker"];
    if SELECTS.contains(&kind) || choices.contains(&kind) {
        return true;
    }
    match place {
        Place::Actions => matches!(
            kind,
            "button" | "overflow" | "datetimepicker" | "workflow_button"
        ),
        Place::Accessory => matches!(kind, "button" | "overflow" | "image" | "workflow_button"),
        Place::Input => matches!(
            kind,
            "plain_text_input"
                | "email_text_input"
                | "url_text_input"
                | "number_input"
                | "datetimepicker"
                | "file_input"
                | "rich_text_input"
        ),
    }
}

/// The text object `v` at `at`: of a type `kind` allows, 1 to `max` characters, and
/// `emoji` only on `plain_text`, `verbatim` only on `mrkdwn`.
pub(super) fn text_object(v: &Value, at: &str, kind: Text, max: usize, out: &mut Vec<String>) {
    let plain = v["type"] == "plain_text";
    match kind {
        Text::Plain if !plain || !v["text"].is_string() => {
            out.push(problem("must be a plain_text text object", at));
            return;
        }
        Text::Any if !plain && v["type"] != "mrkdwn" => {
            out.push(problem(
                "must be one of: plain_text, mrkdwn",
                &format!("{at}/type"),
            ));
            return;
        }
        _ => {}
    }
    if !v["text"].is_string() {
        out.push(problem("missing required field: text", at));
        return;
    }
    match chars(&v["text"]) {
        0 => out.push(problem(
            "must be more than 0 characters",
            &format!("{at}/text"),
        )),
        n if n > max => out.push(problem(
            &format!("must be less than {} characters", max + 1),
            &format!("{at}/text"),
        )),
        _ => {}
    }
    let not_here = if plain { "verbatim" } else { "emoji" };
    if v.get(not_here).is_some() {
        out.push(problem(
            &format!("invalid additional property: {not_here}"),
            at,
        ));
    }
}

/// The text object `parent[field]` (at `at`/`field`), as [`text_object`] checks it.
pub(super) fn text_field(
    parent: &Value,
    at: &str,
    field: &str,
    kind: Text,
    max: usize,
    required: bool,
    out: &mut Vec<String>,
) {
    match parent.get(field) {
        None | Some(Value::Null) => {
            if required {
                out.push(problem(&format!("missing required field: {field}"), at));
            }
        }
        Some(v) => text_object(v, &format!("{at}/{field}"), kind, max, out),
    }
}

/// The optional string `parent[field]` (at `at`/`field`), at most `max` characters.
pub(super) fn string_problems(
    parent: &Value,
    at: &str,
    field: &str,
    max: usize,
    out: &mut Vec<String>,
) {
    match parent.get(field) {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s.chars().count() > max => out.push(problem(
            &format!("must be less than {} characters", max + 1),
            &format!("{at}/{field}"),
        )),
        Some(Value::String(_)) => {}
        Some(_) => out.push(problem("must be a string", &format!("{at}/{field}"))),
    }
}

/// The required string `parent[field]`, 1 to `max` characters.
fn required_string(parent: &Value, at: &str, field: &str, max: usize, out: &mut Vec<String>) {
    match parent.get(field) {
        Some(Value::String(s)) if !s.is_empty() => string_problems(parent, at, field, max, out),
        Some(Value::String(_)) => out.push(problem(
            "must be more than 0 characters",
            &format!("{at}/{field}"),
        )),
        _ => out.push(problem(&format!("missing required field: {field}"), at)),
    }
}

/// `style`, where there is one, is `primary` or `danger`.
fn style_problems(parent: &Value, at: &str, out: &mut Vec<String>) {
    if parent
        .get("style")
        .is_some_and(|s| s != "primary" && s != "danger")
    {
        out.push(problem(
            "must be one of: primary, danger",
            &format!("{at}/style"),
        ));
    }
}

/// The elements of an `actions` block (at `at`/`elements`): 1 to 25 interactive
/// elements, their `action_id`s unique within the block.
pub(super) fn actions_problems(block: &Value, at: &str, out: &mut Vec<String>) {
    let Some(elements) = block["elements"].as_array() else {
        out.push(problem("missing required field: elements", at));
        return;
    };
    let at_elements = format!("{at}/elements");
    if elements.is_empty() {
        out.push(problem("must have at least 1 item", &at_elements));
    }
    if elements.len() > 25 {
        out.push(problem("no more than 25 items allowed", &at_elements));
    }
    let mut action_ids = HashSet::new();
    for (j, e) in elements.iter().enumerate() {
        let at = format!("{at_elements}/{j}");
        element_problems(e, &at, Place::Actions, out);
        if let Some(id) = e["action_id"].as_str()
            && !action_ids.insert(id)
        {
            out.push(problem("duplicate action_id", &format!("{at}/action_id")));
        }
    }
}

/// The block element `e` at `at`, standing at `place`.
pub(super) fn element_problems(e: &Value, at: &str, place: Place, out: &mut Vec<String>) {
    let Some(kind) = e["type"].as_str() else {
        out.push(problem("missing required field: type", at));
        return;
    };
    if !fits(kind, place) {
        out.push(problem(
            &format!("unsupported element type: {kind}"),
            &format!("{at}/type"),
        ));
        return;
    }
    string_problems(e, at, "action_id", 255, out);
    if let Some(confirm) = e.get("confirm") {
        confirm_problems(confirm, &format!("{at}/confirm"), out);
    }
    match kind {
        "button" | "workflow_button" => {
            text_field(e, at, "text", Text::Plain, 75, true, out);
            string_problems(e, at, "value", 2000, out);
            string_problems(e, at, "url", 3000, out);
            string_problems(e, at, "accessibility_label", 75, out);
            style_problems(e, at, out);
        }
        "image" => image_problems(e, at, out),
        "overflow" => options_problems(e, at, Text::Plain, 1..=5, out),
        "checkboxes" | "radio_buttons" => options_problems(e, at, Text::Any, 1..=10, out),
        "static_select" | "multi_static_select" => {
            text_field(e, at, "placeholder", Text::Plain, 150, false, out);
            if e.get("option_groups").is_some() {
                option_groups_problems(e, at, out);
            } else {
                options_problems(e, at, Text::Plain, 1..=100, out);
            }
        }
        _ => text_field(e, at, "placeholder", Text::Plain, 150, false, out),
    }
}

/// An image (block or element) at `at`: an `image_url` of at most 3000 characters
/// (or a `slack_file`), and `alt_text` of at most 2000.
pub(super) fn image_problems(image: &Value, at: &str, out: &mut Vec<String>) {
    if image.get("slack_file").is_none() {
        required_string(image, at, "image_url", 3000, out);
    }
    required_string(image, at, "alt_text", 2000, out);
}

/// A confirmation dialog at `at`: a `plain_text` title of at most 100 characters, a
/// text of at most 300, `plain_text` confirm and deny of at most 30.
fn confirm_problems(confirm: &Value, at: &str, out: &mut Vec<String>) {
    if !confirm.is_object() {
        out.push(problem("must be an object", at));
        return;
    }
    text_field(confirm, at, "title", Text::Plain, 100, true, out);
    text_field(confirm, at, "text", Text::Any, 300, true, out);
    text_field(confirm, at, "confirm", Text::Plain, 30, true, out);
    text_field(confirm, at, "deny", Text::Plain, 30, true, out);
    style_problems(confirm, at, out);
}

/// `options` of the element `e` (at `at`): as many as `count` allows, each an option
/// object whose text is of `kind`.
fn options_problems(
    e: &Value,
    at: &str,
    kind: Text,
    count: std::ops::RangeInclusive<usize>,
    out: &mut Vec<String>,
) {
    let Some(options) = e["options"].as_array() else {
        out.push(problem("missing required field: options", at));
        return;
    };
    let at = format!("{at}/options");
    if options.len() < *count.start() {
        out.push(problem(
            &format!("must have at least {} item", count.start()),
            &at,
        ));
    }
    if options.len() > *count.end() {
        out.push(problem(
            &format!("no more than {} items allowed", count.end()),
            &at,
        ));
    }
    for (k, option) in options.iter().enumerate() {
        let at = format!("{at}/{k}");
        text_field(option, &at, "text", kind, 75, true, out);
        text_field(option, &at, "description", kind, 75, false, out);
        string_problems(option, &at, "value", 150, out);
        string_problems(option, &at, "url", 3000, out);
    }
}

/// `option_groups` of a static menu (at `at`): at most 100, each with a
/// `plain_text` label of at most 75 characters and up to 100 options.
fn option_groups_problems(e: &Value, at: &str, out: &mut Vec<String>) {
    let Some(groups) = e["option_groups"].as_array() else {
        out.push(problem("must be an array", &format!("{at}/option_groups")));
        return;
    };
    if groups.len() > 100 {
        out.push(problem(
            "no more than 100 items allowed",
            &format!("{at}/option_groups"),
        ));
    }
    for (g, group) in groups.iter().enumerate() {
        let at = format!("{at}/option_groups/{g}");
        text_field(group, &at, "label", Text::Plain, 75, true, out);
        options_problems(group, &at, Text::Plain, 1..=100, out);
    }
}

/// Slack's message for what is wrong at the JSON pointer `at`.
pub(super) fn problem(message: &str, at: &str) -> String {
    format!("[ERROR] {message} [json-pointer:{at}]")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::slack::test_support::button;

    /// Slack's reasons for refusing the elements of one actions block.
    fn actions(elements: Value) -> Vec<String> {
        let mut out = vec![];
        actions_problems(&json!({"elements": elements}), "/blocks/0", &mut out);
        out
    }

    fn plain(text: &str) -> Value {
        json!({"type": "plain_text", "text": text})
    }

    #[test]
    fn a_button_needs_plain_text_text_of_1_to_75_characters() {
        let mut no_text = button("a");
        no_text.as_object_mut().unwrap().remove("text");
        let mut mrkdwn = button("b");
        mrkdwn["text"] = json!({"type": "mrkdwn", "text": "*B*"});
        let mut empty = button("c");
        empty["text"] = plain("");
        let mut long = button("d");
        long["text"] = plain(&"d".repeat(76));
        let mut bare = button("e");
        bare["text"] = json!("E");
        assert_eq!(
            actions(json!([no_text, mrkdwn, empty, long, bare])),
            [
                "[ERROR] missing required field: text [json-pointer:/blocks/0/elements/0]",
                "[ERROR] must be a plain_text text object [json-pointer:/blocks/0/elements/1/text]",
                "[ERROR] must be more than 0 characters [json-pointer:/blocks/0/elements/2/text/text]",
                "[ERROR] must be less than 76 characters [json-pointer:/blocks/0/elements/3/text/text]",
                "[ERROR] must be a plain_text text object [json-pointer:/blocks/0/elements/4/text]",
            ]
        );
    }

    #[test]
    fn a_button_keeps_slacks_other_limits() {
        let mut b = button("a");
        b["url"] = json!(format!("https://x.test/{}", "u".repeat(3000)));
        b["accessibility_label"] = json!("l".repeat(76));
        b["style"] = json!("secondary");
        let mut value = button("b");
        value["value"] = json!(7);
        assert_eq!(
            actions(json!([b, value, button("a")])),
            [
                "[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/elements/0/url]",
                "[ERROR] must be less than 76 characters [json-pointer:/blocks/0/elements/0/accessibility_label]",
                "[ERROR] must be one of: primary, danger [json-pointer:/blocks/0/elements/0/style]",
                "[ERROR] must be a string [json-pointer:/blocks/0/elements/1/value]",
                "[ERROR] duplicate action_id [json-pointer:/blocks/0/elements/2/action_id]",
            ]
        );
    }

    #[test]
    fn a_confirm_dialog_keeps_slacks_limits() {
        let dialog = |title: usize, text: usize, confirm: usize, deny: usize| {
            let mut b = button("a");
            b["confirm"] = json!({"title": plain(&"t".repeat(title)),
                "text": {"type": "mrkdwn", "text": "x".repeat(text)},
                "confirm": plain(&"c".repeat(confirm)), "deny": plain(&"d".repeat(deny))});
            actions(json!([b]))
        };
        assert!(dialog(100, 300, 30, 30).is_empty());
        let at = "json-pointer:/blocks/0/elements/0/confirm";
        assert_eq!(
            dialog(101, 301, 31, 31),
            [
                format!("[ERROR] must be less than 101 characters [{at}/title/text]"),
                format!("[ERROR] must be less than 301 characters [{at}/text/text]"),
                format!("[ERROR] must be less than 31 characters [{at}/confirm/text]"),
                format!("[ERROR] must be less than 31 characters [{at}/deny/text]"),
            ]
        );
        let mut partial = button("a");
        partial["confirm"] = json!({"text": plain("Sure?"), "style": "warning"});
        assert_eq!(
            actions(json!([partial])),
            [
                format!("[ERROR] missing required field: title [{at}]"),
                format!("[ERROR] missing required field: confirm [{at}]"),
                format!("[ERROR] missing required field: deny [{at}]"),
                format!("[ERROR] must be one of: primary, danger [{at}/style]"),
            ]
        );
    }

    #[test]
    fn an_actions_block_holds_1_to_25_elements() {
        assert_eq!(
            actions(json!([])),
            ["[ERROR] must have at least 1 item [json-pointer:/blocks/0/elements]"]
        );
        let many: Vec<Value> = (0..26).map(|i| button(&format!("b{i}"))).collect();
        assert_eq!(
            actions(json!(many)),
            ["[ERROR] no more than 25 items allowed [json-pointer:/blocks/0/elements]"]
        );
        let mut long_id = button("a");
        long_id["action_id"] = json!("a".repeat(256));
        assert_eq!(
            actions(json!([long_id])),
            [
                "[ERROR] must be less than 256 characters [json-pointer:/blocks/0/elements/0/action_id]"
            ]
        );
    }

    #[test]
    fn menus_keep_slacks_option_limits() {
        let option = |text: &str, value: &str| json!({"text": plain(text), "value": value});
        let at = "json-pointer:/blocks/0/elements";
        assert_eq!(
            actions(json!([
                {"type": "overflow", "action_id": "o", "options": vec![option("o", "v"); 6]},
                {"type": "overflow", "action_id": "p", "options": []},
                {"type": "static_select", "action_id": "s",
                 "placeholder": plain(&"p".repeat(151)),
                 "options": [option(&"o".repeat(76), &"v".repeat(151))]},
                {"type": "checkboxes", "action_id": "c", "options": vec![option("c", "v"); 11]},
                {"type": "radio_buttons", "action_id": "r"},
                {"type": "multi_static_select", "action_id": "m", "option_groups": [
                    {"label": {"type": "mrkdwn", "text": "g"}, "options": [option("o", "v")]}]}
            ])),
            [
                format!("[ERROR] no more than 5 items allowed [{at}/0/options]"),
                format!("[ERROR] must have at least 1 item [{at}/1/options]"),
                format!("[ERROR] must be less than 151 characters [{at}/2/placeholder/text]"),
                format!("[ERROR] must be less than 76 characters [{at}/2/options/0/text/text]"),
                format!("[ERROR] must be less than 151 characters [{at}/2/options/0/value]"),
                format!("[ERROR] no more than 10 items allowed [{at}/3/options]"),
                format!("[ERROR] missing required field: options [{at}/4]"),
                format!("[ERROR] must be a plain_text text object [{at}/5/option_groups/0/label]"),
            ]
        );
    }
}
