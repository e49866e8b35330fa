//! The pictures in the README are the real Block Kit output, rendered as text: this
//! test renders the prompt and the decided message for a fixed execution and checks
//! that the README shows exactly that. On a mismatch it prints what to paste.

use std::collections::BTreeMap;

use approvals::domain::execution::{APPROVE_ACTION, Execution, ExecutionId, Status, Step};
use approvals::domain::interaction::Decision;
use approvals::domain::render::{render_outcome, render_prompt};
use approvals::domain::tags::DecisionRecord;
use approvals::stand_ins::block_kit_text::render;

const STARTED: i64 = 1_795_266_000; // 2026-11-21 13:00 UTC

fn example(step_status: Status, execution_status: Status) -> (Execution, Step) {
    let step = Step {
        name: "approveRollout".into(),
        action: APPROVE_ACTION.into(),
        status: step_status,
        step_execution_id: Some("9f1c2d3e-4b5a-4c6d-8e7f-0a1b2c3d4e5f".into()),
        inputs: BTreeMap::from([
            (
                "Message".into(),
                "\"Roll payments 2026.11.21-1 out to production?\\nCanary error rate is 0.02% over the last hour.\"".into(),
            ),
            ("MinRequiredApprovals".into(), "1".into()),
        ]),
        started_at_unix: Some(STARTED),
        timeout_seconds: Some(3600),
        failure_message: None,
    };
    let execution = Execution {
        id: ExecutionId::parse("5c3e9b1a-7d2f-4e8a-9b6c-1f0a2d3e4b5c").unwrap(),
        document_name: "Deploy-Payments".into(),
        document_version: Some("4".into()),
        status: execution_status,
        executed_by: Some("arn:aws:sts::123456789012:assumed-role/Deployer/carol".into()),
        parameters: BTreeMap::from([
            ("Environment".into(), vec!["production".into()]),
            ("ImageTag".into(), vec!["payments:2026.11.21-1".into()]),
        ]),
        steps: vec![step.clone()],
    };
    (execution, step)
}

fn names(id: &str) -> Option<String> {
    (id == "U0ALICE").then(|| "alice".to_owned())
}

fn readme_block(readme: &str, name: &str) -> String {
    let begin = format!("<!-- {name}:begin -->\n```\n");
    let start = readme
        .find(&begin)
        .unwrap_or_else(|| panic!("README has no {name} picture"))
        + begin.len();
    let end = start + readme[start..].find("```\n<!--").expect("closing fence");
    readme[start..end].to_owned()
}

#[test]
fn readme_pictures_are_the_rendered_messages() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let (execution, step) = example(Status::Waiting, Status::Waiting);
    let prompt = render(
        &render_prompt(&execution, &step, "us-east-1").blocks,
        &names,
    ) + "\n";

    let (execution, step) = example(Status::Success, Status::Success);
    let record = DecisionRecord {
        step_key: step.key().into(),
        decision: Decision::Approve,
        user_id: "U0ALICE".into(),
        handle: "alice".into(),
        at_unix: STARTED + 600,
    };
    let decided = render(
        &render_outcome(&execution, &step, Some(&record), "us-east-1").blocks,
        &names,
    ) + "\n";

    for (name, expected) in [("prompt", prompt), ("decided", decided)] {
        assert_eq!(
            readme_block(&readme, name),
            expected,
            "README's {name} picture is stale; paste:\n{expected}"
        );
    }
}
