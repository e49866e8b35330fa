//! A Slack stand-in: the Web API methods this project calls, `response_url`s, and
//! the other direction: a person clicking a button, submitting a modal or running a
//! slash command, sent as Slack sends it (form body, signed with the app's signing
//! secret).
//!
//! Behaviour follows Slack's documentation: bearer-token auth (`invalid_auth`),
//! Block Kit's rules (`invalid_blocks`, for messages posted, updated or sent to a
//! `response_url` alike), only the bot's own messages can be updated
//! (`message_not_found`), `response_url` works 5 times within 30 minutes, rate
//! limits answer HTTP 429 with `Retry-After`, a `trigger_id` opens one modal within
//! 3 seconds (`views.open`), and the app answers a modal's submission in its HTTP
//! response (close, show errors, or update the view).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};

use crate::{HttpServer, Incoming, Outgoing, now_unix_f64};

mod answers;
mod block_elements;
mod block_kit;
mod chat;
mod clicks;
mod commands;
mod history;
mod home;
mod inputs;
mod response_urls;
mod signing;
mod users;
mod views;

pub use chat::{Ephemeral, StoredMessage};
pub use clicks::SignedClick;
pub use history::METADATA_MAX_BYTES;
pub use signing::{edit_payload, event_body, payload_from_form, resign_event, sign_slack_request};
pub use users::Person;
pub use views::{OpenView, ViewAnswer};

use answers::{fail, ok, refusal};
use block_kit::content;
use chat::{EphemeralMessage, no_message, valid_channel};
use clicks::Trigger;
use response_urls::{ResponseUrl, response_url};
use views::{ViewState, views_open};

const JSON: &str = "application/json; charset=utf-8";
const APP_ID: &str = "A0LOCAL";
const BOT_ID: &str = "B0LOCAL";
/// The app's bot user.
const BOT_USER: &str = "U0BOT";
pub const TEAM_ID: &str = "T0LOCAL";
/// What [`SlackStandIn::answer_late`] calls the requests to `response_url`s.
pub const RESPONSE_URL: &str = "response_url";
/// The deprecated verification token Slack still puts in payloads; must never be logged.
pub const VERIFICATION_TOKEN: &str = "vErIfIcAtIoN-tOkEn-do-not-log";

#[derive(Default)]
struct State {
    bot_token: String,
    signing_secret: String,
    next_ts: u64,
    messages: BTreeMap<(String, String), StoredMessage>,
    ephemeral: Vec<Ephemeral>,
    usergroups: HashMap<String, Vec<String>>,
    people: HashMap<String, Person>,
    response_urls: HashMap<String, ResponseUrl>,
    triggers: HashMap<String, Trigger>,
    next_trigger: u64,
    next_view: u64,
    /// Open modals, oldest first.
    views: Vec<ViewState>,
    /// Ephemeral messages with content, oldest first.
    ephemeral_messages: Vec<EphemeralMessage>,
    calls: Vec<(String, Value)>,
    faults: HashMap<String, VecDeque<Outgoing>>,
    /// Calls that are carried out at once but answered late.
    late: HashMap<String, VecDeque<std::time::Duration>>,
    /// Calls that are carried out, then answered with an error all the same (Slack's
    /// `internal_error`, `fatal_error` and 5xx may follow a call that took effect).
    done_but_failed: HashMap<String, VecDeque<Outgoing>>,
    /// Each person's Home tab, as `views.publish` last set it.
    homes: HashMap<String, Value>,
    next_event: u64,
    /// Bot scopes of the manifest the app was installed without.
    dropped_scopes: std::collections::HashSet<String>,
    /// Private channels (the rest are public).
    private_channels: std::collections::HashSet<String>,
    /// Channels the app was removed from.
    left_channels: std::collections::HashSet<String>,
}

/// The Slack stand-in: Web API under `/api`, response URLs under `/actions` (clicks)
/// and `/commands` (slash commands).
#[derive(Clone)]
pub struct SlackStandIn {
    state: Arc<Mutex<State>>,
    server: Arc<HttpServer>,
}

