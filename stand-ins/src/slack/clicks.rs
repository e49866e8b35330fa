//! Clicks on message buttons, signed as Slack sends them (`block_actions`), and `trigger_id`s.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::chat::StoredMessage;
use super::response_urls::Original;
use super::signing::{base64_encode, sign_slack_request};
use super::users::{Person, user_json};
use super::{APP_ID, BOT_ID, SlackStandIn, State, VERIFICATION_TOKEN};
use crate::now_unix_f64;

const FORM: &str = "application/x-www-form-urlencoded";
/// A `trigger_id` opens a modal within 3 seconds of the interaction, once.
pub(super) const TRIGGER_LIFETIME: Duration = Duration::from_secs(3);

/// A click, signed as Slack signs it: send `body` with these headers.
#[derive(Debug, Clone)]
pub struct SignedClick {
    pub body: String,
    pub timestamp: i64,
    pub signature: String,
    /// `application/x-www-form-urlencoded` (clicks, forms, commands) or
    /// `application/json` (Events API deliveries).
    pub content_type: &'static str,
    /// An Events API redelivery: `X-Slack-Retry-Num` and `X-Slack-Retry-Reason`.
    pub retry: Option<(u32, String)>,
}

impl SignedClick {
    /// The click as an API Gateway HTTP API (payload 2.0) event for the interactions
    /// function; Function URLs send the same shape. `base64` mimics a gateway that
    /// base64-encodes form bodies.
    pub fn to_apigw_v2_event(&self, base64: bool) -> Value {
        let body = if base64 {
            base64_encode(self.body.as_bytes())
        } else {
            self.body.clone()
        };
        let mut event = json!({
            "version": "2.0", "routeKey": "POST /slack/interactions", "rawPath": "/slack/interactions",
            "rawQueryString": "",
            "headers": {
                "content-type": self.content_type,
                "x-slack-request-timestamp": self.timestamp.to_string(),
                "x-slack-signature": self.signature,
                "user-agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
                "host": "abc123.execute-api.us-east-1.amazonaws.com",
                "content-length": self.body.len().to_string()
            },
            "requestContext": {
                "accountId": "123456789012", "apiId": "abc123", "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
                "domainPrefix": "abc123", "requestId": "local-request", "routeKey": "POST /slack/interactions",
                "stage": "$default", "time": "21/Nov/2026:12:00:00 +0000", "timeEpoch": self.timestamp * 1000,
                "http": {"method": "POST", "path": "/slack/interactions", "protocol": "HTTP/1.1",
                         "sourceIp": "203.0.113.10", "userAgent": "Slackbot 1.0 (+https://api.slack.com/robots)"}
            },
            "body": body,
            "isBase64Encoded": base64
        });
        if let Some((number, reason)) = &self.retry {
            event["headers"]["x-slack-retry-num"] = json!(number.to_string());
            event["headers"]["x-slack-retry-reason"] = json!(reason);
        }
        event
    }
}

/// A `trigger_id` Slack sent with an interaction: it opens one modal, for the person
/// who interacted, within [`TRIGGER_LIFETIME`].
#[derive(Debug)]
pub(super) struct Trigger {
    pub(super) user_id: String,
    issued: Instant,
    /// Added to its real age (see [`SlackStandIn::age_trigger_ids`]).
    aged: Duration,
    pub(super) used: bool,
}

impl Trigger {
    pub(super) fn age(&self) -> Duration {
        self.issued.elapsed() + self.aged
    }
}

/// A button clicked, and the message it is on.
struct Clicked<'a> {
    channel: &'a str,
    ts: &'a str,
    /// The message as Slack sends it back: `None` for an ephemeral one.
    message: Option<&'a StoredMessage>,
    block_id: &'a Value,
    button: &'a Value,
}

