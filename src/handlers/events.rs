//! `automation-events`: EventBridge → Slack prompt, and prompt updates when an
//! approval step (or its execution) is over.
//!
//! Delivery is at least once, in any order, and the same Waiting step may arrive as a
//! step event and as an execution event, in several execution environments at once.
//! Each approval step has one item in the approvals table: a delivery first claims the
//! step with a conditional write, and only the winner posts, then records where the
//! prompt is. A claim never followed by a prompt (the poster died) is taken over once
//! its lease is over, by one delivery only (see [`CLAIM_LEASE_SECS`]).
//!
//! Every event also brings the execution's other prompts up to date: each shows its
//! own step's outcome, whatever order the events came in. A delivery that could not
//! be completed returns an error, so Lambda retries it (and, past its retries, sends
//! it to the on-failure destination): nothing is dropped silently.

use aws_config::ConfigLoader;
use serde::Serialize;
use serde_json::Value;

use super::{StartupError, aws_clients};
use crate::config::{Env, EventsSettings, ReasonMode, SweepSettings};
use std::time::Duration;

use crate::deadline::{CallFloor, Deadline, STARTUP_BUDGET, unix_now};

/// Kept back from posting a prompt: time to record it, or else to take it down (at
/// most a third of what is left).
const AFTER_POST: Duration = Duration::from_secs(10);
/// Kept back from recording a prompt: time to take it down if it cannot be recorded
/// (at most half of what is left).
const TAKE_DOWN: Duration = Duration::from_secs(4);
use crate::domain::comment::decisions_in_outputs;
use crate::domain::event::{EventPlan, parse_automation_event};
use crate::domain::execution::{Execution, ExecutionId, Step};
use crate::domain::messages::decided::render_outcome;
use crate::domain::messages::prompt::{PromptStyle, render_prompt};
use crate::domain::place::{AccountNames, Place, Shown};
use crate::domain::record::{
    CLAIM_LEASE_SECS, Claim, PostingState, PromptRef, StepRecord, WaitingStep, shown_state,
};
use crate::domain::routes::RunbookPrefixes;
use crate::domain::rules::Fallback;
use crate::domain::waiting::{StepCheck, StepKind, StepTarget, check_step, waiting_step};
use crate::places::{PlaceError, Places, READ_ONLY_SESSION_POLICY};
use crate::rules::RuleBook;
use crate::slack::{SlackClient, SlackError};
use crate::ssm::SsmError;
use crate::store::{ApprovalStore, ClaimOutcome, StoreError};

pub struct EventsApp {
    /// SSM in each step's own account and Region.
    pub(super) places: Places,
    pub(super) store: ApprovalStore,
    pub(super) slack: SlackClient,
    /// Which channel, and who may decide (shown on the prompt).
    pub(super) rules: RuleBook,
    account_names: AccountNames,
    resumable: RunbookPrefixes,
    reason_modal: bool,
    /// Reminders, the last call, and the sweep's bounds.
    pub(super) sweep: SweepSettings,
}

/// What happened to an event; also the function's response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum EventOutcome {
    Posted {
        execution_id: String,
        channel: String,
        ts: String,
        /// Other prompts of the execution brought up to date on the way.
        updated: usize,
    },
    AlreadyPosted {
        execution_id: String,
        channel: String,
        ts: String,
        updated: usize,
    },
    Updated {
        execution_id: String,
        channel: String,
        ts: String,
        step_status: String,
        /// How many prompts were updated in all.
        updated: usize,
    },
    Ignored {
        reason: String,
    },
    /// The scheduled sweep over what waits.
    Swept(super::sweep::SweepReport),
}

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error(transparent)]
    Ssm(#[from] SsmError),
    #[error(transparent)]
    Slack(#[from] SlackError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot call SSM in {place}: {source}")]
    Place {
        place: Place,
        #[source]
        source: PlaceError,
    },
    #[error(
        "the prompt of step {step_key} is being posted by another delivery (claimed {age_s} s ago); \
         retry to make sure it was"
    )]
    BeingPosted { step_key: String, age_s: i64 },
}

