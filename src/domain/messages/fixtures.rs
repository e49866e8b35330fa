//! Test fixtures shared by the messages' tests (an execution, a place, blocks as text).

use serde_json::Value;

use crate::domain::execution::{APPROVE_ACTION, Execution, ExecutionId, Status, Step};
use crate::domain::place::Shown;
use std::collections::BTreeMap;

pub(super) const ID: &str = "333ba70b-2333-48db-b17e-a5e69c6f4d1c";

pub(super) fn execution(status: Status, step_status: Status) -> (Execution, Step) {
    let step = Step {
        name: "approveProd".into(),
        action: APPROVE_ACTION.into(),
        status: step_status,
        step_execution_id: Some("0b2c8a5e-1111-4222-8333-444455556666".into()),
        inputs: BTreeMap::from([
            ("Message".into(), "\"Roll <prod> out & restart\"".into()),
            ("MinRequiredApprovals".into(), "1".into()),
        ]),
        started_at_unix: Some(1_763_730_000),
        timeout_seconds: Some(3600),
        failure_message: None,
        outputs: Default::default(),
    };
    let execution = Execution {
        id: ExecutionId::parse(ID).unwrap(),
        document_name: "Deploy-Prod".into(),
        document_version: Some("3".into()),
        status,
        executed_by: Some("arn:aws:sts::123456789012:assumed-role/Ops/alice".into()),
        parameters: BTreeMap::from([
            ("Version".into(), vec!["1.2.3".into()]),
            ("Huge".into(), vec!["x".repeat(500)]),
        ]),
        steps: vec![step.clone()],
    };
    (execution, step)
}

/// A place with no account, in `region` (as a deployment that was not told its own).
pub(super) fn shown(region: &str) -> Shown<'static> {
    Shown::region_only(Box::leak(Box::new(crate::domain::place::Place::new(
        None, region,
    ))))
}

pub(super) fn all_text(blocks: &[Value]) -> String {
    serde_json::to_string(blocks).unwrap()
}
