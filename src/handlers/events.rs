//! `automation-events`: EventBridge → Slack prompt, and prompt refresh when the
//! approval step (or the execution) is over.
//!
//! Delivery is at least once and the same Waiting step may arrive as a step event
//! and as an execution event. The prompt's location is recorded on the execution
//! (tag [`PROMPT_TAG`](crate::domain::tags::PROMPT_TAG)) and remembered in memory, so
//! a step gets one prompt. A delivery that could not be completed returns an error,
//! so Lambda retries it (and, past its retries, sends it to the on-failure
//! destination): nothing is dropped silently.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_config::ConfigLoader;
use serde::Serialize;
use serde_json::Value;

use super::{StartupError, ssm_client};
use crate::config::{Env, EventsSettings};
use crate::deadline::{Deadline, STARTUP_BUDGET};
use crate::domain::event::{EventPlan, parse_automation_event};
use crate::domain::execution::{Execution, ExecutionId};
use crate::domain::render::{render_outcome, render_prompt};
use crate::domain::tags::PromptRef;
use crate::domain::waiting::{StepCheck, StepKind, StepTarget, check_step, waiting_step};
use crate::slack::{SlackClient, SlackError};
use crate::ssm::{ExecutionTags, Ssm, SsmError};

pub struct EventsApp {
    ssm: Ssm,
    slack: SlackClient,
    channel: String,
    region: String,
    /// Prompts posted by this execution environment, by execution: covers the
    /// window in which a tag just written may not be read back yet.
    posted: Mutex<HashMap<ExecutionId, PromptRef>>,
}

