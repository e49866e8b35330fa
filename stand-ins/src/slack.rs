//! A Slack stand-in: the Web API methods this project calls, `response_url`s, and
//! the other direction: a person clicking a button, sent as Slack sends it (form
//! body, `payload` JSON, signed with the app's signing secret).
//!
//! Behaviour follows Slack's documentation: bearer-token auth (`invalid_auth`),
//! Block Kit limits (`invalid_blocks`), only the bot's own messages can be updated
//! (`message_not_found`), `response_url` works 5 times within 30 minutes, and
//! rate limits answer HTTP 429 with `Retry-After`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{HttpServer, Incoming, Outgoing, now_unix_f64};

const JSON: &str = "application/json; charset=utf-8";
const RESPONSE_URL_USES: u32 = 5;
const RESPONSE_URL_LIFETIME: Duration = Duration::from_secs(30 * 60);
pub const TEAM_ID: &str = "T0LOCAL";
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
}

/// An ephemeral answer only the clicker saw.
#[derive(Debug, Clone, PartialEq)]
pub struct Ephemeral {
    pub user_id: String,
    pub text: String,
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
        json!({
            "version": "2.0", "routeKey": "POST /slack/interactions", "rawPath": "/slack/interactions",
            "rawQueryString": "",
            "headers": {
                "content-type": "application/x-www-form-urlencoded",
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
        })
    }
}

#[derive(Debug)]
struct ResponseUrl {
    channel: String,
    ts: String,
    user_id: String,
    uses: u32,
    issued: Instant,
}

impl ResponseUrl {
    /// A fresh `response_url` for `user_id`'s interaction with the message (`channel`, `ts`).
    fn issued_now(channel: &str, ts: &str, user_id: &str) -> Self {
        Self {
            channel: channel.into(),
            ts: ts.into(),
            user_id: user_id.into(),
            uses: 0,
            issued: Instant::now(),
        }
    }
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
    calls: Vec<(String, Value)>,
    faults: HashMap<String, VecDeque<Outgoing>>,
    /// Calls that are carried out at once but answered late.
    late: HashMap<String, VecDeque<std::time::Duration>>,
}

/// The Slack stand-in: Web API under `/api`, response URLs under `/actions`.
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
            let delay = req.path.strip_prefix("/api/").and_then(|method| {
                let mut state = handler_state.lock().unwrap_or_else(|p| p.into_inner());
                state.late.get_mut(method).and_then(VecDeque::pop_front)
            });
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
        let out = Outgoing::json(429, &json!({"ok": false, "error": "ratelimited"}), JSON)
            .with_header("retry-after", &retry_after_secs.to_string());
        self.lock()
            .faults
            .entry(method.into())
            .or_default()
            .push_back(out);
    }

    /// The next call to `method` fails with this HTTP status (an outage).
    pub fn fail_next(&self, method: &str, status: u16) {
        let out = Outgoing {
            status,
            headers: vec![("content-type".into(), "text/html".into())],
            body: b"<html>upstream error</html>".to_vec(),
            delay: None,
        };
        self.lock()
            .faults
            .entry(method.into())
            .or_default()
            .push_back(out);
    }

    /// The next call to `method` is carried out at once, but answered after `delay`.
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
        let mut state = self.lock();
        let message = state
            .messages
            .get(&(channel.to_owned(), ts.to_owned()))
            .cloned()
            .ok_or_else(|| format!("no message {channel}/{ts}"))?;
        let (block_id, button) = message
            .blocks
            .iter()
            .filter(|b| b["type"] == "actions")
            .flat_map(|b| {
                b["elements"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(move |e| (b["block_id"].clone(), e.clone()))
            })
            .find(|(_, e)| e["action_id"] == action_id)
            .ok_or_else(|| {
                format!("the message has no button {action_id:?} (buttons are gone once decided)")
            })?;
        let token = uuid::Uuid::new_v4().simple().to_string();
        let response_url = format!(
            "{}/actions/{TEAM_ID}/{}/{token}",
            self.server.url(),
            state.next_ts
        );
        state
            .response_urls
            .insert(token, ResponseUrl::issued_now(channel, ts, &person.id));
        let now = now_unix_f64();
        let payload = json!({
            "type": "block_actions",
            "user": {"id": person.id, "username": person.username, "name": person.username, "team_id": person.team_id},
            "api_app_id": "A0LOCAL", "token": VERIFICATION_TOKEN,
            "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": false},
            "trigger_id": format!("{}.{}.local", now as u64, state.next_ts),
            "team": {"id": person.team_id, "domain": "local"}, "enterprise": null, "is_enterprise_install": false,
            "channel": {"id": channel, "name": "approvals"},
            "message": {"type": "message", "subtype": "bot_message", "text": message.text, "ts": ts,
                        "bot_id": "B0LOCAL", "blocks": message.blocks},
            "state": {"values": {}},
            "response_url": response_url,
            "actions": [{"action_id": action_id, "block_id": block_id, "text": button["text"],
                         "value": button["value"], "style": button["style"], "type": "button",
                         "action_ts": format!("{now:.6}")}]
        });
        let body = format!(
            "payload={}",
            form_urlencoded::byte_serialize(payload.to_string().as_bytes()).collect::<String>()
        );
        let timestamp = now as i64;
        let signature =
            sign_slack_request(state.signing_secret.as_bytes(), timestamp, body.as_bytes());
        Ok(SignedClick {
            body,
            timestamp,
            signature,
        })
    }

    /// A `response_url` for `user_id`'s interaction with the message at (`channel`, `ts`),
    /// as Slack issues one with every click.
    pub fn issue_response_url(&self, channel: &str, ts: &str, user_id: &str) -> String {
        let mut state = self.lock();
        let token = uuid::Uuid::new_v4().simple().to_string();
        state
            .response_urls
            .insert(token.clone(), ResponseUrl::issued_now(channel, ts, user_id));
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
            ResponseUrl::issued_now(channel, ts, user_id),
        );
        true
    }

    /// The display name Slack shows for a user ID (for terminal rendering).
    pub fn username(&self, user_id: &str) -> Option<String> {
        self.lock().people.get(user_id).map(|p| p.username.clone())
    }
}

