//! Automation executions: started in a place, run step by step to the next wait, waits ended.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::runbook::{RunbookSpec, StepSpec};
use super::{ACCOUNT, EXECUTION_DETAIL_TYPE, Place, STEP_DETAIL_TYPE, SsmStandIn, State, error};
use crate::{Outgoing, now_unix_f64};

#[derive(Debug, Clone)]
pub(super) struct StepState {
    pub(super) spec: StepSpec,
    pub(super) status: String,
    pub(super) step_execution_id: String,
    pub(super) started: Option<f64>,
    pub(super) ended: Option<f64>,
    pub(super) failure_message: Option<String>,
    pub(super) approvals: Vec<(String, String)>,
    /// Every decision taken on an approval step, as its `ApproverDecisions` output
    /// reports them: (approver, `Approve` / `Reject`, time, comment).
    pub(super) decisions: Vec<(String, &'static str, f64, String)>,
}

#[derive(Debug, Clone)]
pub(super) struct ExecutionState {
    pub(super) place: Place,
    pub(super) spec: RunbookSpec,
    pub(super) status: String,
    pub(super) started: f64,
    pub(super) ended: Option<f64>,
    pub(super) steps: Vec<StepState>,
    pub(super) tags: BTreeMap<String, String>,
}

impl SsmStandIn {
    /// Starts an execution in the home account and Region and runs it to its first
    /// approval or pause (or its end).
    pub fn start_automation(&self, spec: RunbookSpec) -> String {
        self.start_automation_with_id(&uuid::Uuid::new_v4().to_string(), spec)
    }

    pub fn start_automation_with_id(&self, id: &str, spec: RunbookSpec) -> String {
        let region = self.region.clone();
        self.start_automation_with_id_in(id, ACCOUNT, &region, spec)
    }

    /// Starts an execution in `account` and `region`: only requests signed by a
    /// principal of that account, for that Region, see it.
    ///
    /// Panics if `account` is not 12 digits: a mistake in the test.
    pub fn start_automation_in(&self, account: &str, region: &str, spec: RunbookSpec) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        self.start_automation_with_id_in(&id, account, region, spec)
    }

    /// Like [`SsmStandIn::start_automation_in`], with the execution ID given. An ID
    /// names one execution wherever it runs: starting one with an ID in use replaces
    /// that execution.
    pub fn start_automation_with_id_in(
        &self,
        id: &str,
        account: &str,
        region: &str,
        spec: RunbookSpec,
    ) -> String {
        assert!(
            crate::is_account_id(account),
            "{account} is not an AWS account ID (12 digits)"
        );
        assert!(!region.is_empty(), "an execution runs in a Region");
        for step in spec.steps.iter().filter(|s| s.action == "aws:approve") {
            check_approval_inputs(&step.name, &step.inputs);
        }
        let mut state = self.lock();
        let steps = spec
            .steps
            .iter()
            .enumerate()
            .map(|(n, s)| StepState::pending(s.clone(), id, n))
            .collect();
        let execution = ExecutionState {
            place: Place::new(account, region),
            spec,
            status: "InProgress".into(),
            started: now_unix_f64(),
            ended: None,
            steps,
            tags: BTreeMap::new(),
        };
        state.executions.insert(id.to_owned(), execution);
        advance(&mut state, id);
        id.to_owned()
    }

    /// The account and Region execution `id` runs in.
    pub fn execution_place(&self, id: &str) -> Option<(String, String)> {
        self.lock()
            .executions
            .get(id)
            .map(|e| (e.place.account.clone(), e.place.region.clone()))
    }

    /// The waiting approval (or pause) step runs out of time (as after its
    /// `timeoutSeconds`).
    pub fn time_out(&self, id: &str) -> bool {
        self.end_waiting(id, "TimedOut", "TimedOut", |action| {
            Some(if action == "aws:approve" {
                "Step timed out while waiting for approval".into()
            } else {
                "Step timed out while paused".into()
            })
        })
    }

