//! Messages: the app's messages in channels, and ephemeral ones only one person sees.

use serde_json::{Value, json};

use super::answers::fail;
use super::block_kit::content;
use super::users::Person;
use super::{SlackStandIn, State};
use crate::{Outgoing, now_unix_f64};

/// A message in a channel, as the stand-in keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    pub channel: String,
    pub ts: String,
    pub text: String,
    pub blocks: Vec<Value>,
    pub updates: u32,
    /// The thread it was posted in (`thread_ts`): a reply, not a message of its own.
    pub thread_ts: Option<String>,
    /// Its message metadata (`{"event_type", "event_payload"}`), if it was posted with some.
    pub metadata: Option<Value>,
}

/// An ephemeral answer only the clicker saw (through a `response_url`, or as the
/// answer to a slash command).
#[derive(Debug, Clone, PartialEq)]
pub struct Ephemeral {
    pub user_id: String,
    pub text: String,
}

/// An ephemeral message with content: only `user_id` sees it; it changes only through
/// the `response_url` of a click on it, and is gone for good once deleted.
#[derive(Debug, Clone)]
pub(super) struct EphemeralMessage {
    pub(super) user_id: String,
    pub(super) message: StoredMessage,
}

impl State {
    /// A new message timestamp (channel and ephemeral messages share the counter).
    fn new_ts(&mut self) -> String {
        let ts = format!("{}.{:06}", now_unix_f64() as u64, self.next_ts);
        self.next_ts += 1;
        ts
    }

    /// A new message in `channel`, posted as the app.
    pub(super) fn post_in_channel(
        &mut self,
        channel: &str,
        text: String,
        blocks: Vec<Value>,
    ) -> String {
        let ts = self.new_ts();
        self.messages.insert(
            (channel.to_owned(), ts.clone()),
            StoredMessage {
                channel: channel.into(),
                ts: ts.clone(),
                text,
                blocks,
                updates: 0,
                thread_ts: None,
                metadata: None,
            },
        );
        ts
    }

    /// A new ephemeral message only `user_id` sees in `channel`; returns its `message_ts`.
    pub(super) fn show_ephemeral(
        &mut self,
        user_id: &str,
        channel: &str,
        text: String,
        blocks: Vec<Value>,
    ) -> String {
        let ts = self.new_ts();
        self.ephemeral.push(Ephemeral {
            user_id: user_id.into(),
            text: text.clone(),
        });
        self.ephemeral_messages.push(EphemeralMessage {
            user_id: user_id.into(),
            message: StoredMessage {
                channel: channel.into(),
                ts: ts.clone(),
                text,
                blocks,
                updates: 0,
                thread_ts: None,
                metadata: None,
            },
        });
        ts
    }

    pub(super) fn ephemeral_message_mut(&mut self, id: &str) -> Option<&mut EphemeralMessage> {
        self.ephemeral_messages
            .iter_mut()
            .find(|e| e.message.ts == id)
    }
}

impl SlackStandIn {
    pub fn message(&self, channel: &str, ts: &str) -> Option<StoredMessage> {
        self.lock()
            .messages
            .get(&(channel.to_owned(), ts.to_owned()))
            .cloned()
    }

    /// A message shows `blocks` again, as if an update to it had never been made (a
    /// test's way to make a prompt really stale). `false` if there is no such message.
    pub fn show_stale(&self, channel: &str, ts: &str, blocks: Vec<Value>) -> bool {
        match self
            .lock()
            .messages
            .get_mut(&(channel.to_owned(), ts.to_owned()))
        {
            Some(message) => {
                message.blocks = blocks;
                true
            }
            None => false,
        }
    }

    /// Someone deletes a message in Slack.
    pub fn delete_message(&self, channel: &str, ts: &str) -> bool {
        self.lock()
            .messages
            .remove(&(channel.to_owned(), ts.to_owned()))
            .is_some()
    }

    pub fn messages(&self) -> Vec<StoredMessage> {
        self.lock().messages.values().cloned().collect()
    }

    pub fn ephemeral(&self) -> Vec<Ephemeral> {
        self.lock().ephemeral.clone()
    }

    /// Shows `person` in `channel` the app's direct answer to a slash command (the
    /// HTTP response body: a message object, or a JSON string shown as plain text),
    /// as an ephemeral message. Returns its `message_ts`, or Slack's error for a
    /// message it refuses (`no_text`, `invalid_blocks`, `msg_too_long`, …). A body
    /// with `response_type: in_channel` is not ephemeral: an error here.
    pub fn show_ephemeral_answer(
        &self,
        person: &Person,
        channel: &str,
        body: &Value,
    ) -> Result<String, String> {
        let (text, blocks) = match body {
            Value::String(text) => content(&json!({"text": text})),
            Value::Object(_) if body["response_type"] == "in_channel" => {
                return Err("the answer is response_type in_channel, not ephemeral".into());
            }
            Value::Object(_) => content(body),
            _ => Err("invalid_payload"),
        }
        .map_err(str::to_owned)?;
        Ok(self
            .lock()
            .show_ephemeral(&person.id, channel, text, blocks))
    }

    /// The ephemeral message `id` (its `message_ts`), unless it was deleted.
    pub fn ephemeral_message(&self, id: &str) -> Option<StoredMessage> {
        self.lock()
            .ephemeral_messages
            .iter()
            .find(|e| e.message.ts == id)
            .map(|e| e.message.clone())
    }

    /// The ephemeral messages `user_id` sees now, oldest first.
    pub fn ephemeral_messages(&self, user_id: &str) -> Vec<StoredMessage> {
        self.lock()
            .ephemeral_messages
            .iter()
            .filter(|e| e.user_id == user_id)
            .map(|e| e.message.clone())
            .collect()
    }
}

