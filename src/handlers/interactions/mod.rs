//! `slack-interactions`: Slack button clicks, reason modals and the `/approvals`
//! command → `SendAutomationSignal`.
//!
//! Order matters: size cap, then the signature over the raw body (nothing is parsed
//! before it passes), then the content type and payload. Every request is answered
//! within Slack's 3 s: every outbound call runs against one [`Deadline`], counted from
//! when the request reached the function.
//!
//! The same rules decide whether a click, a submitted reason or a click in the
//! `/approvals` list is signalled: the person is authorized now (not when the prompt
//! was posted), and the step they saw is the one waiting now. With
//! `APPROVER_ROLE_ARN`, the signal goes out under that person's own STS session.
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
use crate::config::{Env, InteractionsSettings, ReasonMode, Secret};
use crate::deadline::{Deadline, STARTUP_BUDGET, unix_now};
use crate::domain::approvers::{ApproverPolicy, Verdict};
use crate::domain::execution::{Execution, Step};
use crate::domain::interaction::{
    APPROVALS_COMMAND, Actor, ButtonError, Decision, DecisionClick, Interaction, MessageRef,
    REASON_BLOCK_ID, ReasonContext, ReasonSubmission, SlashCommand, command_from_form,
    parse_interaction, payload_from_form,
};
use crate::domain::record::DecisionRecord;
use crate::domain::render::{
    PromptStyle, SlackMessage, StepNews, code, console_executions_url, escape,
    explain_no_longer_waiting, mention, progress, render_decided, render_decided_step, render_gone,
    render_outcome, render_progress, truncate,
};
use crate::domain::routes::RunbookPrefixes;
use crate::domain::signature::verify_slack_signature;
use crate::domain::views::{
    LISTED_MAX, Listed, ephemeral, notice_modal, reason_modal, waiting_list,
};
use crate::domain::waiting::{StepCheck, StepKind, StepTarget, check_step, waiting_step};
use crate::sessions::{PersonSessions, SessionError};
use crate::slack::{SlackClient, SlackError};
use crate::ssm::{Signal, SignalOutcome, Ssm};
use crate::store::ApprovalStore;
use aws_sdk_ssm::config::Credentials;

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
    /// Per-person STS sessions (`APPROVER_ROLE_ARN`); `None`: the function's own role.
    sessions: Option<PersonSessions>,
    reject_reason: ReasonMode,
    /// Runbooks whose pauses may be resumed from Slack (`SLACK_RESUME_PREFIXES`).
    resumable: RunbookPrefixes,
}

