//! Block Kit as Slack checks it: messages' text and blocks, modal views, `[ERROR] …` messages.

use std::collections::HashSet;

use serde_json::Value;

use super::block_elements::{
    Place, Text, actions_problems, element_problems, image_problems, string_problems, text_field,
    text_object,
};

/// Text and blocks of a message, checked against Block Kit's limits.
pub(super) fn content(args: &Value) -> Result<(String, Vec<Value>), &'static str> {
    let text = args["text"].as_str().unwrap_or_default().to_owned();
    let blocks = match &args["blocks"] {
        Value::Null => vec![],
        Value::Array(b) => b.clone(),
        Value::String(s) => serde_json::from_str(s).map_err(|_| "invalid_blocks_format")?,
        _ => return Err("invalid_blocks_format"),
    };
    if text.is_empty() && blocks.is_empty() {
        return Err("no_text");
    }
    if text.chars().count() > 40_000 {
        return Err("msg_too_long");
    }
    check_blocks(&blocks).map_err(|_| "invalid_blocks")?;
    Ok((text, blocks))
}

fn check_blocks(blocks: &[Value]) -> Result<(), ()> {
    if blocks.len() <= 50 && block_problems(blocks, "/blocks").is_empty() {
        Ok(())
    } else {
        Err(())
    }
}

/// Slack's message for what is wrong at the JSON pointer `at` (kept with the elements,
/// which report their own).
pub(super) use super::block_elements::problem;

/// What Slack finds wrong with the blocks at `at` (`/blocks`, `/view/blocks`), apart
/// from their number: Block Kit's limits, `block_id`s unique among the blocks and
/// `action_id`s unique within their block.
pub(super) fn block_problems(blocks: &[Value], at: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut block_ids = HashSet::new();
    for (i, block) in blocks.iter().enumerate() {
        let at = format!("{at}/{i}");
        string_problems(block, &at, "block_id", 255, &mut out);
        if let Some(id) = block["block_id"].as_str()
            && !block_ids.insert(id)
        {
            out.push(problem("duplicate block_id", &format!("{at}/block_id")));
        }
        match block["type"].as_str() {
            Some("header") => text_field(block, &at, "text", Text::Plain, 150, true, &mut out),
            Some("section") => section_problems(block, &at, &mut out),
            Some("actions") => actions_problems(block, &at, &mut out),
            Some("context") => context_problems(block, &at, &mut out),
            Some("input") => input_problems(block, &at, &mut out),
            Some("image") => {
                image_problems(block, &at, &mut out);
                text_field(block, &at, "title", Text::Plain, 2000, false, &mut out);
            }
            Some("divider" | "rich_text" | "file" | "video" | "markdown") => {}
            _ => out.push(problem("unsupported block type", &format!("{at}/type"))),
        }
    }
    out
}

/// A section block at `at`: a text of 1 to 3000 characters or up to 10 fields of at
/// most 2000 each (or both), and an accessory a section takes.
fn section_problems(block: &Value, at: &str, out: &mut Vec<String>) {
    text_field(block, at, "text", Text::Any, 3000, false, out);
    let fields = match &block["fields"] {
        Value::Null => &[][..],
        Value::Array(f) => f.as_slice(),
        _ => {
            out.push(problem("must be an array", &format!("{at}/fields")));
            &[][..]
        }
    };
    if fields.len() > 10 {
        out.push(problem(
            "no more than 10 items allowed",
            &format!("{at}/fields"),
        ));
    }
    for (j, f) in fields.iter().enumerate() {
        text_object(f, &format!("{at}/fields/{j}"), Text::Any, 2000, out);
    }
    if block["text"].is_null() && fields.is_empty() {
        out.push(problem("must provide either text or fields", at));
    }
    if let Some(accessory) = block.get("accessory") {
        element_problems(accessory, &format!("{at}/accessory"), Place::Accessory, out);
    }
}

/// A context block at `at`: 1 to 10 elements, each an image or a text object.
fn context_problems(block: &Value, at: &str, out: &mut Vec<String>) {
    let at_elements = format!("{at}/elements");
    let Some(elements) = block["elements"].as_array() else {
        out.push(problem("missing required field: elements", at));
        return;
    };
    if elements.is_empty() || elements.len() > 10 {
        out.push(problem("must have 1 to 10 elements", &at_elements));
    }
    for (j, e) in elements.iter().enumerate() {
        let at = format!("{at_elements}/{j}");
        match e["type"].as_str() {
            Some("image") => image_problems(e, &at, out),
            Some("plain_text" | "mrkdwn") => text_object(e, &at, Text::Any, 3000, out),
            _ => out.push(problem(
                "must be an image element or a text object",
                &format!("{at}/type"),
            )),
        }
    }
}