impl State {
    /// The signed `block_actions` request Slack sends when `person` clicks, with a
    /// fresh `response_url` (acting on `original`) and `trigger_id`.
    fn block_actions(
        &mut self,
        server_url: &str,
        person: &Person,
        original: Original,
        clicked: Clicked<'_>,
    ) -> SignedClick {
        let Clicked {
            channel,
            ts,
            message,
            block_id,
            button,
        } = clicked;
        let response_url = self.issue_response_url(server_url, "actions", original, &person.id);
        let trigger_id = self.issue_trigger(&person.id);
        let now = now_unix_f64();
        let mut payload = json!({
            "type": "block_actions",
            "user": user_json(person),
            "api_app_id": APP_ID, "token": VERIFICATION_TOKEN,
            "container": {"type": "message", "message_ts": ts, "channel_id": channel,
                          "is_ephemeral": message.is_none()},
            "trigger_id": trigger_id,
            "team": {"id": person.team_id, "domain": "local"}, "enterprise": null, "is_enterprise_install": false,
            "channel": {"id": channel, "name": "approvals"},
            "state": {"values": {}},
            "response_url": response_url,
            "actions": [button_action(block_id, button, now)]
        });
        if let Some(message) = message {
            payload["message"] = json!({"type": "message", "subtype": "bot_message",
                "text": message.text, "ts": ts, "bot_id": BOT_ID, "blocks": message.blocks});
        }
        self.signed(payload_form(&payload))
    }

    /// A fresh `trigger_id` for `user_id`'s interaction, in Slack's form
    /// (`<seconds>.<number>.<hex>`).
    pub(super) fn issue_trigger(&mut self, user_id: &str) -> String {
        self.next_trigger += 1;
        let id = format!(
            "{}.{}.{}",
            now_unix_f64() as u64,
            self.next_trigger,
            uuid::Uuid::new_v4().simple()
        );
        self.triggers.insert(
            id.clone(),
            Trigger {
                user_id: user_id.into(),
                issued: Instant::now(),
                aged: Duration::ZERO,
                used: false,
            },
        );
        id
    }

    /// `body`, signed now as Slack signs what it sends to the app.
    pub(super) fn signed(&self, body: String) -> SignedClick {
        let timestamp = now_unix_f64() as i64;
        let signature =
            sign_slack_request(self.signing_secret.as_bytes(), timestamp, body.as_bytes());
        SignedClick {
            body,
            timestamp,
            signature,
            content_type: FORM,
            retry: None,
        }
    }
}

impl SlackStandIn {
    /// `person` clicks the button `action_id` of the message at (`channel`, `ts`):
    /// returns the request Slack would send to the app's interactivity URL.
    pub fn click(
        &self,
        channel: &str,
        ts: &str,
        person: &Person,
        action_id: &str,
    ) -> Result<SignedClick, String> {
        self.click_message(channel, ts, person, None, action_id)
    }

    /// Like [`SlackStandIn::click`], for the button `action_id` of the actions block
    /// `block_id` (a message can hold several actions blocks with the same buttons).
    pub fn click_in_block(
        &self,
        channel: &str,
        ts: &str,
        person: &Person,
        block_id: &str,
        action_id: &str,
    ) -> Result<SignedClick, String> {
        self.click_message(channel, ts, person, Some(block_id), action_id)
    }

    fn click_message(
        &self,
        channel: &str,
        ts: &str,
        person: &Person,
        block_id: Option<&str>,
        action_id: &str,
    ) -> Result<SignedClick, String> {
        let mut state = self.lock();
        let message = state
            .messages
            .get(&(channel.to_owned(), ts.to_owned()))
            .cloned()
            .ok_or_else(|| format!("no message {channel}/{ts}"))?;
        let (block_id, button) =
            find_button(&message.blocks, block_id, action_id).ok_or_else(|| {
                format!("the message has no button {action_id:?} (buttons are gone once decided)")
            })?;
        let original = Original::Message {
            channel: channel.into(),
            ts: ts.into(),
        };
        let clicked = Clicked {
            channel,
            ts,
            message: Some(&message),
            block_id: &block_id,
            button: &button,
        };
        Ok(state.block_actions(&self.server.url(), person, original, clicked))
    }

