//! When a reminder about a waiting step is due (what it says: `messages::reminders`).
//!
//! The sweep (see `handlers::sweep`) asks this for each step it finds waiting, after SSM
//! confirmed the step still waits.

use super::record::WaitingStep;

/// When to remind (`SLACK_REMIND_AFTER_MINUTES`, `SLACK_LAST_CALL_MINUTES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReminderSettings {
    /// A reminder once a step has waited this long since it started waiting or since
    /// its last reminder (seconds); `None`: no reminders.
    pub every_secs: Option<i64>,
    /// One last call this long before the step times out (seconds); `None`: none.
    pub last_call_secs: Option<i64>,
}

/// What a waiting step is owed now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    Nothing,
    Reminder,
    /// The step times out within the last-call window: the last reminder it gets.
    LastCall,
}

/// What `step`, still waiting at `now_unix`, is owed: at most one reminder per
/// interval, and one last call before its timeout, which replaces the reminders.
///
/// The last call comes `last_call_secs` before the timeout, or, for a step whose whole
/// wait is shorter than twice that, in the second half of its wait: a step that times
/// out in 50 minutes is not called "last" at the first sweep after it started, but
/// once 25 minutes or less are left.
pub fn due(step: &WaitingStep, settings: &ReminderSettings, now_unix: i64) -> Due {
    if let (Some(window), Some(at)) = (settings.last_call_secs, step.times_out_at_unix) {
        if now_unix >= at {
            // It timed out: SSM ends it; nothing to remind of.
            return Due::Nothing;
        }
        let whole_wait = (at - step.since_unix).max(0);
        if at - now_unix <= window.min(whole_wait / 2) {
            return if step.reminded.last_call {
                Due::Nothing
            } else {
                Due::LastCall
            };
        }
    }
    if step.reminded.last_call {
        return Due::Nothing;
    }
    match settings.every_secs {
        Some(every) => {
            let since = step.reminded.last_at_unix.unwrap_or(step.since_unix);
            if now_unix - since >= every {
                Due::Reminder
            } else {
                Due::Nothing
            }
        }
        None => Due::Nothing,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::execution::ExecutionId;
    use crate::domain::place::Place;
    use crate::domain::record::Reminded;
    use crate::domain::waiting::{StepKind, StepTarget};

    pub(crate) const HOUR: i64 = 3600;

    pub(crate) fn step(since: i64, times_out_at: Option<i64>, reminded: Reminded) -> WaitingStep {
        let place = Place::new(None, "us-east-1");
        WaitingStep {
            target: StepTarget {
                execution_id: ExecutionId::parse("5c3e9b1a-7d2f-4e8a-9b6c-1f0a2d3e4b5c").unwrap(),
                step_name: "approve".into(),
                step_execution_id: Some("s-1".into()),
                runbook: Some("Deploy".into()),
                account: None,
                region: Some("us-east-1".into()),
            },
            step_key: "s-1".into(),
            kind: StepKind::Approval,
            place,
            runbook: "Deploy".into(),
            message: None,
            since_unix: since,
            times_out_at_unix: times_out_at,
            prompt: None,
            reminded,
            starter: None,
        }
    }

    const SETTINGS: ReminderSettings = ReminderSettings {
        every_secs: Some(4 * HOUR),
        last_call_secs: Some(HOUR),
    };

    #[test]
    fn a_reminder_comes_once_per_interval() {
        let fresh = step(0, Some(100 * HOUR), Reminded::default());
        assert_eq!(due(&fresh, &SETTINGS, 4 * HOUR - 1), Due::Nothing);
        assert_eq!(due(&fresh, &SETTINGS, 4 * HOUR), Due::Reminder);
        let reminded = step(
            0,
            Some(100 * HOUR),
            Reminded {
                last_at_unix: Some(4 * HOUR),
                last_call: false,
            },
        );
        assert_eq!(due(&reminded, &SETTINGS, 7 * HOUR), Due::Nothing);
        assert_eq!(due(&reminded, &SETTINGS, 8 * HOUR), Due::Reminder);
    }

    #[test]
    fn the_last_call_comes_once_shortly_before_the_timeout_and_ends_the_reminders() {
        let s = step(0, Some(10 * HOUR), Reminded::default());
        assert_eq!(due(&s, &SETTINGS, 9 * HOUR - 1), Due::Reminder);
        assert_eq!(due(&s, &SETTINGS, 9 * HOUR), Due::LastCall);
        let called = step(
            0,
            Some(10 * HOUR),
            Reminded {
                last_at_unix: Some(9 * HOUR),
                last_call: true,
            },
        );
        assert_eq!(due(&called, &SETTINGS, 9 * HOUR + 60), Due::Nothing);
        assert_eq!(due(&s, &SETTINGS, 10 * HOUR), Due::Nothing, "timed out");
    }

    #[test]
    fn a_step_timing_out_sooner_than_the_last_call_lead_gets_its_last_call_only_when_close() {
        // Waits 50 minutes in all; the last call is set an hour before the timeout.
        let short = step(0, Some(50 * 60), Reminded::default());
        assert_eq!(due(&short, &SETTINGS, 0), Due::Nothing, "not at the start");
        assert_eq!(due(&short, &SETTINGS, 10 * 60), Due::Nothing);
        assert_eq!(due(&short, &SETTINGS, 25 * 60 - 1), Due::Nothing);
        assert_eq!(due(&short, &SETTINGS, 25 * 60), Due::LastCall);
        assert_eq!(due(&short, &SETTINGS, 49 * 60), Due::LastCall);
        assert_eq!(due(&short, &SETTINGS, 50 * 60), Due::Nothing, "timed out");
        // A long wait keeps the full lead.
        let long = step(0, Some(10 * HOUR), Reminded::default());
        assert_eq!(due(&long, &SETTINGS, 9 * HOUR), Due::LastCall);
    }

    #[test]
    fn either_can_be_turned_off() {
        let s = step(0, Some(10 * HOUR), Reminded::default());
        let off = ReminderSettings {
            every_secs: None,
            last_call_secs: None,
        };
        assert_eq!(due(&s, &off, 9 * HOUR + 30 * 60), Due::Nothing);
        let only_last_call = ReminderSettings {
            every_secs: None,
            ..SETTINGS
        };
        assert_eq!(due(&s, &only_last_call, 8 * HOUR), Due::Nothing);
        assert_eq!(due(&s, &only_last_call, 9 * HOUR + 1), Due::LastCall);
    }
}
