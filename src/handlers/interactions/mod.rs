//! `slack-interactions`: Slack button clicks, reason forms and the `/approvals`
//! command → `SendAutomationSignal`. One file per Slack surface:
//!
//! - [`clicks`]: a prompt's (or the list's) Approve / Reject / Resume buttons;
//! - [`reason_form`]: the modal that asks why, and its submission;
//! - [`approvals_command`]: the `/approvals` list;
//! - [`home`]: the Home tab, through the Events API (JSON on the same URL);
//!
//! and [`decision`], the one path every surface's decision takes to SSM. Below them,
//! what the surfaces share: [`app`] (the clients and settings), [`respond`] (how an
//! answer goes back to Slack) and [`listing`] (what `/approvals` and Home list).
//!
//! Order matters: size cap, Slack's certificate check, then the signature over the
//! raw body (nothing is parsed before it passes), then the content type and payload.
//! Every request is answered within Slack's 3 s: every outbound call runs against one
//! [`Deadline`], counted from when the request reached the gateway.
//!
//! Who may decide ([`crate::permissions`]) is asked first, before any AWS call; then
//! a decision claims its step run in the approvals table, confirms with SSM that the
//! step its prompt showed is the one waiting now, and only then signals.

mod app;
mod approvals_command;
mod clicks;
mod decision;
mod home;
mod listing;
mod reason_form;
mod respond;

use lambda_http::http::{StatusCode, header::CONTENT_TYPE};
use lambda_http::{Body, Request, RequestExt, Response};
use tokio::time::Instant;

pub use self::app::InteractionsApp;
use self::respond::{empty_ok, plain, tell, view_notice};
use crate::deadline::{Deadline, unix_now};
use crate::domain::inbound::button::ButtonError;
use crate::domain::inbound::form::payload_from_form;
use crate::domain::inbound::slash_command::{command_from_form, is_ssl_check};
use crate::domain::inbound::{Interaction, parse_interaction};
use crate::domain::messages::blocks::console_executions_url;
use crate::domain::signature::verify_slack_signature;

/// Slack's interaction payloads are a few KiB; anything far larger is not Slack.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

pub async fn handle_slack_request(app: &InteractionsApp, request: Request) -> Response<Body> {
    let deadline = Deadline::for_click(
        Instant::now(),
        gateway_received_ms(&request),
        request.lambda_context_ref().map(|c| c.deadline),
    );
    let body: &[u8] = request.body().as_ref();
    if body.len() > MAX_BODY_BYTES {
        tracing::warn!(bytes = body.len(), "request refused: body too large");
        return plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
    }
    // Slack checks the certificate of slash-command URLs with a request that carries
    // nothing to act on and expects a plain 200 for it, signed or not.
    if is_ssl_check(body) {
        tracing::info!("Slack's certificate check answered");
        return empty_ok();
    }
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    if let Err(reason) = verify_slack_signature(
        app.signing_secret.expose().as_bytes(),
        header("x-slack-request-timestamp"),
        header("x-slack-signature"),
        body,
        unix_now(),
    ) {
        tracing::warn!(%reason, "request refused: not signed by Slack");
        return plain(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let json_body = header(CONTENT_TYPE.as_str())
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"));
    if json_body {
        return home::delivered(app, body, header("x-slack-retry-num"), &deadline).await;
    }
    let form = header(CONTENT_TYPE.as_str())
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form {
        tracing::warn!(
            content_type = header(CONTENT_TYPE.as_str()),
            "request refused: not a form"
        );
        return plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected application/x-www-form-urlencoded",
        );
    }
    let payload = match payload_from_form(body) {
        Ok(payload) => payload,
        Err(e) => {
            // Slash commands are form fields, not a payload.
            if let Some(command) = command_from_form(body) {
                return approvals_command::answer(app, command, &deadline).await;
            }
            tracing::warn!(error = %e, "request refused: unreadable payload");
            return plain(StatusCode::BAD_REQUEST, &e.to_string());
        }
    };
    let interaction = match parse_interaction(&payload) {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(error = %e, "request refused: unreadable payload");
            return plain(StatusCode::BAD_REQUEST, &e.to_string());
        }
    };
    match interaction {
        Interaction::Decision(click) => {
            clicks::clicked(app, click, deadline).await;
            crate::metrics::click_latency(deadline.elapsed());
        }
        Interaction::ListMore {
            actor,
            response_url,
            after,
        } => approvals_command::more(app, actor, &response_url, &after, &deadline).await,
        Interaction::Reason(submission) => {
            return reason_form::submitted(app, submission, deadline).await;
        }
        Interaction::BadView(why) => {
            tracing::warn!(%why, "view submission refused: not a reason form of ours");
            return view_notice(
                "Nothing was done",
                "This form does not say which approval step it decides, so nothing was done.",
            );
        }
        Interaction::BadButton {
            response_url,
            error,
        } => {
            tracing::warn!(%error, "click refused: the button does not name its step");
            let text = match error {
                ButtonError::NamesNoStep(_) => format!(
                    "Nothing was done: this button does not say which approval step it decides \
                     (it comes from an older prompt). Decide in the <{}|AWS console> instead.",
                    console_executions_url(&app.places.home().region)
                ),
                ButtonError::Malformed(_) => {
                    "Nothing was done: this button does not name a valid automation step.".into()
                }
            };
            tell(app, &response_url, &text, &deadline).await;
        }
        Interaction::Ignored(reason) => tracing::info!(%reason, "interaction ignored"),
    }
    empty_ok()
}

/// When API Gateway received the request (Unix ms), as its request context says.
fn gateway_received_ms(request: &Request) -> Option<u64> {
    use lambda_http::request::RequestContext;
    let ms = match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(c) => c.time_epoch,
        RequestContext::ApiGatewayV1(c) => c.request_time_epoch,
        #[allow(unreachable_patterns)]
        _ => return None,
    };
    u64::try_from(ms).ok().filter(|&ms| ms > 0)
}
