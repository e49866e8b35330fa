//! `slack-interactions`: Slack button clicks → `SendAutomationSignal`.
//!
//! Order matters: size cap, then the signature over the raw body (nothing is parsed
//! before it passes), then the content type and payload. A click is answered within
//! Slack's 3 s: every outbound call runs against one [`Deadline`], counted from when
//! the request reached the function.
//!
//! A click decides exactly the step its prompt showed: its button names the
//! execution and the step execution, and SSM is asked which step waits now before
//! anything is signalled. Happy path, outbound calls: `GetAutomationExecution`
//! (concurrently with the authorization), `SendAutomationSignal`, then concurrently
//! the `response_url` replacement and the decision's audit record (DynamoDB
//! `UpdateItem`).
//! `usergroups.users.list` per group per cache period when groups are used, and
//! `auth.test` once per environment to learn the app's own workspace.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::ConfigLoader;
use lambda_http::http::{StatusCode, header::CONTENT_TYPE};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{Value, json};
use tokio::time::Instant;
use tracing::Instrument;

use super::{StartupError, aws_clients};
use crate::config::{Env, InteractionsSettings, Secret};
use crate::deadline::{Deadline, STARTUP_BUDGET, unix_now};
use crate::domain::approvers::{ApproverPolicy, Verdict};
use crate::domain::execution::{Execution, Step};
use crate::domain::interaction::{
    ButtonError, Decision, DecisionClick, Interaction, parse_interaction, payload_from_form,
};
use crate::domain::record::DecisionRecord;
use crate::domain::render::{
    SlackMessage, StepNews, code, console_executions_url, escape, explain_no_longer_waiting,
    mention, render_decided, render_gone, render_outcome,
};
use crate::domain::signature::verify_slack_signature;
use crate::domain::waiting::{StepCheck, StepKind, check_step};
use crate::slack::SlackClient;
use crate::ssm::{SignalOutcome, Ssm};
use crate::store::ApprovalStore;

/// Slack's interaction payloads are a few KiB; anything far larger is not Slack.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

type Members = Arc<HashSet<String>>;

pub struct InteractionsApp {
    signing_secret: Secret,
    approvers: ApproverPolicy,
    ssm: Ssm,
    store: ApprovalStore,
    slack: SlackClient,
    region: String,
    /// User-group members and when they were read; trusted for `group_cache`.
    groups: Mutex<HashMap<String, (Instant, Members)>>,
    group_cache: Duration,
    /// The app's own workspace: `SLACK_TEAM_ID`, or `auth.test` on the first click.
    own_team: tokio::sync::OnceCell<String>,
    allowed_teams: BTreeSet<String>,
}

impl InteractionsApp {
    pub async fn from_env(env: &impl Env, loader: ConfigLoader) -> Result<Self, StartupError> {
        let settings = InteractionsSettings::from_env(env)?;
        let aws = aws_clients(loader, &settings.table).await;
        // Both secrets at once: one Parameter Store round trip less on a cold start.
        let deadline = Deadline::after(STARTUP_BUDGET);
        let (bot_token, signing_secret) = tokio::join!(
            aws.ssm.resolve_secret(&settings.bot_token, &deadline),
            aws.ssm.resolve_secret(&settings.signing_secret, &deadline)
        );
        let (bot_token, signing_secret) = (bot_token?, signing_secret?);
        let slack = SlackClient::new(&settings.slack_api_url, bot_token)?;
        if settings.approvers == ApproverPolicy::Nobody {
            tracing::warn!("SLACK_APPROVERS is empty: every click will be refused");
        }
        Ok(Self {
            signing_secret,
            approvers: settings.approvers,
            ssm: aws.ssm,
            store: aws.store,
            slack,
            region: aws.region,
            groups: Mutex::default(),
            group_cache: settings.group_cache,
            own_team: tokio::sync::OnceCell::new_with(settings.team_id),
            allowed_teams: settings.allowed_teams,
        })
    }

    fn cached_group(&self, group: &str) -> Option<Members> {
        let groups = self.groups.lock().unwrap_or_else(|p| p.into_inner());
        let (read_at, members) = groups.get(group)?;
        (read_at.elapsed() < self.group_cache).then(|| members.clone())
    }