/// What happened to an event; also the function's response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum EventOutcome {
    Posted {
        execution_id: String,
        channel: String,
        ts: String,
    },
    AlreadyPosted {
        execution_id: String,
        channel: String,
        ts: String,
    },
    Updated {
        execution_id: String,
        channel: String,
        ts: String,
        step_status: String,
    },
    Ignored {
        reason: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error(transparent)]
    Ssm(#[from] SsmError),
    #[error(transparent)]
    Slack(#[from] SlackError),
}

impl From<EventError> for lambda_runtime::Diagnostic {
    fn from(e: EventError) -> Self {
        let error_type = match e {
            EventError::Ssm(_) => "Retryable.Ssm",
            EventError::Slack(_) => "Retryable.Slack",
        };
        Self {
            error_type: error_type.into(),
            error_message: e.to_string(),
        }
    }
}

impl EventsApp {
    pub async fn from_env(env: &impl Env, loader: ConfigLoader) -> Result<Self, StartupError> {
        let settings = EventsSettings::from_env(env)?;
        let (ssm, region) = ssm_client(loader).await;
        let deadline = Deadline::after(STARTUP_BUDGET);
        let slack = SlackClient::new(
            &settings.slack_api_url,
            ssm.resolve_secret(&settings.bot_token, &deadline).await?,
        )?;
        Ok(Self {
            ssm,
            slack,
            channel: settings.channel,
            region,
            posted: Mutex::default(),
        })
    }

    fn remembered(&self, id: &ExecutionId) -> Option<PromptRef> {
        self.posted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    fn remember(&self, id: &ExecutionId, prompt: PromptRef) {
        self.posted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone(), prompt);
    }
}

/// Handles one EventBridge delivery; every call it makes fits in `deadline`.
pub async fn handle_automation_event(
    app: &EventsApp,
    event: &Value,
    deadline: &Deadline,
) -> Result<EventOutcome, EventError> {
    let event = match parse_automation_event(event) {
        Ok(e) => e,
        Err(rejection) => {
            tracing::warn!(reason = %rejection, "event dropped");
            return Ok(ignored(rejection.to_string()));
        }
    };
    let region = event.region.as_deref().unwrap_or(&app.region);
    let outcome = match event.plan() {
        EventPlan::Prompt => prompt(app, &event.execution_id, region, deadline).await,
        EventPlan::Refresh => refresh(app, &event.execution_id, region, deadline).await,
        EventPlan::Ignore(reason) => Ok(ignored(reason)),
    };
    match &outcome {
        Ok(o) => {
            tracing::info!(execution_id = %event.execution_id, status = %event.status, outcome = ?o, "event handled")
        }
        Err(e) => {
            tracing::error!(execution_id = %event.execution_id, status = %event.status, error = %e, "event failed; Lambda will retry it")
        }
    }
    outcome
}

async fn prompt(
    app: &EventsApp,
    id: &ExecutionId,
    region: &str,
    deadline: &Deadline,
) -> Result<EventOutcome, EventError> {
    let Some((execution, tags)) = load(app, id, deadline).await? else {
        return Ok(ignored("the execution does not exist"));
    };
    let Some(step) = waiting_step(&execution, StepKind::Approval) else {
        return Ok(ignored("no aws:approve step of the execution is waiting"));
    };
    if let Some(p) = tags.prompt.filter(|p| p.step_key == step.key()) {
        return Ok(already_posted(id, p));
    }
    if let Some(p) = app.remembered(id).filter(|p| p.step_key == step.key()) {
        // Posted here before, but the tag is missing (not yet visible, or writing it
        // failed last time): write it again rather than post a second prompt.
        app.ssm.tag_prompt(id, &p, deadline).await?;
        return Ok(already_posted(id, p));
    }
    let posted = app
        .slack
        .post_message(
            &app.channel,
            &render_prompt(&execution, step, region),
            deadline,
        )
        .await?;
    let prompt = PromptRef {
        step_key: step.key().to_owned(),
        channel: posted.channel,
        ts: posted.ts,
    };
    app.remember(id, prompt.clone());
    app.ssm.tag_prompt(id, &prompt, deadline).await?;
    Ok(EventOutcome::Posted {
        execution_id: id.to_string(),
        channel: prompt.channel,
        ts: prompt.ts,
    })
}

async fn refresh(
    app: &EventsApp,
    id: &ExecutionId,
    region: &str,
    deadline: &Deadline,
) -> Result<EventOutcome, EventError> {
    let Some((execution, tags)) = load(app, id, deadline).await? else {
        return Ok(ignored("the execution does not exist"));
    };
    let Some(prompt) = tags.prompt.clone().or_else(|| app.remembered(id)) else {
        return Ok(ignored("no prompt was posted for this execution"));
    };
    let Some(step) = execution.step_by_key(&prompt.step_key) else {
        return Ok(ignored("the prompted step is not part of the execution"));
    };
    let target = StepTarget::for_step(id, step);
    if let StepCheck::WaitingNow(_) = check_step(&execution, &target, StepKind::Approval) {
        return Ok(ignored("the approval step is still waiting"));
    }
    let message = render_outcome(&execution, step, tags.decision.as_ref(), region);
    match app
        .slack
        .update_message(&prompt.channel, &prompt.ts, &message, deadline)
        .await
    {
        Ok(()) => {}
        // The prompt is gone or no longer ours to edit: retrying cannot help.
        Err(e @ SlackError::Api { .. })
            if matches!(
                e.api_error(),
                Some(
                    "message_not_found"
                        | "channel_not_found"
                        | "cant_update_message"
                        | "is_archived"
                )
            ) =>
        {
            tracing::warn!(error = %e, "prompt can no longer be updated");
            return Ok(ignored(format!(
                "the prompt can no longer be updated ({e})"
            )));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(EventOutcome::Updated {
        execution_id: id.to_string(),
        channel: prompt.channel,
        ts: prompt.ts,
        step_status: step.status.to_string(),
    })
}

/// The execution and our tags on it, fetched together; `None` for an execution SSM
/// does not know (retrying such an event cannot help).
async fn load(
    app: &EventsApp,
    id: &ExecutionId,
    deadline: &Deadline,
) -> Result<Option<(Execution, ExecutionTags)>, SsmError> {
    let (tags, execution) = tokio::join!(
        app.ssm.execution_tags(id, deadline),
        app.ssm.get_execution(id, deadline)
    );
    match execution {
        Ok(execution) => Ok(Some((execution, tags?))),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

fn already_posted(id: &ExecutionId, p: PromptRef) -> EventOutcome {
    EventOutcome::AlreadyPosted {
        execution_id: id.to_string(),
        channel: p.channel,
        ts: p.ts,
    }
}

fn ignored(reason: impl Into<String>) -> EventOutcome {
    EventOutcome::Ignored {
        reason: reason.into(),
    }
}