pub(super) fn valid_channel(channel: &str) -> bool {
    channel.len() >= 3
        && matches!(channel.as_bytes()[0], b'C' | b'G' | b'D')
        && channel.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Slack's answer for a message that is not there.
pub(super) fn no_message(channel: &str) -> Outgoing {
    fail(if valid_channel(channel) {
        "message_not_found"
    } else {
        "channel_not_found"
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slack::test_support::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ephemeral_answers_are_checked_and_their_buttons_clicked() {
        let slack = slack().await;
        let answer = |blocks: Value| json!({"text": "2 waiting", "blocks": blocks});
        let refuse = |body: &Value| {
            slack
                .show_ephemeral_answer(&alice(), CHANNEL, body)
                .unwrap_err()
        };
        assert_eq!(
            refuse(&answer(json!(vec![json!({"type": "divider"}); 51]))),
            "invalid_blocks"
        );
        let mut long_value = button("approve");
        long_value["value"] = json!("v".repeat(2001));
        assert_eq!(
            refuse(&answer(
                json!([{"type": "actions", "elements": [long_value]}])
            )),
            "invalid_blocks"
        );
        assert_eq!(
            refuse(&answer(
                json!([{"type": "actions", "elements": vec![button("b"); 1]},
                                         {"type": "actions", "elements": [button(&"a".repeat(256))]}])
            )),
            "invalid_blocks"
        );
        assert_eq!(
            refuse(&answer(
                json!([{"type": "actions", "elements": vec![button("b"); 26]}])
            )),
            "invalid_blocks"
        );
        assert_eq!(
            refuse(&answer(
                json!([{"type": "divider", "block_id": "d"}, {"type": "divider", "block_id": "d"}])
            )),
            "invalid_blocks"
        );
        assert_eq!(
            refuse(&answer(
                json!([{"type": "section", "text": {"type": "mrkdwn", "text": "s".repeat(3001)}}])
            )),
            "invalid_blocks"
        );
        assert_eq!(refuse(&json!({"text": ""})), "no_text");
        assert!(
            refuse(&json!({"response_type": "in_channel", "text": "x"})).contains("in_channel")
        );
        assert!(slack.ephemeral().is_empty());

        let body = answer(json!([
            {"type": "section", "text": {"type": "mrkdwn", "text": "*Runbook A* waits"}},
            {"type": "actions", "block_id": "exec-a", "elements": [button("approve"), button("reject")]},
            {"type": "actions", "block_id": "exec-b", "elements": [button("approve"), button("reject")]}
        ]));
        let id = slack
            .show_ephemeral_answer(&alice(), CHANNEL, &body)
            .unwrap();
        let shown = slack.ephemeral_message(&id).unwrap();
        assert_eq!(
            (
                shown.channel.as_str(),
                shown.ts.as_str(),
                shown.text.as_str()
            ),
            (CHANNEL, id.as_str(), "2 waiting")
        );
        assert_eq!(shown.blocks.len(), 3);
        assert_eq!(slack.ephemeral()[0].text, "2 waiting");
        assert!(
            slack.message(CHANNEL, &id).is_none(),
            "not a channel message"
        );
        assert!(
            slack
                .click_ephemeral(&id, &bob(), "exec-b", "approve")
                .unwrap_err()
                .contains("only U0ALICE")
        );
        assert!(
            slack
                .click_ephemeral(&id, &alice(), "exec-c", "approve")
                .is_err()
        );

        let click = slack
            .click_ephemeral(&id, &alice(), "exec-b", "approve")
            .unwrap();
        assert_signed(&click);
        let p = payload(&click);
        assert_eq!(p["type"], "block_actions");
        assert_eq!(
            p["container"],
            json!({"type": "message", "message_ts": id, "channel_id": CHANNEL, "is_ephemeral": true})
        );
        assert!(
            p.get("message").is_none(),
            "Slack does not send an ephemeral message back"
        );
        assert_eq!(
            (
                p["actions"][0]["block_id"].as_str(),
                p["actions"][0]["action_id"].as_str()
            ),
            (Some("exec-b"), Some("approve"))
        );
        assert_eq!(p["user"]["id"], "U0ALICE");
        assert_eq!(p["channel"]["id"], CHANNEL);
        assert!(!p["trigger_id"].as_str().unwrap().is_empty());
        let url = p["response_url"].as_str().unwrap();
        let replaced = respond(
            &slack,
            url,
            &json!({"replace_original": true, "text": "Approved B"}),
        );
        assert_eq!(replaced.0, 200);
        let shown = slack.ephemeral_message(&id).unwrap();
        assert_eq!(
            (shown.text.as_str(), shown.blocks.len(), shown.updates),
            ("Approved B", 0, 1)
        );
        assert_eq!(slack.ephemeral_messages("U0ALICE").len(), 1);

        let id2 = slack
            .show_ephemeral_answer(&alice(), CHANNEL, &body)
            .unwrap();
        assert_ne!(id, id2);
        let click = slack
            .click_ephemeral(&id2, &alice(), "exec-a", "reject")
            .unwrap();
        let url = payload(&click)["response_url"].as_str().unwrap().to_owned();
        assert_eq!(
            respond(&slack, &url, &json!({"delete_original": true})).0,
            200
        );
        assert!(slack.ephemeral_message(&id2).is_none());
        assert!(
            slack
                .click_ephemeral(&id2, &alice(), "exec-a", "reject")
                .is_err()
        );
        assert_eq!(
            slack
                .show_ephemeral_answer(&bob(), CHANNEL, &json!("plain words"))
                .map(|id| slack.ephemeral_message(&id).unwrap().text),
            Ok("plain words".to_owned())
        );
    }
}