impl InteractionsApp {
    pub async fn from_env(env: &impl Env, loader: ConfigLoader) -> Result<Self, StartupError> {
        let settings = InteractionsSettings::from_env(env)?;
        let aws = aws_clients(loader, &settings.table).await;
        let sessions = settings
            .approver_role
            .clone()
            .map(|role| PersonSessions::new(aws_sdk_sts::Client::new(&aws.sdk), role));
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
            sessions,
            reject_reason: settings.reject_reason,
            resumable: settings.resumable,
        })
    }

    fn style(&self) -> PromptStyle {
        PromptStyle {
            per_person: self.sessions.is_some(),
            reason_modal: self.reject_reason != ReasonMode::Off,
        }
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
    let payload = match payload_from_form(body) {
        Ok(payload) => payload,
        Err(e) => {
            // Slash commands are form fields, not a payload.
            if let Some(command) = command_from_form(body) {
                return slash_command(app, command, &deadline).await;
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
        Interaction::Decision(click) => clicked(app, click, deadline).await,
        Interaction::Reason(submission) => {
            return reason_submitted(app, submission, deadline).await;
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

/// A decision, wherever it was made: a prompt's button, the `/approvals` list, or a
/// submitted reason modal.
struct DecisionRequest<'a> {
    decision: Decision,
    target: &'a StepTarget,
    actor: &'a Actor,
    /// Where the clicked message (prompt or list) is answered and replaced.
    response_url: &'a str,
    /// The clicked prompt's blocks; empty for a list click or a modal.
    message_blocks: &'a [Value],
    /// The click came from the ephemeral `/approvals` list: never replace that.
    from_ephemeral: bool,
    reason: Option<&'a str>,
    /// Open the reason modal with this trigger instead of signalling a rejection.
    ask_reason_with: Option<&'a str>,
    /// Where the prompt is, for `chat.update` when its `response_url` has expired.
    prompt: Option<&'a MessageRef>,
}

async fn clicked(app: &InteractionsApp, click: DecisionClick, deadline: Deadline) {
    let span = tracing::info_span!(
        "click",
        execution_id = %click.target.execution_id,
        step = %click.target.step_name,
        user_id = %click.actor.user.id,
        decision = click.decision.signal_type()
    );
    let asks_reason = click.decision == Decision::Reject && app.reject_reason != ReasonMode::Off;
    let ask_reason_with = asks_reason.then_some(click.trigger_id.as_deref()).flatten();
    if asks_reason && ask_reason_with.is_none() {
        // The form is the rejection's confirmation (and its reason): never skip it.
        tracing::warn!("a Reject click without a trigger_id; nothing done");
        let text = "Nothing was done: Slack sent no way to open the form for your reason. \
                    Click Reject again.";
        return tell(app, &click.response_url, text, &deadline).await;
    }
    let request = DecisionRequest {
        decision: click.decision,
        target: &click.target,
        actor: &click.actor,
        response_url: &click.response_url,
        message_blocks: &click.message_blocks,
        from_ephemeral: click.from_ephemeral,
        reason: None,
        ask_reason_with,
        prompt: click.prompt.as_ref(),
    };
    if let Some(text) = decide(app, &request, &deadline).instrument(span).await {
        tell(app, &click.response_url, &text, &deadline).await;
    }
}

/// A submitted reason modal: the same checks as a click, then the signal with the
/// reason. The answer is the modal's next state: closed when done, else a notice.
async fn reason_submitted(
    app: &InteractionsApp,
    submission: ReasonSubmission,
    deadline: Deadline,
) -> Response<Body> {
    let ReasonSubmission {
        context,
        actor,
        reason,
    } = &submission;
    let span = tracing::info_span!(
        "reason",
        execution_id = %context.target.execution_id,
        step = %context.target.step_name,
        user_id = %actor.user.id,
        decision = context.decision.signal_type()
    );
    if reason.is_none() && app.reject_reason == ReasonMode::Required {
        let errors = json!({REASON_BLOCK_ID: "Please say why: a reason is required to reject."});
        return json_response(&json!({"response_action": "errors", "errors": errors}));
    }
    let request = DecisionRequest {
        decision: context.decision,
        target: &context.target,
        actor,
        response_url: &context.response_url,
        message_blocks: &[],
        from_ephemeral: context.from_ephemeral,
        reason: reason.as_deref(),
        ask_reason_with: None,
        prompt: context.prompt.as_ref(),
    };
    match decide(app, &request, &deadline).instrument(span).await {
        None => json_response(&json!({"response_action": "clear"})),
        // What became of it: a refusal, the step's real state, or (from the list) the
        // decision itself.
        Some(text) => view_notice("Runbook decision", &text),
    }
}

/// Authorize the person and read the execution (concurrently), confirm that the
/// step they saw is the one waiting now, and only then signal (or ask for a reason).
/// Returns what to tell the person, if the updated prompt does not say it.
async fn decide(
    app: &InteractionsApp,
    request: &DecisionRequest<'_>,
    deadline: &Deadline,
) -> Option<String> {
    let id = &request.target.execution_id;
    let checking = Instant::now();
    // Both must leave time for the signal and the answer after them.
    let before_signal = deadline.keeping(SIGNAL_AND_REPLY);
    let allowed_as = async {
        authorize(app, request.actor, &before_signal).await?;
        person_session(app, request, &before_signal).await
    };
    // With per-person sessions, an approval may count toward a quorum: the approvals
    // so far are read at the same time (one person counts once).
    let prior = async {
        if app.sessions.is_none() || request.decision != Decision::Approve {
            return None;
        }
        match app
            .store
            .get(id, &step_key_hint(request), &before_signal)
            .await
        {
            Ok(item) => Some(item),
            Err(e) => {
                tracing::warn!(error = %e, "could not read the approvals so far");
                None
            }
        }
    };
    let (allowed, execution, prior) =
        tokio::join!(allowed_as, app.ssm.get_execution(id, &before_signal), prior);
    tracing::info!(
        check_ms = checking.elapsed().as_secs_f64() * 1000.0,
        "authorization and step check done"
    );
    let credentials = match allowed {
        Ok(credentials) => credentials,
        Err(refusal) => {
            tracing::info!(%refusal, "decision refused");
            return Some(refusal);
        }
    };
    let execution = match execution {
        Ok(e) => e,
        Err(e) if e.is_not_found() => return execution_gone(app, request, deadline).await,
        Err(e) => {
            tracing::error!(error = %e, "could not read the execution; nothing signalled");
            return Some(format!(
                "The step could not be checked with AWS ({}), so nothing was done. \
                 The request still waits; please try again.",
                escape(e.code().unwrap_or("no answer in time"))
            ));
        }
    };
    match check_step(&execution, request.target, request.decision.step_kind()) {
        StepCheck::WaitingNow(_)
            if request.decision == Decision::Resume
                && !app.resumable.matches(&execution.document_name) =>
        {
            tracing::warn!("resume refused: the runbook is not in SLACK_RESUME_PREFIXES");
            Some(format!(
                "Nothing was done: runbook {} cannot be resumed from Slack. Resume it in the AWS console.",
                code(&execution.document_name)
            ))
        }
        StepCheck::WaitingNow(step) => {
            if let Some(trigger_id) = request.ask_reason_with {
                return ask_reason(app, request, &execution, step, trigger_id, deadline).await;
            }
            let prior: Vec<DecisionRecord> = prior
                .flatten()
                .map(|item| item.approvals_of(step.key()).into_iter().cloned().collect())
                .unwrap_or_default();
            signal(
                app,
                request,
                &execution,
                step,
                credentials.as_ref(),
                &prior,
                deadline,
            )
            .await
        }
        StepCheck::NoLongerWaiting(step) => {
            tracing::info!(step_status = %step.status, "the step is no longer waiting; nothing signalled");
            show_real_state(
                app,
                request,
                &execution,
                step,
                StepNews::NothingDone,
                deadline,
            )
            .await
        }
        StepCheck::WrongKind(step) => {
            tracing::warn!(action = %step.action, "the button's step is not of its kind; nothing signalled");
            Some(format!(
                "Nothing was done: step {} is an {} step, not {}.",
                code(&step.name),
                code(&step.action),
                match request.decision.step_kind() {
                    StepKind::Approval => "an approval",
                    StepKind::Pause => "a pause",
                }
            ))
        }
        StepCheck::Unknown => {
            tracing::warn!("the button's step is not part of the execution; nothing signalled");
            Some(format!(
                "Nothing was done: automation execution {} has no step {} as this prompt shows it.",
                code(id.as_str()),
                code(&request.target.step_name)
            ))
        }
    }
}

/// The table's key for the step a request names: its run's ID, else its name (as
/// `Step::key` gives it for the step SSM reports).
fn step_key_hint(request: &DecisionRequest<'_>) -> String {
    request
        .target
        .step_execution_id
        .clone()
        .unwrap_or_else(|| request.target.step_name.clone())
}

/// The person's own STS session, when decisions are signalled per person.
async fn person_session(
    app: &InteractionsApp,
    request: &DecisionRequest<'_>,
    deadline: &Deadline,
) -> Result<Option<Credentials>, String> {
    // Opening the reason modal signals nothing yet: the session comes with the reason.
    let Some(sessions) = app
        .sessions
        .as_ref()
        .filter(|_| request.ask_reason_with.is_none())
    else {
        return Ok(None);
    };
    let started = Instant::now();
    match sessions
        .credentials_for(&request.actor.user.id, deadline, Duration::ZERO)
        .await
    {
        Ok((credentials, new)) => {
            tracing::info!(
                new,
                sts_ms = started.elapsed().as_secs_f64() * 1000.0,
                "approver session ready"
            );
            Ok(Some(credentials))
        }
        Err(SessionError::Name(e)) => {
            tracing::warn!(error = %e, "no AWS session can be named after this user");
            Err(format!(
                "Nothing was done: your Slack user ID cannot name an AWS session ({}).",
                escape(&e.to_string())
            ))
        }
        Err(e) => {
            tracing::error!(error = %e, "could not start the person's AWS session");
            Err(format!(
                "Nothing was done: your AWS approver session could not be started ({}). \
                 The request still waits; please try again.",
                escape(e.code().unwrap_or("no answer in time"))
            ))
        }
    }
}

/// Reject, with a reason to give: open the modal that asks for it.
async fn ask_reason(
    app: &InteractionsApp,
    request: &DecisionRequest<'_>,
    execution: &Execution,
    step: &Step,
    trigger_id: &str,
    deadline: &Deadline,
) -> Option<String> {
    let context = ReasonContext {
        decision: request.decision,
        target: request.target.clone(),
        response_url: request.response_url.to_owned(),
        from_ephemeral: request.from_ephemeral,
        prompt: request.prompt.cloned(),
    };
    let view = reason_modal(
        execution,
        step,
        &context,
        app.reject_reason == ReasonMode::Required,
    );
    match app
        .slack
        .open_view(trigger_id, &view, &deadline.keeping(REPLY_RESERVE))
        .await
    {
        Ok(()) => {
            tracing::info!("reason form opened");
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not open the reason form");
            Some(format!(
                "Nothing was done: the form for your reason could not be opened ({}). \
                 Click Reject again.",
                escape(e.api_error().unwrap_or("Slack did not answer in time"))
            ))
        }
    }
}

/// Time kept back from the signal (and other follow-up calls) for replacing the
/// prompt or answering the clicker.
const REPLY_RESERVE: Duration = Duration::from_millis(300);
/// Time kept back from the calls before the signal: the signal, then the answer.
const SIGNAL_AND_REPLY: Duration = Duration::from_millis(450);
/// The longest comment sent to SSM with a decision.
const COMMENT_MAX: usize = 1200;

/// The step is waiting now: send the decision, at most once in effect.
async fn signal(
    app: &InteractionsApp,
    request: &DecisionRequest<'_>,
    execution: &Execution,
    step: &Step,
    credentials: Option<&Credentials>,
    prior: &[DecisionRecord],
    deadline: &Deadline,
) -> Option<String> {
    let DecisionRequest {
        decision,
        target,
        actor,
        reason,
        ..
    } = request;
    let user = &actor.user;
    let id = &target.execution_id;
    let needed = step.approval().min_required_approvals;
    let quorum = *decision == Decision::Approve && needed > 1;
    // The same person approving twice counts once: say so instead of signalling.
    if quorum && credentials.is_some() && prior.iter().any(|a| a.user_id == user.id) {
        tracing::info!("approved before by the same person; nothing signalled");
        return Some(format!(
            "You approved step {} already, and one person counts once. {}. \
             It waits for another approver.",
            code(&step.name),
            progress(prior, needed)
        ));
    }
    let mut comment = format!(
        "{} in Slack by {} ({})",
        decision.past_tense(),
        user.handle(),
        user.id
    );
    if let Some(reason) = reason {
        comment.push_str(&format!(": {reason}"));
    }
    let comment = truncate(&comment, COMMENT_MAX);
    let outcome = app
        .ssm
        .send_decision(
            id,
            &Signal {
                decision: *decision,
                step_name: &step.name,
                comment: &comment,
            },
            credentials,
            deadline,
            REPLY_RESERVE,
        )
        .await;
    match outcome {
        SignalOutcome::Accepted => {
            tracing::info!("decision accepted by SSM");
            let record = DecisionRecord {
                step_key: step.key().to_owned(),
                decision: *decision,
                user_id: user.id.clone(),
                handle: user.handle().to_owned(),
                at_unix: unix_now(),
                reason: reason.map(str::to_owned),
            };
            if quorum {
                let mut approvals = prior.to_vec();
                approvals.push(record.clone());
                return quorum_progress(
                    app,
                    request,
                    step,
                    record,
                    approvals,
                    credentials.is_some(),
                    deadline,
                )
                .await;
            }
            show_decided(
                app,
                request,
                execution,
                step,
                std::slice::from_ref(&record),
                &record,
                deadline,
            )
            .await
        }
        SignalOutcome::NotFound => execution_gone(app, request, deadline).await,
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
                .map(|e| (e, check_step(e, target, decision.step_kind())))
            {
                Ok((execution, StepCheck::NoLongerWaiting(step))) => {
                    show_real_state(
                        app,
                        request,
                        execution,
                        step,
                        StepNews::NothingDone,
                        deadline,
                    )
                    .await
                }
                _ => Some(format!(
                    "SSM did not accept the decision: {}. Nothing was done; the request still waits.",
                    escape(&reason)
                )),
            }
        }
        SignalOutcome::NotApplied(e) => {
            tracing::warn!(error = %e, "SSM did not act on the signal");
            Some(format!(
                "AWS did not take the decision ({}), so nothing was done. The request still waits; \
                 please try again in a moment.",
                escape(e.code().unwrap_or("no time left"))
            ))
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
                    check_step(execution, target, decision.step_kind())
            {
                let news = StepNews::Unconfirmed;
                return show_real_state(app, request, execution, step, news, deadline).await;
            }
            Some(format!(
                "The outcome of your decision is not known yet: AWS gave no clear answer ({}). \
                 It may have been recorded, so it was not sent again. The prompt updates itself \
                 when the step changes; if it still waits in a minute, decide again.",
                escape(e.code().unwrap_or("no answer in time"))
            ))
        }
    }
}

/// SSM took the decision and the step is over: record it and show it. The audit
/// record is written while the prompt is replaced: no added latency.
async fn show_decided(
    app: &InteractionsApp,
    request: &DecisionRequest<'_>,
    execution: &Execution,
    step: &Step,
    deciding: &[DecisionRecord],
    record: &DecisionRecord,
    deadline: &Deadline,
) -> Option<String> {
    let id = &request.target.execution_id;
    let replacing = async {
        if request.from_ephemeral {
            return;
        }
        let message = decided_prompt(app, request, execution, step, deciding);
        replace_prompt(app, request, &message, deadline).await;
    };
    let ((), recorded) = tokio::join!(
        replacing,
        app.store.record_decision(id, &step.name, record, deadline),
    );
    if let Err(e) = recorded {
        tracing::error!(error = %e, "decision recorded in SSM, but not in the approvals table");
    }
    request.from_ephemeral.then(|| {
        format!(
            "{} by you: step {} of {}. Its prompt in the channel shows it shortly.",
            record.decision.past_tense(),
            code(&step.name),
            code(&execution.document_name)
        )
    })
}

/// An approval SSM took for a step that needs several: the step may wait on.
async fn quorum_progress(
    app: &InteractionsApp,
    request: &DecisionRequest<'_>,
    step: &Step,
    record: DecisionRecord,
    approvals: Vec<DecisionRecord>,
    per_person: bool,
    deadline: &Deadline,
) -> Option<String> {
    let id = &request.target.execution_id;
    let needed = step.approval().min_required_approvals;
    let reading = deadline.keeping(REPLY_RESERVE);
    let (now, recorded) = tokio::join!(
        app.ssm.get_execution(id, &reading),
        app.store.record_decision(id, &step.name, &record, &reading),
    );
    if let Err(e) = &recorded {
        tracing::error!(error = %e, "approval recorded in SSM, but not in the approvals table");
    }
    let execution = match now {
        Ok(execution) => execution,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the step after the approval");
            return Some(format!(
                "SSM recorded your approval of step {}. It needs {needed} approvals; the prompt \
                 updates itself when the step changes.",
                code(&step.name)
            ));
        }
    };
    // SSM may apply the approval that meets the quorum a moment later: a count that
    // meets it is shown as met even while SSM still reports the step waiting.
    let met = per_person && approvals.len() >= needed as usize;
    match check_step(&execution, request.target, StepKind::Approval) {
        StepCheck::WaitingNow(_) if per_person && !met => {
            // Progress on the prompt, buttons kept for the next approver.
            if !request.from_ephemeral
                && let Some(message) = render_progress(request.message_blocks, &approvals, needed)
            {
                replace_prompt(app, request, &message, deadline).await;
            }
            Some(format!(
                "Your approval is recorded. {}. The step waits for {} more.",
                progress(&approvals, needed),
                needed as usize - approvals.len()
            ))
        }
        StepCheck::WaitingNow(_) if !per_person => Some(format!(
            "SSM recorded your approval, but step {} needs {needed} approvals from \
             different AWS principals and still waits: every decision from Slack is \
             signalled by the same AWS role, so it counts once. (Set APPROVER_ROLE_ARN \
             to sign each person's decision as that person.)",
            code(&step.name)
        )),
        StepCheck::WaitingNow(over) => {
            quorum_met(app, request, &execution, over, &approvals, deadline).await
        }
        StepCheck::NoLongerWaiting(over)
            if over.status == crate::domain::execution::Status::Success =>
        {
            quorum_met(app, request, &execution, over, &approvals, deadline).await
        }
        StepCheck::NoLongerWaiting(over) => {
            show_real_state(
                app,
                request,
                &execution,
                over,
                StepNews::NothingDone,
                deadline,
            )
            .await
        }
        _ => None,
    }
}

/// The approval that met the quorum: the prompt names every approver, no buttons.
async fn quorum_met(
    app: &InteractionsApp,
    request: &DecisionRequest<'_>,
    execution: &Execution,
    step: &Step,
    approvals: &[DecisionRecord],
    deadline: &Deadline,
) -> Option<String> {
    if request.from_ephemeral {
        return Some(format!(
            "Approved: your approval met the quorum of step {}.",
            code(&step.name)
        ));
    }
    let message = decided_prompt(app, request, execution, step, approvals);
    replace_prompt(app, request, &message, deadline).await;
    None
}

/// The prompt once decided: the clicked blocks with the outcome in place of the
/// buttons, or, without them (a decision made in the reason form), drawn anew.
fn decided_prompt(
    app: &InteractionsApp,
    request: &DecisionRequest<'_>,
    execution: &Execution,
    step: &Step,
    decided: &[DecisionRecord],
) -> SlackMessage {
    if request.message_blocks.is_empty() {
        render_decided_step(execution, step, decided, &app.region)
    } else {
        render_decided(
            request.message_blocks,
            decided,
            request.target.execution_id.as_str(),
        )
    }
}

/// The step no longer waits: say what became of it, and show its real outcome in
/// the prompt (with who decided, when that was decided in Slack).
async fn show_real_state(
    app: &InteractionsApp,
    request: &DecisionRequest<'_>,
    execution: &Execution,
    step: &Step,
    news: StepNews,
    deadline: &Deadline,
) -> Option<String> {
    let deciding = match app
        .store
        .get(&execution.id, step.key(), &deadline.keeping(REPLY_RESERVE))
        .await
    {
        Ok(record) => record.map(|r| r.deciding(step)).unwrap_or_default(),
        Err(e) => {
            tracing::warn!(error = %e, "could not read who decided");
            vec![]
        }
    };
    let text = explain_no_longer_waiting(execution, step, &deciding, news);
    if !request.from_ephemeral {
        let current = render_outcome(execution, step, &deciding, &app.region);
        replace_prompt(app, request, &current, deadline).await;
    }
    Some(text)
}

async fn execution_gone(
    app: &InteractionsApp,
    request: &DecisionRequest<'_>,
    deadline: &Deadline,
) -> Option<String> {
    let id = &request.target.execution_id;
    tracing::info!("execution not found");
    if !request.from_ephemeral {
        let gone = render_gone(request.message_blocks, id.as_str());
        replace_prompt(app, request, &gone, deadline).await;
    }
    Some(format!(
        "Automation execution {} no longer exists, so nothing was done.",
        code(id.as_str())
    ))
}

/// `/approvals`: what waits now, with its buttons, for someone who may decide.
async fn slash_command(
    app: &InteractionsApp,
    command: SlashCommand,
    deadline: &Deadline,
) -> Response<Body> {
    let span = tracing::info_span!("command", command = %command.command, user_id = %command.actor.user.id);
    async {
        if command.command != APPROVALS_COMMAND {
            tracing::warn!("a slash command that is not ours");
            return json_response(&ephemeral(&format!(
                "This app answers {APPROVALS_COMMAND} only."
            )));
        }
        // The list must be answered in the response itself: keep time to send it.
        let listing = deadline.keeping(REPLY_RESERVE);
        if let Err(refusal) = authorize(app, &command.actor, &listing).await {
            tracing::info!(%refusal, "list refused");
            return json_response(&ephemeral(&refusal));
        }
        let (waiting, complete) = match app.ssm.waiting_executions(&listing, LIST_READS).await {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(error = %e, "could not list waiting executions");
                return json_response(&ephemeral(&format!(
                    "The waiting runbooks could not be listed ({}). Please try again.",
                    escape(e.code().unwrap_or("no answer in time"))
                )));
            }
        };
        let shown = &waiting[..waiting.len().min(LISTED_MAX)];
        let reads = shown.iter().map(|w| app.ssm.get_execution(&w.id, &listing));
        // Concurrently, each bounded by the deadline; in order.
        let executions = futures_util::future::join_all(reads).await;
        let mut listed = vec![];
        for (summary, read) in shown.iter().zip(&executions) {
            let item = match read {
                Ok(execution) => match waiting_step(execution) {
                    Some((_, StepKind::Pause))
                        if !app.resumable.matches(&execution.document_name) =>
                    {
                        Listed::Elsewhere {
                            execution_id: summary.id.as_str(),
                            document_name: &summary.document_name,
                            why: "paused: resume it in the console".into(),
                        }
                    }
                    Some((step, kind)) => Listed::Decidable {
                        execution,
                        step,
                        kind,
                    },
                    None => Listed::Elsewhere {
                        execution_id: summary.id.as_str(),
                        document_name: &summary.document_name,
                        why: format!(
                            "waits on {}: decide in the console",
                            code(summary.current_action.as_deref().unwrap_or("another step"))
                        ),
                    },
                },
                Err(_) => Listed::Elsewhere {
                    execution_id: summary.id.as_str(),
                    document_name: &summary.document_name,
                    why: "its steps could not be read in time".into(),
                },
            };
            listed.push(item);
        }
        let more = waiting.len() - shown.len();
        let message = waiting_list(
            &listed,
            more,
            complete,
            unix_now(),
            &app.region,
            app.style(),
        );
        tracing::info!(waiting = waiting.len(), complete, "list answered");
        json_response(
            &json!({"response_type": "ephemeral", "text": message.text, "blocks": message.blocks}),
        )
    }
    .instrument(span)
    .await
}

/// Kept back from listing pages for reading the listed executions' steps.
const LIST_READS: Duration = Duration::from_millis(700);

/// `Ok` when the user may decide; otherwise the sentence to show them.
async fn authorize(
    app: &InteractionsApp,
    actor: &Actor,
    deadline: &Deadline,
) -> Result<(), String> {
    let user_id = actor.user.id.as_str();
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
    check_workspace(app, actor, deadline).await?;
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
        mention(user_id, actor.user.handle()),
        app.approvers.describe()
    ))
}