impl SlackStandIn {
    pub async fn start(
        addr: SocketAddr,
        bot_token: &str,
        signing_secret: &str,
    ) -> std::io::Result<Self> {
        let state = Arc::new(Mutex::new(State {
            bot_token: bot_token.into(),
            signing_secret: signing_secret.into(),
            next_ts: 1,
            ..State::default()
        }));
        let handler_state = state.clone();
        let server = HttpServer::start(addr, move |req: Incoming| {
            // A Web API method by its name; every `response_url` as "response_url".
            let method = req.path.strip_prefix("/api/").unwrap_or(RESPONSE_URL);
            let delay = {
                let mut state = handler_state.lock().unwrap_or_else(|p| p.into_inner());
                state.late.get_mut(method).and_then(VecDeque::pop_front)
            };
            handle(&handler_state, req).answered_after(delay)
        })
        .await?;
        Ok(Self {
            state,
            server: Arc::new(server),
        })
    }

    /// The Web API base (`SLACK_API_URL`).
    pub fn api_url(&self) -> String {
        format!("{}/api", self.server.url())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Web API methods and `response_url` posts so far, with their JSON bodies.
    pub fn calls(&self) -> Vec<(String, Value)> {
        self.lock().calls.clone()
    }

    pub fn count_calls(&self, method: &str) -> usize {
        self.lock()
            .calls
            .iter()
            .filter(|(m, _)| m == method)
            .count()
    }

    /// The next call to `method` is rate limited with this `Retry-After` (seconds).
    pub fn rate_limit_next(&self, method: &str, retry_after_secs: u64) {
        let out =
            refusal(429, "ratelimited").with_header("retry-after", &retry_after_secs.to_string());
        self.push_fault(method, out);
    }

    /// The next call to `method` fails with this HTTP status (an outage).
    pub fn fail_next(&self, method: &str, status: u16) {
        let out = Outgoing {
            status,
            headers: vec![("content-type".into(), "text/html".into())],
            body: b"<html>upstream error</html>".to_vec(),
            delay: None,
        };
        self.push_fault(method, out);
    }

    /// The next call to `method` is carried out, and then answered with HTTP `status`
    /// and `{"ok":false,"error":error}`, as Slack documents for `internal_error`,
    /// `fatal_error` and 5xx answers: the caller cannot tell it took effect.
    pub fn fail_next_after_doing(&self, method: &str, status: u16, error: &str) {
        let out = refusal(status, error);
        self.lock()
            .done_but_failed
            .entry(method.into())
            .or_default()
            .push_back(out);
    }

    /// The next call to `method` is refused with HTTP `status` and
    /// `{"ok":false,"error":error}`, without being carried out.
    pub fn refuse_next(&self, method: &str, status: u16, error: &str) {
        let out = refusal(status, error);
        self.push_fault(method, out);
    }

    /// The next call to `method` gets `out` instead of being carried out.
    fn push_fault(&self, method: &str, out: Outgoing) {
        self.lock()
            .faults
            .entry(method.into())
            .or_default()
            .push_back(out);
    }

    /// The next call to `method` is carried out at once, but answered after `delay`
    /// (`"response_url"`: the next request to any `response_url`).
    pub fn answer_late(&self, method: &str, delay: std::time::Duration) {
        self.lock()
            .late
            .entry(method.into())
            .or_default()
            .push_back(delay);
    }
}

fn handle(state: &Mutex<State>, req: Incoming) -> Outgoing {
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(rest) = req
        .path
        .strip_prefix("/actions/")
        .or_else(|| req.path.strip_prefix("/commands/"))
    {
        return response_url(&mut state, rest, &req);
    }
    let Some(method) = req.path.strip_prefix("/api/").map(str::to_owned) else {
        return Outgoing::json(404, &json!({"ok": false, "error": "unknown_method"}), JSON);
    };
    let args = arguments(&req);
    state.calls.push((method.clone(), args.clone()));
    if let Some(fault) = state.faults.get_mut(&method).and_then(VecDeque::pop_front) {
        return fault;
    }
    let answer = carry_out(&mut state, &method, &args, &req);
    match state
        .done_but_failed
        .get_mut(&method)
        .and_then(VecDeque::pop_front)
    {
        Some(failure) => failure,
        None => answer,
    }
}

/// A Web API call, carried out as Slack does.
fn carry_out(state: &mut State, method: &str, args: &Value, req: &Incoming) -> Outgoing {
    let bearer = req
        .header("authorization")
        .and_then(|a| a.strip_prefix("Bearer "))
        .map(str::to_owned);
    if bearer.as_deref() != Some(state.bot_token.as_str()) {
        let error = if bearer.is_none() {
            "not_authed"
        } else {
            "invalid_auth"
        };
        return fail(error);
    }
    let text = |key: &str| {
        args.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    match method {
        "chat.postMessage" => {
            let mut channel = text("channel");
            // To a user ID: the app's direct messages with that person.
            if channel.starts_with('U') || channel.starts_with('W') {
                if !state.people.contains_key(&channel) {
                    return fail("channel_not_found");
                }
                channel = users::dm_channel(&channel);
            }
            if !valid_channel(&channel) {
                return fail("channel_not_found");
            }
            if state.left_channels.contains(&channel) {
                return fail("not_in_channel");
            }
            let (message_text, blocks) = match content(args) {
                Ok(c) => c,
                Err(e) => return fail(e),
            };
            let (metadata, warning) = match history::metadata_of(args) {
                Ok(m) => m,
                Err(refused) => return refused,
            };
            let ts = format!("{}.{:06}", now_unix_f64() as u64, state.next_ts);
            state.next_ts += 1;
            let stored = StoredMessage {
                channel: channel.clone(),
                ts: ts.clone(),
                text: message_text,
                blocks,
                updates: 0,
                thread_ts: args["thread_ts"]
                    .as_str()
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned),
                metadata,
            };
            state
                .messages
                .insert((channel.clone(), ts.clone()), stored.clone());
            let mut answer = json!({"channel": channel, "ts": ts, "message": {"type": "message",
                "text": stored.text, "blocks": stored.blocks, "ts": ts, "bot_id": BOT_ID}});
            if let Some(warning) = warning {
                answer["warning"] = json!(warning);
                answer["response_metadata"] = json!({"warnings": [warning]});
            }
            ok(answer)
        }
        "chat.update" => {
            let (channel, ts) = (text("channel"), text("ts"));
            let (message_text, blocks) = match content(args) {
                Ok(c) => c,
                Err(e) => return fail(e),
            };
            let Some(stored) = state.messages.get_mut(&(channel.clone(), ts.clone())) else {
                return no_message(&channel);
            };
            stored.text = message_text;
            stored.blocks = blocks;
            stored.updates += 1;
            ok(json!({"channel": channel, "ts": ts, "text": stored.text}))
        }
        "chat.delete" => {
            let (channel, ts) = (text("channel"), text("ts"));
            match state.messages.remove(&(channel.clone(), ts.clone())) {
                Some(_) => ok(json!({"channel": channel, "ts": ts})),
                None => no_message(&channel),
            }
        }
        // Called by Slack's own SDKs (Bolt checks its token with it at start-up).
        "auth.test" => ok(
            json!({"url": "https://local.slack.test/", "team": "local", "user": "runbook-approvals",
            "team_id": TEAM_ID, "user_id": BOT_USER, "bot_id": BOT_ID, "is_enterprise_install": false}),
        ),
        "users.lookupByEmail" => match users::lookup_by_email(&state.people, &text("email")) {
            Ok(found) => ok(found),
            Err(error) => fail(error),
        },
        "usergroups.users.list" => match state.usergroups.get(&text("usergroup")) {
            Some(users) => ok(json!({"users": users})),
            None => fail("no_such_subteam"),
        },
        "chat.getPermalink" => {
            let (channel, ts) = (text("channel"), text("message_ts"));
            if !state.messages.contains_key(&(channel.clone(), ts.clone())) {
                return no_message(&channel);
            }
            let permalink = format!(
                "https://local.slack.test/archives/{channel}/p{}",
                ts.replace('.', "")
            );
            ok(json!({"channel": channel, "permalink": permalink}))
        }
        "conversations.history" => history::conversations_history(state, args),
        "views.open" => views_open(state, args),
        "views.publish" => home::views_publish(state, args),
        _ => Outgoing::json(404, &json!({"ok": false, "error": "unknown_method"}), JSON),
    }
}

/// Web API arguments: a JSON body, or form fields and query parameters.
fn arguments(req: &Incoming) -> Value {
    let is_json = req
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/json"));
    if is_json {
        return serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    }
    let mut map = serde_json::Map::new();
    for (k, v) in
        form_urlencoded::parse(req.query.as_bytes()).chain(form_urlencoded::parse(&req.body))
    {
        let value = serde_json::from_str::<Value>(&v)
            .ok()
            .filter(|v| v.is_array())
            .unwrap_or(Value::String(v.into_owned()));
        map.insert(k.into_owned(), value);
    }
    Value::Object(map)
}

#[cfg(test)]
mod test_support;
