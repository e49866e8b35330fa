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

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

mod discover;
mod unreachable;

use super::adopt;
pub use super::events_app::{EventError, EventsApp};
use super::redrive::redrive;
use super::refresh::refresh;
use super::sweep::{SweepReport, is_sweep};
use crate::deadline::{CallFloor, Deadline, unix_now};
use crate::domain::adoption::{Search, prompt_metadata, search_after_take_over};
use crate::domain::approvers::ApproverPolicy;
use crate::domain::event::{EventPlan, parse_automation_event};
use crate::domain::execution::{Execution, ExecutionId, Step};
use crate::domain::messages::blocks::SlackMessage;
use crate::domain::messages::prompt::{PromptStyle, render_prompt};
use crate::domain::messages::starter::render_run_waits;
use crate::domain::place::{Place, Shown};
use crate::domain::record::{CLAIM_LEASE_SECS, PostingClaim, PostingState, PromptRef, WaitingStep};
use crate::domain::starter::{StartedBy, Starter};
use crate::domain::waiting::{StepKind, waiting_step};
use crate::store::PostingClaimOutcome;

/// Kept back from posting a prompt: time to record it, or else to take it down (at
/// most a third of what is left).
const AFTER_POST: Duration = Duration::from_secs(10);
/// Kept back from recording a prompt: time to take it down if it cannot be recorded
/// (at most half of what is left).
const TAKE_DOWN: Duration = Duration::from_secs(4);

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
    Swept(SweepReport),
}
/// Handles one EventBridge delivery; every call it makes fits in `deadline`.
pub async fn handle_automation_event(
    app: &EventsApp,
    event: &Value,
    deadline: &Deadline,
) -> Result<EventOutcome, EventError> {
    if is_sweep(event) {
        // The failed-events queue first, within a fifth of the time; then the steps no
        // event announced, and what waits.
        let queue_time = deadline.keeping(deadline.remaining() * 4 / 5);
        let failed_events = redrive(app.failed_events.as_ref(), &queue_time, |event| {
            // Boxed: this handling is itself inside the handling of the sweep.
            let queue_time = &queue_time;
            async move { Box::pin(handle_automation_event(app, &event, queue_time)).await }
        })
        .await;
        let mut report = discover::find_and_sweep(app, deadline).await?;
        if failed_events.read > 0 || failed_events.stopped.is_some() {
            tracing::info!(report = ?failed_events, "failed-events queue read");
        }
        report.failed_events = failed_events;
        report.count();
        return Ok(EventOutcome::Swept(report));
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
    let outcome = match (event.plan(), app.places.serves(&place)) {
        (EventPlan::Ignore(reason), _) => Ok(ignored(reason)),
        (_, Err(e)) => {
            tracing::warn!(error = %e, "event from an account this deployment does not serve");
            Ok(ignored(e.to_string()))
        }
        (plan, Ok(())) => {
            discover::note_place(app, &place, deadline).await;
            match handle_plan(app, &event.execution_id, plan, &place, deadline).await {
                // The hub cannot reach the step's account: say so in a prompt without
                // buttons, rather than fail into the queue unseen.
                Err(EventError::Place { source, .. })
                    if unreachable::announceable(&event, &source) =>
                {
                    unreachable::announce(app, &event, &place, &source, deadline).await
                }
                other => other,
            }
        }
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
    let (claim, search) = match app
        .store
        .claim_posting(id, step.key(), &step.name, deadline)
        .await?
    {
        PostingClaimOutcome::Won(claim) => (claim, None),
        PostingClaimOutcome::Lost(record) => {
            let held = match record.posting_state(unix_now()) {
                PostingState::Posted(prompt) => return Ok((prompt, false)),
                PostingState::BeingPosted => {
                    return Err(EventError::BeingPosted {
                        step_key: step.key().to_owned(),
                        age_s: record.claim.map_or(0, |c| unix_now() - c.at_unix),
                    });
                }
                PostingState::Unresolved(held) => {
                    tracing::info!(
                        step_key = step.key(),
                        "the last post of this prompt may have taken effect; looking for it before posting"
                    );
                    held
                }
                PostingState::Abandoned(held) => held,
            };
            match app
                .store
                .take_over_posting(id, step.key(), &held, deadline)
                .await?
            {
                Some(claim) => {
                    if !held.token.is_empty() && record.maybe_posted.is_none() {
                        tracing::warn!(
                            step_key = step.key(),
                            lease_s = CLAIM_LEASE_SECS,
                            "took over an abandoned claim: its poster never recorded a prompt"
                        );
                    }
                    (claim, search_after_take_over(&record, &held))
                }
                // Another delivery took it over first; it posts (or finds the prompt).
                None => {
                    return Err(EventError::BeingPosted {
                        step_key: step.key().to_owned(),
                        age_s: 0,
                    });
                }
            }
        }
    };
    post_under_claim(
        app,
        execution,
        step,
        kind,
        &claim,
        search.as_ref(),
        place,
        deadline,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn post_under_claim(
    app: &EventsApp,
    execution: &Execution,
    step: &Step,
    kind: StepKind,
    claim: &PostingClaim,
    search: Option<&Search>,
    place: &Place,
    deadline: &Deadline,
) -> Result<(PromptRef, bool), EventError> {
    let id = &execution.id;
    // The rule for this account, Region and runbook: its channel, and who may decide.
    let rules = app.rules.rules(app.places.home_ssm(), deadline).await;
    let applied = app
        .rules
        .fallback()
        .applied(&rules, place, &execution.document_name);
    // Who started the run, in Slack: the prompt says, and they hear how it goes.
    let starter = match &execution.executed_by {
        Some(principal) => Some(
            app.starters
                .resolve(&app.slack, rules.identities(), principal, deadline)
                .await,
        ),
        None => None,
    };
    let channel = applied
        .channel
        .as_deref()
        .expect("the events function's fallback always names a channel");
    let style = PromptStyle {
        per_person: app.places.per_person(place),
        reason_modal: app.reason_modal,
        rule_approvals: applied.approvals,
        nobody_from_slack: applied.approvers == ApproverPolicy::NobodyFromSlack,
    };
    let started_by = starter.as_ref().map(|starter| StartedBy {
        starter,
        policy: applied.self_approval,
    });
    let shown = Shown::named(place, app.account_name(place)).started_by(started_by);
    let message = render_prompt(
        execution,
        step,
        kind,
        &shown,
        style,
        &applied.approvers.describe(),
    );
    // A post made before under this step's claims may have taken effect: look for
    // it first, and adopt it if it is there.
    let found = match search {
        Some(search) => {
            let looked_in = search.channel.as_deref().unwrap_or(channel);
            adopt::look_for_prompt(app, looked_in, search, id, step.key(), deadline).await
        }
        None => None,
    };
    let prompt = match found {
        Some(found) => {
            crate::metrics::prompt_adopted();
            found
        }
        None => {
            let posted = post(
                app, execution, step, claim, channel, &message, place, deadline,
            )
            .await?;
            crate::metrics::prompt_posted();
            posted
        }
    };
    // The prompt is up: record it, trying again while the deadline leaves time to
    // take the prompt back down. A prompt that cannot be recorded is deleted, and the
    // claim given up, so the delivery's retry posts one prompt, not a second.
    let recording = deadline.keeping(TAKE_DOWN.min(deadline.remaining() / 2));
    let mut pause = std::time::Duration::from_millis(200);
    let waiting = WaitingStep {
        starter: starter.clone(),
        ..WaitingStep::of(execution, step, kind, place, unix_now())
    };
    loop {
        match app
            .store
            .record_prompt(&waiting, claim, &prompt, &recording)
            .await
        {
            Ok(()) => {
                if let Some(person) = starter.as_ref().and_then(Starter::person)
                    && app.notify_starter
                    && kind == StepKind::Approval
                {
                    let news = render_run_waits(
                        execution,
                        step,
                        &shown,
                        &prompt.channel,
                        &applied.approvers.describe(),
                        applied.self_approval,
                    );
                    app.tell_starter(person, &news, deadline).await;
                }
                return Ok((prompt, true));
            }
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
                        if let Err(release) = app
                            .store
                            .release_posting(id, step.key(), claim, deadline)
                            .await
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
/// Posts the prompt (with the metadata that names its step run) under `claim`. A post
/// Slack certainly did not make gives the claim up, so the retry claims anew at once;
/// one that may have been made is recorded as such on the claim, so the next delivery
/// looks for it in the channel before posting, inside the lease or after it.
#[allow(clippy::too_many_arguments)]
async fn post(
    app: &EventsApp,
    execution: &Execution,
    step: &Step,
    claim: &PostingClaim,
    channel: &str,
    message: &SlackMessage,
    place: &Place,
    deadline: &Deadline,
) -> Result<PromptRef, EventError> {
    let id = &execution.id;
    let metadata = prompt_metadata(id, step.key(), &step.name, place);
    // The post leaves time to record the prompt, or else to take it back down.
    let posting = deadline.keeping(AFTER_POST.min(deadline.remaining() / 3));
    match app
        .slack
        .post_with_metadata(channel, message, Some(&metadata), &posting)
        .await
    {
        Ok(posted) => Ok(PromptRef {
            channel: posted.channel,
            ts: posted.ts,
        }),
        Err(e) if e.certainly_not_done() => {
            if let Err(release) = app
                .store
                .release_posting(id, step.key(), claim, deadline)
                .await
            {
                tracing::warn!(error = %release, "could not give the claim up; its lease will");
            }
            Err(e.into())
        }
        Err(e) => {
            match app
                .store
                .mark_post_unknown(id, step.key(), claim, channel, deadline)
                .await
            {
                Ok(_) => tracing::warn!(error = %e, step_key = step.key(),
                    "the prompt may or may not have been posted; the next delivery looks for it in the channel before posting"),
                Err(mark) => tracing::warn!(error = %e, mark_error = %mark, step_key = step.key(),
                    "the prompt may or may not have been posted, and the claim could not say so; after its lease the next delivery looks for it in the channel"),
            }
            Err(e.into())
        }
    }
}

fn ignored(reason: impl Into<String>) -> EventOutcome {
    EventOutcome::Ignored {
        reason: reason.into(),
    }
}