/// The clicker must belong to the app's own workspace, or to one allowed by
/// `SLACK_ALLOWED_TEAMS` (shared Slack Connect channels let other organizations click).
async fn check_workspace(
    app: &InteractionsApp,
    actor: &Actor,
    deadline: &Deadline,
) -> Result<(), String> {
    let Some(team) = actor.team() else {
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

/// Replaces the prompt through the `response_url`, or, once that no longer works (used
/// 5 times, or older than 30 minutes), with `chat.update`: the prompt is the bot's own.
async fn replace_prompt(
    app: &InteractionsApp,
    request: &DecisionRequest<'_>,
    message: &SlackMessage,
    deadline: &Deadline,
) {
    let refused = match app
        .slack
        .respond(request.response_url, &replace(message), deadline)
        .await
    {
        Ok(()) => return,
        // Slack answered and refused it; a timeout may have been applied.
        Err(e @ (SlackError::Api { .. } | SlackError::Status { .. })) => e,
        Err(e) => {
            tracing::warn!(error = %e, "could not bring the prompt up to date");
            return;
        }
    };
    let Some(prompt) = request.prompt else {
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

fn replace(message: &SlackMessage) -> Value {
    json!({"replace_original": true, "text": message.text, "blocks": message.blocks})
}

fn json_response(body: &Value) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header(CONTENT_TYPE, "application/json; charset=utf-8")
        .body(Body::from(body.to_string()))
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
