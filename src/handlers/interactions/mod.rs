//! `slack-interactions`: Slack button clicks, reason forms and the `/approvals`
//! command → `SendAutomationSignal`. One file per Slack surface:
//!
//! - [`clicks`]: a prompt's (or the list's) Approve / Reject / Resume buttons;
//! - [`reason_form`]: the modal that asks why, and its submission;
//! - [`approvals_command`]: the `/approvals` list;
//! - [`home`]: the Home tab, through the Events API (JSON on the same URL);
//!
//! and [`decision`], the one path every surface's decision takes to SSM.
//!
//! Order matters: size cap, Slack's certificate check, then the signature over the
//! raw body (nothing is parsed before it passes), then the content type and payload.
//! Every request is answered within Slack's 3 s: every outbound call runs against one
//! [`Deadline`], counted from when the request reached the gateway.
//!
//! Who may decide ([`Authorizer`]) is asked first, before any AWS call; then a
//! decision claims its step run in the approvals table, confirms with SSM that the
//! step its prompt showed is the one waiting now, and only then signals.

mod approvals_command;
mod clicks;
mod decision;
mod home;
mod reason_form;

use aws_config::ConfigLoader;
use lambda_http::http::{StatusCode, header::CONTENT_TYPE};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::{StartupError, aws_clients};
use crate::authorization::Authorizer;
use crate::config::{Env, InteractionsSettings, ReasonMode, Secret};
use crate::deadline::{Deadline, STARTUP_BUDGET, unix_now};
use crate::domain::approvers::ApproverPolicy;
use crate::domain::inbound::button::ButtonError;
use crate::domain::inbound::form::payload_from_form;
use crate::domain::inbound::slash_command::{command_from_form, is_ssl_check};
use crate::domain::inbound::{Interaction, parse_interaction};
use crate::domain::messages::blocks::{SlackMessage, console_executions_url};
use crate::domain::messages::notices::notice_modal;
use crate::domain::messages::prompt::PromptStyle;
use crate::domain::place::{AccountNames, Place, Shown};
use crate::domain::routes::{Routes, RunbookPrefixes};
use crate::domain::rules::Fallback;
use crate::domain::signature::verify_slack_signature;
use crate::domain::waiting::StepTarget;
use crate::places::Places;
use crate::rules::RuleBook;
use crate::sessions::PersonSessions;
use crate::slack::{SlackClient, SlackError};
use crate::store::ApprovalStore;

/// Slack's interaction payloads are a few KiB; anything far larger is not Slack.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

pub struct InteractionsApp {
    signing_secret: Secret,
    authorizer: Authorizer,
    /// SSM in each step's own account and Region.
    places: Places,
    store: ApprovalStore,
    slack: SlackClient,
    /// Per-person STS sessions, in the accounts that have an approver role
    /// (`APPROVER_ROLE_ARN`, `SPOKE_APPROVER_ROLE_NAME`).
    sessions: PersonSessions,
    account_names: AccountNames,
    reject_reason: ReasonMode,
    /// Runbooks whose pauses may be resumed from Slack (`SLACK_RESUME_PREFIXES`).
    resumable: RunbookPrefixes,
}

impl InteractionsApp {
    pub async fn from_env(env: &impl Env, loader: ConfigLoader) -> Result<Self, StartupError> {
        let settings = InteractionsSettings::from_env(env)?;
        let organization = settings.organization;
        let aws = aws_clients(
            loader,
            &settings.table,
            &organization,
            settings.approver_role.clone(),
        )
        .await;
        let sessions = PersonSessions::new(aws_sdk_sts::Client::new(&aws.sdk));
        // Both secrets and the rules at once: fewer Parameter Store round trips in a
        // row on a cold start.
        let deadline = Deadline::after(STARTUP_BUDGET);
        let home = aws.places.home_ssm();
        let fallback = Fallback {
            channel: None,
            routes: Routes::default(),
            approvers: settings.approvers,
        };
        let nobody_by_default = fallback.approvers == ApproverPolicy::Nobody;
        let (bot_token, signing_secret, rules) = tokio::join!(
            home.resolve_secret(&settings.bot_token, &deadline),
            home.resolve_secret(&settings.signing_secret, &deadline),
            RuleBook::load(fallback, organization.rules.clone(), home, &deadline)
        );
        let (bot_token, signing_secret, rules) = (bot_token?, signing_secret?, rules?);
        let slack = SlackClient::new(&settings.slack_api_url, bot_token)?;
        if nobody_by_default {
            if organization.rules.is_some() {
                tracing::info!("SLACK_APPROVERS is empty: only the rules' approvers may decide");
            } else {
                tracing::warn!("SLACK_APPROVERS is empty: every click will be refused");
            }
        }
        Ok(Self {
            signing_secret,
            authorizer: Authorizer::new(
                rules,
                home.clone(),
                settings.group_cache,
                settings.team_id,
                settings.allowed_teams,
            ),
            places: aws.places,
            store: aws.store,
            slack,
            sessions,
            account_names: organization.account_names,
            reject_reason: settings.reject_reason,
            resumable: settings.resumable,
        })
    }

    /// How prompts of steps in `place` are drawn.
    fn style(&self, place: &Place) -> PromptStyle {
        PromptStyle {
            per_person: self.places.per_person(place),
            reason_modal: self.reject_reason != ReasonMode::Off,
        }
    }

    /// The place a button names: the deployment's own account and Region unless it
    /// names others.
    fn place_of(&self, target: &StepTarget) -> Place {
        self.places
            .place_of(target.account.as_deref(), target.region.as_deref())
    }

    fn shown<'a>(&'a self, place: &'a Place) -> Shown<'a> {
        Shown::new(place, &self.account_names)
    }
}

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
        Interaction::Decision(click) => clicks::clicked(app, click, deadline).await,
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

/// Answers the person only (an ephemeral message through the `response_url`).
async fn tell(app: &InteractionsApp, response_url: &str, text: &str, deadline: &Deadline) {
    let body = json!({"response_type": "ephemeral", "replace_original": false, "text": text});
    if let Err(e) = app.slack.respond(response_url, &body, deadline).await {
        tracing::warn!(error = %e, "could not answer the clicker");
    }
}

/// Replaces a prompt through its `response_url`, or, once that no longer works (used
/// 5 times, or older than 30 minutes), with `chat.update`: the prompt is the bot's own.
async fn replace_prompt(
    app: &InteractionsApp,
    response_url: &str,
    prompt: Option<&crate::domain::inbound::MessageRef>,
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

fn json_response(body: &Value) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(CONTENT_TYPE, "application/json; charset=utf-8")
        .body(Body::from(body.to_string()))
        .expect("static response")
}

fn empty_ok() -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .body(Body::Empty)
        .expect("static response")
}

/// The answer to a view submission that replaces the modal with a notice.
fn view_notice(title: &str, text: &str) -> Response<Body> {
    json_response(&json!({"response_action": "update", "view": notice_modal(title, text)}))
}

fn plain(status: StatusCode, text: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Body::from(text))
        .expect("static response")
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