    fn cache_group(&self, group: &str, users: Vec<String>) -> Members {
        let members: Members = Arc::new(users.into_iter().collect());
        self.groups
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(group.to_owned(), (Instant::now(), members.clone()));
        members
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
            tracing::warn!(%error, "click refused: the button does not name its step");
            let text = match error {
                ButtonError::NamesNoStep(_) => format!(
                    "Nothing was done: this button does not say which approval step it decides \
                     (it comes from an older prompt). Decide in the <{}|AWS console> instead.",
                    console_executions_url(&app.region)
                ),
                ButtonError::Malformed(_) => {
                    "Nothing was done: this button does not name a valid automation step.".into()
                }
            };
            tell(app, &response_url, &text, &deadline).await;
        }
        Interaction::Ignored(reason) => tracing::info!(%reason, "interaction ignored"),
    }
    Response::builder()
        .status(StatusCode::OK)
        .body(Body::Empty)
        .expect("static response")
}

async fn decide(app: &InteractionsApp, click: DecisionClick, deadline: Deadline) {
    let span = tracing::info_span!(
        "click",
        execution_id = %click.target.execution_id,
        step = %click.target.step_name,
        user_id = %click.user.id,
        decision = click.decision.signal_type()
    );
    decide_in_span(app, &click, &deadline)
        .instrument(span)
        .await
}

/// Authorize the clicker and read the execution (concurrently), confirm that the
/// step the prompt showed is the one waiting now, and only then signal.
async fn decide_in_span(app: &InteractionsApp, click: &DecisionClick, deadline: &Deadline) {
    let id = &click.target.execution_id;
    let checking = Instant::now();
    // Both must leave time for the signal and the answer after them.
    let before_signal = deadline.keeping(SIGNAL_AND_REPLY);
    let (allowed, execution) = tokio::join!(
        authorize(app, click, &before_signal),
        app.ssm.get_execution(id, &before_signal)
    );
    tracing::info!(
        check_ms = checking.elapsed().as_secs_f64() * 1000.0,
        "authorization and step check done"
    );
    if let Err(refusal) = allowed {
        tracing::info!(%refusal, "click refused");
        return tell(app, &click.response_url, &refusal, deadline).await;
    }
    let execution = match execution {
        Ok(e) => e,
        Err(e) if e.is_not_found() => return execution_gone(app, click, deadline).await,
        Err(e) => {
            tracing::error!(error = %e, "could not read the execution; nothing signalled");
            let text = format!(
                "The approval step could not be checked with AWS ({}), so nothing was done. \
                 The request still waits; please try again.",
                escape(e.code().unwrap_or("no answer in time"))
            );
            return tell(app, &click.response_url, &text, deadline).await;
        }
    };
    match check_step(&execution, &click.target, StepKind::Approval) {
        StepCheck::WaitingNow(step) => signal(app, click, step, deadline).await,
        StepCheck::NoLongerWaiting(step) => {
            tracing::info!(step_status = %step.status, "the step is no longer waiting; nothing signalled");
            show_real_state(
                app,
                click,
                &execution,
                step,
                StepNews::NothingDone,
                deadline,
            )
            .await;
        }
        StepCheck::WrongKind(step) => {
            tracing::warn!(action = %step.action, "the button's step is not an approval; nothing signalled");
            let text = format!(
                "Nothing was done: step {} is an {} step, not an approval.",
                code(&step.name),
                code(&step.action)
            );
            tell(app, &click.response_url, &text, deadline).await;
        }
        StepCheck::Unknown => {
            tracing::warn!("the button's step is not part of the execution; nothing signalled");
            let text = format!(
                "Nothing was done: automation execution {} has no step {} as this prompt shows it.",
                code(id.as_str()),
                code(&click.target.step_name)
            );
            tell(app, &click.response_url, &text, deadline).await;
        }
    }
}

/// Time kept back from the signal (and other follow-up calls) for replacing the
/// prompt or answering the clicker.
const REPLY_RESERVE: Duration = Duration::from_millis(300);
/// Time kept back from the calls before the signal: the signal, then the answer.
const SIGNAL_AND_REPLY: Duration = Duration::from_millis(450);

