//! A Slack stand-in: the Web API methods this project calls, `response_url`s, and
//! the other direction: a person clicking a button, submitting a modal or running a
//! slash command, sent as Slack sends it (form body, signed with the app's signing
//! secret).
//!
//! Behaviour follows Slack's documentation: bearer-token auth (`invalid_auth`),
//! Block Kit limits (`invalid_blocks`), only the bot's own messages can be updated
//! (`message_not_found`), `response_url` works 5 times within 30 minutes, rate
//! limits answer HTTP 429 with `Retry-After`, a `trigger_id` opens one modal within
//! 3 seconds (`views.open`), and the app answers a modal's submission in its HTTP
//! response (close, show errors, or update the view).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{HttpServer, Incoming, Outgoing, now_unix_f64};

const JSON: &str = "application/json; charset=utf-8";
const FORM: &str = "application/x-www-form-urlencoded";

mod home;
const RESPONSE_URL_USES: u32 = 5;
const RESPONSE_URL_LIFETIME: Duration = Duration::from_secs(30 * 60);
/// A `trigger_id` opens a modal within 3 seconds of the interaction, once.
const TRIGGER_LIFETIME: Duration = Duration::from_secs(3);
/// Slack refuses a view larger than 250 kB (`view_too_large`).
const VIEW_MAX_BYTES: usize = 250 * 1024;
const APP_ID: &str = "A0LOCAL";
const BOT_ID: &str = "B0LOCAL";
/// Input elements a person types text into (their state carries `value`).
const TEXT_INPUTS: [&str; 4] = [
    "plain_text_input",
    "email_text_input",
    "url_text_input",
    "number_text_input",
];
pub const TEAM_ID: &str = "T0LOCAL";
/// What [`SlackStandIn::answer_late`] calls the requests to `response_url`s.
pub const RESPONSE_URL: &str = "response_url";
/// The deprecated verification token Slack still puts in payloads; must never be logged.
pub const VERIFICATION_TOKEN: &str = "vErIfIcAtIoN-tOkEn-do-not-log";

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
}

/// An ephemeral answer only the clicker saw (through a `response_url`, or as the
/// answer to a slash command).
#[derive(Debug, Clone, PartialEq)]
pub struct Ephemeral {
    pub user_id: String,
    pub text: String,
}

/// A modal open in a person's Slack client, as `views.open` (or an update) left it.
#[derive(Debug, Clone)]
pub struct OpenView {
    pub id: String,
    /// The person who sees it: the one whose interaction issued the `trigger_id`.
    pub user_id: String,
    /// The view as Slack keeps it (`id`, `hash`, `state`, `root_view_id`, …).
    pub view: Value,
}

/// What Slack does with the app's HTTP answer to a `view_submission`.
#[derive(Debug, Clone, PartialEq)]
pub enum ViewAnswer {
    /// The modal closes (an empty body, `{}` or `response_action: clear`).
    Closed,
    /// The modal stays open, each message shown under the input block it names.
    Errors(BTreeMap<String, String>),
    /// The modal now shows this view (as Slack keeps it, same `id`).
    Updated(Value),
}

/// A person who can see the channel: of the app's workspace, or of another
/// organization sharing the channel (Slack Connect).
#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    pub username: String,
    /// The person's own workspace.
    pub team_id: String,
}

impl Person {
    /// A member of the app's own workspace ([`TEAM_ID`]).
    pub fn new(id: &str, username: &str) -> Self {
        Self::of_team(id, username, TEAM_ID)
    }

    /// A member of another workspace, clicking in a shared channel.
    pub fn of_team(id: &str, username: &str, team_id: &str) -> Self {
        Self {
            id: id.into(),
            username: username.into(),
            team_id: team_id.into(),
        }
    }
}

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

/// What a `response_url` acts on.
#[derive(Debug, Clone)]
enum Original {
    /// A message in a channel (the URL came with a click on it).
    Message { channel: String, ts: String },
    /// An ephemeral message (the URL came with a click on it): `replace_original`
    /// and `delete_original` act on it.
    Ephemeral { channel: String, id: String },
    /// Nothing: a slash command's URL has no message to replace or delete.
    Command { channel: String },
}

#[derive(Debug)]
struct ResponseUrl {
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

/// A `trigger_id` Slack sent with an interaction: it opens one modal, for the person
/// who interacted, within [`TRIGGER_LIFETIME`].
#[derive(Debug)]
struct Trigger {
    user_id: String,
    issued: Instant,
    /// Added to its real age (see [`SlackStandIn::age_trigger_ids`]).
    aged: Duration,
    used: bool,
}

impl Trigger {
    fn age(&self) -> Duration {
        self.issued.elapsed() + self.aged
    }
}

/// An ephemeral message with content: only `user_id` sees it; it changes only through
/// the `response_url` of a click on it, and is gone for good once deleted.
#[derive(Debug, Clone)]
struct EphemeralMessage {
    user_id: String,
    message: StoredMessage,
}

#[derive(Debug)]
struct ViewState {
    open: OpenView,
    /// Submitted: the app's answer has not been applied yet.
    awaiting_answer: bool,
    /// What the person typed so far, by (`block_id`, `action_id`): the client keeps
    /// it while the modal is open, and through updates that keep the same input.
    typed: BTreeMap<(String, String), String>,
}

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
    fn issue_trigger(&mut self, user_id: &str) -> String {
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

    /// A fresh `response_url` (under `base`, `/actions` or `/commands` as Slack's
    /// `hooks.slack.com` has them) for `user_id`'s interaction with `original`.
    fn issue_response_url(
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

    /// A new message timestamp (channel and ephemeral messages share the counter).
    fn new_ts(&mut self) -> String {
        let ts = format!("{}.{:06}", now_unix_f64() as u64, self.next_ts);
        self.next_ts += 1;
        ts
    }

    /// A new message in `channel`, posted as the app.
    fn post_in_channel(&mut self, channel: &str, text: String, blocks: Vec<Value>) -> String {
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
            },
        );
        ts
    }

