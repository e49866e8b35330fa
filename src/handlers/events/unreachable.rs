//! A step in an account the hub cannot assume into (no spoke stack there, or a spoke
//! role that no longer trusts the hub) is not retried into the failed-events queue:
//! its event alone says what waits where (account, Region, runbook, step), so a prompt
//! without buttons says so and why, and the step is indexed, so `/approvals`, Home and
//! the sweep show it. Once the hub can reach the account, the scheduled run posts the
//! step's real prompt through the events path (its posting claim: never twice) and
//! turns this one into a pointer to it ([`convert`]).
//!
//! The event names no step execution ID (an execution's event not even the step), so
//! the placeholder has its own key ([`PLACEHOLDER_KEY`]), one per execution: an
//! execution waits at one step at a time, and its step and execution events both
//! claim that key, so they post one placeholder.

use super::{EventError, EventOutcome, EventsApp, handle_plan};
use crate::deadline::{Deadline, unix_now};
use crate::domain::event::{AutomationEvent, EventPlan, Subject};
use crate::domain::execution::{APPROVE_ACTION, Execution};
use crate::domain::messages::blocks::{SlackMessage, console_url};
use crate::domain::messages::text::code;
use crate::domain::messages::unreachable::render_unreachable;
use crate::domain::place::{Place, Shown};
use crate::domain::record::{PostingState, PromptRef, WaitingStep};
use crate::domain::waiting::{StepKind, waiting_step};
use crate::places::PlaceError;
use crate::store::PostingClaimOutcome;

/// The table key of an execution's placeholder prompt.
pub const PLACEHOLDER_KEY: &str = "unreachable#waiting-step";
/// The step's name when the event does not say (an execution's event).
const UNNAMED_STEP: &str = "(a step the event does not name)";

/// Whether an index entry is a placeholder for a step the hub could not reach.
pub fn is_placeholder(step: &WaitingStep) -> bool {
    step.step_key == PLACEHOLDER_KEY
}

/// Whether `event`, failing with `error`, is one to announce: something entering
/// Waiting in an account whose role refused the hub.
pub(super) fn announceable(event: &AutomationEvent, error: &PlaceError) -> bool {
    error.is_refusal() && event.plan() == EventPlan::Prompt
}

