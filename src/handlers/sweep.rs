//! The sweep: `automation-events` on a schedule (EventBridge Scheduler, template.yaml),
//! over the index of what waits, oldest first. It asks SSM, in each step's own account
//! and Region, whether the step still waits:
//!
//! - first in batches: one `DescribeAutomationExecutions` (filter `ExecutionId`) tells the
//!   status and current step of up to ten executions of one account and Region
//!   ([`statuses`]); a step shown still waiting and owed nothing costs nothing more;
//! - then in full (`GetAutomationExecution`, [`execution`]) only the executions that
//!   ended or moved on (an event was lost, or its delivery failed for good: the prompt
//!   is brought up to date as the step's own event would have, and it leaves the index),
//!   whose step is owed a reminder or the last call (see [`crate::domain::reminders`]), or
//!   that no batch could answer.
//!
//! Each sweep is bounded: at most `SWEEP_MAX_SSM_READS` full reads (one read serves all
//! the execution's waiting steps), as many at once as the time left needs
//! ([`crate::domain::sweep::in_flight`]), within the invocation's time. Where it stops,
//! the next sweep goes on; a throttled SSM stops it early. A reminder is recorded before
//! it is posted, so none repeats within its interval, and none is sent about a step SSM
//! did not just confirm waits.

mod execution;
mod statuses;

use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use serde::Serialize;

use super::events_app::{EventError, EventsApp};
use super::redrive::RedriveReport;
use crate::deadline::{CallFloor, Deadline, unix_now};
use crate::domain::execution::ExecutionId;
use crate::domain::place::Place;
use crate::domain::record::WaitingStep;
use crate::domain::sweep::{in_flight, needs_full_read};
use crate::store::Cursor;
use execution::{Done, PER_EXECUTION, one_execution};
use statuses::Look;

/// Index entries read per page.
const PAGE: i32 = 100;
/// Index entries looked at together: enough for batches of ten per account and Region
/// when waiting steps are spread over many of them.
const WINDOW: usize = 1000;
/// Kept back from the work: time to keep where the sweep stopped.
const SAVE_RESERVE: Duration = Duration::from_secs(3);
/// About how long one full read takes with what follows it (healing, a reminder).
const PER_READ: Duration = Duration::from_millis(1000);

/// What one sweep did; also the function's response, and logged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Waiting steps looked at.
    pub steps: usize,
    /// Executions read in full from SSM (`GetAutomationExecution`).
    pub ssm_reads: usize,
    /// Prompts brought up to date because their step had ended.
    pub healed: usize,
    pub reminders: usize,
    pub last_calls: usize,
    /// It got to the end of what waits (the next sweep starts from the oldest).
    pub complete: bool,
    /// Why it stopped before the end, if it did.
    pub stopped: Option<String>,
    /// The places (account and Region) whose steps it could not read: the hub cannot
    /// assume the spoke role there. Not `complete` while there are any.
    pub unreachable: Vec<String>,
    /// `DescribeAutomationExecutions` calls that read up to ten executions' status each.
    pub status_batches: usize,
    /// Places (account and Region) whose waiting executions were listed.
    pub places_listed: usize,
    /// SSM calls spent on finding: listing pages, reads of what was found.
    pub listing_calls: usize,
    /// Steps found waiting (approval, or resumable pause) with no prompt.
    pub found_unprompted: usize,
    /// Of those, prompted by this sweep.
    pub found_prompted: usize,
    /// Steps prompted without buttons because the hub could not reach their account,
    /// given their real prompt now that it can.
    pub reachable_again: usize,
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
                ("SweepFoundUnprompted", self.found_unprompted),
                ("SweepUnreachablePlaces", self.unreachable.len()),
                ("SweepReachableAgain", self.reachable_again),
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