    /// A new ephemeral message only `user_id` sees in `channel`; returns its `message_ts`.
    fn show_ephemeral(
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
            },
        });
        ts
    }

    fn ephemeral_message_mut(&mut self, id: &str) -> Option<&mut EphemeralMessage> {
        self.ephemeral_messages
            .iter_mut()
            .find(|e| e.message.ts == id)
    }

    /// A view ID as Slack forms them: `V` and upper-case letters and digits.
    fn new_view_id(&mut self) -> String {
        self.next_view += 1;
        let random = uuid::Uuid::new_v4().simple().to_string().to_uppercase();
        format!("V{:05X}{}", self.next_view, &random[..5])
    }

    fn view_mut(&mut self, id: &str) -> Option<&mut ViewState> {
        self.views.iter_mut().find(|v| v.open.id == id)
    }

    /// Whether an open view other than `except` already has this `external_id`.
    fn external_id_taken(&self, view: &Value, except: Option<&str>) -> bool {
        let Some(external_id) = view["external_id"].as_str().filter(|e| !e.is_empty()) else {
            return false;
        };
        self.views.iter().any(|v| {
            Some(v.open.id.as_str()) != except && v.open.view["external_id"] == external_id
        })
    }

    /// `body`, signed now as Slack signs what it sends to the app.
    fn signed(&self, body: String) -> SignedClick {
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

    pub fn add_person(&self, person: Person) {
        self.lock().people.insert(person.id.clone(), person);
    }

    pub fn add_usergroup(&self, id: &str, members: &[&str]) {
        self.lock()
            .usergroups
            .insert(id.into(), members.iter().map(|m| m.to_string()).collect());
    }

    pub fn message(&self, channel: &str, ts: &str) -> Option<StoredMessage> {
        self.lock()
            .messages
            .get(&(channel.to_owned(), ts.to_owned()))
            .cloned()
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

    /// Makes every `trigger_id` issued so far older by `by` (a person who waited, or
    /// an app that took its time before calling `views.open`).
    pub fn age_trigger_ids(&self, by: Duration) {
        for trigger in self.lock().triggers.values_mut() {
            trigger.aged += by;
        }
    }

    /// Makes every `response_url` issued so far older by `by`: past 30 minutes, Slack
    /// answers `expired_url`.
    pub fn age_response_urls(&self, by: Duration) {
        for url in self.lock().response_urls.values_mut() {
            url.issued = url.issued.checked_sub(by).unwrap_or(url.issued);
        }
    }

    /// The modals open now, oldest first.
    pub fn open_views(&self) -> Vec<OpenView> {
        self.lock().views.iter().map(|v| v.open.clone()).collect()
    }

    /// `person` presses the submit button of the open modal `view_id`, having typed
    /// `values` (`block_id`, `action_id`, text) into its text inputs: returns the
    /// `view_submission` request Slack would send to the app's interactivity URL.
    ///
    /// Every input block of the view has an entry in `view.state.values`: what was
    /// typed now or earlier while the modal was open, else the element's initial
    /// value, else null. Slack's client does not submit while a required input is
    /// empty or a text breaks the element's `min_length`/`max_length`, nor while an
    /// earlier submission waits for the app's answer (see [`SlackStandIn::view_answer`]);
    /// those are errors here.
    pub fn submit_view(
        &self,
        view_id: &str,
        person: &Person,
        values: &[(&str, &str, &str)],
    ) -> Result<SignedClick, String> {
        let mut state = self.lock();
        let open = state
            .view_mut(view_id)
            .ok_or_else(|| format!("no modal {view_id} is open"))?;
        if open.open.user_id != person.id {
            return Err(format!(
                "modal {view_id} is open for {}, not for {}",
                open.open.user_id, person.id
            ));
        }
        if open.awaiting_answer {
            return Err(format!(
                "modal {view_id} was submitted and waits for the app's answer (apply it with view_answer)"
            ));
        }
        let inputs = input_elements(&open.open.view["blocks"]);
        let mut typed = open.typed.clone();
        for &(block_id, action_id, text) in values {
            let element = inputs
                .iter()
                .find(|i| i.block_id == block_id && i.action_id == action_id)
                .ok_or_else(|| {
                    format!("modal {view_id} has no input {block_id:?}/{action_id:?}")
                })?;
            if !TEXT_INPUTS.contains(&element.kind.as_str()) {
                return Err(format!(
                    "the input {block_id:?}/{action_id:?} is a {}, not a text input",
                    element.kind
                ));
            }
            typed.insert((block_id.into(), action_id.into()), text.into());
        }
        let mut values = serde_json::Map::new();
        for input in &inputs {
            let entry =
                input.state(typed.get(&(input.block_id.clone(), input.action_id.clone())))?;
            values
                .entry(input.block_id.clone())
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("an object")
                .insert(input.action_id.clone(), entry);
        }
        let open = state.view_mut(view_id).expect("found above");
        open.typed = typed;
        open.awaiting_answer = true;
        open.open.view["state"] = json!({"values": values});
        let view = open.open.view.clone();
        let trigger_id = state.issue_trigger(&person.id);
        let payload = json!({
            "type": "view_submission",
            "team": {"id": person.team_id, "domain": "local"},
            "user": user_json(person),
            "api_app_id": APP_ID, "token": VERIFICATION_TOKEN,
            "trigger_id": trigger_id,
            "view": view,
            "response_urls": [],
            "is_enterprise_install": false, "enterprise": null
        });
        Ok(state.signed(payload_form(&payload)))
    }

    /// Applies the app's HTTP answer (`status`, `body`) to the submission of modal
    /// `view_id`, as Slack does: an empty body, `{}` or `response_action: clear`
    /// closes it; `errors` (by input `block_id`) keeps it open with the messages;
    /// `update` replaces its view (checked as `views.open` checks one). Anything else,
    /// and any status but 200, leaves the modal open with Slack's error in it ("We had
    /// some trouble connecting"): an error here.
    pub fn view_answer(
        &self,
        view_id: &str,
        status: u16,
        body: &str,
    ) -> Result<ViewAnswer, String> {
        let mut state = self.lock();
        let open = state
            .view_mut(view_id)
            .ok_or_else(|| format!("no modal {view_id} is open"))?;
        if !open.awaiting_answer {
            return Err(format!(
                "modal {view_id} has no submission waiting for an answer"
            ));
        }
        open.awaiting_answer = false;
        let trouble = |why: String| {
            Err(format!(
                "Slack shows \"We had some trouble connecting. Try again?\" in modal {view_id}: {why}"
            ))
        };
        if status != 200 {
            return trouble(format!("the app answered HTTP {status}"));
        }
        let answer: Value = if body.trim().is_empty() {
            json!({})
        } else {
            match serde_json::from_str(body) {
                Ok(answer @ Value::Object(_)) => answer,
                _ => return trouble(format!("the answer is not a JSON object: {body:?}")),
            }
        };
        let only = |keys: &[&str]| {
            answer
                .as_object()
                .is_some_and(|o| o.keys().all(|k| keys.contains(&k.as_str())))
        };
        let closed = match answer.get("response_action").and_then(Value::as_str) {
            None if only(&[]) => true,
            Some("clear") if only(&["response_action"]) => true,
            Some("errors") if only(&["response_action", "errors"]) => false,
            Some("update") if only(&["response_action", "view"]) => false,
            Some("push") => {
                return trouble("response_action push is not modelled by this stand-in".into());
            }
            _ => return trouble(format!("Slack does not understand the answer {answer}")),
        };
        if closed {
            state.views.retain(|v| v.open.id != view_id);
            return Ok(ViewAnswer::Closed);
        }
        if answer["response_action"] == "errors" {
            let blocks = state.view_mut(view_id).expect("found above").open.view["blocks"].clone();
            let inputs = input_elements(&blocks);
            let errors = answer["errors"].as_object().filter(|e| !e.is_empty());
            let Some(errors) = errors else {
                return trouble("response_action errors without errors".into());
            };
            let mut shown = BTreeMap::new();
            for (block_id, message) in errors {
                if !inputs.iter().any(|i| &i.block_id == block_id) {
                    return trouble(format!(
                        "{block_id:?} is not the block_id of an input block of the view"
                    ));
                }
                let Some(message) = message.as_str() else {
                    return trouble(format!("the error for {block_id:?} is not a string"));
                };
                shown.insert(block_id.clone(), message.to_owned());
            }
            return Ok(ViewAnswer::Errors(shown));
        }
        let view = &answer["view"];
        if !view.is_object() {
            return trouble("response_action update without a view object".into());
        }
        if view.to_string().len() > VIEW_MAX_BYTES {
            return trouble("view_too_large".into());
        }
        if let Err(messages) = check_view(view, "/view") {
            return trouble(format!("invalid_arguments {messages:?}"));
        }
        if state.external_id_taken(view, Some(view_id)) {
            return trouble("duplicate_external_id".into());
        }
        let open = state.view_mut(view_id).expect("found above");
        let root = open.open.view["root_view_id"]
            .as_str()
            .unwrap_or(view_id)
            .to_owned();
        let shown = shown_view(view, view_id, &root);
        let kept = input_elements(&shown["blocks"]);
        open.typed.retain(|(block_id, action_id), _| {
            kept.iter()
                .any(|i| &i.block_id == block_id && &i.action_id == action_id)
        });
        open.open.view = shown.clone();
        Ok(ViewAnswer::Updated(shown))
    }

    /// `person` runs the slash command `command` (with its leading `/`) with `text` in
    /// `channel`: returns the request Slack would send to the command's request URL,
    /// form fields (not a `payload`) signed like a click, with a fresh `response_url`
    /// and `trigger_id`. The command's `response_url` has no message to replace:
    /// `replace_original` and `delete_original` are refused there (Slack ignores
    /// them); it posts ephemeral answers, or with `response_type: in_channel` a
    /// message in the channel.
    pub fn slash_command(
        &self,
        person: &Person,
        channel: &str,
        command: &str,
        text: &str,
    ) -> SignedClick {
        let mut state = self.lock();
        let response_url = state.issue_response_url(
            &self.server.url(),
            "commands",
            Original::Command {
                channel: channel.into(),
            },
            &person.id,
        );
        let trigger_id = state.issue_trigger(&person.id);
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("token", VERIFICATION_TOKEN)
            .append_pair("team_id", &person.team_id)
            .append_pair("team_domain", "local")
            .append_pair("channel_id", channel)
            .append_pair("channel_name", "approvals")
            .append_pair("user_id", &person.id)
            .append_pair("user_name", &person.username)
            .append_pair("command", command)
            .append_pair("text", text)
            .append_pair("api_app_id", APP_ID)
            .append_pair("is_enterprise_install", "false")
            .append_pair("response_url", &response_url)
            .append_pair("trigger_id", &trigger_id)
            .finish();
        state.signed(body)
    }

    /// The request Slack sends to a slash command's URL to check its certificate:
    /// `ssl_check=1` and the (deprecated) verification token, signed as usual.
    pub fn ssl_check(&self) -> SignedClick {
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("ssl_check", "1")
            .append_pair("token", VERIFICATION_TOKEN)
            .finish();
        self.lock().signed(body)
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

    /// The display name Slack shows for a user ID (for terminal rendering).
    pub fn username(&self, user_id: &str) -> Option<String> {
        self.lock().people.get(user_id).map(|p| p.username.clone())
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
fn button_action(block_id: &Value, button: &Value, now: f64) -> Value {
    json!({"action_id": button["action_id"], "block_id": block_id, "text": button["text"],
           "value": button["value"], "style": button["style"], "type": "button",
           "action_ts": format!("{now:.6}")})
}

/// The `user` of an interaction payload.
fn user_json(person: &Person) -> Value {
    json!({"id": person.id, "username": person.username, "name": person.username, "team_id": person.team_id})
}

/// An interaction's form body: one field, `payload`, holding the JSON.
fn payload_form(payload: &Value) -> String {
    format!(
        "payload={}",
        form_urlencoded::byte_serialize(payload.to_string().as_bytes()).collect::<String>()
    )
}

/// A Web API error answer: HTTP `status` and `{"ok":false,"error":error}`.
fn refusal(status: u16, error: &str) -> Outgoing {
    Outgoing::json(status, &json!({"ok": false, "error": error}), JSON)
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
            let channel = text("channel");
            if !valid_channel(&channel) {
                return fail("channel_not_found");
            }
            let (message_text, blocks) = match content(args) {
                Ok(c) => c,
                Err(e) => return fail(e),
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
            };
            state
                .messages
                .insert((channel.clone(), ts.clone()), stored.clone());
            ok(
                json!({"channel": channel, "ts": ts, "message": {"type": "message", "text": stored.text, "blocks": stored.blocks, "ts": ts}}),
            )
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
            "team_id": TEAM_ID, "user_id": "U0BOT", "bot_id": "B0LOCAL", "is_enterprise_install": false}),
        ),
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
        "views.open" => views_open(state, args),
        "views.publish" => home::views_publish(state, args),
        _ => Outgoing::json(404, &json!({"ok": false, "error": "unknown_method"}), JSON),
    }
}