impl From<EventError> for lambda_runtime::Diagnostic {
    fn from(e: EventError) -> Self {
        let error_type = match e {
            EventError::Ssm(_) => "Retryable.Ssm",
            EventError::Slack(_) => "Retryable.Slack",
            EventError::Store(_) => "Retryable.DynamoDB",
            EventError::Place { .. } => "Retryable.Sts",
            EventError::BeingPosted { .. } => "Retryable.BeingPosted",
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
        let organization = settings.organization;
        let aws = aws_clients(
            loader,
            &settings.table,
            &organization,
            settings.approver_role.clone(),
        )
        .await;
        let deadline = Deadline::after(STARTUP_BUDGET);
        let home = aws.places.home_ssm();
        let fallback = Fallback {
            channel: Some(settings.channel),
            routes: settings.routes,
            approvers: settings.approvers,
        };
        let (bot_token, rules) = tokio::join!(
            home.resolve_secret(&settings.bot_token, &deadline),
            RuleBook::load(fallback, organization.rules, home, &deadline)
        );
        let slack = SlackClient::new(&settings.slack_api_url, bot_token?)?;
        Ok(Self {
            // It never signals: its sessions in member accounts may only read.
            places: aws.places.with_session_policy(READ_ONLY_SESSION_POLICY),
            store: aws.store,
            slack,
            rules: rules?,
            account_names: organization.account_names,
            resumable: settings.resumable,
            reason_modal: settings.reject_reason != ReasonMode::Off,
            sweep: settings.sweep,
        })
    }
}

/// Handles one EventBridge delivery; every call it makes fits in `deadline`.
pub async fn handle_automation_event(
    app: &EventsApp,
    event: &Value,
    deadline: &Deadline,
) -> Result<EventOutcome, EventError> {
    if super::sweep::is_sweep(event) {
        return super::sweep::sweep(app, deadline)
            .await
            .map(EventOutcome::Swept);
    }
    let event = match parse_automation_event(event) {
        Ok(e) => e,
        Err(rejection) => {
            tracing::warn!(reason = %rejection, "event dropped");
            return Ok(ignored(rejection.to_string()));
        }
    };
    // The execution runs where the event comes from (a forwarded event keeps its own
    // account and Region).
    let place = app
        .places
        .place_of(event.account.as_deref(), event.region.as_deref());
    let outcome = match (event.plan(), app.places.check(&place)) {
        (EventPlan::Ignore(reason), _) => Ok(ignored(reason)),
        (_, Err(e)) => {
            tracing::warn!(error = %e, "event from an account this deployment does not serve");
            Ok(ignored(e.to_string()))
        }
        (plan, Ok(())) => handle_plan(app, &event.execution_id, plan, &place, deadline).await,
    };
    match &outcome {
        Ok(o) => {
            tracing::info!(execution_id = %event.execution_id, status = %event.status, %place, outcome = ?o, "event handled")
        }
        Err(e) => {
            tracing::error!(execution_id = %event.execution_id, status = %event.status, %place, error = %e, "event failed; Lambda will retry it")
        }
    }
    outcome
}

async fn handle_plan(
    app: &EventsApp,
    id: &ExecutionId,
    plan: EventPlan,
    place: &Place,
    deadline: &Deadline,
) -> Result<EventOutcome, EventError> {
    let ssm = app
        .places
        .ssm(place, deadline)
        .await
        .map_err(|source| EventError::Place {
            place: place.clone(),
            source,
        })?;
    let execution = match ssm.get_execution(id, deadline).await {
        Ok(execution) => execution,
        // Retrying an event for an execution SSM does not know cannot help.
        Err(e) if e.is_not_found() => return Ok(ignored("the execution does not exist")),
        Err(e) => return Err(e.into()),
    };
    let posted = match plan {
        EventPlan::Prompt => match waiting_step(&execution) {
            // A pause has no approver list of its own: Slack resumes only the runbooks
            // chosen for it.
            Some((_, StepKind::Pause)) if !app.resumable.matches(&execution.document_name) => None,
            Some((step, kind)) => Some(prompt(app, &execution, step, kind, place, deadline).await?),
            None => None,
        },
        _ => None,
    };
    // A prompt just posted may show a step that was decided meanwhile, after the
    // deliveries of that decision looked for prompts to update: look again.
    // If that read fails, so does the delivery: Lambda retries it, and the retry finds
    // the prompt posted and brings it up to date.
    let execution = match &posted {
        Some((_, true)) => ssm.get_execution(id, deadline).await?,
        _ => execution,
    };
    let refreshed = refresh(app, &execution, place, deadline).await?;
    let updated = refreshed.len();
    Ok(match (posted, refreshed.into_iter().last()) {
        (Some((prompt, true)), _) => EventOutcome::Posted {
            execution_id: id.to_string(),
            channel: prompt.channel,
            ts: prompt.ts,
            updated,
        },
        (Some((prompt, false)), _) => EventOutcome::AlreadyPosted {
            execution_id: id.to_string(),
            channel: prompt.channel,
            ts: prompt.ts,
            updated,
        },
        (None, Some((prompt, step_status))) => EventOutcome::Updated {
            execution_id: id.to_string(),
            channel: prompt.channel,
            ts: prompt.ts,
            step_status,
            updated,
        },
        (None, None) if plan == EventPlan::Prompt => ignored(
            "no aws:approve step (or aws:pause step of a runbook in SLACK_RESUME_PREFIXES) waits",
        ),
        (None, None) => ignored("no prompt of the execution needs a change"),
    })
}

/// The prompt for the waiting `step`: posted by whichever delivery claims the step
/// first. Returns where it is, and whether this delivery posted it.
async fn prompt(
    app: &EventsApp,
    execution: &Execution,
    step: &Step,
    kind: StepKind,
    place: &Place,
    deadline: &Deadline,
) -> Result<(PromptRef, bool), EventError> {
    let id = &execution.id;
    let claim = match app
        .store
        .claim(id, step.key(), &step.name, deadline)
        .await?
    {
        ClaimOutcome::Won(claim) => claim,
        ClaimOutcome::Lost(record) => match record.posting_state(unix_now()) {
            PostingState::Posted(prompt) => return Ok((prompt, false)),
            PostingState::BeingPosted => {
                return Err(EventError::BeingPosted {
                    step_key: step.key().to_owned(),
                    age_s: record.claim.map_or(0, |c| unix_now() - c.at_unix),
                });
            }
            PostingState::Abandoned(abandoned) => {
                match app
                    .store
                    .take_over(id, step.key(), &abandoned, deadline)
                    .await?
                {
                    Some(claim) => {
                        tracing::warn!(
                            step_key = step.key(),
                            lease_s = CLAIM_LEASE_SECS,
                            "took over an abandoned claim: its poster never recorded a prompt"
                        );
                        claim
                    }
                    // Another delivery took it over first; it posts.
                    None => {
                        return Err(EventError::BeingPosted {
                            step_key: step.key().to_owned(),
                            age_s: 0,
                        });
                    }
                }
            }
        },
    };
    post_under_claim(app, execution, step, kind, &claim, place, deadline).await
}

async fn post_under_claim(
    app: &EventsApp,
    execution: &Execution,
    step: &Step,
    kind: StepKind,
    claim: &Claim,
    place: &Place,
    deadline: &Deadline,
) -> Result<(PromptRef, bool), EventError> {
    let id = &execution.id;
    // The rule for this account, Region and runbook: its channel, and who may decide.
    let applied = app
        .rules
        .applied(
            place,
            &execution.document_name,
            app.places.home_ssm(),
            deadline,
        )
        .await;
    let channel = applied
        .channel
        .as_deref()
        .expect("the events function's fallback always names a channel");
    let style = PromptStyle {
        per_person: app.places.per_person(place),
        reason_modal: app.reason_modal,
    };
    let shown = Shown::new(place, &app.account_names);
    let message = render_prompt(
        execution,
        step,
        kind,
        &shown,
        style,
        &applied.approvers.describe(),
    );
    // The post leaves time to record the prompt, or else to take it back down.
    let posting = deadline.keeping(AFTER_POST.min(deadline.remaining() / 3));
    let posted = match app.slack.post_message(channel, &message, &posting).await {
        Ok(posted) => posted,
        Err(e) => {
            // Certainly not posted: give the claim up, so the retry claims anew at
            // once. Perhaps posted (no answer): keep it; the lease decides.
            if e.certainly_not_done()
                && let Err(release) = app.store.release(id, step.key(), claim, deadline).await
            {
                tracing::warn!(error = %release, "could not give the claim up; its lease will");
            }
            return Err(e.into());
        }
    };
    let prompt = PromptRef {
        channel: posted.channel,
        ts: posted.ts,
    };
    // The prompt is up: record it, trying again while the deadline leaves time to
    // take the prompt back down. A prompt that cannot be recorded is deleted, and the
    // claim given up, so the delivery's retry posts one prompt, not a second.
    let recording = deadline.keeping(TAKE_DOWN.min(deadline.remaining() / 2));
    let mut pause = std::time::Duration::from_millis(200);
    let waiting = WaitingStep::of(execution, step, kind, place, unix_now());
    loop {
        match app
            .store
            .record_prompt(&waiting, claim, &prompt, &recording)
            .await
        {
            Ok(()) => return Ok((prompt, true)),
            Err(e) if recording.fits(pause, CallFloor::AWS, Duration::ZERO) => {
                tracing::warn!(error = %e, "could not record the prompt yet; trying again");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(std::time::Duration::from_secs(2));
            }
            Err(e) => {
                // A write whose answer was lost may have been applied: look first, and
                // take the prompt down only if the table says it is not recorded.
                match app.store.get(id, step.key(), deadline).await {
                    Ok(Some(record)) if record.prompt.as_ref() == Some(&prompt) => {
                        return Ok((prompt, true));
                    }
                    Ok(_) => {}
                    Err(read) => {
                        tracing::error!(error = %e, read_error = %read, channel = %prompt.channel,
                            ts = %prompt.ts, "posted a prompt whose record cannot be confirmed; it stays");
                        return Err(e.into());
                    }
                }
                tracing::error!(error = %e, "posted a prompt but could not record it; deleting it");
                match app
                    .slack
                    .delete_message(&prompt.channel, &prompt.ts, deadline)
                    .await
                {
                    Ok(()) => {
                        if let Err(release) =
                            app.store.release(id, step.key(), claim, deadline).await
                        {
                            tracing::warn!(error = %release, "could not give the claim up; its lease will");
                        }
                    }
                    Err(delete) => {
                        tracing::error!(error = %delete, channel = %prompt.channel, ts = %prompt.ts,
                            "an unrecorded prompt stays in the channel");
                    }
                }
                return Err(e.into());
            }
        }
    }
}

/// Brings every prompt of the execution whose step no longer waits up to date with
/// that step's own outcome (and who decided it in Slack). Returns the prompts
/// updated, with their step's status.
pub(super) async fn refresh(
    app: &EventsApp,
    execution: &Execution,
    place: &Place,
    deadline: &Deadline,
) -> Result<Vec<(PromptRef, String)>, EventError> {
    let shown_at = Shown::new(place, &app.account_names);
    let mut updated = vec![];
    for mut record in app.store.steps_of(&execution.id, deadline).await? {
        let Some(step) = execution.step_by_key(&record.step_key) else {
            continue;
        };
        let Some(kind) = StepKind::of(step) else {
            continue;
        };
        let target = StepTarget::for_step(&execution.id, step);
        if let StepCheck::WaitingNow(_) = check_step(execution, &target, kind) {
            continue;
        }
        complete_trail(app, execution, step, &mut record, deadline).await?;
        let Some(prompt) = record.prompt.clone() else {
            continue;
        };
        let deciding = record.deciding(step);
        let shown = shown_state(execution, step, &deciding);
        if record.shown.as_deref() == Some(shown.as_str()) {
            continue;
        }
        let message = render_outcome(execution, step, &deciding, &shown_at);
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
                tracing::warn!(error = %e, step_key = %record.step_key, "prompt can no longer be updated");
                app.store
                    .record_shown(&execution.id, &record.step_key, &shown, deadline)
                    .await?;
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        app.store
            .record_shown(&execution.id, &record.step_key, &shown, deadline)
            .await?;
        updated.push((prompt, step.status.to_string()));
    }
    Ok(updated)
}

/// The audit trail holds every decision from Slack that SSM accepted: one whose record
/// could not be written in its click (or whose outcome the click never learnt) is
/// read from SSM's own record of the ended step, its `ApproverDecisions`, and added.
async fn complete_trail(
    app: &EventsApp,
    execution: &Execution,
    step: &Step,
    record: &mut StepRecord,
    deadline: &Deadline,
) -> Result<(), EventError> {
    let Some(outputs) = step.outputs.get("ApproverDecisions") else {
        return Ok(());
    };
    for found in decisions_in_outputs(outputs) {
        let known = record.decisions.iter().any(|d| {
            d.step_key == step.key() && d.user_id == found.user_id && d.decision == found.decision
        });
        if known {
            continue;
        }
        let fallback_at = record
            .deciding
            .as_ref()
            .map_or_else(unix_now, |c| c.at_unix);
        let decision = found.into_record(step.key(), fallback_at);
        app.store
            .record_decision(&execution.id, &step.name, &decision, true, deadline)
            .await?;
        tracing::warn!(step_key = step.key(), user_id = %decision.user_id, decision = decision.decision.signal_type(),
            "a decision SSM accepted was missing from the audit trail; filled in from SSM's record");
        record.decisions.push(decision);
    }
    Ok(())
}

fn ignored(reason: impl Into<String>) -> EventOutcome {
    EventOutcome::Ignored {
        reason: reason.into(),
    }
}