    /// Someone cancels the waiting execution (`StopAutomationExecution`).
    pub fn cancel(&self, id: &str) -> bool {
        self.end_waiting(id, "Cancelled", "Cancelled", |_| None)
    }

    /// Ends the waiting step with `step_status` (and the failure message `failure`
    /// gives for its action) and the execution with `execution_status`.
    fn end_waiting(
        &self,
        id: &str,
        step_status: &str,
        execution_status: &str,
        failure: impl Fn(&str) -> Option<String>,
    ) -> bool {
        let mut state = self.lock();
        let Some(index) = waiting_step(&state, id) else {
            return false;
        };
        let message = failure(&state.executions[id].steps[index].spec.action);
        set_step(&mut state, id, index, step_status, message);
        set_execution(&mut state, id, execution_status);
        true
    }

    /// Makes the execution look started at `unix_secs` (to age it).
    pub fn set_started_at(&self, id: &str, unix_secs: f64) {
        if let Some(e) = self.lock().executions.get_mut(id) {
            e.started = unix_secs;
        }
    }

    /// Makes the execution and its started steps look `secs` older, as if it had been
    /// started that long ago (the demo's "four hours pass", without a clock to move).
    pub fn age(&self, id: &str, secs: f64) {
        if let Some(e) = self.lock().executions.get_mut(id) {
            e.started -= secs;
            for step in &mut e.steps {
                step.started = step.started.map(|t| t - secs);
            }
        }
    }

    pub fn execution_status(&self, id: &str) -> Option<String> {
        self.lock().executions.get(id).map(|e| e.status.clone())
    }

    pub fn step_status(&self, id: &str, step_name: &str) -> Option<String> {
        let state = self.lock();
        state
            .executions
            .get(id)?
            .steps
            .iter()
            .find(|s| s.spec.name == step_name)
            .map(|s| s.status.clone())
    }

    /// Tags the execution as its starter would (`--tags` on start-automation-execution).
    pub fn tag_execution(&self, id: &str, key: &str, value: &str) {
        if let Some(e) = self.lock().executions.get_mut(id) {
            e.tags.insert(key.into(), value.into());
        }
    }

    pub fn tags(&self, id: &str) -> BTreeMap<String, String> {
        self.lock()
            .executions
            .get(id)
            .map(|e| e.tags.clone())
            .unwrap_or_default()
    }