/// What Slack finds wrong with the input block `block` at `at`.
fn input_problems(block: &Value, at: &str, out: &mut Vec<String>) {
    text_field(block, at, "label", Text::Plain, 2000, true, out);
    text_field(block, at, "hint", Text::Plain, 2000, false, out);
    let element = &block["element"];
    let at = format!("{at}/element");
    if !element.is_object() {
        out.push(problem(
            "missing required field: element",
            &at[..at.len() - "/element".len()],
        ));
        return;
    }
    element_problems(element, &at, Place::Input, out);
    if element["type"] == "plain_text_input" {
        let length = |key: &str| element.get(key).map(|v| v.as_u64());
        match length("max_length") {
            Some(Some(1..=3000)) | None => {}
            Some(_) => out.push(problem("must be 1 to 3000", &format!("{at}/max_length"))),
        }
        match length("min_length") {
            Some(Some(0..=3000)) | None => {}
            Some(_) => out.push(problem("must be 0 to 3000", &format!("{at}/min_length"))),
        }
        if let (Some(Some(min)), Some(Some(max))) = (length("min_length"), length("max_length"))
            && min > max
        {
            out.push(problem(
                "min_length must not exceed max_length",
                &format!("{at}/min_length"),
            ));
        }
        string_problems(element, &at, "initial_value", 3000, out);
    }
}

