//! Which step is waiting, and is it the one a prompt shows?
//!
//! `SendAutomationSignal` names no step: Approve and Reject act on whatever approval
//! is waiting when SSM receives them. So before a click is signalled, the step its
//! prompt showed is looked up in the execution as SSM reports it now, and the signal
//! goes out only if that very step execution is the one waiting, and is of the kind
//! the signal is for. Both functions ask this one question here.

use serde::{Deserialize, Serialize};

use super::execution::{APPROVE_ACTION, Execution, ExecutionId, PAUSE_ACTION, Status, Step};
use super::place::Place;

/// The step a prompt (and each of its buttons) is about: its execution, its name, and
/// the ID SSM gave that one run of the step (a step can run more than once, for
/// example when a runbook loops back to it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepTarget {
    #[serde(rename = "execution_id", with = "execution_id_text")]
    pub execution_id: ExecutionId,
    #[serde(rename = "step_name")]
    pub step_name: String,
    #[serde(
        rename = "step_execution_id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub step_execution_id: Option<String>,
    /// The runbook: whether it may be resumed from Slack (`SLACK_RESUME_PREFIXES`)
    /// and which rule says who may decide are then known before anything is asked
    /// of AWS. Older buttons name it only on Resume.
    #[serde(rename = "runbook", default, skip_serializing_if = "Option::is_none")]
    pub runbook: Option<String>,
    /// The account and Region the execution runs in. A button without them (from a
    /// deployment that served one account) is for the deployment's own.
    #[serde(rename = "account", default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(rename = "region", default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

/// What a signal needs the step to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// `aws:approve`: Approve and Reject.
    Approval,
    /// `aws:pause`: Resume.
    Pause,
}

impl StepKind {
    pub fn action(self) -> &'static str {
        match self {
            Self::Approval => APPROVE_ACTION,
            Self::Pause => PAUSE_ACTION,
        }
    }

    /// The kind of a step that waits for a person, if it is one.
    pub fn of(step: &Step) -> Option<Self> {
        match step.action.as_str() {
            APPROVE_ACTION => Some(Self::Approval),
            PAUSE_ACTION => Some(Self::Pause),
            _ => None,
        }
    }
}

/// The answer to "is the step this prompt shows the one waiting now?".
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepCheck<'a> {
    /// That very step execution waits for this kind of signal now: signal it.
    WaitingNow(&'a Step),
    /// It is no longer waiting (decided, timed out, cancelled, failed) or the
    /// runbook is ending; its status says what became of it.
    NoLongerWaiting(&'a Step),
    /// A step of another kind than the signal is for.
    WrongKind(&'a Step),
    /// The execution has no such step execution (not reported by SSM).
    Unknown,
}

impl StepTarget {
    pub fn for_step(execution_id: &ExecutionId, step: &Step) -> Self {
        Self {
            execution_id: execution_id.clone(),
            step_name: step.name.clone(),
            step_execution_id: step.step_execution_id.clone(),
            runbook: None,
            account: None,
            region: None,
        }
    }

    /// The target a button carries: the step run, its runbook, and where it runs.
    pub fn on_button(execution: &Execution, step: &Step, place: &Place) -> Self {
        Self {
            runbook: Some(execution.document_name.clone()),
            account: place.account.clone(),
            region: Some(place.region.clone()),
            ..Self::for_step(&execution.id, step)
        }
    }

    /// Does `step` describe the step (run) this target names?
    pub fn matches(&self, step: &Step) -> bool {
        step.name == self.step_name
            && match &self.step_execution_id {
                Some(id) => step.step_execution_id.as_deref() == Some(id.as_str()),
                None => true,
            }
    }
}

/// The one rule for both functions: is `target` the step of `execution` that waits
/// now for a signal of `kind`?
pub fn check_step<'a>(
    execution: &'a Execution,
    target: &StepTarget,
    kind: StepKind,
) -> StepCheck<'a> {
    if execution.id != target.execution_id {
        return StepCheck::Unknown;
    }
    // Without a step execution ID, the latest run of the named step is meant.
    let Some(step) = execution.steps.iter().rev().find(|s| target.matches(s)) else {
        return StepCheck::Unknown;
    };
    if step.action != kind.action() {
        return StepCheck::WrongKind(step);
    }
    let waits = step.status == Status::Waiting && execution.status == Status::Waiting;
    // SSM runs one step at a time; a later step that has started means this one is over.
    let later_started = execution
        .steps
        .iter()
        .skip_while(|s| !std::ptr::eq(*s, step))
        .skip(1)
        .any(|s| s.status != Status::Pending);
    if waits && !later_started {
        StepCheck::WaitingNow(step)
    } else {
        StepCheck::NoLongerWaiting(step)
    }
}

/// The step of `execution` that waits now for a person (an approval or a pause), if any.
pub fn waiting_step(execution: &Execution) -> Option<(&Step, StepKind)> {
    let step = execution
        .steps
        .iter()
        .rev()
        .find(|s| s.status == Status::Waiting)?;
    let kind = StepKind::of(step)?;
    let target = StepTarget::for_step(&execution.id, step);
    match check_step(execution, &target, kind) {
        StepCheck::WaitingNow(step) => Some((step, kind)),
        _ => None,
    }
}

