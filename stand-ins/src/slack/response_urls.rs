//! `response_url`s: what the app posts to the URL a click or a slash command came with.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::answers::ok;
use super::block_kit::content;
use super::chat::Ephemeral;
use super::{JSON, SlackStandIn, State, TEAM_ID};
use crate::{Incoming, Outgoing};

const RESPONSE_URL_USES: u32 = 5;
const RESPONSE_URL_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// What a `response_url` acts on.
#[derive(Debug, Clone)]
pub(super) enum Original {
    /// A message in a channel (the URL came with a click on it).
    Message { channel: String, ts: String },
    /// An ephemeral message (the URL came with a click on it): `replace_original`
    /// and `delete_original` act on it.
    Ephemeral { channel: String, id: String },
    /// Nothing: a slash command's URL has no message to replace or delete.
    Command { channel: String },
}

#[derive(Debug)]
pub(super) struct ResponseUrl {
    original: Original,
    user_id: String,
    uses: u32,
    issued: Instant,
}

impl ResponseUrl {
    /// A fresh `response_url` for `user_id`'s interaction with `original`.
    fn issued_now(original: Original, user_id: &str) -> Self {
        Self {
            original,
            user_id: user_id.into(),
            uses: 0,
            issued: Instant::now(),
        }
    }

    /// A fresh `response_url` for `user_id`'s interaction with the message (`channel`, `ts`).
    fn for_message(channel: &str, ts: &str, user_id: &str) -> Self {
        Self::issued_now(
            Original::Message {
                channel: channel.into(),
                ts: ts.into(),
            },
            user_id,
        )
    }
}

impl State {
    /// A fresh `response_url` (under `base`, `/actions` or `/commands` as Slack's
    /// `hooks.slack.com` has them) for `user_id`'s interaction with `original`.
    pub(super) fn issue_response_url(
        &mut self,
        base: &str,
        kind: &str,
        original: Original,
        user_id: &str,
    ) -> String {
        let token = uuid::Uuid::new_v4().simple().to_string();
        let url = format!("{base}/{kind}/{TEAM_ID}/{}/{token}", self.next_ts);
        self.response_urls
            .insert(token, ResponseUrl::issued_now(original, user_id));
        url
    }
}

impl SlackStandIn {
    /// A `response_url` for `user_id`'s interaction with the message at (`channel`, `ts`),
    /// as Slack issues one with every click.
    pub fn issue_response_url(&self, channel: &str, ts: &str, user_id: &str) -> String {
        let mut state = self.lock();
        let token = uuid::Uuid::new_v4().simple().to_string();
        state.response_urls.insert(
            token.clone(),
            ResponseUrl::for_message(channel, ts, user_id),
        );
        format!("{}/actions/{TEAM_ID}/0/{token}", self.server.url())
    }

    /// Accepts `response_url`, a URL of this stand-in's own form (as in the click files
    /// of `events/`), for `user_id`'s interaction with the message at (`channel`, `ts`).
    /// Returns false for a URL that is not one of this stand-in's.
    pub fn accept_response_url(&self, url: &str, channel: &str, ts: &str, user_id: &str) -> bool {
        let prefix = format!("{}/actions/", self.server.url());
        let Some(token) = url.strip_prefix(&prefix).and_then(|r| r.rsplit('/').next()) else {
            return false;
        };
        self.lock().response_urls.insert(
            token.to_owned(),
            ResponseUrl::for_message(channel, ts, user_id),
        );
        true
    }

    /// Makes every `response_url` issued so far older by `by`: past 30 minutes, Slack
    /// answers `expired_url`.
    pub fn age_response_urls(&self, by: Duration) {
        for url in self.lock().response_urls.values_mut() {
            url.issued = url.issued.checked_sub(by).unwrap_or(url.issued);
        }
    }
}

