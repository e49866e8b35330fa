//! What the SSM stand-in's tests share: a stand-in, calls signed for a place, a member account.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{CONTENT_TYPE, RunbookSpec, SsmStandIn, StepSpec};
use crate::test_requests::signed_in;

pub(super) async fn ssm() -> SsmStandIn {
    SsmStandIn::start("127.0.0.1:0".parse().unwrap(), "us-east-1")
        .await
        .unwrap()
}

pub(super) fn call(
    ssm: &SsmStandIn,
    access_key: &str,
    operation: &str,
    input: Value,
) -> (u16, Value) {
    call_in(ssm, "us-east-1", access_key, operation, input)
}

/// A call signed for `region`.
pub(super) fn call_in(
    ssm: &SsmStandIn,
    region: &str,
    access_key: &str,
    operation: &str,
    input: Value,
) -> (u16, Value) {
    let target = format!("AmazonSSM.{operation}");
    let req = signed_in(
        region,
        access_key,
        "ssm",
        CONTENT_TYPE,
        Some(&target),
        &input.to_string(),
    );
    let out = ssm.serve(req);
    (out.status, serde_json::from_slice(&out.body).unwrap())
}

pub(super) fn runbook(document_name: &str, steps: Vec<StepSpec>) -> RunbookSpec {
    RunbookSpec {
        document_name: document_name.into(),
        document_version: "1".into(),
        executed_by: "arn:aws:sts::123456789012:assumed-role/Deployer/carol".into(),
        parameters: BTreeMap::new(),
        steps,
    }
}

pub(super) fn listed_ids(reply: &Value) -> Vec<String> {
    reply["AutomationExecutionMetadataList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["AutomationExecutionId"].as_str().unwrap().to_owned())
        .collect()
}

pub(super) const MEMBER: &str = "210987654321";
pub(super) const MEMBER_KEY: &str = "ASIAMEMBERSESSION001";

/// An SSM stand-in on which `MEMBER_KEY` signs as a session of the member
/// account's approver role (the one `RunbookSpec::sample(..).in_account(MEMBER)`
/// names).
pub(super) async fn ssm_with_member_session() -> SsmStandIn {
    let ssm = ssm().await;
    let role = "approvals-SlackInteractionsRole";
    let arn = format!("arn:aws:sts::{MEMBER}:assumed-role/{role}/U0ALICE");
    ssm.principals().register(MEMBER_KEY, &arn, None);
    ssm
}