pub async fn sweep(app: &EventsApp, deadline: &Deadline) -> Result<SweepReport, EventError> {
    let work = deadline.keeping(SAVE_RESERVE);
    let mut report = SweepReport::default();
    let mut after = app.store.sweep_cursor(&work).await?;
    loop {
        let (steps, next) = window(app, after.as_ref(), &work).await?;
        let groups = by_execution(&steps);
        let handled_groups = one_window(app, &steps, &groups, &mut report, &work).await;
        let mut handled = vec![false; steps.len()];
        for (group, done) in groups.iter().zip(&handled_groups) {
            if *done {
                for &i in group {
                    handled[i] = true;
                }
            }
        }
        // The next sweep goes on from the first entry not handled (what follows it and
        // was handled is handled again: healing and reminders are idempotent).
        if let Some(first_left) = handled.iter().position(|h| !h) {
            if first_left > 0 {
                after = Some(Cursor::after(&steps[first_left - 1]));
            }
            report
                .stopped
                .get_or_insert_with(|| "out of time".to_owned());
            break;
        }
        if report.stopped.is_some() {
            break;
        }
        match next {
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
    if !report.unreachable.is_empty() {
        // It went through the index, but not every step in it was read.
        report.complete = false;
        tracing::warn!(places = ?report.unreachable, "sweep: cannot read these accounts; their steps are not checked");
    }
    tracing::info!(report = ?report, "sweep done");
    Ok(report)
}

/// Notes a place whose steps could not be read (once).
fn unreachable(report: &mut SweepReport, place: &Place) {
    let place = place.to_string();
    if !report.unreachable.contains(&place) {
        report.unreachable.push(place);
        report.unreachable.sort();
    }
}

/// Up to [`WINDOW`] entries of the index after `after`, and where the next ones start.
async fn window(
    app: &EventsApp,
    after: Option<&Cursor>,
    deadline: &Deadline,
) -> Result<(Vec<WaitingStep>, Option<Cursor>), EventError> {
    let mut steps = vec![];
    let mut after = after.cloned();
    loop {
        let page = app
            .store
            .waiting_steps_oldest_first(after.as_ref(), PAGE, deadline)
            .await?;
        steps.extend(page.steps);
        match page.next {
            Some(next) if steps.len() < WINDOW => after = Some(next),
            next => return Ok((steps, next)),
        }
    }
}

/// The entries of each execution, in index order: one read serves them all.
fn by_execution(steps: &[WaitingStep]) -> Vec<Vec<usize>> {
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
    groups
}

/// One window's executions: their statuses in batches, then the full reads needed.
/// Returns, per group, whether it was handled.
async fn one_window(
    app: &EventsApp,
    steps: &[WaitingStep],
    groups: &[Vec<usize>],
    report: &mut SweepReport,
    work: &Deadline,
) -> Vec<bool> {
    let executions: Vec<(ExecutionId, Place)> = groups
        .iter()
        .map(|g| {
            let step = &steps[g[0]];
            (step.target.execution_id.clone(), step.place.clone())
        })
        .collect();
    let (looks, batches) = statuses::look(app, &executions, work).await;
    report.status_batches += batches;
    let group_steps =
        |g: &[usize]| -> Vec<WaitingStep> { g.iter().map(|&i| steps[i].clone()).collect() };
    let now = unix_now();
    let mut handled = vec![false; groups.len()];
    let mut to_read: Vec<usize> = vec![];
    for (gi, group) in groups.iter().enumerate() {
        let id = &executions[gi].0;
        match looks.get(id) {
            Some(Look::Listed(summary)) => {
                if needs_full_read(
                    Some(summary),
                    &group_steps(group),
                    &app.sweep.reminders,
                    now,
                ) {
                    to_read.push(gi);
                } else {
                    handled[gi] = true;
                }
            }
            Some(Look::NotListed | Look::Unanswered) => to_read.push(gi),
            Some(Look::Unreachable) => {
                handled[gi] = true;
                unreachable(report, &executions[gi].1);
            }
            Some(Look::Throttled(why)) => {
                report.stopped.get_or_insert_with(|| why.clone());
            }
            Some(Look::OutOfTime) | None => {
                report
                    .stopped
                    .get_or_insert_with(|| "out of time".to_owned());
            }
        }
    }
    // Only as many reads as SWEEP_MAX_SSM_READS allows; the rest wait for the next sweep.
    let budget = app.sweep.max_ssm_reads;
    let room = budget.saturating_sub(report.ssm_reads);
    if to_read.len() > room {
        report.stopped.get_or_insert_with(|| {
            format!("read {budget} executions, as SWEEP_MAX_SSM_READS allows")
        });
        to_read.truncate(room);
    }
    let at_once = in_flight(to_read.len(), PER_READ, work.remaining());
    let taken: Vec<Vec<WaitingStep>> = to_read.iter().map(|&gi| group_steps(&groups[gi])).collect();
    let results: Vec<Done> = stream::iter(taken.iter())
        .map(|group| one_execution(app, group, work))
        .buffered(at_once)
        .collect()
        .await;
    for (&gi, done) in to_read.iter().zip(&results) {
        if done.unreachable {
            unreachable(report, &executions[gi].1);
        }
        if let Some(why) = &done.stop {
            report.stopped.get_or_insert_with(|| why.clone());
            continue;
        }
        handled[gi] = true;
        report.ssm_reads += usize::from(done.read);
        report.healed += done.healed;
        report.reminders += done.reminders;
        report.last_calls += done.last_calls;
    }
    for (gi, group) in groups.iter().enumerate() {
        if handled[gi] {
            report.steps += group.len();
        }
    }
    handled
}