pub(super) fn response_url(state: &mut State, rest: &str, req: &Incoming) -> Outgoing {
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    state.calls.push(("response_url".into(), body.clone()));
    let token = rest.rsplit('/').next().unwrap_or_default().to_owned();
    let Some(url) = state.response_urls.get_mut(&token) else {
        return expired_url();
    };
    if url.uses >= RESPONSE_URL_USES || url.issued.elapsed() > RESPONSE_URL_LIFETIME {
        return expired_url();
    }
    if !body.is_object() {
        return refused("invalid_payload");
    }
    url.uses += 1;
    let (original, user_id) = (url.original.clone(), url.user_id.clone());
    match original {
        Original::Message { channel, ts } => answer_on_message(state, &body, channel, ts, user_id),
        Original::Ephemeral { channel, id } => {
            answer_on_ephemeral(state, &body, &channel, &id, &user_id)
        }
        Original::Command { channel } => answer_on_command(state, &body, &channel, &user_id),
    }
}

/// A `response_url` answer to a click on a channel message.
fn answer_on_message(
    state: &mut State,
    body: &Value,
    channel: String,
    ts: String,
    user_id: String,
) -> Outgoing {
    let ephemeral = body["response_type"] == "ephemeral" || body["replace_original"] != true;
    if body["delete_original"] == true {
        state.messages.remove(&(channel, ts));
    } else if ephemeral {
        // Checked as Slack checks any message: what it refuses is not shown at all.
        let (text, blocks) = match content(body) {
            Ok(c) => c,
            Err(e) => return refused(e),
        };
        // Kept as an ephemeral message, whose buttons can be clicked.
        state.show_ephemeral(&user_id, &channel, text, blocks);
    } else {
        let (text, blocks) = match content(body) {
            Ok(c) => c,
            Err(e) => return refused(e),
        };
        let Some(stored) = state.messages.get_mut(&(channel, ts)) else {
            return expired_url();
        };
        stored.text = text;
        stored.blocks = blocks;
        stored.updates += 1;
    }
    ok(json!({}))
}

/// A `response_url` answer to a click on an ephemeral message: `replace_original` and
/// `delete_original` act on that ephemeral message, anything else is a new message.
fn answer_on_ephemeral(
    state: &mut State,
    body: &Value,
    channel: &str,
    id: &str,
    user_id: &str,
) -> Outgoing {
    if body["delete_original"] == true {
        state.ephemeral_messages.retain(|e| e.message.ts != id);
        return ok(json!({}));
    }
    let (text, blocks) = match content(body) {
        Ok(c) => c,
        Err(e) => return refused(e),
    };
    if body["replace_original"] == true {
        let Some(shown) = state.ephemeral_message_mut(id) else {
            return expired_url();
        };
        shown.message.text = text.clone();
        shown.message.blocks = blocks;
        shown.message.updates += 1;
        state.ephemeral.push(Ephemeral {
            user_id: user_id.into(),
            text,
        });
    } else if body["response_type"] == "in_channel" {
        state.post_in_channel(channel, text, blocks);
    } else {
        state.show_ephemeral(user_id, channel, text, blocks);
    }
    ok(json!({}))
}

/// A `response_url` answer to a slash command: an ephemeral message, or a message in
/// the channel with `response_type: in_channel`. There is no original message: Slack
/// replaces or deletes nothing (the stand-in refuses, so that a test notices).
fn answer_on_command(state: &mut State, body: &Value, channel: &str, user_id: &str) -> Outgoing {
    if body["replace_original"] == true || body["delete_original"] == true {
        return refused("no_original_message");
    }
    let (text, blocks) = match content(body) {
        Ok(c) => c,
        Err(e) => return refused(e),
    };
    if body["response_type"] == "in_channel" {
        state.post_in_channel(channel, text, blocks);
    } else {
        state.show_ephemeral(user_id, channel, text, blocks);
    }
    ok(json!({}))
}

fn expired_url() -> Outgoing {
    Outgoing::json(404, &json!({"ok": false, "error": "expired_url"}), JSON)
}

