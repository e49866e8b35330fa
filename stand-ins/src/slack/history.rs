//! Message metadata and `conversations.history`, as Slack documents them.
//!
//! `chat.postMessage` takes `metadata`, `{"event_type", "event_payload"}` (a JSON
//! object, or that object as a JSON string in a form body): a malformed one is
//! refused (`invalid_metadata_format`), one too large too (`metadata_too_large`), and
//! an `event_type` with characters other than letters, digits, `_` and `-` posts the
//! message without its metadata, with the warning `invalid_metadata_schema`.
//!
//! `conversations.history` lists a channel's messages newest first (thread replies
//! stay in their thread), between `oldest` and `latest` (exclusive unless
//! `inclusive`), at most `limit` a page (default 100, at most 999), paged with
//! `cursor` / `response_metadata.next_cursor` and `has_more`; metadata only with
//! `include_all_metadata`. A bot needs `channels:history` for a public channel and
//! `groups:history` for a private one (`missing_scope`, with `needed` and `provided`),
//! and must be in the channel (`not_in_channel`).

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::answers::{fail, ok, refusal};
use super::chat::valid_channel;
use super::{BOT_ID, SlackStandIn, State};
use crate::Outgoing;

/// The bot scopes the app's manifest asks for (slack-app-manifest.yaml).
pub(super) const MANIFEST_SCOPES: &[&str] = &[
    "chat:write",
    "usergroups:read",
    "commands",
    "users:read",
    "users:read.email",
    "channels:history",
    "groups:history",
];

/// The stand-in's bound on a message's metadata, serialized. Slack documents the
/// refusal (`metadata_too_large`) without a figure; the app's metadata is a few
/// hundred bytes.
pub const METADATA_MAX_BYTES: usize = 8_000;
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 999;

/// The `metadata` of a `chat.postMessage`, as Slack would store it: `Ok(None)` when
/// there is none (or it is dropped, with the warning Slack gives), or the refusal.
pub(super) fn metadata_of(args: &Value) -> Result<(Option<Value>, Option<&'static str>), Outgoing> {
    let metadata = match args.get("metadata") {
        None | Some(Value::Null) => return Ok((None, None)),
        // A form body carries it as a JSON string.
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(value) => value,
            Err(_) => return Err(fail("invalid_metadata_format")),
        },
        Some(value) => value.clone(),
    };
    let (Some(event_type), Some(payload)) = (
        metadata.get("event_type").and_then(Value::as_str),
        metadata.get("event_payload").and_then(Value::as_object),
    ) else {
        return Err(fail("invalid_metadata_format"));
    };
    let scalar = |v: &Value| v.is_string() || v.is_number() || v.is_boolean();
    let flat = |v: &Value| v.as_object().is_some_and(|o| o.values().all(scalar));
    let allowed = |v: &Value| {
        scalar(v) || flat(v) || v.as_array().is_some_and(|items| items.iter().all(flat))
    };
    if !payload.values().all(allowed) {
        return Err(fail("invalid_metadata_format"));
    }
    if metadata.to_string().len() > METADATA_MAX_BYTES {
        return Err(fail("metadata_too_large"));
    }
    let valid_type = !event_type.is_empty()
        && event_type
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !valid_type {
        return Ok((None, Some("invalid_metadata_schema")));
    }
    Ok((
        Some(json!({"event_type": event_type, "event_payload": payload})),
        None,
    ))
}

/// A cursor names the `ts` the next page starts before; opaque to the caller.
fn cursor_for(ts: &str) -> String {
    ts.bytes().map(|b| format!("{b:02x}")).collect()
}

