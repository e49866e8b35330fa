//! The app's Home tab and the Events API: `views.publish`, the `app_home_opened`
//! deliveries Slack sends (signed like clicks, JSON, redelivered with
//! `X-Slack-Retry-Num` when not answered 2xx within 3 s), `url_verification`, and
//! clicks on buttons in a Home view (no `response_url`: a view is not a message).

use serde_json::{Value, json};

use super::answers::{fail, invalid_arguments, ok};
use super::block_kit::{block_problems, problem};
use super::chat::StoredMessage;
use super::clicks::{SignedClick, button_action, payload_form};
use super::users::{Person, user_json};
use super::views::VIEW_MAX_BYTES;
use super::{APP_ID, JSON, SlackStandIn, State, TEAM_ID, VERIFICATION_TOKEN};
use crate::now_unix_f64;

/// `views.publish`: sets the Home tab of `user_id` to a `home` view, checked as Slack
/// checks it (type, at most 100 blocks, Block Kit's limits, 250 kB).
pub(super) fn views_publish(state: &mut State, args: &Value) -> crate::Outgoing {
    let user_id = args["user_id"].as_str().unwrap_or_default();
    if user_id.is_empty() {
        return invalid_arguments(vec![problem("missing required field: user_id", "")]);
    }
    if !state.people.contains_key(user_id) {
        return fail("user_not_found");
    }
    let view = match &args["view"] {
        Value::String(s) => serde_json::from_str::<Value>(s).unwrap_or(Value::Null),
        other => other.clone(),
    };
    if !view.is_object() {
        return invalid_arguments(vec![problem("must be a JSON object", "/view")]);
    }
    if view.to_string().len() > VIEW_MAX_BYTES {
        return fail("view_too_large");
    }
    let mut problems = vec![];
    if view["type"] != "home" {
        problems.push(problem("must be `home`", "/view/type"));
    }
    match view["blocks"].as_array() {
        Some(blocks) => {
            if blocks.len() > 100 {
                problems.push(problem("no more than 100 items allowed", "/view/blocks"));
            }
            problems.extend(block_problems(blocks, "/view/blocks"));
        }
        None => problems.push(problem("missing required field: blocks", "/view")),
    }
    if !problems.is_empty() {
        return invalid_arguments(problems);
    }
    state.homes.insert(user_id.to_owned(), view.clone());
    let id = format!("VHOME{}", user_id);
    ok(json!({"view": {"id": id, "type": "home", "blocks": view["blocks"]}}))
}

impl State {
    /// An Events API delivery of `event`, as Slack wraps and signs it.
    fn event_callback(&mut self, event: Value) -> SignedClick {
        self.next_event += 1;
        let envelope = json!({
            "token": VERIFICATION_TOKEN, "team_id": TEAM_ID, "api_app_id": APP_ID,
            "event": event, "type": "event_callback",
            "event_id": format!("Ev0LOCAL{:06}", self.next_event),
            "event_time": now_unix_f64() as i64,
            "authorizations": [{"enterprise_id": null, "team_id": TEAM_ID, "user_id": "U0BOT",
                                "is_bot": true, "is_enterprise_install": false}],
            "is_ext_shared_channel": false,
        });
        self.signed_json(envelope.to_string())
    }

    fn signed_json(&self, body: String) -> SignedClick {
        SignedClick {
            content_type: JSON,
            ..self.signed(body)
        }
    }
}

impl SignedClick {
    /// The same delivery sent again, as Slack redelivers an event it saw no 2xx for
    /// (`reason`: `http_timeout`, `http_error`, …).
    pub fn redelivered(&self, number: u32, reason: &str) -> SignedClick {
        SignedClick {
            retry: Some((number, reason.to_owned())),
            ..self.clone()
        }
    }
}

impl SlackStandIn {
    /// What Slack sends when `person` opens the app's Home tab.
    pub fn app_home_opened(&self, person: &Person) -> SignedClick {
        let mut state = self.lock();
        let view = state.homes.get(&person.id).cloned();
        let mut event = json!({
            "type": "app_home_opened", "user": person.id, "channel": format!("D0{}", person.id),
            "tab": "home", "event_ts": format!("{:.6}", now_unix_f64()),
        });
        if let Some(view) = view {
            event["view"] = view;
        }
        state.event_callback(event)
    }

    /// The first request of a new event subscription: `url_verification` and the
    /// challenge the app must answer with.
    pub fn url_verification(&self) -> (SignedClick, String) {
        let challenge = format!("chal-{}", uuid::Uuid::new_v4().simple());
        let body = json!({"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"});
        (self.lock().signed_json(body.to_string()), challenge)
    }

    /// The Home tab `user_id` sees now (`views.publish`'s last view).
    pub fn home_view(&self, user_id: &str) -> Option<Value> {
        self.lock().homes.get(user_id).cloned()
    }

    /// The replies posted in the thread of `(channel, thread_ts)`, oldest first.
    pub fn replies(&self, channel: &str, thread_ts: &str) -> Vec<StoredMessage> {
        self.lock()
            .messages
            .values()
            .filter(|m| m.channel == channel && m.thread_ts.as_deref() == Some(thread_ts))
            .cloned()
            .collect()
    }

    /// `person` clicks the `nth` (from 0) button `action_id` of their Home tab: a
    /// `block_actions` payload from a view (no `response_url`, a `trigger_id`).
    pub fn click_home(
        &self,
        person: &Person,
        action_id: &str,
        nth: usize,
    ) -> Result<SignedClick, String> {
        let mut state = self.lock();
        let view = state
            .homes
            .get(&person.id)
            .cloned()
            .ok_or_else(|| format!("{} has no Home view", person.id))?;
        let (block_id, button) = view["blocks"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|b| b["type"] == "actions")
            .flat_map(|b| {
                b["elements"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(move |e| (b["block_id"].clone(), e.clone()))
            })
            .filter(|(_, e)| e["action_id"] == action_id)
            .nth(nth)
            .ok_or_else(|| format!("no button {action_id:?} number {nth} in the Home view"))?;
        let trigger_id = state.issue_trigger(&person.id);
        let now = now_unix_f64();
        let view_id = format!("VHOME{}", person.id);
        let payload = json!({
            "type": "block_actions",
            "user": user_json(person),
            "api_app_id": APP_ID, "token": VERIFICATION_TOKEN,
            "container": {"type": "view", "view_id": view_id},
            "trigger_id": trigger_id,
            "team": {"id": person.team_id, "domain": "local"}, "enterprise": null, "is_enterprise_install": false,
            "view": {"id": view_id, "type": "home", "blocks": view["blocks"], "private_metadata": "",
                     "callback_id": "", "state": {"values": {}}, "hash": format!("{now:.6}")},
            "actions": [button_action(&block_id, &button, now)]
        });
        Ok(state.signed(payload_form(&payload)))
    }
}