/// The step is waiting now: send the decision, at most once in effect.
async fn signal(app: &InteractionsApp, click: &DecisionClick, step: &Step, deadline: &Deadline) {
    let DecisionClick {
        decision,
        target,
        user,
        response_url,
        message_blocks,
        ..
    } = click;
    let id = &target.execution_id;
    let comment = format!(
        "{} in Slack by {} ({})",
        decision.past_tense(),
        user.handle(),
        user.id
    );
    let outcome = app
        .ssm
        .send_decision(id, *decision, &comment, deadline, REPLY_RESERVE)
        .await;
    match outcome {
        SignalOutcome::Accepted => {
            let record = DecisionRecord {
                step_key: step.key().to_owned(),
                decision: *decision,
                user_id: user.id.clone(),
                handle: user.handle().to_owned(),
                at_unix: unix_now(),
            };
            tracing::info!("decision accepted by SSM");
            let needed = step.approval().min_required_approvals;
            if *decision == Decision::Approve && needed > 1 {
                // SSM counts approvals per AWS principal: the step may wait on.
                let now = app
                    .ssm
                    .get_execution(id, &deadline.keeping(REPLY_RESERVE))
                    .await;
                if let Ok(now) = &now
                    && let StepCheck::WaitingNow(_) = check_step(now, target, StepKind::Approval)
                {
                    let text = format!(
                        "SSM recorded your approval, but step {} needs {needed} approvals from \
                         different AWS principals and still waits: every decision from Slack is \
                         signalled by the same AWS role, so it counts once.",
                        code(&step.name)
                    );
                    let ((), recorded) = tokio::join!(
                        tell(app, response_url, &text, deadline),
                        app.store.record_decision(id, &step.name, &record, deadline),
                    );
                    if let Err(e) = recorded {
                        tracing::error!(error = %e, "approval recorded in SSM, but not in the approvals table");
                    }
                    return;
                }
            }
            let message = replace(&render_decided(message_blocks, &record, id.as_str()));
            // The audit record is written while the prompt is replaced: no added latency.
            let (replaced, recorded) = tokio::join!(
                app.slack.respond(response_url, &message, deadline),
                app.store.record_decision(id, &step.name, &record, deadline),
            );
            if let Err(e) = replaced {
                tracing::error!(error = %e, "decision recorded in SSM, but the prompt could not be replaced");
            }
            if let Err(e) = recorded {
                tracing::error!(error = %e, "decision recorded in SSM, but not in the approvals table");
            }
        }
        SignalOutcome::NotFound => execution_gone(app, click, deadline).await,
        SignalOutcome::NotWaiting(reason) => {
            // The step moved on between the check and the signal, or SSM refuses this
            // principal: the state now says which.
            tracing::info!(%reason, "SSM refused the signal");
            let now = app
                .ssm
                .get_execution(id, &deadline.keeping(REPLY_RESERVE))
                .await;
            match now
                .as_ref()
                .map(|e| (e, check_step(e, target, StepKind::Approval)))
            {
                Ok((execution, StepCheck::NoLongerWaiting(step))) => {
                    show_real_state(app, click, execution, step, StepNews::NothingDone, deadline)
                        .await;
                }
                _ => {
                    let text = format!(
                        "SSM did not accept the decision: {}. Nothing was done; the request still waits.",
                        escape(&reason)
                    );
                    tell(app, response_url, &text, deadline).await;
                }
            }
        }
        SignalOutcome::NotApplied(e) => {
            tracing::warn!(error = %e, "SSM did not act on the signal");
            let text = format!(
                "AWS did not take the decision ({}), so nothing was done. The request still waits; \
                 please try again in a moment.",
                escape(e.code().unwrap_or("no time left"))
            );
            tell(app, response_url, &text, deadline).await;
        }
        SignalOutcome::Unknown(e) => {
            // It may have been applied: never sent again. Correct the prompt from
            // SSM's state if it already shows the outcome; else the step's event will.
            tracing::error!(error = %e, "decision outcome unknown; not sent again");
            let now = app
                .ssm
                .get_execution(id, &deadline.keeping(REPLY_RESERVE))
                .await;
            if let Ok(execution) = &now
                && let StepCheck::NoLongerWaiting(step) =
                    check_step(execution, target, StepKind::Approval)
            {
                let news = StepNews::Unconfirmed;
                return show_real_state(app, click, execution, step, news, deadline).await;
            }
            let text = format!(
                "The outcome of your decision is not known yet: AWS gave no clear answer ({}). \
                 It may have been recorded, so it was not sent again. The prompt updates itself \
                 when the step changes; if it still waits in a minute, decide again.",
                escape(e.code().unwrap_or("no answer in time"))
            );
            tell(app, response_url, &text, deadline).await;
        }
    }
}