mod execution_id_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::domain::execution::ExecutionId;

    pub fn serialize<S: Serializer>(id: &ExecutionId, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(id.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<ExecutionId, D::Error> {
        let raw = String::deserialize(d)?;
        ExecutionId::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const ID: &str = "333ba70b-2333-48db-b17e-a5e69c6f4d1c";

    fn step(name: &str, action: &str, status: Status, run: &str) -> Step {
        Step {
            name: name.into(),
            action: action.into(),
            status,
            step_execution_id: Some(run.into()),
            inputs: BTreeMap::new(),
            started_at_unix: Some(1),
            timeout_seconds: None,
            failure_message: None,
            outputs: Default::default(),
        }
    }

    fn execution(status: Status, steps: Vec<Step>) -> Execution {
        Execution {
            id: ExecutionId::parse(ID).unwrap(),
            document_name: "Deploy".into(),
            document_version: None,
            status,
            executed_by: None,
            parameters: BTreeMap::new(),
            steps,
        }
    }

    fn target(name: &str, run: Option<&str>) -> StepTarget {
        StepTarget {
            execution_id: ExecutionId::parse(ID).unwrap(),
            step_name: name.into(),
            step_execution_id: run.map(str::to_owned),
            runbook: None,
            account: None,
            region: None,
        }
    }

    #[test]
    fn the_waiting_step_is_the_one_shown() {
        let e = execution(
            Status::Waiting,
            vec![
                step("check", "aws:executeAwsApi", Status::Success, "r0"),
                step("approveFirst", APPROVE_ACTION, Status::Waiting, "r1"),
            ],
        );
        let t = target("approveFirst", Some("r1"));
        assert!(
            matches!(check_step(&e, &t, StepKind::Approval), StepCheck::WaitingNow(s) if s.name == "approveFirst")
        );
        assert_eq!(
            waiting_step(&e).map(|(s, kind)| (s.name.as_str(), kind)),
            Some(("approveFirst", StepKind::Approval))
        );
    }

    #[test]
    fn an_earlier_approval_is_not_the_one_waiting_now() {
        let e = execution(
            Status::Waiting,
            vec![
                step("approveFirst", APPROVE_ACTION, Status::Success, "r1"),
                step("approveSecond", APPROVE_ACTION, Status::Waiting, "r2"),
            ],
        );
        let first = target("approveFirst", Some("r1"));
        assert!(matches!(
            check_step(&e, &first, StepKind::Approval),
            StepCheck::NoLongerWaiting(s) if s.status == Status::Success
        ));
    }

    #[test]
    fn another_run_of_the_same_step_is_another_step() {
        // The runbook looped back: approveRollout runs a second time, with a new ID.
        let e = execution(
            Status::Waiting,
            vec![
                step("approveRollout", APPROVE_ACTION, Status::Success, "run-1"),
                step("rollOut", "aws:executeScript", Status::Failed, "r2"),
                step("approveRollout", APPROVE_ACTION, Status::Waiting, "run-3"),
            ],
        );
        assert!(matches!(
            check_step(
                &e,
                &target("approveRollout", Some("run-1")),
                StepKind::Approval
            ),
            StepCheck::NoLongerWaiting(_)
        ));
        assert!(matches!(
            check_step(
                &e,
                &target("approveRollout", Some("run-3")),
                StepKind::Approval
            ),
            StepCheck::WaitingNow(_)
        ));
        assert_eq!(
            check_step(
                &e,
                &target("approveRollout", Some("run-9")),
                StepKind::Approval
            ),
            StepCheck::Unknown
        );
        // Named without a run: the latest run.
        assert!(matches!(
            check_step(&e, &target("approveRollout", None), StepKind::Approval),
            StepCheck::WaitingNow(s) if s.step_execution_id.as_deref() == Some("run-3")
        ));
        // The name must agree with the run.
        assert_eq!(
            check_step(&e, &target("rollOut", Some("run-3")), StepKind::Approval),
            StepCheck::Unknown
        );
    }

    #[test]
    fn a_step_of_another_kind_is_refused() {
        let e = execution(
            Status::Waiting,
            vec![step("pauseHere", "aws:pause", Status::Waiting, "r1")],
        );
        assert!(matches!(
            check_step(&e, &target("pauseHere", Some("r1")), StepKind::Approval),
            StepCheck::WrongKind(_)
        ));
        // A pause is resumed, not approved; it waits for a person all the same.
        assert!(matches!(
            check_step(&e, &target("pauseHere", Some("r1")), StepKind::Pause),
            StepCheck::WaitingNow(_)
        ));
        assert_eq!(
            waiting_step(&e).map(|(s, kind)| (s.name.as_str(), kind)),
            Some(("pauseHere", StepKind::Pause))
        );
        let sleeping = execution(
            Status::Waiting,
            vec![step("sleep", "aws:sleep", Status::Waiting, "r1")],
        );
        assert_eq!(waiting_step(&sleeping), None);
    }

    #[test]
    fn a_runbook_being_cancelled_does_not_wait() {
        let e = execution(
            Status::Cancelling,
            vec![step("approveFirst", APPROVE_ACTION, Status::Waiting, "r1")],
        );
        assert!(matches!(
            check_step(&e, &target("approveFirst", Some("r1")), StepKind::Approval),
            StepCheck::NoLongerWaiting(_)
        ));
    }

    #[test]
    fn another_execution_is_unknown() {
        let e = execution(
            Status::Waiting,
            vec![step("approveFirst", APPROVE_ACTION, Status::Waiting, "r1")],
        );
        let mut t = target("approveFirst", Some("r1"));
        t.execution_id = ExecutionId::parse("00000000-0000-4000-8000-000000000001").unwrap();
        assert_eq!(check_step(&e, &t, StepKind::Approval), StepCheck::Unknown);
    }

    #[test]
    fn targets_round_trip_as_button_values() {
        let t = target(
            "approveRollout",
            Some("0b2c8a5e-1111-4222-8333-444455556666"),
        );
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(serde_json::from_str::<StepTarget>(&json).unwrap(), t);
        assert!(
            serde_json::from_str::<StepTarget>(r#"{"execution_id":"x","step_name":"a"}"#).is_err()
        );
    }
}