/// Posts (once) and indexes the prompt of a step the hub cannot reach.
pub(super) async fn announce(
    app: &EventsApp,
    event: &AutomationEvent,
    place: &Place,
    error: &PlaceError,
    deadline: &Deadline,
) -> Result<EventOutcome, EventError> {
    let (name, action) = match &event.subject {
        Subject::Step { name, action } => (name.as_deref(), action.as_deref()),
        Subject::Execution => (None, None),
    };
    let name = name.unwrap_or(UNNAMED_STEP);
    let runbook = event
        .runbook
        .as_deref()
        .unwrap_or("(a runbook the event does not name)");
    let action = action.unwrap_or(APPROVE_ACTION);
    let execution =
        Execution::as_an_event_names_it(event.execution_id.clone(), runbook, name, action);
    let step = &execution.steps[0];
    let kind = StepKind::of(step).unwrap_or(StepKind::Approval);
    let id = &execution.id;
    let key = PLACEHOLDER_KEY.to_owned();
    let claim = match app.store.claim_posting(id, &key, name, deadline).await? {
        PostingClaimOutcome::Won(claim) => claim,
        PostingClaimOutcome::Lost(record) => {
            return match record.posting_state(unix_now()) {
                PostingState::Posted(prompt) => Ok(EventOutcome::AlreadyPosted {
                    execution_id: id.to_string(),
                    channel: prompt.channel,
                    ts: prompt.ts,
                    updated: 0,
                }),
                _ => Err(EventError::BeingPosted {
                    step_key: key,
                    age_s: record.claim.map_or(0, |c| unix_now() - c.at_unix),
                }),
            };
        }
    };
    let rules = app.rules.rules(app.places.home_ssm(), deadline).await;
    let applied = app.rules.fallback().applied(&rules, place, runbook);
    let channel = applied
        .channel
        .expect("the events function's fallback always names a channel");
    let shown = Shown::named(place, app.account_name(place));
    let message = render_unreachable(&execution, step, &shown, &error.to_string());
    let posted = match app.slack.post_message(&channel, &message, deadline).await {
        Ok(posted) => posted,
        Err(e) => {
            if e.certainly_not_done()
                && let Err(release) = app.store.release_posting(id, &key, &claim, deadline).await
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
    let waiting = WaitingStep {
        step_key: key,
        ..WaitingStep::of(&execution, step, kind, place, unix_now())
    };
    app.store
        .record_prompt(&waiting, &claim, &prompt, deadline)
        .await?;
    crate::metrics::prompt_posted();
    tracing::warn!(execution_id = %id, %place, step = %name, error = %error,
        "the hub cannot reach the step's account: posted its prompt without buttons");
    Ok(EventOutcome::Posted {
        execution_id: id.to_string(),
        channel: prompt.channel,
        ts: prompt.ts,
        updated: 0,
    })
}

/// What became of a placeholder the scheduled run looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Converted {
    /// The account is still out of reach.
    Unreachable,
    /// Its step's real prompt is up (or the step ended); the placeholder points there
    /// and left the index.
    Done,
    /// Something failed on the way; the next run tries again.
    NotYet,
}

/// Once the hub can reach a placeholder's account: the step's real prompt (through the
/// events path, so never a second one), then the placeholder says where it went and
/// leaves the index.
pub(super) async fn convert(
    app: &EventsApp,
    placeholder: &WaitingStep,
    deadline: &Deadline,
) -> Converted {
    let place = &placeholder.place;
    let id = &placeholder.target.execution_id;
    let Some(prompt) = &placeholder.prompt else {
        return Converted::NotYet;
    };
    let ssm = match app.places.ssm(place, deadline).await {
        Ok(ssm) => ssm,
        Err(_) => return Converted::Unreachable,
    };
    let execution = match ssm.get_execution(id, deadline).await {
        Ok(execution) => execution,
        Err(e) => {
            tracing::warn!(execution_id = %id, %place, error = %e, "sweep: could not read an unreachable step's execution now");
            return Converted::NotYet;
        }
    };
    let note = match waiting_step(&execution) {
        Some(_) => match handle_plan(app, id, EventPlan::Prompt, place, deadline).await {
            Ok(outcome) => {
                tracing::info!(execution_id = %id, %place, outcome = ?outcome,
                        "the hub reaches the account now: the step's prompt is up");
                "The hub can reach this account now: this step's prompt, with its buttons, \
                     is posted below."
            }
            Err(e) => {
                tracing::warn!(execution_id = %id, %place, error = %e,
                        "sweep: could not post the prompt of a step whose account is reachable again");
                return Converted::NotYet;
            }
        },
        None => "This step no longer waits.",
    };
    let console = console_url(&place.region, id.as_str());
    let text = format!(
        "{note} Runbook {}, in {place}: <{console}|AWS console>.",
        code(&execution.document_name)
    );
    let pointer = SlackMessage {
        text: text.clone(),
        blocks: vec![
            serde_json::json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}),
        ],
    };
    if let Err(e) = app
        .slack
        .update_message(&prompt.channel, &prompt.ts, &pointer, deadline)
        .await
    {
        tracing::warn!(error = %e, "sweep: could not update an unreachable step's prompt");
        return Converted::NotYet;
    }
    match app
        .store
        .record_shown_and_unlist(id, &placeholder.step_key, "reachable again", deadline)
        .await
    {
        Ok(()) => Converted::Done,
        Err(e) => {
            tracing::warn!(error = %e, "sweep: could not take an unreachable step's prompt out of the index");
            Converted::NotYet
        }
    }
}