/// The step no longer waits: tell the clicker what became of it and show its real
/// outcome in the prompt (with who decided, when that was decided in Slack).
async fn show_real_state(
    app: &InteractionsApp,
    click: &DecisionClick,
    execution: &Execution,
    step: &Step,
    news: StepNews,
    deadline: &Deadline,
) {
    let decision = match app
        .store
        .get(&execution.id, step.key(), &deadline.keeping(REPLY_RESERVE))
        .await
    {
        Ok(record) => record.and_then(|r| r.last_decision().cloned()),
        Err(e) => {
            tracing::warn!(error = %e, "could not read who decided");
            None
        }
    };
    let text = explain_no_longer_waiting(execution, step, decision.as_ref(), news);
    let current = render_outcome(execution, step, decision.as_ref(), &app.region);
    tokio::join!(
        tell(app, &click.response_url, &text, deadline),
        replace_prompt(app, &click.response_url, &current, deadline)
    );
}

async fn execution_gone(app: &InteractionsApp, click: &DecisionClick, deadline: &Deadline) {
    let id = &click.target.execution_id;
    tracing::info!("execution not found");
    let text = format!(
        "Automation execution {} no longer exists, so nothing was done.",
        code(id.as_str())
    );
    let gone = render_gone(&click.message_blocks, id.as_str());
    tokio::join!(
        tell(app, &click.response_url, &text, deadline),
        replace_prompt(app, &click.response_url, &gone, deadline)
    );
}

/// `Ok` when the user may decide; otherwise the sentence to show them.
async fn authorize(
    app: &InteractionsApp,
    click: &DecisionClick,
    deadline: &Deadline,
) -> Result<(), String> {
    let user_id = click.user.id.as_str();
    let groups = match app.approvers.verdict(user_id) {
        Verdict::NoApproversConfigured => {
            return Err(
                "Nobody can approve or reject from Slack yet: no approvers are configured \
                 for this app. Nothing was done; ask whoever runs it to name the approvers."
                    .into(),
            );
        }
        verdict => verdict,
    };
    check_workspace(app, click, deadline).await?;
    let groups = match groups {
        Verdict::Allowed => return Ok(()),
        Verdict::CheckGroups(groups) => groups,
        Verdict::NoApproversConfigured => unreachable!("handled above"),
    };
    for group in groups {
        let members = match app.cached_group(group) {
            Some(m) => m,
            None => {
                match app.slack.usergroup_members(group, deadline).await {
                    Ok(users) => app.cache_group(group, users),
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
        "Sorry {}, only {} can approve or reject these runbooks, so nothing was done. \
         The request still waits for one of them.",
        mention(user_id, click.user.handle()),
        app.approvers.describe()
    ))
}

/// The clicker must belong to the app's own workspace, or to one allowed by
/// `SLACK_ALLOWED_TEAMS` (shared Slack Connect channels let other organizations click).
async fn check_workspace(
    app: &InteractionsApp,
    click: &DecisionClick,
    deadline: &Deadline,
) -> Result<(), String> {
    let Some(team) = click.clicker_team() else {
        return Err("Slack did not say which workspace you belong to, so nothing was done.".into());
    };
    if app.allowed_teams.contains(team) {
        return Ok(());
    }
    let own = app
        .own_team
        .get_or_try_init(|| async {
            app.slack
                .auth_test(deadline)
                .await
                .map(|identity| identity.team_id)
        })
        .await;
    match own {
        Ok(own) if own == team => Ok(()),
        Ok(_) => {
            tracing::warn!(clicker_team = %team, "click refused: from another workspace");
            Err(format!(
                "Sorry, only people of this app's own Slack workspace can approve or reject these \
                 runbooks; you belong to another one ({}). Nothing was done.",
                escape(team)
            ))
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not read the app's own workspace (auth.test)");
            Err(
                "Your workspace could not be checked right now (Slack did not answer). \
                 Nothing was done; please try again."
                    .into(),
            )
        }
    }
}

async fn tell(app: &InteractionsApp, response_url: &str, text: &str, deadline: &Deadline) {
    let body = json!({"response_type": "ephemeral", "replace_original": false, "text": text});
    if let Err(e) = app.slack.respond(response_url, &body, deadline).await {
        tracing::warn!(error = %e, "could not answer the clicker");
    }
}

async fn replace_prompt(
    app: &InteractionsApp,
    response_url: &str,
    message: &SlackMessage,
    deadline: &Deadline,
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
