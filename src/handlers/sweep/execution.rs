//! One execution's waiting steps, read in full (`GetAutomationExecution`): healing
//! the prompts of the steps that ended, reminders and last calls for those that wait.

use std::time::Duration;

use super::super::events_app::EventsApp;
use super::super::refresh::refresh;
use crate::deadline::{CallFloor, Deadline, unix_now};
use crate::domain::execution::ExecutionId;
use crate::domain::messages::reminders::reminder_text;
use crate::domain::place::Place;
use crate::domain::record::WaitingStep;
use crate::domain::reminders::{Due, due};
use crate::domain::waiting::{StepCheck, check_step};

/// Below this, no new execution is read.
pub(super) const PER_EXECUTION: Duration = Duration::from_millis(1500);

/// What became of one execution's waiting steps.
#[derive(Debug, Clone, Default)]
pub(super) struct Done {
    pub read: bool,
    pub healed: usize,
    pub reminders: usize,
    pub last_calls: usize,
    /// SSM throttled (or failed): stop here, and come back to this execution.
    pub stop: Option<String>,
    /// The hub cannot reach the execution's account (the spoke role refused it).
    pub unreachable: bool,
}

/// One execution's waiting steps: one SSM read, then healing or reminders.
pub(super) async fn one_execution(
    app: &EventsApp,
    steps: &[WaitingStep],
    deadline: &Deadline,
) -> Done {
    let mut done = Done::default();
    let Some(first) = steps.first() else {
        return done;
    };
    if !deadline.fits(Duration::ZERO, CallFloor::AWS, PER_EXECUTION) {
        done.stop = Some("out of time".into());
        return done;
    }
    let place = &first.place;
    let id = &first.target.execution_id;
    let ssm = match app.places.ssm(place, deadline).await {
        Ok(ssm) => ssm,
        Err(e) => {
            // An account this deployment cannot reach now: the others go on.
            tracing::warn!(execution_id = %id, %place, error = %e, "sweep: cannot call SSM there");
            done.unreachable = true;
            return done;
        }
    };
    let execution = match ssm.get_execution(id, deadline).await {
        Ok(execution) => execution,
        Err(e) if e.is_not_found() => {
            done.read = true;
            forget(app, id, steps, deadline).await;
            return done;
        }
        Err(e) => {
            tracing::warn!(execution_id = %id, %place, error = %e, "sweep: SSM did not answer; stopping here");
            done.stop = Some(format!("SSM: {}", e.code().unwrap_or("no answer")));
            return done;
        }
    };
    done.read = true;
    let now = unix_now();
    let mut ended = false;
    for step in steps {
        match check_step(&execution, &step.target, step.kind) {
            StepCheck::WaitingNow(_) => match remind(app, step, place, now, deadline).await {
                Some(Due::Reminder) => done.reminders += 1,
                Some(Due::LastCall) => done.last_calls += 1,
                _ => {}
            },
            _ => ended = true,
        }
    }
    if ended {
        match refresh(app, &execution, place, deadline).await {
            Ok(updated) => {
                for (prompt, status) in &updated {
                    tracing::warn!(execution_id = %id, %place, channel = %prompt.channel, ts = %prompt.ts,
                        step_status = %status, "sweep healed a prompt: its step had ended and no event had said so");
                }
                done.healed = updated.len();
            }
            Err(e) => {
                tracing::warn!(execution_id = %id, error = %e, "sweep: could not bring the prompts up to date")
            }
        }
    }
    done
}

/// A reminder about `step` if one is due: recorded first, then posted in its prompt's
/// thread. Returns what was sent.
async fn remind(
    app: &EventsApp,
    step: &WaitingStep,
    place: &Place,
    now: i64,
    deadline: &Deadline,
) -> Option<Due> {
    let owed = due(step, &app.sweep.reminders, now);
    if owed == Due::Nothing {
        return None;
    }
    let prompt = step.prompt.as_ref()?;
    match app
        .store
        .claim_reminder(step, owed == Due::LastCall, now, deadline)
        .await
    {
        Ok(true) => {}
        Ok(false) => return None,
        Err(e) => {
            tracing::warn!(error = %e, "sweep: could not record a reminder; none sent");
            return None;
        }
    }
    let applied = app
        .rules
        .applied(place, &step.runbook, app.places.home_ssm(), deadline)
        .await;
    let text = reminder_text(step, owed, &applied.approvers, now);
    match app
        .slack
        .post_reply(&prompt.channel, &prompt.ts, &text, deadline)
        .await
    {
        Ok(()) => {
            tracing::info!(execution_id = %step.target.execution_id, step = %step.target.step_name,
                due = ?owed, "sweep: reminded");
            Some(owed)
        }
        Err(e) => {
            tracing::warn!(error = %e, "sweep: could not post a reminder; the next interval tries again");
            None
        }
    }
}

/// An execution SSM no longer knows (past its retention): its steps leave the index.
async fn forget(app: &EventsApp, id: &ExecutionId, steps: &[WaitingStep], deadline: &Deadline) {
    for step in steps {
        match app
            .store
            .record_shown_and_unlist(id, &step.step_key, "gone", deadline)
            .await
        {
            Ok(()) => tracing::warn!(execution_id = %id, step_key = %step.step_key,
                "sweep: SSM no longer knows this execution; it leaves the index of what waits"),
            Err(e) => tracing::warn!(error = %e, "sweep: could not take a step out of the index"),
        }
    }
}