    /// `person` clicks the button `action_id` of the actions block `block_id` in the
    /// ephemeral message `id`: the `block_actions` request Slack sends for ephemeral
    /// messages (`container.is_ephemeral`, no `message`), with a fresh `response_url`
    /// whose `replace_original` / `delete_original` act on that ephemeral message.
    /// Only the person who sees it can click it.
    pub fn click_ephemeral(
        &self,
        id: &str,
        person: &Person,
        block_id: &str,
        action_id: &str,
    ) -> Result<SignedClick, String> {
        let mut state = self.lock();
        let shown = state
            .ephemeral_message_mut(id)
            .cloned()
            .ok_or_else(|| format!("no ephemeral message {id}"))?;
        if shown.user_id != person.id {
            return Err(format!(
                "only {} sees ephemeral message {id}, not {}",
                shown.user_id, person.id
            ));
        }
        let channel = shown.message.channel;
        let (block_id, button) = find_button(&shown.message.blocks, Some(block_id), action_id)
            .ok_or_else(|| {
                format!("ephemeral message {id} has no button {action_id:?} in block {block_id:?}")
            })?;
        let original = Original::Ephemeral {
            channel: channel.clone(),
            id: id.into(),
        };
        // Slack does not send an ephemeral message back with its clicks.
        let clicked = Clicked {
            channel: &channel,
            ts: id,
            message: None,
            block_id: &block_id,
            button: &button,
        };
        Ok(state.block_actions(&self.server.url(), person, original, clicked))
    }

    /// Makes every `trigger_id` issued so far older by `by` (a person who waited, or
    /// an app that took its time before calling `views.open`).
    pub fn age_trigger_ids(&self, by: Duration) {
        for trigger in self.lock().triggers.values_mut() {
            trigger.aged += by;
        }
    }
}

/// The button `action_id` (in the actions block `block_id`, if given) and its block's ID.
fn find_button(
    blocks: &[Value],
    block_id: Option<&str>,
    action_id: &str,
) -> Option<(Value, Value)> {
    blocks
        .iter()
        .filter(|b| b["type"] == "actions")
        .filter(|b| block_id.is_none_or(|id| b["block_id"] == id))
        .flat_map(|b| {
            b["elements"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |e| (b["block_id"].clone(), e.clone()))
        })
        .find(|(_, e)| e["action_id"] == action_id)
}

/// A `block_actions` payload's entry for a click on `button` at `now`.
pub(super) fn button_action(block_id: &Value, button: &Value, now: f64) -> Value {
    json!({"action_id": button["action_id"], "block_id": block_id, "text": button["text"],
           "value": button["value"], "style": button["style"], "type": "button",
           "action_ts": format!("{now:.6}")})
}

/// An interaction's form body: one field, `payload`, holding the JSON.
pub(super) fn payload_form(payload: &Value) -> String {
    format!(
        "payload={}",
        form_urlencoded::byte_serialize(payload.to_string().as_bytes()).collect::<String>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slack::test_support::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_click_can_name_the_actions_block() {
        let slack = slack().await;
        let posted = api(
            &slack,
            "chat.postMessage",
            &json!({"channel": CHANNEL, "text": "two waiting", "blocks": [
                {"type": "actions", "block_id": "step-1", "elements": [button("approve")]},
                {"type": "actions", "block_id": "step-2", "elements": [button("approve")]}]}),
        );
        let ts = posted["ts"].as_str().unwrap();
        let block_of = |click: SignedClick| payload(&click)["actions"][0]["block_id"].clone();
        assert_eq!(
            block_of(slack.click(CHANNEL, ts, &alice(), "approve").unwrap()),
            "step-1"
        );
        let second = slack
            .click_in_block(CHANNEL, ts, &alice(), "step-2", "approve")
            .unwrap();
        assert_signed(&second);
        assert_eq!(block_of(second), "step-2");
        assert!(
            slack
                .click_in_block(CHANNEL, ts, &alice(), "step-3", "approve")
                .is_err()
        );
        let first = payload(&slack.click(CHANNEL, ts, &alice(), "approve").unwrap());
        let again = payload(&slack.click(CHANNEL, ts, &alice(), "approve").unwrap());
        assert_ne!(
            first["trigger_id"], again["trigger_id"],
            "every interaction has its own trigger"
        );
    }
}
