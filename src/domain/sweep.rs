//! What the sweep decides without I/O: whether a batch's answer about an execution
//! (`DescribeAutomationExecutions`, no steps) settles its waiting steps or a full read
//! is needed, and how many calls to keep in flight for the time left.

use std::time::Duration;

use super::execution::{ExecutionId, Status};
use super::record::WaitingStep;
use super::reminders::{Due, ReminderSettings, due};

/// What `DescribeAutomationExecutions` says of one execution: its status and the
/// step it is at, not its steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionSummary {
    pub id: ExecutionId,
    pub document_name: String,
    pub status: Status,
    pub current_step: Option<String>,
    pub current_action: Option<String>,
}

/// Whether the sweep must read the execution in full (`GetAutomationExecution`) to
/// deal with its waiting `steps`: when no batch answered for it (or SSM did not list
/// it), when it no longer waits or waits at another step (so one of ours ended and
/// its prompt heals), or when a step is owed a reminder or its last call (sent only
/// about a step run SSM just confirmed waits). Otherwise the steps still wait and
/// nothing is owed: no read.
pub fn needs_full_read(
    summary: Option<&ExecutionSummary>,
    steps: &[WaitingStep],
    settings: &ReminderSettings,
    now_unix: i64,
) -> bool {
    let Some(summary) = summary else {
        return true;
    };
    if summary.status != Status::Waiting {
        return true;
    }
    let waits_elsewhere = steps
        .iter()
        .any(|s| summary.current_step.as_deref() != Some(s.target.step_name.as_str()));
    waits_elsewhere
        || steps
            .iter()
            .any(|s| s.prompt.is_some() && due(s, settings, now_unix) != Due::Nothing)
}

/// The fewest calls kept in flight at once.
pub const MIN_IN_FLIGHT: usize = 4;
/// The most: a sweep is one execution environment, and SSM throttles per account and
/// Region (the work is spread over them, in index order).
pub const MAX_IN_FLIGHT: usize = 32;

/// How many of `units` pieces of work, each taking about `per_unit`, to run at once
/// so they end within a quarter of `time_left` (more of the same may follow, and the
/// rest is margin for slow answers): at least [`MIN_IN_FLIGHT`], at most [`MAX_IN_FLIGHT`].
pub fn in_flight(units: usize, per_unit: Duration, time_left: Duration) -> usize {
    let budget = (time_left / 4).as_secs_f64().max(0.001);
    let needed = (units as f64 * per_unit.as_secs_f64() / budget).ceil() as usize;
    needed.clamp(MIN_IN_FLIGHT, MAX_IN_FLIGHT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::record::{PromptRef, Reminded};
    use crate::domain::reminders::tests::{HOUR, step};

    const SETTINGS: ReminderSettings = ReminderSettings {
        every_secs: Some(4 * HOUR),
        last_call_secs: Some(HOUR),
    };

    fn prompted(since: i64) -> WaitingStep {
        WaitingStep {
            prompt: Some(PromptRef {
                channel: "C0APPROVALS".into(),
                ts: "1.2".into(),
            }),
            ..step(since, Some(since + 100 * HOUR), Reminded::default())
        }
    }

    fn summary(status: Status, current_step: Option<&str>) -> ExecutionSummary {
        ExecutionSummary {
            id: ExecutionId::parse("5c3e9b1a-7d2f-4e8a-9b6c-1f0a2d3e4b5c").unwrap(),
            document_name: "Deploy".into(),
            status,
            current_step: current_step.map(str::to_owned),
            current_action: Some("aws:approve".into()),
        }
    }

    #[test]
    fn a_step_the_batch_shows_still_waiting_and_owed_nothing_costs_no_read() {
        let steps = [prompted(0)];
        let waiting = summary(Status::Waiting, Some("approve"));
        assert!(!needs_full_read(Some(&waiting), &steps, &SETTINGS, HOUR));
    }

    #[test]
    fn an_ended_or_moved_on_or_unlisted_execution_or_one_owed_a_reminder_is_read_in_full() {
        let steps = [prompted(0)];
        for status in [Status::Success, Status::Cancelled, Status::InProgress] {
            let ended = summary(status, None);
            assert!(needs_full_read(Some(&ended), &steps, &SETTINGS, HOUR));
        }
        let elsewhere = summary(Status::Waiting, Some("approveAgain"));
        assert!(needs_full_read(Some(&elsewhere), &steps, &SETTINGS, HOUR));
        assert!(needs_full_read(None, &steps, &SETTINGS, HOUR));
        let waiting = summary(Status::Waiting, Some("approve"));
        assert!(needs_full_read(Some(&waiting), &steps, &SETTINGS, 4 * HOUR));
    }

    #[test]
    fn concurrency_grows_with_the_work_and_shrinks_with_the_time_left() {
        let second = Duration::from_secs(1);
        let minute = Duration::from_secs(60);
        assert_eq!(in_flight(0, second, minute), MIN_IN_FLIGHT);
        assert_eq!(in_flight(10, second, minute), MIN_IN_FLIGHT);
        assert_eq!(in_flight(150, second, minute), 10);
        assert_eq!(in_flight(150, second, minute / 2), 20);
        assert_eq!(in_flight(5000, second, minute), MAX_IN_FLIGHT);
        assert_eq!(in_flight(10, second, Duration::ZERO), MAX_IN_FLIGHT);
    }
}
