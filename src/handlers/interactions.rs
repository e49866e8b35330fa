//! `slack-interactions`: Slack button clicks → `SendAutomationSignal`.
//!
//! Order matters: size cap, then the signature over the raw body (nothing is parsed
//! before it passes), then the content type and payload. A click is answered within
//! Slack's 3 s: every outbound call runs against one deadline.
//!
//! Happy path, outbound calls: `SendAutomationSignal`, then concurrently the
//! `response_url` replacement and the decision tag (`AddTagsToResource`);
//! `usergroups.users.list` once per group per environment when groups are used.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::ConfigLoader;
use lambda_http::http::{StatusCode, header::CONTENT_TYPE};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{Value, json};
use tokio::time::Instant;
use tracing::Instrument;

use super::{StartupError, ssm_client};
use crate::config::{Env, InteractionsSettings, Secret};
use crate::domain::approvers::{ApproverPolicy, Verdict};
use crate::domain::interaction::{
    DecisionClick, Interaction, parse_interaction, payload_from_form,
};
use crate::domain::render::{SlackMessage, render_decided, render_gone, render_outcome};
use crate::domain::signature::verify_slack_signature;
use crate::domain::tags::{ANY_STEP, DecisionRecord};
use crate::slack::SlackClient;
use crate::ssm::{SignalOutcome, Ssm};

/// Slack's interaction payloads are a few KiB; anything far larger is not Slack.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Slack shows an error after 3 s; keep a margin for the network and API Gateway.
const RESPONSE_BUDGET: Duration = Duration::from_millis(2600);

pub struct InteractionsApp {
    signing_secret: Secret,
    approvers: ApproverPolicy,
    ssm: Ssm,
    slack: SlackClient,
    region: String,
    /// User-group members, cached for the life of the execution environment.
    groups: Mutex<HashMap<String, Arc<HashSet<String>>>>,
}

impl InteractionsApp {
    pub async fn from_env(env: &impl Env, loader: ConfigLoader) -> Result<Self, StartupError> {
        let settings = InteractionsSettings::from_env(env)?;
        let (ssm, region) = ssm_client(loader).await;
        // Both secrets at once: one Parameter Store round trip less on a cold start.
        let (bot_token, signing_secret) = tokio::join!(
            ssm.resolve_secret(&settings.bot_token),
            ssm.resolve_secret(&settings.signing_secret)
        );
        let (bot_token, signing_secret) = (bot_token?, signing_secret?);
        let slack = SlackClient::new(&settings.slack_api_url, bot_token)?;
        if settings.approvers == ApproverPolicy::Nobody {
            tracing::warn!("SLACK_APPROVERS is empty: every click will be refused");
        }
        Ok(Self {
            signing_secret,
            approvers: settings.approvers,
            ssm,
            slack,
            region,
            groups: Mutex::default(),
        })
    }
}

