//! What the Slack stand-in's tests share: a stand-in, people, HTTP calls, a modal to open.

use std::io::{Read, Write};

use serde_json::{Value, json};

use super::{JSON, Person, SignedClick, SlackStandIn, payload_from_form, sign_slack_request};
use crate::now_unix_f64;

pub(super) const TOKEN: &str = "xoxb-local";
pub(super) const SECRET: &str = "local-signing-secret";
pub(super) const CHANNEL: &str = "C0APPROVALS";

pub(super) async fn slack() -> SlackStandIn {
    SlackStandIn::start("127.0.0.1:0".parse().unwrap(), TOKEN, SECRET)
        .await
        .unwrap()
}

pub(super) fn alice() -> Person {
    Person::new("U0ALICE", "alice")
}

pub(super) fn bob() -> Person {
    Person::new("U0BOB", "bob")
}

/// A POST to the stand-in over HTTP, as a client sends it: status and JSON answer.
pub(super) fn post(
    slack: &SlackStandIn,
    path: &str,
    content_type: &str,
    body: &str,
) -> (u16, Value) {
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

pub(super) fn api(slack: &SlackStandIn, method: &str, args: &Value) -> Value {
    post(slack, &format!("/api/{method}"), JSON, &args.to_string()).1
}

/// A post to a `response_url` the stand-in issued.
pub(super) fn respond(slack: &SlackStandIn, url: &str, body: &Value) -> (u16, Value) {
    let path = url.strip_prefix(&slack.server.url()).unwrap();
    post(slack, path, JSON, &body.to_string())
}

pub(super) fn payload(click: &SignedClick) -> Value {
    serde_json::from_str(&payload_from_form(click.body.as_bytes()).unwrap()).unwrap()
}

pub(super) fn assert_signed(click: &SignedClick) {
    assert_eq!(
        click.signature,
        sign_slack_request(SECRET.as_bytes(), click.timestamp, click.body.as_bytes())
    );
    assert!((click.timestamp - now_unix_f64() as i64).abs() <= 5);
}

pub(super) fn button(action_id: &str) -> Value {
    json!({"type": "button", "action_id": action_id, "value": "v",
           "text": {"type": "plain_text", "text": action_id}})
}

/// A `trigger_id` of alice's click on a fresh prompt.
pub(super) fn trigger(slack: &SlackStandIn) -> String {
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

pub(super) fn modal() -> Value {
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

pub(super) fn open_modal(slack: &SlackStandIn) -> String {
    let t = trigger(slack);
    let opened = api(
        slack,
        "views.open",
        &json!({"trigger_id": t, "view": modal()}),
    );
    assert_eq!(opened["ok"], true, "{opened}");
    opened["view"]["id"].as_str().unwrap().to_owned()
}

pub(super) fn messages(answer: &Value) -> Vec<String> {
    assert_eq!(answer["ok"], false);
    assert_eq!(answer["error"], "invalid_arguments");
    answer["response_metadata"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect()
}
