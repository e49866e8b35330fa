//! The sweep: `automation-events` on a schedule (EventBridge Scheduler, template.yaml),
//! over the index of what waits, oldest first. For each waiting step it asks SSM, in
//! the step's own account and Region, whether the step still waits:
//!
//! - it ended (an event was lost, or its delivery failed for good): its prompt is
//!   brought up to date as the step's own event would have, and it leaves the index;
//! - it waits: a reminder in the prompt's thread when one is due, mentioning who may
//!   decide, or the last call shortly before the step's timeout
//!   (see [`crate::domain::reminders`]).
//!
//! Each sweep is bounded: at most `SWEEP_MAX_SSM_READS` executions read (one read
//! serves all the execution's waiting steps), a few at a time, within the
//! invocation's time. Where it stops, the next sweep goes on; a throttled SSM stops
//! it early. A reminder is recorded before it is posted, so none repeats within its
//! interval, and none is sent about a step SSM did not just confirm waits.

use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use serde::Serialize;

use super::events_app::{EventError, EventsApp};
use super::redrive::RedriveReport;
use super::refresh::refresh;
use crate::deadline::{CallFloor, Deadline, unix_now};
use crate::domain::execution::ExecutionId;
use crate::domain::messages::reminders::reminder_text;
use crate::domain::place::Place;
use crate::domain::record::WaitingStep;
use crate::domain::reminders::{Due, due};
use crate::domain::waiting::{StepCheck, check_step};
use crate::store::Cursor;

/// Index entries read per page.
const PAGE: i32 = 100;
/// Executions read from SSM at once.
const IN_FLIGHT: usize = 4;
/// Kept back from the work: time to keep where the sweep stopped.
const SAVE_RESERVE: Duration = Duration::from_secs(3);
/// Below this, no new execution is started.
const PER_EXECUTION: Duration = Duration::from_millis(1500);

/// What one sweep did; also the function's response, and logged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Waiting steps looked at.
    pub steps: usize,
    /// Executions read from SSM.
    pub ssm_reads: usize,
    /// Prompts brought up to date because their step had ended.
    pub healed: usize,
    pub reminders: usize,
    pub last_calls: usize,
    /// It got to the end of what waits (the next sweep starts from the oldest).
    pub complete: bool,
    /// Why it stopped before the end, if it did.
    pub stopped: Option<String>,
    /// What it did with the failed-events queue, before the steps.
    pub failed_events: RedriveReport,
}

impl SweepReport {
    /// Its figures as metrics (see [`crate::metrics`]).
    pub fn count(&self) {
        let queue = &self.failed_events;
        crate::metrics::sweep(
            &[
                ("SweepHealed", self.healed),
                ("SweepReminders", self.reminders),
                ("SweepLastCalls", self.last_calls),
                ("FailedEventsRedriven", queue.redriven),
                ("FailedEventsFailedAgain", queue.failed_again),
                ("FailedEventsNotOurs", queue.not_ours),
            ],
            !self.complete || queue.stopped.is_some(),
        );
    }
}

/// Is this invocation the sweep's schedule (rather than an SSM event)?
pub fn is_sweep(event: &serde_json::Value) -> bool {
    event.get("sweep").and_then(|v| v.as_str()) == Some("waiting-steps")
}

/// What became of one execution's waiting steps.
#[derive(Default)]
struct Done {
    read: bool,
    healed: usize,
    reminders: usize,
    last_calls: usize,
    /// SSM throttled (or failed): stop here, and come back to this execution.
    stop: Option<String>,
}

pub async fn sweep(app: &EventsApp, deadline: &Deadline) -> Result<SweepReport, EventError> {
    let work = deadline.keeping(SAVE_RESERVE);
    let mut report = SweepReport::default();
    let mut after = app.store.sweep_cursor(&work).await?;
    let budget = app.sweep.max_ssm_reads;
    loop {
        let page = app
            .store
            .waiting_steps_oldest_first(after.as_ref(), PAGE, &work)
            .await?;
        // One read per execution: its steps in the page go together.
        let steps = page.steps;
        let mut groups: Vec<Vec<usize>> = vec![];
        for (i, step) in steps.iter().enumerate() {
            match groups
                .iter_mut()
                .find(|g| steps[g[0]].target.execution_id == step.target.execution_id)
            {
                Some(group) => group.push(i),
                None => groups.push(vec![i]),
            }
        }
        // Only as many executions as the reads allow; the rest wait for the next sweep.
        let room = budget.saturating_sub(report.ssm_reads);
        let fit = groups.len().min(room);
        let taken: Vec<Vec<WaitingStep>> = groups[..fit]
            .iter()
            .map(|g| g.iter().map(|&i| steps[i].clone()).collect())
            .collect();
        let results: Vec<Done> = stream::iter(taken.iter())
            .map(|group| one_execution(app, group, &work))
            .buffered(IN_FLIGHT)
            .collect()
            .await;
        let mut handled = vec![false; steps.len()];
        for (group, done) in groups.iter().zip(&results) {
            if let Some(why) = &done.stop {
                report.stopped.get_or_insert_with(|| why.clone());
                continue;
            }
            report.steps += group.len();
            report.ssm_reads += usize::from(done.read);
            report.healed += done.healed;
            report.reminders += done.reminders;
            report.last_calls += done.last_calls;
            for &i in group {
                handled[i] = true;
            }
        }
        // The next sweep goes on from the first entry not handled (what follows it and
        // was handled is handled again: healing and reminders are idempotent).
        if let Some(first_left) = handled.iter().position(|h| !h) {
            if first_left > 0 {
                after = Some(Cursor::after(&steps[first_left - 1]));
            }
            if report.stopped.is_none() {
                report.stopped = Some(format!(
                    "read {budget} executions, as SWEEP_MAX_SSM_READS allows"
                ));
            }
            break;
        }
        if report.stopped.is_some() {
            break;
        }
        match page.next {
            Some(next) => after = Some(next),
            None => {
                report.complete = true;
                after = None;
                break;
            }
        }
        if !work.fits(Duration::ZERO, CallFloor::AWS, PER_EXECUTION) {
            report.stopped = Some("out of time".into());
            break;
        }
    }
    app.store.set_sweep_cursor(after.as_ref(), deadline).await?;
    tracing::info!(report = ?report, "sweep done");
    Ok(report)
}

/// One execution's waiting steps: one SSM read, then healing or reminders.
async fn one_execution(app: &EventsApp, steps: &[WaitingStep], deadline: &Deadline) -> Done {
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