/// A `response_url` post Slack refuses.
fn refused(error: &str) -> Outgoing {
    Outgoing::json(400, &json!({"ok": false, "error": error}), JSON)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::slack::test_support::*;

    /// Blocks Slack refuses: a section without text or fields.
    fn invalid_blocks() -> Value {
        json!([{"type": "section", "text": {"type": "mrkdwn", "text": ""}}])
    }

    fn invalid() -> (u16, Value) {
        (400, json!({"ok": false, "error": "invalid_blocks"}))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_ephemeral_answer_with_invalid_blocks_is_refused_not_shown() {
        let slack = slack().await;
        let posted = api(
            &slack,
            "chat.postMessage",
            &json!({"channel": CHANNEL, "text": "approve?", "blocks": [
                {"type": "actions", "block_id": "decide", "elements": [button("approve")]}]}),
        );
        let ts = posted["ts"].as_str().unwrap();
        let url = slack.issue_response_url(CHANNEL, ts, "U0ALICE");
        for body in [
            json!({"response_type": "ephemeral", "text": "t", "blocks": invalid_blocks()}),
            // Neither in_channel nor replace_original: an ephemeral answer too.
            json!({"text": "t", "blocks": invalid_blocks()}),
            json!({"response_type": "ephemeral", "text": "t",
                   "blocks": [{"type": "actions", "elements": [{"type": "link"}]}]}),
        ] {
            assert_eq!(respond(&slack, &url, &body), invalid(), "{body}");
        }
        assert!(slack.ephemeral().is_empty(), "nothing shown");
        assert!(slack.ephemeral_messages("U0ALICE").is_empty());
        assert_eq!(
            respond(
                &slack,
                &url,
                &json!({"replace_original": true, "text": "t", "blocks": invalid_blocks()})
            ),
            invalid()
        );
        let message = slack.message(CHANNEL, ts).unwrap();
        assert_eq!(
            (message.text.as_str(), message.updates),
            ("approve?", 0),
            "the original is kept"
        );
        assert_eq!(
            respond(
                &slack,
                &url,
                &json!({"response_type": "ephemeral", "text": "Approved",
                        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Approved"}}]})
            ),
            (200, json!({"ok": true}))
        );
        assert_eq!(slack.ephemeral_messages("U0ALICE")[0].text, "Approved");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn answers_on_ephemeral_messages_and_commands_with_invalid_blocks_are_refused() {
        let slack = slack().await;
        let shown = json!({"text": "1 waiting", "blocks": [
            {"type": "actions", "block_id": "exec-a", "elements": [button("approve")]}]});
        let id = slack
            .show_ephemeral_answer(&alice(), CHANNEL, &shown)
            .unwrap();
        let click = slack
            .click_ephemeral(&id, &alice(), "exec-a", "approve")
            .unwrap();
        let url = payload(&click)["response_url"].as_str().unwrap().to_owned();
        for body in [
            json!({"replace_original": true, "text": "t", "blocks": invalid_blocks()}),
            json!({"text": "t", "blocks": invalid_blocks()}),
        ] {
            assert_eq!(respond(&slack, &url, &body), invalid(), "{body}");
        }
        assert_eq!(slack.ephemeral_messages("U0ALICE").len(), 1);
        assert_eq!(slack.ephemeral_message(&id).unwrap().updates, 0);

        let command = slack.slash_command(&bob(), CHANNEL, "/approvals", "");
        let fields = form_urlencoded::parse(command.body.as_bytes())
            .into_owned()
            .collect::<std::collections::BTreeMap<String, String>>();
        let url = &fields["response_url"];
        assert_eq!(
            respond(
                &slack,
                url,
                &json!({"text": "t", "blocks": invalid_blocks()})
            ),
            invalid()
        );
        assert!(slack.ephemeral_messages("U0BOB").is_empty());
    }
}