pub async fn handle_slack_request(app: &InteractionsApp, request: Request) -> Response<Body> {
    let deadline = deadline_for(&request);
    let body: &[u8] = request.body().as_ref();
    if body.len() > MAX_BODY_BYTES {
        tracing::warn!(bytes = body.len(), "request refused: body too large");
        return plain(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
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
    let interaction = match payload_from_form(body).and_then(|p| parse_interaction(&p)) {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(error = %e, "request refused: unreadable payload");
            return plain(StatusCode::BAD_REQUEST, &e.to_string());
        }
    };
    match interaction {
        Interaction::Decision(click) => decide(app, click, deadline).await,
        Interaction::BadButton {
            response_url,
            error,
        } => {
            tracing::warn!(%error, "click refused: the button carries no execution ID");
            let text =
                "This button does not name a valid automation execution, so nothing was done.";
            tell(app, &response_url, text, deadline).await;
        }
        Interaction::Ignored(reason) => tracing::info!(%reason, "interaction ignored"),
    }
    Response::builder()
        .status(StatusCode::OK)
        .body(Body::Empty)
        .expect("static response")
}

async fn decide(app: &InteractionsApp, click: DecisionClick, deadline: Instant) {
    let span = tracing::info_span!(
        "click",
        execution_id = %click.execution_id,
        user_id = %click.user.id,
        decision = click.decision.signal_type()
    );
    decide_in_span(app, &click, deadline).instrument(span).await
}

async fn decide_in_span(app: &InteractionsApp, click: &DecisionClick, deadline: Instant) {
    let DecisionClick {
        decision,
        execution_id: id,
        user,
        response_url,
        step_key,
        message_blocks,
    } = click;
    if let Err(refusal) = authorize(app, &user.id, deadline).await {
        tracing::info!(%refusal, "click refused");
        tell(app, response_url, &refusal, deadline).await;
        return;
    }
    let comment = format!(
        "{} in Slack by {} ({})",
        decision.past_tense(),
        user.handle(),
        user.id
    );
    match app.ssm.send_decision(id, *decision, &comment).await {
        Ok(SignalOutcome::Accepted) => {
            let record = DecisionRecord {
                step_key: step_key.clone().unwrap_or_else(|| ANY_STEP.into()),
                decision: *decision,
                user_id: user.id.clone(),
                handle: user.handle().to_owned(),
                at_unix: unix_now(),
            };
            tracing::info!("decision accepted by SSM");
            let message = replace(&render_decided(message_blocks, &record, id.as_str()));
            let (replaced, tagged) = tokio::join!(
                app.slack.respond(response_url, &message, deadline),
                app.ssm.tag_decision(id, &record),
            );
            if let Err(e) = replaced {
                tracing::error!(error = %e, "decision recorded in SSM, but the prompt could not be replaced");
            }
            if let Err(e) = tagged {
                tracing::warn!(error = %e, "decision recorded in SSM, but not tagged on the execution");
            }
        }
        Ok(SignalOutcome::NotFound) => {
            tracing::info!("execution not found");
            let text =
                format!("Automation execution `{id}` no longer exists, so nothing was done.");
            let gone = render_gone(message_blocks, id.as_str());
            tokio::join!(
                tell(app, response_url, &text, deadline),
                replace_prompt(app, response_url, &gone, deadline)
            );
        }
        Ok(SignalOutcome::NotWaiting(reason)) => {
            tracing::info!(%reason, "SSM refused the signal");
            refused_by_ssm(app, click, &reason, deadline).await;
        }
        Err(e) => {
            // Timed out, throttled, denied: SSM may or may not have applied it.
            tracing::error!(error = %e, "decision outcome unknown");
            let code = e.code().unwrap_or("no answer in time");
            let text = format!(
                "Your decision could not be confirmed with AWS ({code}). It may not have been recorded: \
                 the prompt updates itself when the step changes; if it still waits, try again."
            );
            tell(app, response_url, &text, deadline).await;
        }
    }
}

/// SSM said the execution is not waiting for this signal: say why and show the real state.
async fn refused_by_ssm(
    app: &InteractionsApp,
    click: &DecisionClick,
    reason: &str,
    deadline: Instant,
) {
    let id = &click.execution_id;
    let execution = match app.ssm.get_execution(id).await {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the execution's state");
            let text = format!("SSM did not accept the decision ({reason}); nothing was done.");
            return tell(app, &click.response_url, &text, deadline).await;
        }
    };
    let step = click
        .step_key
        .as_deref()
        .and_then(|k| execution.step_by_key(k))
        .or_else(|| {
            execution
                .steps
                .iter()
                .rev()
                .find(|s| s.is_approval() && s.status.as_str() != "Pending")
        });
    match step {
        Some(step)
            if execution
                .waiting_approval()
                .is_some_and(|w| w.key() == step.key()) =>
        {
            // Still waiting: SSM refused this signal for another reason (e.g. the
            // function's role is not among the step's Approvers). The prompt stays.
            let text = format!(
                "SSM did not accept the decision: {reason}. Nothing was done; the request still waits."
            );
            tell(app, &click.response_url, &text, deadline).await;
        }
        Some(step) => {
            let text = format!(
                "This approval is no longer waiting: the step is *{}* and the runbook *{}*. Nothing was done.",
                step.status, execution.status
            );
            let current = render_outcome(&execution, step, None, &app.region);
            tokio::join!(
                tell(app, &click.response_url, &text, deadline),
                replace_prompt(app, &click.response_url, &current, deadline)
            );
        }
        None => {
            let text = format!(
                "This execution is *{}* and has no approval step waiting. Nothing was done.",
                execution.status
            );
            tell(app, &click.response_url, &text, deadline).await;
        }
    }
}

/// `Ok` when the user may decide; otherwise the sentence to show them.
async fn authorize(app: &InteractionsApp, user_id: &str, deadline: Instant) -> Result<(), String> {
    let groups = match app.approvers.verdict(user_id) {
        Verdict::Allowed => return Ok(()),
        Verdict::NoApproversConfigured => {
            return Err(
                "Nobody can approve or reject from Slack yet: no approvers are configured \
                        (SLACK_APPROVERS is empty). Nothing was done."
                    .into(),
            );
        }
        Verdict::CheckGroups(groups) => groups,
    };
    for group in groups {
        let cached = app
            .groups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(group)
            .cloned();
        let members = match cached {
            Some(m) => m,
            None => {
                match app.slack.usergroup_members(group, deadline).await {
                    Ok(users) => {
                        let members: Arc<HashSet<String>> = Arc::new(users.into_iter().collect());
                        app.groups
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(group.clone(), members.clone());
                        members
                    }
                    Err(e) => {
                        tracing::warn!(group = %group, error = %e, "could not read user-group members");
                        return Err("Your membership in the approver groups could not be checked right now \
                                (Slack did not answer). Nothing was done; please try again."
                        .into());
                    }
                }
            }
        };
        if members.contains(user_id) {
            return Ok(());
        }
    }
    Err(format!(
        "Sorry <@{user_id}>, you are not one of the approvers for these runbooks (SLACK_APPROVERS), \
         so nothing was done. The request still waits for an approver."
    ))
}

async fn tell(app: &InteractionsApp, response_url: &str, text: &str, deadline: Instant) {
    let body = json!({"response_type": "ephemeral", "replace_original": false, "text": text});
    if let Err(e) = app.slack.respond(response_url, &body, deadline).await {
        tracing::warn!(error = %e, "could not answer the clicker");
    }
}

async fn replace_prompt(
    app: &InteractionsApp,
    response_url: &str,
    message: &SlackMessage,
    deadline: Instant,
) {
    if let Err(e) = app
        .slack
        .respond(response_url, &replace(message), deadline)
        .await
    {
        tracing::warn!(error = %e, "could not bring the prompt up to date");
    }
}

fn replace(message: &SlackMessage) -> Value {
    json!({"replace_original": true, "text": message.text, "blocks": message.blocks})
}

fn plain(status: StatusCode, text: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Body::from(text))
        .expect("static response")
}

/// Slack's budget from now, or the Lambda deadline if that comes first.
fn deadline_for(request: &Request) -> Instant {
    let budget = Instant::now() + RESPONSE_BUDGET;
    let Some(context) = request.lambda_context_ref() else {
        return budget;
    };
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let left = Duration::from_millis(context.deadline.saturating_sub(now_ms).saturating_sub(100));
    budget.min(Instant::now() + left)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
