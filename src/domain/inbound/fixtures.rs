//! Test fixtures shared by the inbound payloads' tests (a step target, its button value, a click).

use serde_json::{Value, json};

use super::button::button_value;
use crate::domain::waiting::StepTarget;

pub(super) const ID: &str = "333ba70b-2333-48db-b17e-a5e69c6f4d1c";
pub(super) const STEP_RUN: &str = "0b2c8a5e-1111-4222-8333-444455556666";

pub(super) fn target() -> StepTarget {
    StepTarget {
        execution_id: crate::domain::execution::ExecutionId::parse(ID).unwrap(),
        step_name: "approveRollout".into(),
        step_execution_id: Some(STEP_RUN.into()),
        runbook: None,
        account: None,
        region: None,
    }
}

pub(super) fn value() -> String {
    button_value(&target())
}

pub(super) fn click(action_id: &str, value: &str) -> Value {
    json!({
        "type": "block_actions", "token": "deprecated-verification-token", "trigger_id": "1.2.3",
        "user": {"id": "U0ALICE", "username": "alice", "name": "alice", "team_id": "T0TEAM"},
        "team": {"id": "T0TEAM", "domain": "acme"}, "api_app_id": "A0APP",
        "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": "C0APPROVALS"},
        "channel": {"id": "C0APPROVALS", "name": "approvals"},
        "message": {"type": "message", "ts": "1700000000.000100", "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Approval needed"}},
            {"type": "rich_text", "elements": [{"type": "future_thing", "x": 1}]},
            {"type": "actions", "elements": []}]},
        "response_url": "https://hooks.slack.com/actions/T0TEAM/1/abc",
        "actions": [{"type": "button", "action_id": action_id, "block_id": "ssm_decision/step-1", "value": value,
            "action_ts": "1700000001.000200", "text": {"type": "plain_text", "text": "Approve"}}],
        "state": {"values": {}}, "is_enterprise_install": false, "enterprise": null
    })
}