fn ts_of_cursor(cursor: &str) -> Option<String> {
    if !cursor.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..cursor.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(cursor.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

/// A `ts` as a number that orders like Slack's (seconds, then the sequence).
fn ts_key(ts: &str) -> Option<(u64, u64)> {
    let (s, f) = ts.split_once('.').unwrap_or((ts, "0"));
    Some((s.parse().ok()?, f.parse().ok()?))
}

fn flag(args: &Value, name: &str) -> bool {
    match &args[name] {
        Value::Bool(b) => *b,
        Value::String(s) => s == "true" || s == "1",
        Value::Number(n) => n.as_u64() == Some(1),
        _ => false,
    }
}

pub(super) fn conversations_history(state: &State, args: &Value) -> Outgoing {
    let text = |key: &str| args[key].as_str().unwrap_or_default().to_owned();
    let channel = text("channel");
    if !valid_channel(&channel) {
        return fail("channel_not_found");
    }
    let needed = if state.private_channels.contains(&channel) {
        "groups:history"
    } else if channel.starts_with('D') {
        "im:history"
    } else {
        "channels:history"
    };
    let scopes: BTreeSet<&str> = MANIFEST_SCOPES
        .iter()
        .copied()
        .filter(|s| !state.dropped_scopes.contains(*s))
        .collect();
    if !scopes.contains(needed) {
        let provided = scopes.into_iter().collect::<Vec<_>>().join(",");
        return Outgoing::json(
            200,
            &json!({"ok": false, "error": "missing_scope", "needed": needed, "provided": provided}),
            super::JSON,
        );
    }
    if state.left_channels.contains(&channel) {
        return fail("not_in_channel");
    }
    let limit = match &args["limit"] {
        Value::Null => DEFAULT_LIMIT,
        Value::Number(n) => n.as_u64().map_or(DEFAULT_LIMIT, |n| n as usize),
        Value::String(s) if s.is_empty() => DEFAULT_LIMIT,
        Value::String(s) => match s.parse::<usize>() {
            Ok(n) => n,
            Err(_) => return refusal(200, "invalid_limit"),
        },
        _ => return refusal(200, "invalid_limit"),
    }
    .clamp(1, MAX_LIMIT);
    let bound = |name: &str| -> Result<Option<(u64, u64)>, Outgoing> {
        match text(name) {
            t if t.is_empty() => Ok(None),
            t => ts_key(&t)
                .map(Some)
                .ok_or_else(|| fail("invalid_ts_oldest")),
        }
    };
    let (oldest, mut latest) = match (bound("oldest"), bound("latest")) {
        (Ok(o), Ok(l)) => (o, l),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let inclusive = flag(args, "inclusive");
    let cursor = text("cursor");
    let mut before_cursor = false;
    if !cursor.is_empty() {
        match ts_of_cursor(&cursor).as_deref().and_then(ts_key) {
            Some(key) => {
                latest = Some(key);
                before_cursor = true;
            }
            None => return fail("invalid_cursor"),
        }
    }
    let with_metadata = flag(args, "include_all_metadata");
    let mut in_range: Vec<_> = state
        .messages
        .values()
        .filter(|m| m.channel == channel)
        // A thread's replies stay in the thread.
        .filter(|m| m.thread_ts.as_ref().is_none_or(|t| *t == m.ts))
        .filter_map(|m| ts_key(&m.ts).map(|key| (key, m)))
        .filter(|(key, _)| match oldest {
            Some(o) => *key > o || (inclusive && *key == o),
            None => true,
        })
        .filter(|(key, _)| match latest {
            Some(l) if before_cursor => *key < l,
            Some(l) => *key < l || (inclusive && *key == l),
            None => true,
        })
        .collect();
    // Newest first.
    in_range.sort_by_key(|(key, _)| std::cmp::Reverse(*key));
    let has_more = in_range.len() > limit;
    let page: Vec<Value> = in_range
        .iter()
        .take(limit)
        .map(|(_, m)| {
            let mut message = json!({"type": "message", "subtype": "bot_message", "ts": m.ts,
                "text": m.text, "blocks": m.blocks, "bot_id": BOT_ID, "app_id": super::APP_ID,
                "user": super::BOT_USER});
            if let Some(t) = &m.thread_ts {
                message["thread_ts"] = json!(t);
            }
            if let (true, Some(metadata)) = (with_metadata, &m.metadata) {
                message["metadata"] = metadata.clone();
            }
            message
        })
        .collect();
    let next_cursor = if has_more {
        page.last()
            .and_then(|m| m["ts"].as_str())
            .map(cursor_for)
            .unwrap_or_default()
    } else {
        String::new()
    };
    ok(
        json!({"messages": page, "has_more": has_more, "pin_count": 0,
              "response_metadata": {"next_cursor": next_cursor}}),
    )
}

impl SlackStandIn {
    /// The app loses a bot scope (as if it was installed without it): calls that need
    /// it answer `missing_scope`.
    pub fn drop_scope(&self, scope: &str) {
        self.lock().dropped_scopes.insert(scope.to_owned());
    }

    /// `channel` is a private channel (its history needs `groups:history`).
    pub fn make_private(&self, channel: &str) {
        self.lock().private_channels.insert(channel.to_owned());
    }

    /// The app is removed from `channel`: reading its history answers `not_in_channel`.
    pub fn leave_channel(&self, channel: &str) {
        self.lock().left_channels.insert(channel.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slack::test_support::*;

    fn post(slack: &SlackStandIn, text: &str, metadata: Option<Value>) -> Value {
        let mut args = json!({"channel": CHANNEL, "text": text});
        if let Some(m) = metadata {
            args["metadata"] = m;
        }
        api(slack, "chat.postMessage", &args)
    }

    fn history(slack: &SlackStandIn, args: Value) -> Value {
        let mut args = args;
        args["channel"] = json!(args["channel"].as_str().unwrap_or(CHANNEL));
        api(slack, "conversations.history", &args)
    }

    fn texts(answer: &Value) -> Vec<String> {
        assert_eq!(answer["ok"], true, "{answer}");
        answer["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap().to_owned())
            .collect()
    }

    fn metadata() -> Value {
        json!({"event_type": "approval_prompt", "event_payload": {"id": "e-1", "n": 2, "ok": true,
               "place": {"region": "us-east-1"}, "steps": [{"k": "s1"}]}})
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn metadata_is_kept_with_its_message_and_returned_only_when_asked() {
        let slack = slack().await;
        let posted = post(&slack, "prompt", Some(metadata()));
        assert_eq!(posted["ok"], true, "{posted}");
        let stored = slack
            .message(CHANNEL, posted["ts"].as_str().unwrap())
            .unwrap();
        assert_eq!(stored.metadata, Some(metadata()));
        let plain = history(&slack, json!({}));
        assert_eq!(texts(&plain), ["prompt"]);
        assert!(plain["messages"][0].get("metadata").is_none());
        let with = history(&slack, json!({"include_all_metadata": "true"}));
        assert_eq!(with["messages"][0]["metadata"], metadata());
        assert_eq!(with["messages"][0]["bot_id"], BOT_ID);
        // Form bodies carry it as a JSON string.
        let form = crate::slack::test_support::post(
            &slack,
            "/api/chat.postMessage",
            "application/x-www-form-urlencoded",
            &form_urlencoded::Serializer::new(String::new())
                .append_pair("channel", CHANNEL)
                .append_pair("text", "form")
                .append_pair("metadata", &metadata().to_string())
                .finish(),
        )
        .1;
        let stored = slack
            .message(CHANNEL, form["ts"].as_str().unwrap())
            .unwrap();
        assert_eq!(stored.metadata, Some(metadata()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn malformed_or_oversized_metadata_is_refused_and_nothing_is_posted() {
        let slack = slack().await;
        for bad in [
            json!("not json"),
            json!({"event_type": "x"}),
            json!({"event_type": "x", "event_payload": "a string"}),
            json!({"event_type": "x", "event_payload": [1]}),
            json!({"event_payload": {}}),
            json!({"event_type": "x", "event_payload": {"deep": {"er": {"still": 1}}}}),
        ] {
            let answer = post(&slack, "prompt", Some(bad.clone()));
            assert_eq!(answer["error"], "invalid_metadata_format", "{bad}");
        }
        let big =
            json!({"event_type": "x", "event_payload": {"v": "v".repeat(METADATA_MAX_BYTES)}});
        assert_eq!(
            post(&slack, "prompt", Some(big))["error"],
            "metadata_too_large"
        );
        assert!(slack.messages().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_event_type_slack_does_not_accept_posts_the_message_without_its_metadata() {
        let slack = slack().await;
        let mut m = metadata();
        m["event_type"] = json!("approval.prompt");
        let answer = post(&slack, "prompt", Some(m));
        assert_eq!(answer["ok"], true);
        assert_eq!(answer["warning"], "invalid_metadata_schema");
        assert_eq!(slack.messages()[0].metadata, None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn history_is_newest_first_between_oldest_and_latest_and_pages_with_a_cursor() {
        let slack = slack().await;
        for i in 0..5 {
            post(&slack, &format!("m{i}"), None);
        }
        let ts: Vec<String> = {
            let mut all = slack.messages();
            all.sort_by_key(|m| ts_key(&m.ts));
            all.into_iter().map(|m| m.ts).collect()
        };
        // A reply stays in its thread.
        api(
            &slack,
            "chat.postMessage",
            &json!({"channel": CHANNEL, "text": "reply", "thread_ts": ts[0]}),
        );
        assert_eq!(
            texts(&history(&slack, json!({}))),
            ["m4", "m3", "m2", "m1", "m0"]
        );
        assert_eq!(
            texts(&history(&slack, json!({"oldest": ts[1], "latest": ts[4]}))),
            ["m3", "m2"],
            "exclusive bounds"
        );
        assert_eq!(
            texts(&history(
                &slack,
                json!({"oldest": ts[1], "latest": ts[4], "inclusive": true})
            )),
            ["m4", "m3", "m2", "m1"]
        );
        let first = history(&slack, json!({"limit": 2}));
        assert_eq!(texts(&first), ["m4", "m3"]);
        assert_eq!(first["has_more"], true);
        let cursor = first["response_metadata"]["next_cursor"].as_str().unwrap();
        assert!(!cursor.is_empty());
        let second = history(&slack, json!({"limit": 2, "cursor": cursor}));
        assert_eq!(texts(&second), ["m2", "m1"]);
        let cursor = second["response_metadata"]["next_cursor"].as_str().unwrap();
        let last = history(&slack, json!({"limit": 2, "cursor": cursor}));
        assert_eq!(texts(&last), ["m0"]);
        assert_eq!(last["has_more"], false);
        assert_eq!(last["response_metadata"]["next_cursor"], "");
        // Default 100 a page, at most 999.
        for i in 5..1_001 {
            slack
                .lock()
                .post_in_channel(CHANNEL, format!("m{i}"), vec![]);
        }
        assert_eq!(texts(&history(&slack, json!({}))).len(), 100);
        assert_eq!(texts(&history(&slack, json!({"limit": 5000}))).len(), 999);
        assert_eq!(
            history(&slack, json!({"cursor": "zz"}))["error"],
            "invalid_cursor"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn history_needs_the_scope_of_the_channel_s_kind_and_membership() {
        let slack = slack().await;
        post(&slack, "prompt", None);
        slack.drop_scope("channels:history");
        let refused = history(&slack, json!({}));
        assert_eq!(refused["error"], "missing_scope");
        assert_eq!(refused["needed"], "channels:history");
        assert!(
            !refused["provided"]
                .as_str()
                .unwrap()
                .contains("channels:history")
        );
        assert!(refused["provided"].as_str().unwrap().contains("chat:write"));
        // A private channel needs groups:history, which the app still has.
        slack.make_private(CHANNEL);
        assert_eq!(texts(&history(&slack, json!({}))), ["prompt"]);
        slack.drop_scope("groups:history");
        assert_eq!(history(&slack, json!({}))["needed"], "groups:history");

        let slack = crate::slack::test_support::slack().await;
        slack.leave_channel(CHANNEL);
        assert_eq!(history(&slack, json!({}))["error"], "not_in_channel");
        assert_eq!(
            history(&slack, json!({"channel": "nope"}))["error"],
            "channel_not_found"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_post_answered_internal_error_after_it_was_made_is_in_the_history() {
        let slack = slack().await;
        slack.fail_next_after_doing("chat.postMessage", 200, "internal_error");
        let answer = post(&slack, "prompt", Some(metadata()));
        assert_eq!(
            (answer["ok"].clone(), answer["error"].clone()),
            (json!(false), json!("internal_error"))
        );
        let found = history(&slack, json!({"include_all_metadata": true}));
        assert_eq!(texts(&found), ["prompt"]);
        assert_eq!(found["messages"][0]["metadata"], metadata());
        // Only the next call: the one after is answered as made.
        assert_eq!(post(&slack, "again", None)["ok"], true);
    }

    #[test]
    fn the_stand_in_s_scopes_are_the_manifest_s() {
        let manifest = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../slack-app-manifest.yaml"
        ))
        .unwrap();
        let bot = manifest.split("    bot:\n").nth(1).unwrap();
        let listed: BTreeSet<&str> = bot
            .lines()
            .take_while(|l| l.starts_with("      "))
            .filter_map(|l| l.trim().strip_prefix("- "))
            .collect();
        assert_eq!(listed, MANIFEST_SCOPES.iter().copied().collect());
    }
}