fn handle(state: &Mutex<State>, req: Incoming) -> Outgoing {
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(rest) = req.path.strip_prefix("/actions/") {
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
    match method.as_str() {
        "chat.postMessage" => {
            let channel = text("channel");
            if !valid_channel(&channel) {
                return fail("channel_not_found");
            }
            let (message_text, blocks) = match content(&args) {
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
            let (message_text, blocks) = match content(&args) {
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
        _ => Outgoing::json(404, &json!({"ok": false, "error": "unknown_method"}), JSON),
    }
}

fn response_url(state: &mut State, rest: &str, req: &Incoming) -> Outgoing {
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    state.calls.push(("response_url".into(), body.clone()));
    let token = rest.rsplit('/').next().unwrap_or_default().to_owned();
    let expired = Outgoing::json(404, &json!({"ok": false, "error": "expired_url"}), JSON);
    let Some(url) = state.response_urls.get_mut(&token) else {
        return expired;
    };
    if url.uses >= RESPONSE_URL_USES || url.issued.elapsed() > RESPONSE_URL_LIFETIME {
        return expired;
    }
    if !body.is_object() {
        return Outgoing::json(400, &json!({"ok": false, "error": "invalid_payload"}), JSON);
    }
    url.uses += 1;
    let (channel, ts, user_id) = (url.channel.clone(), url.ts.clone(), url.user_id.clone());
    let ephemeral = body["response_type"] == "ephemeral" || body["replace_original"] != true;
    if body["delete_original"] == true {
        state.messages.remove(&(channel, ts));
    } else if ephemeral {
        let text = body["text"].as_str().unwrap_or_default().to_owned();
        if text.is_empty() && body.get("blocks").is_none() {
            return Outgoing::json(400, &json!({"ok": false, "error": "no_text"}), JSON);
        }
        state.ephemeral.push(Ephemeral { user_id, text });
    } else {
        let (text, blocks) = match content(&body) {
            Ok(c) => c,
            Err(e) => return Outgoing::json(400, &json!({"ok": false, "error": e}), JSON),
        };
        let Some(stored) = state.messages.get_mut(&(channel, ts)) else {
            return expired;
        };
        stored.text = text;
        stored.blocks = blocks;
        stored.updates += 1;
    }
    ok(json!({}))
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
    let chars = |v: &Value| v.as_str().map_or(0, |s| s.chars().count());
    let within = |cond: bool| if cond { Ok(()) } else { Err(()) };
    within(blocks.len() <= 50)?;
    for block in blocks {
        within(chars(&block["block_id"]) <= 255)?;
        match block["type"].as_str() {
            Some("header") => within(
                block["text"]["type"] == "plain_text"
                    && (1..=150).contains(&chars(&block["text"]["text"])),
            )?,
            Some("section") => {
                within(chars(&block["text"]["text"]) <= 3000)?;
                let fields = block["fields"].as_array().map_or(&[][..], |f| f.as_slice());
                within(fields.len() <= 10 && fields.iter().all(|f| chars(&f["text"]) <= 2000))?;
                within(block.get("text").is_some() || !fields.is_empty())?;
            }
            Some("actions") => {
                let elements = block["elements"].as_array().ok_or(())?;
                within(!elements.is_empty() && elements.len() <= 25)?;
                for e in elements {
                    within(
                        chars(&e["action_id"]) <= 255
                            && chars(&e["value"]) <= 2000
                            && chars(&e["text"]["text"]) <= 75,
                    )?;
                    within(
                        e.get("style")
                            .is_none_or(|s| s == "primary" || s == "danger"),
                    )?;
                }
            }
            Some("context") => within(
                block["elements"]
                    .as_array()
                    .is_some_and(|e| !e.is_empty() && e.len() <= 10),
            )?,
            Some("divider" | "image" | "rich_text" | "input" | "file" | "video" | "markdown") => {}
            _ => return Err(()),
        }
    }
    Ok(())
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
    Outgoing::json(200, &json!({"ok": false, "error": error}), JSON)
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
