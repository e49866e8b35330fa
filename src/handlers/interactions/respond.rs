//! How the Slack surfaces answer: to the person only, by replacing a prompt, or as the
//! HTTP response Slack reads (JSON, empty, plain text, a modal's next state).

use std::time::Duration;

use lambda_http::http::{StatusCode, header::CONTENT_TYPE};
use lambda_http::{Body, Response};
use serde_json::{Value, json};

use super::app::InteractionsApp;
use crate::deadline::Deadline;
use crate::domain::inbound::MessageRef;
use crate::domain::messages::blocks::SlackMessage;
use crate::domain::messages::notices::notice_modal;
use crate::slack::SlackError;

/// Time kept back from the signal (and other follow-up calls) for replacing the
/// prompt or answering the clicker.
pub(super) const REPLY_RESERVE: Duration = Duration::from_millis(300);

/// Answers the person only (an ephemeral message through the `response_url`).
pub(super) async fn tell(
    app: &InteractionsApp,
    response_url: &str,
    text: &str,
    deadline: &Deadline,
) {
    let body = json!({"response_type": "ephemeral", "replace_original": false, "text": text});
    if let Err(e) = app.slack.respond(response_url, &body, deadline).await {
        tracing::warn!(error = %e, "could not answer the clicker");
    }
}

/// Replaces a prompt through its `response_url`, or, once that no longer works (used
/// 5 times, or older than 30 minutes), with `chat.update`: the prompt is the bot's own.
pub(super) async fn replace_prompt(
    app: &InteractionsApp,
    response_url: &str,
    prompt: Option<&MessageRef>,
    message: &SlackMessage,
    deadline: &Deadline,
) {
    let body = json!({"replace_original": true, "text": message.text, "blocks": message.blocks});
    let refused = match app.slack.respond(response_url, &body, deadline).await {
        Ok(()) => return,
        // Slack answered and refused it; a timeout may have been applied.
        Err(e @ (SlackError::Api { .. } | SlackError::Status { .. })) => e,
        Err(e) => {
            tracing::warn!(error = %e, "could not bring the prompt up to date");
            return;
        }
    };
    let Some(prompt) = prompt else {
        tracing::warn!(error = %refused, "could not bring the prompt up to date");
        return;
    };
    tracing::info!(error = %refused, "response_url refused; updating the prompt with chat.update");
    if let Err(e) = app
        .slack
        .update_message(&prompt.channel, &prompt.ts, message, deadline)
        .await
    {
        tracing::warn!(error = %e, "could not bring the prompt up to date");
    }
}

pub(super) fn json_response(body: &Value) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(CONTENT_TYPE, "application/json; charset=utf-8")
        .body(Body::from(body.to_string()))
        .expect("static response")
}

pub(super) fn empty_ok() -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .body(Body::Empty)
        .expect("static response")
}

/// The answer to a view submission that replaces the modal with a notice.
pub(super) fn view_notice(title: &str, text: &str) -> Response<Body> {
    json_response(&json!({"response_action": "update", "view": notice_modal(title, text)}))
}

pub(super) fn plain(status: StatusCode, text: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Body::from(text))
        .expect("static response")
}