fn response_url(state: &mut State, rest: &str, req: &Incoming) -> Outgoing {
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
        let text = body["text"].as_str().unwrap_or_default().to_owned();
        if text.is_empty() && body.get("blocks").is_none() {
            return refused("no_text");
        }
        match content(body) {
            // Kept as an ephemeral message, whose buttons can be clicked.
            Ok((text, blocks)) => {
                state.show_ephemeral(&user_id, &channel, text, blocks);
            }
            Err(_) => state.ephemeral.push(Ephemeral { user_id, text }),
        }
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

/// `views.open`: exchanges a `trigger_id` (known, unused, at most 3 seconds old) and
/// a valid modal view for a modal shown to the person whose interaction issued it.
/// The trigger is spent only when the modal opens.
fn views_open(state: &mut State, args: &Value) -> Outgoing {
    let trigger_id = args["trigger_id"].as_str().unwrap_or_default();
    if trigger_id.is_empty() {
        return invalid_arguments(vec!["invalid `trigger_id`".into()]);
    }
    let user_id = match state.triggers.get(trigger_id) {
        None => return fail("invalid_trigger_id"),
        Some(t) if t.used => return fail("exchanged_trigger_id"),
        Some(t) if t.age() > TRIGGER_LIFETIME => return fail("expired_trigger_id"),
        Some(t) => t.user_id.clone(),
    };
    let view = match &args["view"] {
        Value::Null => {
            return invalid_arguments(vec!["[ERROR] missing required field: view".into()]);
        }
        Value::String(s) => serde_json::from_str::<Value>(s).unwrap_or(Value::Null),
        other => other.clone(),
    };
    if !view.is_object() {
        return invalid_arguments(vec![problem("must be a JSON object", "/view")]);
    }
    if view.to_string().len() > VIEW_MAX_BYTES {
        return fail("view_too_large");
    }
    if let Err(messages) = check_view(&view, "/view") {
        return invalid_arguments(messages);
    }
    if state.external_id_taken(&view, None) {
        return fail("duplicate_external_id");
    }
    if let Some(trigger) = state.triggers.get_mut(trigger_id) {
        trigger.used = true;
    }
    let id = state.new_view_id();
    let shown = shown_view(&view, &id, &id);
    state.views.push(ViewState {
        open: OpenView {
            id,
            user_id,
            view: shown.clone(),
        },
        awaiting_answer: false,
        typed: BTreeMap::new(),
    });
    ok(json!({"view": shown}))
}

/// A modal view as Slack keeps and returns it: Slack's own fields added, every block
/// and input element given an ID (Slack makes one up where the app gave none).
fn shown_view(view: &Value, id: &str, root_view_id: &str) -> Value {
    let mut blocks = view["blocks"].as_array().cloned().unwrap_or_default();
    let mut taken: HashSet<String> = blocks
        .iter()
        .filter_map(|b| b["block_id"].as_str().map(str::to_owned))
        .collect();
    for block in &mut blocks {
        if block["block_id"].as_str().is_none() {
            let made_up = loop {
                let id = uuid::Uuid::new_v4().simple().to_string()[..5].to_owned();
                if taken.insert(id.clone()) {
                    break id;
                }
            };
            block["block_id"] = json!(made_up);
        }
        if block["type"] == "input"
            && block["element"].is_object()
            && block["element"]["action_id"].as_str().is_none()
        {
            block["element"]["action_id"] = json!(uuid::Uuid::new_v4().simple().to_string()[..5]);
        }
    }
    let text = |key: &str| view[key].as_str().unwrap_or_default();
    let or_null = |key: &str| view.get(key).cloned().unwrap_or(Value::Null);
    json!({
        "id": id, "team_id": TEAM_ID, "type": "modal", "blocks": blocks,
        "private_metadata": text("private_metadata"), "callback_id": text("callback_id"),
        "state": {"values": {}},
        "hash": format!("{}.{}", now_unix_f64() as u64, &uuid::Uuid::new_v4().simple().to_string()[..8]),
        "title": view["title"], "clear_on_close": view["clear_on_close"] == true,
        "notify_on_close": view["notify_on_close"] == true,
        "close": or_null("close"), "submit": or_null("submit"),
        "previous_view_id": null, "root_view_id": root_view_id, "app_id": APP_ID,
        "external_id": text("external_id"), "app_installed_team_id": TEAM_ID, "bot_id": BOT_ID
    })
}

/// An input block's element, as a `view_submission`'s state reports it.
struct InputElement {
    block_id: String,
    action_id: String,
    kind: String,
    optional: bool,
    element: Value,
}

fn input_elements(blocks: &Value) -> Vec<InputElement> {
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
    fn state(&self, typed: Option<&String>) -> Result<Value, String> {
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

fn valid_channel(channel: &str) -> bool {
    channel.len() >= 3
        && matches!(channel.as_bytes()[0], b'C' | b'G' | b'D')
        && channel.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Text and blocks of a message, checked against Block Kit's limits.
fn content(args: &Value) -> Result<(String, Vec<Value>), &'static str> {
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
fn problem(message: &str, at: &str) -> String {
    format!("[ERROR] {message} [json-pointer:{at}]")
}

/// The number of characters of a string (0 for anything else).
fn chars(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.chars().count())
}

/// What Slack finds wrong with the blocks at `at` (`/blocks`, `/view/blocks`), apart
/// from their number: Block Kit's limits, `block_id`s unique among the blocks and
/// `action_id`s unique within their block.
fn block_problems(blocks: &[Value], at: &str) -> Vec<String> {
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
fn check_view(view: &Value, at: &str) -> Result<(), Vec<String>> {
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

/// Slack's answer to arguments it refuses, with its reasons.
fn invalid_arguments(messages: Vec<String>) -> Outgoing {
    Outgoing::json(
        200,
        &json!({"ok": false, "error": "invalid_arguments", "response_metadata": {"messages": messages}}),
        JSON,
    )
}

fn ok(mut body: Value) -> Outgoing {
    body["ok"] = json!(true);
    Outgoing::json(200, &body, JSON)
}

/// Slack's answer for a message that is not there.
fn no_message(channel: &str) -> Outgoing {
    fail(if valid_channel(channel) {
        "message_not_found"
    } else {
        "channel_not_found"
    })
}

fn fail(error: &str) -> Outgoing {
    refusal(200, error)
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Signs an API Gateway / Function URL event's body again, as Slack would at
/// `timestamp`: sets `x-slack-request-timestamp` and `x-slack-signature` (in
/// `headers`, and in `multiValueHeaders` for REST API events). Base64 bodies are
/// signed over their decoded bytes, as Slack signed the bytes it sent.
pub fn resign_event(event: &mut Value, signing_secret: &str, timestamp: i64) -> Result<(), String> {
    let body = event_body(event)?;
    let signature = sign_slack_request(signing_secret.as_bytes(), timestamp, &body);
    for (name, value) in [
        ("x-slack-request-timestamp", timestamp.to_string()),
        ("x-slack-signature", signature),
    ] {
        for (map_key, wrap) in [("headers", false), ("multiValueHeaders", true)] {
            let Some(map) = event.get_mut(map_key).and_then(Value::as_object_mut) else {
                continue;
            };
            map.retain(|k, _| !k.eq_ignore_ascii_case(name));
            map.insert(
                name.into(),
                if wrap { json!([value]) } else { json!(value) },
            );
        }
    }
    Ok(())
}

/// The raw body bytes of an API Gateway event (base64-decoded when flagged).
pub fn event_body(event: &Value) -> Result<Vec<u8>, String> {
    use base64::Engine;
    let body = event
        .get("body")
        .and_then(Value::as_str)
        .ok_or("the event has no string body")?;
    if event
        .get("isBase64Encoded")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|e| format!("body is not base64: {e}"))
    } else {
        Ok(body.as_bytes().to_vec())
    }
}

/// Edits the `payload` JSON inside an event's form body (keeping its encoding).
pub fn edit_payload(event: &mut Value, edit: impl FnOnce(&mut Value)) -> Result<(), String> {
    let body = event_body(event)?;
    let raw = payload_from_form(&body).ok_or("the form body has no payload field")?;
    let mut payload: Value = serde_json::from_str(&raw).map_err(|e| e.to_string())?;
    edit(&mut payload);
    let form = format!(
        "payload={}",
        form_urlencoded::byte_serialize(payload.to_string().as_bytes()).collect::<String>()
    );
    let base64 = event
        .get("isBase64Encoded")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    event["body"] = json!(if base64 {
        base64_encode(form.as_bytes())
    } else {
        form
    });
    Ok(())
}

/// The `payload` field of a form-encoded interaction body.
pub fn payload_from_form(body: &[u8]) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(key, _)| key == "payload")
        .map(|(_, value)| value.into_owned())
}

/// `X-Slack-Signature` as Slack computes it: `v0=` and the hex HMAC-SHA256, keyed with
/// the signing secret, of `v0:<timestamp>:<body>`.
pub fn sign_slack_request(signing_secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(signing_secret)
        .expect("HMAC takes keys of any length");
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod signing_tests {
    use super::*;

    #[test]
    fn signs_slacks_documented_example() {
        // From Slack's "Verifying requests from Slack" guide.
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        assert_eq!(
            sign_slack_request(b"8f742231b10e8888abcd99yyyzzz85a5", 1531420618, body),
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    const TOKEN: &str = "xoxb-local";
    const SECRET: &str = "local-signing-secret";
    const CHANNEL: &str = "C0APPROVALS";

    async fn slack() -> SlackStandIn {
        SlackStandIn::start("127.0.0.1:0".parse().unwrap(), TOKEN, SECRET)
            .await
            .unwrap()
    }

    fn alice() -> Person {
        Person::new("U0ALICE", "alice")
    }

    fn bob() -> Person {
        Person::new("U0BOB", "bob")
    }

    /// A POST to the stand-in over HTTP, as a client sends it: status and JSON answer.
    fn post(slack: &SlackStandIn, path: &str, content_type: &str, body: &str) -> (u16, Value) {
        let mut stream = std::net::TcpStream::connect(slack.server.addr).unwrap();
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nhost: local\r\nauthorization: Bearer {TOKEN}\r\n\
             content-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, serde_json::from_str(body).unwrap_or(Value::Null))
    }

    fn api(slack: &SlackStandIn, method: &str, args: &Value) -> Value {
        post(slack, &format!("/api/{method}"), JSON, &args.to_string()).1
    }

    /// A post to a `response_url` the stand-in issued.
    fn respond(slack: &SlackStandIn, url: &str, body: &Value) -> (u16, Value) {
        let path = url.strip_prefix(&slack.server.url()).unwrap();
        post(slack, path, JSON, &body.to_string())
    }

    fn payload(click: &SignedClick) -> Value {
        serde_json::from_str(&payload_from_form(click.body.as_bytes()).unwrap()).unwrap()
    }

    fn assert_signed(click: &SignedClick) {
        assert_eq!(
            click.signature,
            sign_slack_request(SECRET.as_bytes(), click.timestamp, click.body.as_bytes())
        );
        assert!((click.timestamp - now_unix_f64() as i64).abs() <= 5);
    }

    fn button(action_id: &str) -> Value {
        json!({"type": "button", "action_id": action_id, "value": "v",
               "text": {"type": "plain_text", "text": action_id}})
    }

    /// A `trigger_id` of alice's click on a fresh prompt.
    fn trigger(slack: &SlackStandIn) -> String {
        let posted = api(
            slack,
            "chat.postMessage",
            &json!({"channel": CHANNEL, "text": "approve?", "blocks": [
                {"type": "actions", "block_id": "decide", "elements": [button("approve")]}]}),
        );
        let click = slack
            .click(CHANNEL, posted["ts"].as_str().unwrap(), &alice(), "approve")
            .unwrap();
        payload(&click)["trigger_id"].as_str().unwrap().to_owned()
    }

    fn modal() -> Value {
        json!({"type": "modal", "callback_id": "reject_reason", "private_metadata": "exec-1/step-1",
        "title": {"type": "plain_text", "text": "Reject runbook"},
        "submit": {"type": "plain_text", "text": "Reject"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "Why?"}},
            {"type": "input", "block_id": "reason", "label": {"type": "plain_text", "text": "Reason"},
             "element": {"type": "plain_text_input", "action_id": "text", "multiline": true, "max_length": 500}},
            {"type": "input", "block_id": "ticket", "optional": true,
             "label": {"type": "plain_text", "text": "Ticket"},
             "element": {"type": "plain_text_input", "action_id": "id"}}
        ]})
    }

    fn open_modal(slack: &SlackStandIn) -> String {
        let t = trigger(slack);
        let opened = api(
            slack,
            "views.open",
            &json!({"trigger_id": t, "view": modal()}),
        );
        assert_eq!(opened["ok"], true, "{opened}");
        opened["view"]["id"].as_str().unwrap().to_owned()
    }

    fn messages(answer: &Value) -> Vec<String> {
        assert_eq!(answer["ok"], false);
        assert_eq!(answer["error"], "invalid_arguments");
        answer["response_metadata"]["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap().to_owned())
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_trigger_id_opens_one_modal_within_three_seconds() {
        let slack = slack().await;
        let t = trigger(&slack);
        let opened = api(
            &slack,
            "views.open",
            &json!({"trigger_id": t, "view": modal()}),
        );
        assert_eq!(opened["ok"], true, "{opened}");
        let view = &opened["view"];
        let id = view["id"].as_str().unwrap();
        assert!(id.starts_with('V') && id.len() > 1);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        );
        assert_eq!(view["team_id"], TEAM_ID);
        assert_eq!(view["type"], "modal");
        assert_eq!(view["state"], json!({"values": {}}));
        assert_eq!(view["private_metadata"], "exec-1/step-1");
        assert_eq!(view["callback_id"], "reject_reason");
        assert_eq!(view["title"]["text"], "Reject runbook");
        assert_eq!(view["submit"]["text"], "Reject");
        assert_eq!(view["close"]["text"], "Cancel");
        assert_eq!(view["blocks"][1]["block_id"], "reason");
        assert!(
            view["blocks"][0]["block_id"].is_string(),
            "Slack names every block"
        );
        assert!(!view["hash"].as_str().unwrap().is_empty());
        assert_eq!(view["root_view_id"], id);
        assert_eq!(
            (view["app_id"].as_str(), view["bot_id"].as_str()),
            (Some("A0LOCAL"), Some("B0LOCAL"))
        );
        let open = slack.open_views();
        assert_eq!(open.len(), 1);
        assert_eq!(
            (open[0].id.as_str(), open[0].user_id.as_str()),
            (id, "U0ALICE")
        );
        assert_eq!(&open[0].view, view);
        assert_eq!(slack.count_calls("views.open"), 1);

        let again = api(
            &slack,
            "views.open",
            &json!({"trigger_id": t, "view": modal()}),
        );
        assert_eq!(again, json!({"ok": false, "error": "exchanged_trigger_id"}));
        let late = trigger(&slack);
        slack.age_trigger_ids(Duration::from_millis(3100));
        let expired = api(
            &slack,
            "views.open",
            &json!({"trigger_id": late, "view": modal()}),
        );
        assert_eq!(expired, json!({"ok": false, "error": "expired_trigger_id"}));
        let unknown = api(
            &slack,
            "views.open",
            &json!({"trigger_id": "12345.98765.abcd2358fdea", "view": modal()}),
        );
        assert_eq!(unknown, json!({"ok": false, "error": "invalid_trigger_id"}));
        let missing = api(&slack, "views.open", &json!({"view": modal()}));
        assert_eq!(messages(&missing), ["invalid `trigger_id`"]);
        assert_eq!(slack.open_views().len(), 1);

        // A form body, the view as a JSON string.
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("trigger_id", &trigger(&slack))
            .append_pair("view", &modal().to_string())
            .finish();
        let (status, opened) = post(
            &slack,
            "/api/views.open",
            "application/x-www-form-urlencoded",
            &form,
        );
        assert_eq!((status, &opened["ok"]), (200, &json!(true)), "{opened}");
        assert_eq!(slack.open_views().len(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn views_open_refuses_views_slack_refuses_without_spending_the_trigger() {
        let slack = slack().await;
        let t = trigger(&slack);
        let open = |view: &Value| {
            api(
                &slack,
                "views.open",
                &json!({"trigger_id": t, "view": view}),
            )
        };
        let mut long_title = modal();
        long_title["title"]["text"] = json!("x".repeat(25));
        assert_eq!(
            messages(&open(&long_title)),
            ["[ERROR] must be less than 25 characters [json-pointer:/view/title/text]"]
        );
        let mut long_metadata = modal();
        long_metadata["private_metadata"] = json!("m".repeat(3001));
        assert_eq!(
            messages(&open(&long_metadata)),
            ["[ERROR] must be less than 3001 characters [json-pointer:/view/private_metadata]"]
        );
        let mut no_submit = modal();
        no_submit.as_object_mut().unwrap().remove("submit");
        assert_eq!(
            messages(&open(&no_submit)),
            ["[ERROR] must define submit to use input block [json-pointer:/view/blocks/1/input]"]
        );
        let mut several = modal();
        several["type"] = json!("home");
        several.as_object_mut().unwrap().remove("title");
        several["blocks"][0]["text"]["text"] = json!("t".repeat(3001));
        several["blocks"][2]["block_id"] = json!("reason");
        several["blocks"][1]["element"]["min_length"] = json!(600);
        several["blocks"][1]["label"]["text"] = json!("l".repeat(2001));
        several["callback_id"] = json!("c".repeat(256));
        assert_eq!(
            messages(&open(&several)),
            [
                "[ERROR] must be `modal` [json-pointer:/view/type]",
                "[ERROR] missing required field: title [json-pointer:/view]",
                "[ERROR] must be less than 256 characters [json-pointer:/view/callback_id]",
                "[ERROR] must be less than 3001 characters [json-pointer:/view/blocks/0/text/text]",
                "[ERROR] must be less than 2001 characters [json-pointer:/view/blocks/1/label/text]",
                "[ERROR] min_length must not exceed max_length [json-pointer:/view/blocks/1/element/min_length]",
                "[ERROR] duplicate block_id [json-pointer:/view/blocks/2/block_id]",
            ]
        );
        let mut too_many = modal();
        too_many["blocks"] = json!(vec![json!({"type": "divider"}); 101]);
        assert_eq!(
            messages(&open(&too_many)),
            ["[ERROR] no more than 100 items allowed [json-pointer:/view/blocks]"]
        );
        assert!(slack.open_views().is_empty());
        assert_eq!(
            open(&modal())["ok"],
            true,
            "refusals do not spend the trigger"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn views_open_can_be_rate_limited_failed_and_answered_late() {
        let slack = slack().await;
        let t = trigger(&slack);
        slack.rate_limit_next("views.open", 7);
        slack.fail_next("views.open", 503);
        let args = json!({"trigger_id": t, "view": modal()}).to_string();
        let (status, answer) = post(&slack, "/api/views.open", JSON, &args);
        assert_eq!(
            (status, answer["error"].as_str()),
            (429, Some("ratelimited"))
        );
        assert_eq!(post(&slack, "/api/views.open", JSON, &args).0, 503);
        slack.answer_late("views.open", Duration::from_millis(200));
        let started = Instant::now();
        let (status, answer) = post(&slack, "/api/views.open", JSON, &args);
        assert_eq!((status, &answer["ok"]), (200, &json!(true)));
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert_eq!(slack.count_calls("views.open"), 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn submitting_a_modal_sends_a_signed_view_submission() {
        let slack = slack().await;
        let id = open_modal(&slack);
        assert!(
            slack
                .submit_view(&id, &bob(), &[])
                .unwrap_err()
                .contains("not for U0BOB")
        );
        assert!(slack.submit_view("V0NONE", &alice(), &[]).is_err());
        let err = slack
            .submit_view(&id, &alice(), &[("ticket", "id", "T-1")])
            .unwrap_err();
        assert!(err.contains("required"), "{err}");
        let err = slack
            .submit_view(&id, &alice(), &[("reason", "nope", "x")])
            .unwrap_err();
        assert!(err.contains("no input"), "{err}");
        let err = slack
            .submit_view(&id, &alice(), &[("reason", "text", &"x".repeat(501))])
            .unwrap_err();
        assert!(err.contains("not 0 to 500"), "{err}");

        let submitted = slack
            .submit_view(&id, &alice(), &[("reason", "text", "too risky")])
            .unwrap();
        assert_signed(&submitted);
        assert!(submitted.body.starts_with("payload="));
        let p = payload(&submitted);
        assert_eq!(p["type"], "view_submission");
        assert_eq!(p["team"], json!({"id": TEAM_ID, "domain": "local"}));
        assert_eq!(
            p["user"],
            json!({"id": "U0ALICE", "username": "alice", "name": "alice", "team_id": TEAM_ID})
        );
        assert_eq!(
            (p["api_app_id"].as_str(), p["token"].as_str()),
            (Some("A0LOCAL"), Some(VERIFICATION_TOKEN))
        );
        assert!(!p["trigger_id"].as_str().unwrap().is_empty());
        assert_eq!(p["response_urls"], json!([]));
        assert_eq!(
            (&p["is_enterprise_install"], &p["enterprise"]),
            (&json!(false), &Value::Null)
        );
        let view = &p["view"];
        assert_eq!(view["id"], id.as_str());
        assert_eq!(view["root_view_id"], id.as_str());
        assert_eq!(view["previous_view_id"], Value::Null);
        assert_eq!(view["private_metadata"], "exec-1/step-1");
        assert_eq!(view["callback_id"], "reject_reason");
        assert_eq!(
            (&view["clear_on_close"], &view["notify_on_close"]),
            (&json!(false), &json!(false))
        );
        assert_eq!(view["external_id"], "");
        assert_eq!(
            view["state"]["values"],
            json!({"reason": {"text": {"type": "plain_text_input", "value": "too risky"}},
                   "ticket": {"id": {"type": "plain_text_input", "value": null}}})
        );
        assert_eq!(view["hash"], slack.open_views()[0].view["hash"]);
        let err = slack
            .submit_view(&id, &alice(), &[("reason", "text", "again")])
            .unwrap_err();
        assert!(err.contains("waits for the app's answer"), "{err}");
        assert_eq!(
            slack.open_views().len(),
            1,
            "open until the answer is applied"
        );

        // Its trigger_id opens another modal.
        let next = api(
            &slack,
            "views.open",
            &json!({"trigger_id": p["trigger_id"], "view": modal()}),
        );
        assert_eq!(next["ok"], true);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_apps_answer_closes_the_modal_shows_errors_or_updates_it() {
        let slack = slack().await;
        let id = open_modal(&slack);
        let submit =
            |values: &[(&str, &str, &str)]| slack.submit_view(&id, &alice(), values).unwrap();
        assert!(
            slack
                .view_answer(&id, 200, "")
                .unwrap_err()
                .contains("no submission")
        );

        submit(&[("reason", "text", "risky")]);
        let err = slack.view_answer(&id, 500, "").unwrap_err();
        assert!(err.contains("We had some trouble connecting"), "{err}");
        assert_eq!(slack.open_views().len(), 1);

        submit(&[]);
        let errors = r#"{"response_action":"errors","errors":{"reason":"Say more"}}"#;
        let shown = BTreeMap::from([("reason".to_owned(), "Say more".to_owned())]);
        assert_eq!(
            slack.view_answer(&id, 200, errors),
            Ok(ViewAnswer::Errors(shown))
        );
        assert_eq!(slack.open_views().len(), 1);

        // What was typed stays in the modal.
        let p = payload(&submit(&[("ticket", "id", "T-7")]));
        assert_eq!(
            p["view"]["state"]["values"]["reason"]["text"]["value"],
            "risky"
        );
        let not_input = r#"{"response_action":"errors","errors":{"block_0":"no"}}"#;
        assert!(slack.view_answer(&id, 200, not_input).is_err());
        submit(&[]);
        assert!(
            slack
                .view_answer(&id, 200, r#"{"response_action":"push","view":{}}"#)
                .is_err()
        );
        submit(&[]);
        assert!(slack.view_answer(&id, 200, "OK").is_err());

        submit(&[]);
        let mut long_title = modal();
        long_title["title"]["text"] = json!("x".repeat(25));
        let update = |view: &Value| json!({"response_action": "update", "view": view}).to_string();
        let err = slack
            .view_answer(&id, 200, &update(&long_title))
            .unwrap_err();
        assert!(err.contains("must be less than 25 characters"), "{err}");
        submit(&[]);
        let mut next = modal();
        next["title"]["text"] = json!("Really reject?");
        let Ok(ViewAnswer::Updated(updated)) = slack.view_answer(&id, 200, &update(&next)) else {
            panic!("not updated");
        };
        assert_eq!(
            (updated["id"].as_str(), updated["root_view_id"].as_str()),
            (Some(id.as_str()), Some(id.as_str()))
        );
        assert_eq!(updated["title"]["text"], "Really reject?");
        assert_eq!(slack.open_views()[0].view, updated);

        submit(&[]);
        assert_eq!(slack.view_answer(&id, 200, ""), Ok(ViewAnswer::Closed));
        assert!(slack.open_views().is_empty());
        assert!(slack.submit_view(&id, &alice(), &[]).is_err());

        for answer in ["{}", r#"{"response_action":"clear"}"#] {
            let id = open_modal(&slack);
            slack
                .submit_view(&id, &alice(), &[("reason", "text", "r")])
                .unwrap();
            assert_eq!(slack.view_answer(&id, 200, answer), Ok(ViewAnswer::Closed));
        }
        assert!(slack.open_views().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slash_command_arrives_as_signed_form_fields() {
        let slack = slack().await;
        let command = slack.slash_command(&alice(), CHANNEL, "/approvals", "list pending");
        assert_signed(&command);
        let fields: BTreeMap<String, String> = form_urlencoded::parse(command.body.as_bytes())
            .into_owned()
            .collect();
        let field = |k: &str| fields.get(k).map(String::as_str);
        assert_eq!(field("payload"), None);
        assert_eq!(field("token"), Some(VERIFICATION_TOKEN));
        assert_eq!(
            (field("team_id"), field("team_domain")),
            (Some(TEAM_ID), Some("local"))
        );
        assert_eq!(
            (field("channel_id"), field("channel_name")),
            (Some(CHANNEL), Some("approvals"))
        );
        assert_eq!(
            (field("user_id"), field("user_name")),
            (Some("U0ALICE"), Some("alice"))
        );
        assert_eq!(
            (field("command"), field("text")),
            (Some("/approvals"), Some("list pending"))
        );
        assert_eq!(
            (field("api_app_id"), field("is_enterprise_install")),
            (Some("A0LOCAL"), Some("false"))
        );
        let url = field("response_url").unwrap();
        assert!(url.starts_with(&format!("{}/commands/", slack.server.url())));
        assert!(
            command
                .body
                .contains("command=%2Fapprovals&text=list+pending")
        );

        let opened = api(
            &slack,
            "views.open",
            &json!({"trigger_id": field("trigger_id"), "view": modal()}),
        );
        assert_eq!(opened["ok"], true);
        assert_eq!(slack.open_views()[0].user_id, "U0ALICE");

        let replace = respond(&slack, url, &json!({"replace_original": true, "text": "x"}));
        assert_eq!(
            replace,
            (400, json!({"ok": false, "error": "no_original_message"}))
        );
        assert_eq!(
            respond(&slack, url, &json!({"text": "Nothing waits."})).0,
            200
        );
        assert_eq!(
            slack.ephemeral(),
            [Ephemeral {
                user_id: "U0ALICE".into(),
                text: "Nothing waits.".into()
            }]
        );
        let shown = slack.ephemeral_messages("U0ALICE");
        assert_eq!((shown.len(), shown[0].channel.as_str()), (1, CHANNEL));
        assert!(slack.messages().is_empty());
        assert_eq!(
            respond(
                &slack,
                url,
                &json!({"response_type": "in_channel", "text": "2 waiting"})
            )
            .0,
            200
        );
        assert_eq!(slack.messages()[0].text, "2 waiting");
        assert_eq!(respond(&slack, url, &json!({"text": "3"})).0, 200);
        assert_eq!(respond(&slack, url, &json!({"text": "4"})).0, 200);
        let sixth = respond(&slack, url, &json!({"text": "5"}));
        assert_eq!(sixth.0, 404, "5 uses, the refused one included");
        assert_eq!(slack.count_calls("response_url"), 6);
    }

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