/// A modal view (at `at`, `/view`) checked as `views.open` checks it: Slack's
/// `[ERROR] …` messages for everything wrong with it.
pub(super) fn check_view(view: &Value, at: &str) -> Result<(), Vec<String>> {
    let mut out = Vec::new();
    if view["type"] != "modal" {
        out.push(problem("must be `modal`", &format!("{at}/type")));
    }
    text_field(view, at, "title", Text::Plain, 24, true, &mut out);
    text_field(view, at, "submit", Text::Plain, 24, false, &mut out);
    text_field(view, at, "close", Text::Plain, 24, false, &mut out);
    string_problems(view, at, "callback_id", 255, &mut out);
    string_problems(view, at, "private_metadata", 3000, &mut out);
    string_problems(view, at, "external_id", 255, &mut out);
    let at_blocks = format!("{at}/blocks");
    match &view["blocks"] {
        Value::Array(blocks) => {
            if blocks.len() > 100 {
                out.push(problem("no more than 100 items allowed", &at_blocks));
            }
            out.extend(block_problems(blocks, &at_blocks));
            let has_submit = !view["submit"].is_null();
            if let Some(i) = blocks.iter().position(|b| b["type"] == "input")
                && !has_submit
            {
                out.push(problem(
                    "must define submit to use input block",
                    &format!("{at_blocks}/{i}/input"),
                ));
            }
        }
        Value::Null => out.push(problem("missing required field: blocks", at)),
        _ => out.push(problem("must be an array", &at_blocks)),
    }
    if out.is_empty() { Ok(()) } else { Err(out) }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::slack::test_support::*;

    /// Slack's reasons for refusing `blocks`, which `chat.postMessage`, `chat.update`
    /// and `response_url`s refuse as `invalid_blocks`.
    fn refused(blocks: Value) -> Vec<String> {
        let message = json!({"text": "t", "blocks": blocks});
        assert_eq!(content(&message), Err("invalid_blocks"), "{blocks}");
        block_problems(blocks.as_array().unwrap(), "/blocks")
    }

    fn text(kind: &str, text: &str) -> Value {
        json!({"type": kind, "text": text})
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_text_object_is_plain_text_or_mrkdwn() {
        assert_eq!(
            refused(json!([{"type": "section", "text": text("markdown", "hi")}])),
            ["[ERROR] must be one of: plain_text, mrkdwn [json-pointer:/blocks/0/text/type]"]
        );
        assert_eq!(
            refused(json!([{"type": "section", "fields": [text("mrkdwn", "a"), {"text": "b"}]}])),
            ["[ERROR] must be one of: plain_text, mrkdwn [json-pointer:/blocks/0/fields/1/type]"]
        );
        assert_eq!(
            refused(json!([{"type": "context", "elements": [text("rich", "c")]}])),
            [
                "[ERROR] must be an image element or a text object [json-pointer:/blocks/0/elements/0/type]"
            ]
        );
        assert_eq!(
            refused(json!([{"type": "section", "text": {"type": "mrkdwn"}}])),
            ["[ERROR] missing required field: text [json-pointer:/blocks/0/text]"]
        );
        // As the Web API answers it.
        let slack = slack().await;
        let posted = api(
            &slack,
            "chat.postMessage",
            &json!({"channel": CHANNEL, "text": "t",
                    "blocks": [{"type": "section", "text": text("html", "<b>x</b>")}]}),
        );
        assert_eq!(
            (&posted["ok"], &posted["error"]),
            (&json!(false), &json!("invalid_blocks"))
        );
        assert!(slack.messages().is_empty());
    }

    #[test]
    fn emoji_is_only_for_plain_text_and_verbatim_only_for_mrkdwn() {
        assert_eq!(
            refused(json!([
                {"type": "section", "text": {"type": "mrkdwn", "text": "a", "emoji": true}},
                {"type": "header", "text": {"type": "plain_text", "text": "b", "verbatim": true}}
            ])),
            [
                "[ERROR] invalid additional property: emoji [json-pointer:/blocks/0/text]",
                "[ERROR] invalid additional property: verbatim [json-pointer:/blocks/1/text]",
            ]
        );
    }

    #[test]
    fn plain_text_is_required_where_slack_requires_it() {
        let mrkdwn = text("mrkdwn", "x");
        let mut button = button("b");
        button["confirm"] = json!({"title": mrkdwn, "text": mrkdwn,
                                   "confirm": mrkdwn, "deny": mrkdwn});
        assert_eq!(
            refused(json!([
                {"type": "header", "text": mrkdwn},
                {"type": "actions", "elements": [button]},
                {"type": "section", "text": mrkdwn, "accessory": {"type": "static_select",
                 "placeholder": mrkdwn, "options": [{"text": mrkdwn, "value": "v"}]}}
            ])),
            [
                "[ERROR] must be a plain_text text object [json-pointer:/blocks/0/text]",
                "[ERROR] must be a plain_text text object [json-pointer:/blocks/1/elements/0/confirm/title]",
                "[ERROR] must be a plain_text text object [json-pointer:/blocks/1/elements/0/confirm/confirm]",
                "[ERROR] must be a plain_text text object [json-pointer:/blocks/1/elements/0/confirm/deny]",
                "[ERROR] must be a plain_text text object [json-pointer:/blocks/2/accessory/placeholder]",
                "[ERROR] must be a plain_text text object [json-pointer:/blocks/2/accessory/options/0/text]",
            ]
        );
        let mut view = modal();
        for field in ["title", "submit", "close"] {
            view[field] = mrkdwn.clone();
        }
        view["blocks"][1]["label"] = mrkdwn.clone();
        assert_eq!(
            check_view(&view, "/view").unwrap_err(),
            [
                "[ERROR] must be a plain_text text object [json-pointer:/view/title]",
                "[ERROR] must be a plain_text text object [json-pointer:/view/submit]",
                "[ERROR] must be a plain_text text object [json-pointer:/view/close]",
                "[ERROR] must be a plain_text text object [json-pointer:/view/blocks/1/label]",
            ]
        );
    }

    #[test]
    fn a_section_needs_non_empty_text_or_fields() {
        assert_eq!(
            refused(json!([
                {"type": "section", "text": text("mrkdwn", "")},
                {"type": "section", "fields": [text("mrkdwn", "a"), text("plain_text", "")]},
                {"type": "section"},
                {"type": "section", "fields": []}
            ])),
            [
                "[ERROR] must be more than 0 characters [json-pointer:/blocks/0/text/text]",
                "[ERROR] must be more than 0 characters [json-pointer:/blocks/1/fields/1/text]",
                "[ERROR] must provide either text or fields [json-pointer:/blocks/2]",
                "[ERROR] must provide either text or fields [json-pointer:/blocks/3]",
            ]
        );
        assert_eq!(
            refused(json!([{"type": "section", "fields": vec![text("mrkdwn", "f"); 11]}])),
            ["[ERROR] no more than 10 items allowed [json-pointer:/blocks/0/fields]"]
        );
        assert_eq!(
            refused(json!([{"type": "section", "fields": [text("mrkdwn", &"f".repeat(2001))]}])),
            ["[ERROR] must be less than 2001 characters [json-pointer:/blocks/0/fields/0/text]"]
        );
    }

    #[test]
    fn a_header_holds_1_to_150_characters_of_plain_text() {
        assert_eq!(
            refused(json!([
                {"type": "header", "text": text("plain_text", "")},
                {"type": "header", "text": text("plain_text", &"h".repeat(151))},
                {"type": "header"}
            ])),
            [
                "[ERROR] must be more than 0 characters [json-pointer:/blocks/0/text/text]",
                "[ERROR] must be less than 151 characters [json-pointer:/blocks/1/text/text]",
                "[ERROR] missing required field: text [json-pointer:/blocks/2]",
            ]
        );
    }

    #[test]
    fn unknown_blocks_and_elements_are_refused() {
        assert_eq!(
            refused(json!([
                {"type": "carousel"},
                {"text": text("mrkdwn", "no type")},
                {"type": "actions", "elements": [button("a"), {"type": "image",
                 "image_url": "https://x.test/i.png", "alt_text": "i"}]},
                {"type": "actions", "elements": [{"type": "link"}, {"action_id": "x"}]},
                {"type": "section", "text": text("mrkdwn", "s"),
                 "accessory": {"type": "plain_text_input", "action_id": "i"}},
                {"type": "input", "label": text("plain_text", "l"), "element": button("b")}
            ])),
            [
                "[ERROR] unsupported block type [json-pointer:/blocks/0/type]",
                "[ERROR] unsupported block type [json-pointer:/blocks/1/type]",
                "[ERROR] unsupported element type: image [json-pointer:/blocks/2/elements/1/type]",
                "[ERROR] unsupported element type: link [json-pointer:/blocks/3/elements/0/type]",
                "[ERROR] missing required field: type [json-pointer:/blocks/3/elements/1]",
                "[ERROR] unsupported element type: plain_text_input [json-pointer:/blocks/4/accessory/type]",
                "[ERROR] unsupported element type: button [json-pointer:/blocks/5/element/type]",
            ]
        );
    }

    #[test]
    fn a_context_block_holds_1_to_10_elements() {
        let element = text("mrkdwn", "c");
        assert_eq!(
            refused(json!([
                {"type": "context", "elements": vec![element.clone(); 11]},
                {"type": "context", "elements": []},
                {"type": "context"},
                {"type": "context", "elements": [text("mrkdwn", &"c".repeat(3001))]}
            ])),
            [
                "[ERROR] must have 1 to 10 elements [json-pointer:/blocks/0/elements]",
                "[ERROR] must have 1 to 10 elements [json-pointer:/blocks/1/elements]",
                "[ERROR] missing required field: elements [json-pointer:/blocks/2]",
                "[ERROR] must be less than 3001 characters [json-pointer:/blocks/3/elements/0/text]",
            ]
        );
        assert!(
            block_problems(
                &[json!({"type": "context", "elements": vec![element; 10]})],
                "/blocks"
            )
            .is_empty()
        );
    }

    #[test]
    fn images_need_a_url_and_alt_text() {
        assert_eq!(
            refused(json!([
                {"type": "image", "image_url": "https://x.test/a.png"},
                {"type": "image", "alt_text": "a", "title": text("mrkdwn", "t")},
                {"type": "context", "elements": [{"type": "image", "image_url": "u",
                 "alt_text": "a".repeat(2001)}]}
            ])),
            [
                "[ERROR] missing required field: alt_text [json-pointer:/blocks/0]",
                "[ERROR] missing required field: image_url [json-pointer:/blocks/1]",
                "[ERROR] must be a plain_text text object [json-pointer:/blocks/1/title]",
                "[ERROR] must be less than 2001 characters [json-pointer:/blocks/2/elements/0/alt_text]",
            ]
        );
    }

    #[test]
    fn messages_as_slack_takes_them_pass() {
        let mut reject = button("reject");
        reject["style"] = json!("danger");
        reject["confirm"] = json!({
            "title": text("plain_text", &"t".repeat(100)),
            "text": {"type": "mrkdwn", "text": "s".repeat(300), "verbatim": true},
            "confirm": text("plain_text", &"c".repeat(30)),
            "deny": text("plain_text", &"d".repeat(30)),
            "style": "danger"});
        let blocks = json!([
            {"type": "header", "text": {"type": "plain_text", "text": "h".repeat(150), "emoji": true}},
            {"type": "section", "block_id": "status", "text": {"type": "mrkdwn", "text": "s", "verbatim": true}},
            {"type": "section", "fields": vec![text("mrkdwn", "f"); 10],
             "accessory": {"type": "overflow", "action_id": "more",
                           "options": vec![json!({"text": text("plain_text", "o"), "value": "v"}); 5]}},
            {"type": "section", "text": text("plain_text", "p"),
             "accessory": {"type": "image", "image_url": "https://x.test/i.png", "alt_text": "i"}},
            {"type": "divider"},
            {"type": "context", "elements": [text("mrkdwn", "c"),
             {"type": "image", "image_url": "https://x.test/i.png", "alt_text": "i"}]},
            {"type": "actions", "block_id": "decide", "elements": [button("approve"), reject,
             {"type": "radio_buttons", "action_id": "pick", "options": [
                 {"text": text("mrkdwn", "*a*"), "value": "a",
                  "description": text("mrkdwn", "_d_")}]},
             {"type": "users_select", "action_id": "who",
              "placeholder": text("plain_text", "Someone")}]},
            {"type": "image", "image_url": "https://x.test/i.png", "alt_text": "i",
             "title": text("plain_text", "t")},
            {"type": "rich_text", "elements": []}
        ]);
        assert_eq!(
            block_problems(blocks.as_array().unwrap(), "/blocks"),
            Vec::<String>::new()
        );
        assert!(content(&json!({"text": "t", "blocks": blocks})).is_ok());
        assert_eq!(check_view(&modal(), "/view"), Ok(()));
    }
}