    /// The ID of each run of the step named `step_name`, oldest first.
    pub fn step_execution_ids(&self, id: &str, step_name: &str) -> Vec<String> {
        self.lock()
            .executions
            .get(id)
            .map(|e| {
                e.steps
                    .iter()
                    .filter(|s| s.spec.name == step_name)
                    .map(|s| s.step_execution_id.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl StepState {
    /// The `n`th step execution of execution `id`. Its ID is derived from both, so
    /// the same runbook started with the same ID gets the same step execution IDs
    /// (the sample files in `events/` rely on it); real SSM makes up random ones.
    fn pending(spec: StepSpec, id: &str, n: usize) -> Self {
        Self {
            spec,
            status: "Pending".into(),
            step_execution_id: derived_uuid(id, n),
            started: None,
            ended: None,
            failure_message: None,
            approvals: vec![],
            decisions: vec![],
        }
    }
}

/// A UUID-shaped ID derived from `seed` and `n` (FNV-1a, twice).
fn derived_uuid(seed: &str, n: usize) -> String {
    let fnv = |salt: u64| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ salt;
        for b in seed.bytes().chain(n.to_le_bytes()) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h
    };
    let hex = format!("{:016x}{:016x}", fnv(1), fnv(2));
    format!(
        "{}-{}-4{}-8{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

pub(super) fn waiting_step(state: &State, id: &str) -> Option<usize> {
    state
        .executions
        .get(id)?
        .steps
        .iter()
        .position(|s| s.status == "Waiting")
}

/// Runs steps until one waits or the runbook ends.
pub(super) fn advance(state: &mut State, id: &str) {
    loop {
        let Some(execution) = state.executions.get(id) else {
            return;
        };
        let Some(index) = execution.steps.iter().position(|s| s.status == "Pending") else {
            set_execution(state, id, "Success");
            return;
        };
        if waits_for_signal(&execution.steps[index].spec.action) {
            let step = &mut state.executions.get_mut(id).expect("exists").steps[index];
            step.started = Some(now_unix_f64());
            set_step(state, id, index, "Waiting", None);
            set_execution(state, id, "Waiting");
            return;
        }
        state.executions.get_mut(id).expect("exists").steps[index].started = Some(now_unix_f64());
        set_step(state, id, index, "Success", None);
        loop_back(state, id, index);
        if state.executions[id].status != "InProgress" {
            set_execution(state, id, "InProgress");
        }
    }
}

/// Whether a step of this action waits for a signal: an approval or a pause.
fn waits_for_signal(action: &str) -> bool {
    action == "aws:approve" || action == "aws:pause"
}

/// A step with `loop_back_to` that just succeeded for the first time queues new runs
/// of the steps from its target up to itself, right after itself.
fn loop_back(state: &mut State, id: &str, index: usize) {
    let execution = state.executions.get_mut(id).expect("exists");
    let Some(target) = execution.steps[index].spec.loop_back_to.clone() else {
        return;
    };
    let looped_before = execution.steps[..index]
        .iter()
        .any(|s| s.spec.name == execution.steps[index].spec.name);
    let Some(from) = execution.steps[..index]
        .iter()
        .position(|s| s.spec.name == target)
    else {
        return;
    };
    if looped_before {
        return;
    }
    let again: Vec<StepSpec> = execution.steps[from..index]
        .iter()
        .map(|s| s.spec.clone())
        .collect();
    let first_n = execution.steps.len();
    for (k, spec) in again.into_iter().enumerate() {
        let state = StepState::pending(spec, id, first_n + k);
        execution.steps.insert(index + 1 + k, state);
    }
}

pub(super) fn set_step(
    state: &mut State,
    id: &str,
    index: usize,
    status: &str,
    failure: Option<String>,
) {
    let execution = state.executions.get_mut(id).expect("exists");
    let definition = execution.spec.document_name.clone();
    let place = execution.place.clone();
    let step = &mut execution.steps[index];
    step.status = status.into();
    step.failure_message = failure;
    if status != "Waiting" && status != "InProgress" {
        step.ended = Some(now_unix_f64());
    }
    let detail = json!({"ExecutionId": id, "Definition": definition, "DefinitionVersion": 1.0,
        "Status": status, "StepName": step.spec.name, "Action": step.spec.action,
        "StartTime": "No date available", "EndTime": "No date available", "Time": 0.0});
    let event = eventbridge(&place, STEP_DETAIL_TYPE, id, &definition, detail);
    state.events.push_back(event);
}

pub(super) fn set_execution(state: &mut State, id: &str, status: &str) {
    let execution = state.executions.get_mut(id).expect("exists");
    execution.status = status.into();
    if !matches!(status, "Pending" | "InProgress" | "Waiting") {
        execution.ended = Some(now_unix_f64());
    }
    let definition = execution.spec.document_name.clone();
    let detail = json!({"ExecutionId": id, "Definition": definition, "DefinitionVersion": 1.0,
        "Status": status, "ExecutedBy": execution.spec.executed_by,
        "StartTime": "No date available", "EndTime": "No date available", "Time": 0.0});
    let event = eventbridge(
        &execution.place,
        EXECUTION_DETAIL_TYPE,
        id,
        &definition,
        detail,
    );
    state.events.push_back(event);
}

/// The EventBridge event SSM sends from the execution's own account and Region.
fn eventbridge(
    place: &Place,
    detail_type: &str,
    id: &str,
    definition: &str,
    detail: Value,
) -> Value {
    let Place { account, region } = place;
    json!({"version": "0", "id": uuid::Uuid::new_v4().to_string(), "detail-type": detail_type,
        "source": "aws.ssm", "account": account, "time": "2026-11-21T12:00:00Z", "region": region,
        "resources": [format!("arn:aws:ssm:{region}:{account}:automation-execution/{id}"),
                      format!("arn:aws:ssm:{region}:{account}:automation-definition/{definition}:1")],
        "detail": detail})
}

pub(super) fn not_found(id: &str) -> Outgoing {
    error(
        400,
        "AutomationExecutionNotFoundException",
        &format!("Automation Execution {id} could not be found"),
    )
}

/// SSM refuses a runbook whose `aws:approve` step lists no approvers or more than 10,
/// or asks for more approvals than it lists approvers; so does the stand-in (a test
/// that starts one is mistaken, as its author would be in a real account).
///
/// Panics naming the step.
fn check_approval_inputs(step: &str, inputs: &std::collections::BTreeMap<String, String>) {
    let approvers = super::runbook::approvers(inputs);
    assert!(
        (1..=10).contains(&approvers.len()),
        "step {step}: SSM requires 1 to 10 Approvers, this one lists {}",
        approvers.len()
    );
    let needed: usize = inputs
        .get("MinRequiredApprovals")
        .and_then(|n| n.trim_matches('"').parse().ok())
        .unwrap_or(1);
    assert!(
        needed <= approvers.len(),
        "step {step}: MinRequiredApprovals ({needed}) is more than its {} Approvers, which SSM refuses",
        approvers.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssm::test_support::{
        MEMBER, MEMBER_KEY, call_in, listed_ids, ssm, ssm_with_member_session,
    };
    use crate::ssm::{ACCOUNT, RunbookSpec};

    #[tokio::test]
    async fn an_execution_is_seen_only_from_its_own_account_and_region() {
        let ssm = ssm_with_member_session().await;
        let spec = RunbookSpec::sample("Ship it?", 1).in_account(MEMBER);
        let id = ssm.start_automation_in(MEMBER, "eu-west-1", spec);
        let home = ssm.start_automation(RunbookSpec::sample("Home?", 1));
        assert_eq!(
            ssm.execution_place(&id),
            Some((MEMBER.to_owned(), "eu-west-1".to_owned()))
        );
        assert_eq!(
            ssm.execution_place(&home),
            Some((ACCOUNT.to_owned(), "us-east-1".to_owned()))
        );
        let get = |region: &str, key: &str, id: &str| {
            call_in(
                &ssm,
                region,
                key,
                "GetAutomationExecution",
                json!({"AutomationExecutionId": id}),
            )
        };
        let unknown = get(
            "eu-west-1",
            MEMBER_KEY,
            "00000000-0000-4000-8000-00000000abcd",
        );
        for (region, key) in [
            ("eu-west-1", "AKIAHOMEACCOUNT00001"),
            ("us-east-1", MEMBER_KEY),
            ("us-east-1", "AKIAHOMEACCOUNT00001"),
        ] {
            let (status, reply) = get(region, key, &id);
            assert_eq!(status, 400, "{region} {key}: {reply}");
            assert_eq!(reply["__type"], unknown.1["__type"]);
            assert_eq!(
                reply["Message"],
                format!("Automation Execution {id} could not be found")
            );
            let steps = call_in(
                &ssm,
                region,
                key,
                "DescribeAutomationStepExecutions",
                json!({"AutomationExecutionId": id}),
            );
            assert_eq!(steps.1["__type"], "AutomationExecutionNotFoundException");
        }
        let (status, there) = get("eu-west-1", MEMBER_KEY, &id);
        assert_eq!(status, 200, "{there}");
        assert_eq!(
            there["AutomationExecution"]["AutomationExecutionStatus"],
            "Waiting"
        );
        assert_eq!(get("eu-west-1", MEMBER_KEY, &home).0, 400);
        assert_eq!(get("us-east-1", "AKIAHOMEACCOUNT00001", &home).0, 200);
        let steps = call_in(
            &ssm,
            "eu-west-1",
            MEMBER_KEY,
            "DescribeAutomationStepExecutions",
            json!({"AutomationExecutionId": id}),
        );
        assert_eq!(steps.0, 200);

        let listed = |region: &str, key: &str| {
            let (status, reply) =
                call_in(&ssm, region, key, "DescribeAutomationExecutions", json!({}));
            assert_eq!(status, 200, "{reply}");
            listed_ids(&reply)
        };
        assert_eq!(listed("eu-west-1", MEMBER_KEY), [id.as_str()]);
        assert_eq!(listed("us-east-1", "AKIAHOMEACCOUNT00001"), [home.as_str()]);
        assert!(listed("us-east-1", MEMBER_KEY).is_empty());
        assert!(listed("ap-southeast-2", "AKIAHOMEACCOUNT00001").is_empty());
    }

    #[tokio::test]
    async fn events_carry_the_executions_own_account_and_region() {
        let ssm = ssm().await;
        let spec = RunbookSpec::sample("Ship it?", 1).in_account(MEMBER);
        let id = ssm.start_automation_in(MEMBER, "ap-southeast-2", spec);
        let events = ssm.take_events();
        assert!(!events.is_empty());
        for event in &events {
            assert_eq!(event["account"], MEMBER);
            assert_eq!(event["region"], "ap-southeast-2");
            assert_eq!(
                event["resources"][0],
                format!("arn:aws:ssm:ap-southeast-2:{MEMBER}:automation-execution/{id}")
            );
            assert_eq!(
                event["resources"][1],
                format!(
                    "arn:aws:ssm:ap-southeast-2:{MEMBER}:automation-definition/Deploy-Payments:1"
                )
            );
        }
        let executed_by = events
            .iter()
            .find_map(|e| e["detail"]["ExecutedBy"].as_str())
            .unwrap();
        assert_eq!(
            executed_by,
            format!("arn:aws:sts::{MEMBER}:assumed-role/Deployer/carol")
        );
        assert!(ssm.cancel(&id));
        let cancelled = ssm.take_events();
        assert!(cancelled.iter().all(|e| e["account"] == MEMBER));
        ssm.start_automation(RunbookSpec::sample("Home?", 1));
        assert!(
            ssm.take_events()
                .iter()
                .all(|e| e["account"] == ACCOUNT && e["region"] == "us-east-1")
        );
    }

    #[tokio::test]
    async fn a_runbook_ssm_would_refuse_for_its_approvers_cannot_be_started() {
        use crate::ssm::{RunbookSpec, StepSpec};
        let role = "arn:aws:iam::123456789012:role/approvals-SlackInteractionsRole";
        let eleven: Vec<String> = (0..11).map(|n| format!("{role}{n}")).collect();
        let eleven: Vec<&str> = eleven.iter().map(String::as_str).collect();
        for (approvers, needed, refusal) in [
            (vec![], 1, "1 to 10 Approvers, this one lists 0"),
            (eleven, 1, "1 to 10 Approvers, this one lists 11"),
            (
                vec![role],
                2,
                "MinRequiredApprovals (2) is more than its 1 Approvers",
            ),
        ] {
            let ssm = ssm().await;
            let mut spec = RunbookSpec::sample("Go?", 1);
            spec.steps[1] = StepSpec::approve("approveRollout", "Go?", needed, &approvers);
            let started = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                ssm.start_automation(spec)
            }));
            let message = started.expect_err("refused");
            let message = message
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_default();
            assert!(message.contains(refusal), "{message}");
        }
    }
}
