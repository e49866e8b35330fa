//! Block Kit as Slack checks it: messages' text and blocks, modal views, `[ERROR] …` messages.

use std::collections::HashSet;

use serde_json::Value;

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

/// Slack's message for what is wrong at the JSON pointer `at`.
pub(super) fn problem(message: &str, at: &str) -> String {
    format!("[ERROR] {message} [json-pointer:{at}]")
}

/// The number of characters of a string (0 for anything else).
fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

/// What Slack finds wrong with the blocks at `at` (`/blocks`, `/view/blocks`), apart
/// from their number: Block Kit's limits, `block_id`s unique among the blocks and
/// `action_id`s unique within their block.
pub(super) fn block_problems(blocks: &[Value], at: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut block_ids = HashSet::new();
    for (i, block) in blocks.iter().enumerate() {
        let at = format!("{at}/{i}");
        let mut check = |cond: bool, message: &str, sub: &str| {
            if !cond {
                out.push(problem(message, &format!("{at}{sub}")));
            }
        };
        check(
            chars(&block["block_id"]) <= 255,
            "must be less than 256 characters",
            "/block_id",
        );
        if let Some(id) = block["block_id"].as_str() {
            check(block_ids.insert(id), "duplicate block_id", "/block_id");
        }
        match block["type"].as_str() {
            Some("header") => {
                check(
                    block["text"]["type"] == "plain_text",
                    "must be a plain_text text object",
                    "/text",
                );
                check(
                    (1..=150).contains(&chars(&block["text"]["text"])),
                    "must be 1 to 150 characters",
                    "/text/text",
                );
            }
            Some("section") => {
                check(
                    chars(&block["text"]["text"]) <= 3000,
                    "must be less than 3001 characters",
                    "/text/text",
                );
                let fields = block["fields"].as_array().map_or(&[][..], |f| f.as_slice());
                check(
                    fields.len() <= 10,
                    "no more than 10 items allowed",
                    "/fields",
                );
                for (j, f) in fields.iter().enumerate() {
                    check(
                        chars(&f["text"]) <= 2000,
                        "must be less than 2001 characters",
                        &format!("/fields/{j}/text"),
                    );
                }
                check(
                    block.get("text").is_some() || !fields.is_empty(),
                    "must provide either text or fields",
                    "",
                );
            }
            Some("actions") => {
                let Some(elements) = block["elements"].as_array() else {
                    check(false, "missing required field: elements", "");
                    continue;
                };
                check(
                    !elements.is_empty(),
                    "must have at least 1 item",
                    "/elements",
                );
                check(
                    elements.len() <= 25,
                    "no more than 25 items allowed",
                    "/elements",
                );
                let mut action_ids = HashSet::new();
                for (j, e) in elements.iter().enumerate() {
                    let element = format!("/elements/{j}");
                    check(
                        chars(&e["action_id"]) <= 255,
                        "must be less than 256 characters",
                        &format!("{element}/action_id"),
                    );
                    if let Some(id) = e["action_id"].as_str() {
                        check(
                            action_ids.insert(id),
                            "duplicate action_id",
                            &format!("{element}/action_id"),
                        );
                    }
                    check(
                        chars(&e["value"]) <= 2000,
                        "must be less than 2001 characters",
                        &format!("{element}/value"),
                    );
                    check(
                        chars(&e["text"]["text"]) <= 75,
                        "must be less than 76 characters",
                        &format!("{element}/text/text"),
                    );
                    check(
                        e.get("style")
                            .is_none_or(|s| s == "primary" || s == "danger"),
                        "must be one of: primary, danger",
                        &format!("{element}/style"),
                    );
                }
            }
            Some("context") => check(
                block["elements"]
                    .as_array()
                    .is_some_and(|e| !e.is_empty() && e.len() <= 10),
                "must have 1 to 10 elements",
                "/elements",
            ),
            Some("input") => input_problems(block, &at, &mut out),
            Some("divider" | "image" | "rich_text" | "file" | "video" | "markdown") => {}
            _ => check(false, "unsupported block type", "/type"),
        }
    }
    out
}

/// What Slack finds wrong with the input block `block` at `at`.
fn input_problems(block: &Value, at: &str, out: &mut Vec<String>) {
    plain_text_problems(block, at, "label", 2000, true, out);
    plain_text_problems(block, at, "hint", 2000, false, out);
    let element = &block["element"];
    let at = format!("{at}/element");
    if !element.is_object() {
        out.push(problem(
            "missing required field: element",
            &at[..at.len() - "/element".len()],
        ));
        return;
    }
    if !element["type"].is_string() {
        out.push(problem("missing required field: type", &at));
    }
    string_problems(element, &at, "action_id", 255, out);
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

/// The `plain_text` text object `parent[field]` (at `at`/`field`), of 1 to `max` characters.
fn plain_text_problems(
    parent: &Value,
    at: &str,
    field: &str,
    max: usize,
    required: bool,
    out: &mut Vec<String>,
) {
    let at_field = format!("{at}/{field}");
    match parent.get(field) {
        None | Some(Value::Null) => {
            if required {
                out.push(problem(&format!("missing required field: {field}"), at));
            }
        }
        Some(v) if v["type"] != "plain_text" || !v["text"].is_string() => {
            out.push(problem("must be a plain_text text object", &at_field));
        }
        Some(v) => match chars(&v["text"]) {
            0 => out.push(problem(
                "must be more than 0 characters",
                &format!("{at_field}/text"),
            )),
            n if n > max => out.push(problem(
                &format!("must be less than {} characters", max + 1),
                &format!("{at_field}/text"),
            )),
            _ => {}
        },
    }
}

/// The optional string `parent[field]` (at `at`/`field`), at most `max` characters.
fn string_problems(parent: &Value, at: &str, field: &str, max: usize, out: &mut Vec<String>) {
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

/// A modal view (at `at`, `/view`) checked as `views.open` checks it: Slack's
/// `[ERROR] …` messages for everything wrong with it.
pub(super) fn check_view(view: &Value, at: &str) -> Result<(), Vec<String>> {
    let mut out = Vec::new();
    if view["type"] != "modal" {
        out.push(problem("must be `modal`", &format!("{at}/type")));
    }
    plain_text_problems(view, at, "title", 24, true, &mut out);
    plain_text_problems(view, at, "submit", 24, false, &mut out);
    plain_text_problems(view, at, "close", 24, false, &mut out);
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
