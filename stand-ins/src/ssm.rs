//! An SSM stand-in: the awsJson1.1 protocol (`POST /`, `X-Amz-Target: AmazonSSM.<Operation>`)
//! for the operations this project uses, over a small automation engine.
//!
//! Executions run a list of steps in sequence: ordinary steps succeed at once, an
//! `aws:approve` step waits for `MinRequiredApprovals` approvals from distinct AWS
//! principals or one rejection, and can time out or be cancelled; an `aws:pause`
//! step waits for a `Resume` signal naming it. A runbook may wait on several steps in
//! turn, and may loop back to run steps again, each run a step execution with its own
//! ID, as SSM does. As in SSM, Approve and Reject name no step: they act on whatever
//! approval waits when they arrive. Every status change is also emitted as the
//! EventBridge event SSM would send, so a test or the demo can deliver it to the
//! events function.
//!
//! Executions belong to an account and a Region, as SSM's do: [`SsmStandIn::start_automation`]
//! starts one in the home place ([`ACCOUNT`] and the stand-in's Region),
//! [`SsmStandIn::start_automation_in`] anywhere. A request acts in the account of its
//! signer (the account in the ARN [`Principals`] holds for its access key; a key
//! registered nowhere signs in the home account) and in the Region of its SigV4
//! credential scope, and sees only that place's executions and parameters: an
//! execution elsewhere is not found, exactly as an unknown ID. Events carry the
//! execution's own account and Region.
//!
//! Who signals is the principal behind the request's SigV4 access key, looked up in
//! the stand-in's [`Principals`] (where the STS stand-in registers the sessions it
//! issues); a key registered nowhere is a principal of its own. A registered principal
//! may approve or reject only if the step's `Approvers` name it, or name the role its
//! session belongs to. `DescribeAutomationExecutions` lists executions newest first,
//! filtered and paged as SSM does.

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

use crate::sts::{role_name, session_role};
use crate::{HttpServer, Incoming, Outgoing, Principals, now_unix_f64};

/// EventBridge `detail-type`s of SSM Automation status changes.
pub const STEP_DETAIL_TYPE: &str = "EC2 Automation Step Status-change Notification";
pub const EXECUTION_DETAIL_TYPE: &str = "EC2 Automation Execution Status-change Notification";

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
pub const ACCOUNT: &str = "123456789012";
const MAX_TAGS: usize = 5;
/// The most executions `DescribeAutomationExecutions` returns in one page.
const MAX_RESULTS: u64 = 50;
/// The values `AutomationExecutionStatus` can take.
const EXECUTION_STATUSES: &[&str] = &[
    "Pending",
    "InProgress",
    "Waiting",
    "Success",
    "TimedOut",
    "Cancelling",
    "Cancelled",
    "Failed",
    "PendingApproval",
    "Approved",
    "Rejected",
    "Scheduled",
    "RunbookInProgress",
    "PendingChangeCalendarOverride",
    "ChangeCalendarOverrideApproved",
    "ChangeCalendarOverrideRejected",
    "CompletedWithSuccess",
    "CompletedWithFailure",
    "Exited",
];

/// A step of a runbook started on the stand-in.
#[derive(Debug, Clone)]
pub struct StepSpec {
    pub name: String,
    pub action: String,
    pub inputs: BTreeMap<String, String>,
    pub timeout_seconds: Option<i64>,
    /// When this step succeeds the first time, the runbook runs again from the step
    /// of this name (as a runbook's `nextStep` or an `aws:branch` going back does).
    pub loop_back_to: Option<String>,
}

impl StepSpec {
    /// Any step that is not an approval: it succeeds when reached.
    pub fn run(name: &str, action: &str) -> Self {
        Self {
            name: name.into(),
            action: action.into(),
            inputs: BTreeMap::new(),
            timeout_seconds: None,
            loop_back_to: None,
        }
    }

    /// A step that succeeds, then sends the runbook back to `step` once.
    pub fn loop_back(name: &str, step: &str) -> Self {
        Self {
            loop_back_to: Some(step.into()),
            ..Self::run(name, "aws:branch")
        }
    }

    /// An `aws:pause` step: it waits until a `Resume` signal names it.
    pub fn pause(name: &str) -> Self {
        Self::run(name, "aws:pause")
    }

    /// An `aws:approve` step; inputs are JSON-encoded as SSM reports them.
    pub fn approve(
        name: &str,
        message: &str,
        min_required_approvals: u32,
        approvers: &[&str],
    ) -> Self {
        let inputs = BTreeMap::from([
            (
                "Message".to_owned(),
                serde_json::to_string(message).expect("string"),
            ),
            (
                "MinRequiredApprovals".to_owned(),
                min_required_approvals.to_string(),
            ),
            (
                "Approvers".to_owned(),
                serde_json::to_string(approvers).expect("list"),
            ),
        ]);
        Self {
            name: name.into(),
            action: "aws:approve".into(),
            inputs,
            timeout_seconds: Some(3600),
            loop_back_to: None,
        }
    }
}

/// A runbook execution to start.
#[derive(Debug, Clone)]
pub struct RunbookSpec {
    pub document_name: String,
    pub document_version: String,
    pub executed_by: String,
    pub parameters: BTreeMap<String, Vec<String>>,
    pub steps: Vec<StepSpec>,
}

/// The execution ID the sample files in `events/` refer to.
pub const SAMPLE_EXECUTION_ID: &str = "5c3e9b1a-7d2f-4e8a-9b6c-1f0a2d3e4b5c";

impl RunbookSpec {
    /// The example used by the tests, the demo and the local stand-ins: a health
    /// check, an approval with `message`, then the change.
    pub fn sample(message: &str, min_required_approvals: u32) -> Self {
        Self {
            document_name: "Deploy-Payments".into(),
            document_version: "4".into(),
            executed_by: "arn:aws:sts::123456789012:assumed-role/Deployer/carol".into(),
            parameters: BTreeMap::from([
                ("Environment".into(), vec!["production".into()]),
                ("ImageTag".into(), vec!["payments:2026.11.21-1".into()]),
            ]),
            steps: vec![
                StepSpec::run("checkHealth", "aws:executeAwsApi"),
                StepSpec::approve(
                    "approveRollout",
                    message,
                    min_required_approvals,
                    &["arn:aws:iam::123456789012:role/approvals-SlackInteractionsRole"],
                ),
                StepSpec::run("rollOut", "aws:executeScript"),
            ],
        }
    }

    /// The same runbook as started in `account`: the home account in `executed_by`
    /// and in the approval steps' `Approvers` becomes `account` (for
    /// [`SsmStandIn::start_automation_in`]).
    pub fn in_account(mut self, account: &str) -> Self {
        let (home, there) = (format!(":{ACCOUNT}:"), format!(":{account}:"));
        self.executed_by = self.executed_by.replace(&home, &there);
        for step in &mut self.steps {
            if let Some(approvers) = step.inputs.get_mut("Approvers") {
                *approvers = approvers.replace(&home, &there);
            }
        }
        self
    }
}

/// A signal SSM accepted or refused, as recorded by the stand-in.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalRecord {
    pub execution_id: String,
    pub signal_type: String,
    pub payload: Value,
    pub access_key: String,
    /// Who signed: the ARN registered for the access key, or the key itself.
    pub principal: String,
    /// The account the signal was sent in: the signer's.
    pub account: String,
    /// The Region the signal was sent to: its signature's credential scope's.
    pub region: String,
    pub accepted: bool,
}

/// Where an execution runs, or where a request is sent: an account and a Region.
/// Executions and parameters belong to one place, and a request sees only its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Place {
    account: String,
    region: String,
}

impl Place {
    fn new(account: &str, region: &str) -> Self {
        Self {
            account: account.into(),
            region: region.into(),
        }
    }
}

/// A parameter's value, and how many times it was written.
#[derive(Debug, Clone)]
struct Parameter {
    value: String,
    /// A `SecureString` reads as ciphertext unless decrypted; a `String` as is.
    secure: bool,
    version: u64,
}

#[derive(Debug, Clone)]
struct StepState {
    spec: StepSpec,
    status: String,
    step_execution_id: String,
    started: Option<f64>,
    ended: Option<f64>,
    failure_message: Option<String>,
    approvals: Vec<(String, String)>,
    /// Every decision taken on an approval step, as its `ApproverDecisions` output
    /// reports them: (approver, `Approve` / `Reject`, time, comment).
    decisions: Vec<(String, &'static str, f64, String)>,
}

#[derive(Debug, Clone)]
struct ExecutionState {
    place: Place,
    spec: RunbookSpec,
    status: String,
    started: f64,
    ended: Option<f64>,
    steps: Vec<StepState>,
    tags: BTreeMap<String, String>,
}

#[derive(Default)]
struct State {
    /// By execution ID, which names one execution wherever it runs (SSM's are UUIDs).
    executions: BTreeMap<String, ExecutionState>,
    parameters: HashMap<(Place, String), Parameter>,
    signals: Vec<SignalRecord>,
    events: VecDeque<Value>,
    calls: Vec<String>,
    faults: HashMap<String, VecDeque<Fault>>,
    /// How many step executions `GetAutomationExecution` lists before it truncates.
    step_list_limit: Option<usize>,
    /// Who signs with which access key.
    principals: Principals,
}

impl State {
    /// Execution `id`, if it runs in `place`: SSM knows no other from there.
    fn execution_in(&self, place: &Place, id: &str) -> Option<&ExecutionState> {
        self.executions.get(id).filter(|e| e.place == *place)
    }

    fn execution_in_mut(&mut self, place: &Place, id: &str) -> Option<&mut ExecutionState> {
        self.executions.get_mut(id).filter(|e| e.place == *place)
    }
}

/// Something going wrong with the next call to an operation.
#[derive(Debug, Clone)]
enum Fault {
    /// Answered with this AWS error, and not acted on.
    Error { status: u16, error_type: String },
    /// Acted on, but answered only after this long (the caller may have given up).
    LateAnswer(Duration),
    /// Answered as usual: lets the faults queued after it hit a later call.
    None,
}

/// The SSM stand-in: an HTTP server plus in-process control of its state.
#[derive(Clone)]
pub struct SsmStandIn {
    state: Arc<Mutex<State>>,
    region: String,
    server: Arc<HttpServer>,
}

impl SsmStandIn {
    /// Serves on `addr`, knowing no principal but by its access key.
    pub async fn start(addr: SocketAddr, region: &str) -> std::io::Result<Self> {
        Self::start_with(addr, region, Principals::default()).await
    }

    /// Serves on `addr`, telling signers apart by `principals` (shared with the STS
    /// stand-in that issues their sessions).
    pub async fn start_with(
        addr: SocketAddr,
        region: &str,
        principals: Principals,
    ) -> std::io::Result<Self> {
        let state = Arc::new(Mutex::new(State {
            principals,
            ..State::default()
        }));
        let handler_state = state.clone();
        let server = HttpServer::start(addr, move |req| handle(&handler_state, req)).await?;
        Ok(Self {
            state,
            region: region.into(),
            server: Arc::new(server),
        })
    }

    /// The endpoint to give the SDK (`AWS_ENDPOINT_URL_SSM`).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Answers one request (for an endpoint shared with other services).
    pub fn serve(&self, req: Incoming) -> Outgoing {
        handle(&self.state, req)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The registry of principals the stand-in tells signers apart by.
    pub fn principals(&self) -> Principals {
        self.lock().principals.clone()
    }

    /// The stand-in's own Region, where the home account's executions run unless
    /// started elsewhere.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Stores (or overwrites) a SecureString parameter in the home account and Region.
    pub fn put_parameter(&self, name: &str, value: &str) {
        let region = self.region.clone();
        self.put_parameter_in(ACCOUNT, &region, name, value);
    }

    /// Stores (or overwrites, as `put-parameter --overwrite`, its version going up) a
    /// SecureString parameter in `account` and `region`: only requests signed there
    /// read it, and only `WithDecryption` reads its value.
    pub fn put_parameter_in(&self, account: &str, region: &str, name: &str, value: &str) {
        self.store_parameter(Place::new(account, region), name, value, true);
    }

    /// Stores (or overwrites) a `String` parameter (the only kind CloudFormation's
    /// `AWS::SSM::Parameter` creates) in the home account and Region: read as is,
    /// with or without `WithDecryption`.
    pub fn put_string_parameter(&self, name: &str, value: &str) {
        let region = self.region.clone();
        self.put_string_parameter_in(ACCOUNT, &region, name, value);
    }

    /// Like [`SsmStandIn::put_string_parameter`], in `account` and `region`.
    pub fn put_string_parameter_in(&self, account: &str, region: &str, name: &str, value: &str) {
        self.store_parameter(Place::new(account, region), name, value, false);
    }

    fn store_parameter(&self, place: Place, name: &str, value: &str, secure: bool) {
        let key = (place, name.to_owned());
        let mut state = self.lock();
        let version = state.parameters.get(&key).map_or(1, |p| p.version + 1);
        let parameter = Parameter {
            value: value.into(),
            secure,
            version,
        };
        state.parameters.insert(key, parameter);
    }

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

    pub fn signals(&self) -> Vec<SignalRecord> {
        self.lock().signals.clone()
    }

    /// Operation names called so far, in order (`SendAutomationSignal`, …).
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    pub fn count_calls(&self, operation: &str) -> usize {
        self.lock().calls.iter().filter(|c| *c == operation).count()
    }

    /// EventBridge events emitted since the last call, oldest first.
    pub fn take_events(&self) -> Vec<Value> {
        self.lock().events.drain(..).collect()
    }

    /// `GetAutomationExecution` lists only the first `limit` step executions from now
    /// on (and says it truncated), as SSM does for long runbooks.
    pub fn truncate_step_lists_at(&self, limit: usize) {
        self.lock().step_list_limit = Some(limit);
    }

    /// The next call to `operation` fails with this AWS error (e.g. 400
    /// `ThrottlingException`, 500 `InternalServerError`) and is not acted on; queue
    /// several for several calls.
    pub fn fail_next(&self, operation: &str, status: u16, error_type: &str) {
        self.push_fault(
            operation,
            Fault::Error {
                status,
                error_type: error_type.into(),
            },
        );
    }

    /// The next call to `operation` is acted on, but answered only after `delay`
    /// (a caller that gave up earlier cannot know it was applied).
    pub fn answer_late(&self, operation: &str, delay: Duration) {
        self.push_fault(operation, Fault::LateAnswer(delay));
    }

    /// The next call to `operation` is answered as usual, so the faults queued after
    /// this hit the call after it (a read that fails only the second time).
    pub fn answer_next_normally(&self, operation: &str) {
        self.push_fault(operation, Fault::None);
    }

    fn push_fault(&self, operation: &str, fault: Fault) {
        self.lock()
            .faults
            .entry(operation.into())
            .or_default()
            .push_back(fault);
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

fn waiting_step(state: &State, id: &str) -> Option<usize> {
    state
        .executions
        .get(id)?
        .steps
        .iter()
        .position(|s| s.status == "Waiting")
}

/// Runs steps until one waits or the runbook ends.
fn advance(state: &mut State, id: &str) {
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

fn set_step(state: &mut State, id: &str, index: usize, status: &str, failure: Option<String>) {
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

fn set_execution(state: &mut State, id: &str, status: &str) {
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

fn error(status: u16, error_type: &str, message: &str) -> Outgoing {
    Outgoing::json(
        status,
        &json!({"__type": error_type, "Message": message}),
        CONTENT_TYPE,
    )
    .with_header("x-amzn-RequestId", &uuid::Uuid::new_v4().to_string())
}

fn ok(body: Value) -> Outgoing {
    Outgoing::json(200, &body, CONTENT_TYPE)
        .with_header("x-amzn-RequestId", &uuid::Uuid::new_v4().to_string())
}

/// The answer to a request, held back when a late answer was asked for.
fn handle(state: &Mutex<State>, req: Incoming) -> Outgoing {
    let mut delay = None;
    let out = answer(state, req, &mut delay);
    out.answered_after(delay)
}

fn answer(state: &Mutex<State>, req: Incoming, delay: &mut Option<Duration>) -> Outgoing {
    let call = crate::aws_json_call(
        &req,
        "AmazonSSM.",
        CONTENT_TYPE,
        "ssm",
        "IncompleteSignatureException",
    );
    let (operation, access_key, region, input) = match call {
        Ok(call) => (call.operation, call.access_key, call.region, call.input),
        Err((status, error_type, message)) => return error(status, error_type, &message),
    };
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    // A request acts in its signer's account (a key registered nowhere signs in the
    // home account) and in the Region it is signed for.
    let account = state
        .principals
        .account_of(&access_key)
        .unwrap_or_else(|| ACCOUNT.to_owned());
    let place = Place { account, region };
    state.calls.push(operation.clone());
    match state
        .faults
        .get_mut(&operation)
        .and_then(VecDeque::pop_front)
    {
        Some(Fault::Error { status, error_type }) => {
            return error(status, &error_type, "injected by the stand-in");
        }
        Some(Fault::LateAnswer(late)) => *delay = Some(late),
        Some(Fault::None) | None => {}
    }
    let text = |key: &str| {
        input
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    match operation.as_str() {
        "GetAutomationExecution" => {
            let id = text("AutomationExecutionId");
            match state.execution_in(&place, &id) {
                Some(e) => {
                    ok(json!({"AutomationExecution": describe(&id, e, state.step_list_limit)}))
                }
                None => not_found(&id),
            }
        }
        "DescribeAutomationStepExecutions" => {
            let id = text("AutomationExecutionId");
            match state.execution_in(&place, &id) {
                Some(e) => describe_steps(e, &input),
                None => not_found(&id),
            }
        }
        "SendAutomationSignal" => signal(&mut state, &place, &input, access_key),
        "DescribeAutomationExecutions" => describe_executions(&state, &place, &input),
        "ListTagsForResource" => {
            let id = match automation_resource(&input) {
                Ok(id) => id,
                Err(refused) => return refused,
            };
            match state.execution_in(&place, &id) {
                Some(e) => ok(
                    json!({"TagList": e.tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>()}),
                ),
                None => error(400, "InvalidResourceId", "The resource ID is not valid"),
            }
        }
        "AddTagsToResource" => {
            let id = match automation_resource(&input) {
                Ok(id) => id,
                Err(refused) => return refused,
            };
            let Some(execution) = state.execution_in_mut(&place, &id) else {
                return error(400, "InvalidResourceId", "The resource ID is not valid");
            };
            let mut tags = execution.tags.clone();
            for tag in input
                .get("Tags")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let (key, value) = (
                    tag["Key"].as_str().unwrap_or(""),
                    tag["Value"].as_str().unwrap_or(""),
                );
                let allowed = |s: &str| {
                    s.chars()
                        .all(|c| c.is_alphanumeric() || " _.:/=+-@".contains(c))
                };
                if key.is_empty()
                    || key.len() > 128
                    || value.len() > 256
                    || !allowed(key)
                    || !allowed(value)
                {
                    return error(400, "InvalidParameters", "a tag key or value is not valid");
                }
                tags.insert(key.into(), value.into());
            }
            if tags.len() > MAX_TAGS {
                return error(
                    400,
                    "TooManyTagsError",
                    "The Targets parameter includes too many tags",
                );
            }
            execution.tags = tags;
            ok(json!({}))
        }
        "GetParameter" => {
            let name = text("Name");
            match state.parameters.get(&(place.clone(), name.clone())) {
                Some(Parameter {
                    value,
                    secure,
                    version,
                }) => {
                    let decrypted = input
                        .get("WithDecryption")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    let shown = if decrypted || !secure {
                        value.clone()
                    } else {
                        "AQICAHh…(encrypted)".into()
                    };
                    let kind = if *secure { "SecureString" } else { "String" };
                    let Place { account, region } = &place;
                    let arn = format!(
                        "arn:aws:ssm:{region}:{account}:parameter/{}",
                        name.trim_start_matches('/')
                    );
                    ok(
                        json!({"Parameter": {"Name": name, "Type": kind, "Value": shown,
                        "Version": version, "ARN": arn}}),
                    )
                }
                None => error(400, "ParameterNotFound", ""),
            }
        }
        other => error(
            400,
            "UnknownOperationException",
            &format!("{other} is not implemented by the stand-in"),
        ),
    }
}

/// The execution ID of a tagging call; only `ResourceType: Automation` is modelled.
fn automation_resource(input: &Value) -> Result<String, Outgoing> {
    if input.get("ResourceType").and_then(Value::as_str) != Some("Automation") {
        return Err(error(
            400,
            "InvalidResourceType",
            "only Automation is supported here",
        ));
    }
    Ok(input
        .get("ResourceId")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned())
}

fn not_found(id: &str) -> Outgoing {
    error(
        400,
        "AutomationExecutionNotFoundException",
        &format!("Automation Execution {id} could not be found"),
    )
}

fn signal(state: &mut State, place: &Place, input: &Value, access_key: String) -> Outgoing {
    let id = input["AutomationExecutionId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let signal_type = input["SignalType"].as_str().unwrap_or_default().to_owned();
    let registered = state.principals.arn_of(&access_key);
    let mut record = SignalRecord {
        execution_id: id.clone(),
        signal_type: signal_type.clone(),
        payload: input.get("Payload").cloned().unwrap_or(Value::Null),
        principal: registered.clone().unwrap_or_else(|| access_key.clone()),
        access_key,
        account: place.account.clone(),
        region: place.region.clone(),
        accepted: false,
    };
    let signer = Signer {
        principal: &record.principal,
        registered: registered.is_some(),
    };
    let outcome = apply_signal(state, place, &id, &signal_type, &record.payload, signer);
    record.accepted = outcome.is_ok();
    state.signals.push(record);
    outcome.map_or_else(|refused| refused, |()| ok(json!({})))
}

/// Who sends a signal: a principal's ARN when `registered`, else an access key.
#[derive(Clone, Copy)]
struct Signer<'a> {
    principal: &'a str,
    registered: bool,
}

/// Acts on a signal, or says why SSM refuses it.
fn apply_signal(
    state: &mut State,
    place: &Place,
    id: &str,
    signal_type: &str,
    payload: &Value,
    signer: Signer,
) -> Result<(), Outgoing> {
    if id.len() != 36 {
        return Err(error(
            400,
            "ValidationException",
            "AutomationExecutionId must be 36 characters",
        ));
    }
    if state.execution_in(place, id).is_none() {
        return Err(not_found(id));
    }
    check_payload(payload)?;
    match signal_type {
        "Approve" | "Reject" => decide(state, id, signal_type, payload, signer),
        "Resume" => resume(state, id, payload),
        _ => Err(not_waiting_for(state, id, signal_type)),
    }
}

/// A Unix time as SSM writes `ApprovalDecisionTime`: `2022-04-06T07:22:51.034463Z`.
fn iso_time(unix: f64) -> String {
    let secs = unix.floor() as i64;
    let micros = ((unix - unix.floor()) * 1e6) as u32;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days since 1970-01-01 to a civil date (proleptic Gregorian, eras of 400 years).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// SSM's limits on a signal's `Payload` (its API model): at most 200 keys, each a list
/// of at most 50 values of 1 to 512 characters. Past them nothing is signalled.
fn check_payload(payload: &Value) -> Result<(), Outgoing> {
    let refused = |why: String| Err(error(400, "ValidationException", &why));
    let Some(map) = payload.as_object() else {
        return Ok(());
    };
    if map.len() > 200 {
        return refused("Payload must have at most 200 keys".into());
    }
    for (key, values) in map {
        let values = values.as_array().map_or(&[][..], Vec::as_slice);
        if values.len() > 50 {
            return refused(format!("Payload {key} must have at most 50 values"));
        }
        for value in values {
            let length = value.as_str().map_or(0, |v| v.chars().count());
            if !(1..=512).contains(&length) {
                return refused(format!(
                    "1 validation error detected: Value at 'payload.{key}' failed to satisfy \
                     constraint: Member must have length between 1 and 512 (was {length})"
                ));
            }
        }
    }
    Ok(())
}

fn not_waiting_for(state: &State, id: &str, signal_type: &str) -> Outgoing {
    let status = &state.executions[id].status;
    invalid_signal(&format!(
        "Automation execution {id} is {status} and is not waiting for signal {signal_type}"
    ))
}

fn invalid_signal(message: &str) -> Outgoing {
    error(400, "InvalidAutomationSignalException", message)
}

/// The step of execution `id` that waits now, if it is of `action`.
fn waiting_step_of(state: &State, id: &str, action: &str) -> Option<usize> {
    waiting_step(state, id).filter(|i| state.executions[id].steps[*i].spec.action == action)
}

/// Approve or Reject: acts on the approval that waits, if the signer may decide it.
fn decide(
    state: &mut State,
    id: &str,
    signal_type: &str,
    payload: &Value,
    signer: Signer,
) -> Result<(), Outgoing> {
    let index = waiting_step_of(state, id, "aws:approve")
        .ok_or_else(|| not_waiting_for(state, id, signal_type))?;
    let step = &mut state.executions.get_mut(id).expect("exists").steps[index];
    if signer.registered
        && !approvers(&step.spec.inputs)
            .iter()
            .any(|a| approves(a, signer.principal))
    {
        return Err(invalid_signal(&format!(
            "{} is not an approver of step {} of automation execution {id}",
            signer.principal, step.spec.name
        )));
    }
    let comment = payload["Comment"][0]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let decision = if signal_type == "Reject" {
        "Reject"
    } else {
        "Approve"
    };
    step.decisions.push((
        signer.principal.to_owned(),
        decision,
        now_unix_f64(),
        comment.clone(),
    ));
    if signal_type == "Reject" {
        let message = format!("Step was rejected by {}: {comment}", signer.principal);
        set_step(state, id, index, "Failed", Some(message));
        set_execution(state, id, "Failed");
        return Ok(());
    }
    // Approvals count once per AWS principal.
    if !step.approvals.iter().any(|(p, _)| p == signer.principal) {
        step.approvals.push((signer.principal.to_owned(), comment));
    }
    let needed = step
        .spec
        .inputs
        .get("MinRequiredApprovals")
        .and_then(|n| n.trim_matches('"').parse().ok())
        .unwrap_or(1usize);
    if step.approvals.len() >= needed {
        set_step(state, id, index, "Success", None);
        set_execution(state, id, "InProgress");
        advance(state, id);
    }
    Ok(())
}

/// Resume: the pause step named in the payload's `StepName` ends, if it is the one
/// waiting, and the runbook goes on.
fn resume(state: &mut State, id: &str, payload: &Value) -> Result<(), Outgoing> {
    let Some(step_name) = payload["StepName"][0].as_str().filter(|n| !n.is_empty()) else {
        return Err(invalid_signal(
            "The Payload of a Resume signal must name the step to resume (StepName)",
        ));
    };
    let index = waiting_step_of(state, id, "aws:pause")
        .filter(|i| state.executions[id].steps[*i].spec.name == step_name)
        .ok_or_else(|| {
            let status = &state.executions[id].status;
            invalid_signal(&format!(
                "Automation execution {id} is {status} and step {step_name} is not paused"
            ))
        })?;
    set_step(state, id, index, "Success", None);
    set_execution(state, id, "InProgress");
    advance(state, id);
    Ok(())
}

/// The `Approvers` input of an approval step: a JSON list as SSM reports it, or, read
/// tolerantly, a comma-separated list.
fn approvers(inputs: &BTreeMap<String, String>) -> Vec<String> {
    let raw = inputs.get("Approvers").map_or("", String::as_str);
    serde_json::from_str::<Vec<String>>(raw)
        .unwrap_or_else(|_| raw.split(',').map(|a| a.trim().to_owned()).collect())
        .into_iter()
        .filter(|a| !a.is_empty())
        .collect()
}

/// Whether `approver`, as a step's `Approvers` lists it, is the principal `arn`: the
/// same ARN, the IAM role `arn` is a session of, or the name of the IAM user `arn` is.
fn approves(approver: &str, arn: &str) -> bool {
    approver == arn
        || session_role(arn).is_some_and(|session| role_name(approver) == Some(session))
        || iam_user_name(arn) == Some(approver)
}

/// The name of an IAM user ARN, `arn:aws:iam::<account>:user/<path/>name`.
fn iam_user_name(arn: &str) -> Option<&str> {
    let (_, resource) = arn.strip_prefix("arn:aws:iam::")?.split_once(':')?;
    resource.strip_prefix("user/")?.rsplit('/').next()
}

/// The step executions SSM reports for an execution (the ones that have started).
fn step_executions(e: &ExecutionState) -> Vec<Value> {
    e.steps
        .iter()
        .filter(|s| s.status != "Pending")
        .map(|s| {
            let mut step = json!({"StepName": s.spec.name, "Action": s.spec.action, "StepStatus": s.status,
                "StepExecutionId": s.step_execution_id, "Inputs": s.spec.inputs, "OnFailure": "Abort",
                "MaxAttempts": 1});
            if let Some(t) = s.spec.timeout_seconds { step["TimeoutSeconds"] = json!(t); }
            if let Some(t) = s.started { step["ExecutionStartTime"] = json!(t); }
            if let Some(t) = s.ended { step["ExecutionEndTime"] = json!(t); }
            if let Some(f) = &s.failure_message { step["FailureMessage"] = json!(f); }
            if s.spec.action == "aws:approve" && s.status != "Waiting" {
                let status = if s.status == "Success" { "Approved" } else { &s.status };
                // One JSON object per decision, as SSM lists its `ApproverDecisions`.
                let decisions: Vec<String> = s
                    .decisions
                    .iter()
                    .map(|(approver, decision, at, comment)| {
                        json!({"Approver": approver, "Decision": decision,
                            "ApprovalDecisionTime": iso_time(*at), "Comment": comment})
                        .to_string()
                    })
                    .collect();
                step["Outputs"] =
                    json!({"ApprovalStatus": [status], "ApproverDecisions": decisions});
            }
            step
        })
        .collect()
}

/// `GetAutomationExecution`'s view: like SSM, it lists at most `limit` step
/// executions, the first ones, and says when it left the rest out.
fn describe(id: &str, e: &ExecutionState, limit: Option<usize>) -> Value {
    let mut steps = step_executions(e);
    let truncated = limit.is_some_and(|n| steps.len() > n);
    if let Some(n) = limit {
        steps.truncate(n);
    }
    let mut out = json!({"AutomationExecutionId": id, "DocumentName": e.spec.document_name,
        "DocumentVersion": e.spec.document_version, "AutomationExecutionStatus": e.status,
        "ExecutionStartTime": e.started, "ExecutedBy": e.spec.executed_by, "Parameters": e.spec.parameters,
        "Mode": "Auto", "StepExecutions": steps, "StepExecutionsTruncated": truncated});
    add_progress(&mut out, e);
    out
}

/// What an execution is doing now, as SSM adds it to an execution's description:
/// its end time once it ended, else the step running or waiting.
fn add_progress(out: &mut Value, e: &ExecutionState) {
    if let Some(ended) = e.ended {
        out["ExecutionEndTime"] = json!(ended);
    }
    let current = e
        .steps
        .iter()
        .find(|s| matches!(s.status.as_str(), "InProgress" | "Waiting"));
    if let Some(step) = current {
        out["CurrentStepName"] = json!(step.spec.name);
        out["CurrentAction"] = json!(step.spec.action);
    }
}

/// `DescribeAutomationExecutions`: the executions the `Filters` admit, newest first
/// (by start time, then ID), `MaxResults` to a page. `NextToken` names the last
/// execution of the page before, so executions started meanwhile shift no page.
fn describe_executions(state: &State, place: &Place, input: &Value) -> Outgoing {
    list_executions(state, place, input).map_or_else(|refused| refused, ok)
}

fn list_executions(state: &State, place: &Place, input: &Value) -> Result<Value, Outgoing> {
    let filters = execution_filters(input)?;
    let page = page_size(input)?;
    let after =
        match &input["NextToken"] {
            Value::Null => None,
            token => Some(token.as_str().and_then(decode_page_token).ok_or_else(|| {
                error(400, "InvalidNextToken", "The specified token is not valid.")
            })?),
        };
    let mut listed: Vec<(&str, &ExecutionState)> = state
        .executions
        .iter()
        .map(|(id, e)| (id.as_str(), e))
        .filter(|(_, e)| e.place == *place)
        .filter(|(id, e)| filters.iter().all(|f| f.admits(id, e)))
        .filter(|(id, e)| {
            after.as_ref().is_none_or(|(started, last)| {
                newest_first((e.started, id), (*started, last)) == Ordering::Greater
            })
        })
        .collect();
    listed.sort_by(|a, b| newest_first((a.1.started, a.0), (b.1.started, b.0)));
    let items: Vec<Value> = listed
        .iter()
        .take(page)
        .map(|(id, e)| execution_metadata(id, e))
        .collect();
    let mut out = json!({"AutomationExecutionMetadataList": items});
    if listed.len() > page {
        let (id, e) = listed[page - 1];
        out["NextToken"] = json!(page_token(e.started, id));
    }
    Ok(out)
}

/// The listing order of executions, given as (start time, ID): newest first, then
/// by ID.
fn newest_first(a: (f64, &str), b: (f64, &str)) -> Ordering {
    b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1))
}

/// A `NextToken` naming the execution a page ended with.
fn page_token(started: f64, id: &str) -> String {
    let text = format!("{:016x}/{id}", started.to_bits());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn decode_page_token(token: &str) -> Option<(f64, String)> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (bits, id) = text.split_once('/')?;
    let bits = u64::from_str_radix(bits, 16)
        .ok()
        .filter(|_| bits.len() == 16)?;
    Some((f64::from_bits(bits), id.to_owned()))
}

/// An item of `AutomationExecutionMetadataList`.
fn execution_metadata(id: &str, e: &ExecutionState) -> Value {
    let mut item = json!({"AutomationExecutionId": id, "DocumentName": e.spec.document_name,
        "DocumentVersion": e.spec.document_version, "AutomationExecutionStatus": e.status,
        "ExecutionStartTime": e.started, "ExecutedBy": e.spec.executed_by, "Mode": "Auto",
        "AutomationType": "Local"});
    add_progress(&mut item, e);
    item
}

/// A filter of `DescribeAutomationExecutions`, with its values.
enum ExecutionFilter {
    ExecutionStatus(Vec<String>),
    DocumentNamePrefix(Vec<String>),
    ExecutionId(Vec<String>),
}

impl ExecutionFilter {
    fn admits(&self, id: &str, e: &ExecutionState) -> bool {
        match self {
            Self::ExecutionStatus(statuses) => statuses.contains(&e.status),
            Self::DocumentNamePrefix(prefixes) => prefixes
                .iter()
                .any(|p| e.spec.document_name.starts_with(p.as_str())),
            Self::ExecutionId(ids) => ids.iter().any(|i| i == id),
        }
    }
}

/// The `Filters` of a `DescribeAutomationExecutions` call: up to 10, each a known key
/// with 1 to 10 values (statuses SSM knows, for `ExecutionStatus`).
fn execution_filters(input: &Value) -> Result<Vec<ExecutionFilter>, Outgoing> {
    let filters = match &input["Filters"] {
        Value::Null => return Ok(vec![]),
        Value::Array(filters) => filters,
        _ => {
            return Err(error(
                400,
                "SerializationException",
                "Filters must be a list",
            ));
        }
    };
    if filters.is_empty() || filters.len() > 10 {
        return Err(error(
            400,
            "ValidationException",
            "1 validation error detected: Value at 'filters' failed to satisfy constraint: \
             Member must have length between 1 and 10",
        ));
    }
    filters.iter().map(execution_filter).collect()
}

fn execution_filter(filter: &Value) -> Result<ExecutionFilter, Outgoing> {
    let key = filter["Key"].as_str().unwrap_or_default();
    let values: Vec<String> = filter["Values"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    let filter = match key {
        "ExecutionStatus" => ExecutionFilter::ExecutionStatus,
        "DocumentNamePrefix" => ExecutionFilter::DocumentNamePrefix,
        "ExecutionId" => ExecutionFilter::ExecutionId,
        other => {
            return Err(error(
                400,
                "InvalidFilterKey",
                &format!(
                    "The filter key {other} is not valid: use ExecutionStatus, DocumentNamePrefix or ExecutionId"
                ),
            ));
        }
    };
    if values.is_empty() || values.len() > 10 {
        return Err(error(
            400,
            "InvalidFilterValue",
            &format!("The filter {key} takes 1 to 10 values"),
        ));
    }
    let unknown_status = values
        .iter()
        .find(|v| !EXECUTION_STATUSES.contains(&v.as_str()));
    if let (Some(status), "ExecutionStatus") = (unknown_status, key) {
        return Err(error(
            400,
            "InvalidFilterValue",
            &format!("{status} is not a valid value for the filter ExecutionStatus"),
        ));
    }
    Ok(filter(values))
}

/// `MaxResults`: 1 to 50, 50 when not given.
fn page_size(input: &Value) -> Result<usize, Outgoing> {
    let asked = match &input["MaxResults"] {
        Value::Null => return Ok(MAX_RESULTS as usize),
        asked => asked,
    };
    let Some(n) = asked.as_i64() else {
        return Err(error(
            400,
            "SerializationException",
            "MaxResults must be an integer",
        ));
    };
    let broken = if n < 1 {
        "greater than or equal to 1"
    } else if n > MAX_RESULTS as i64 {
        "less than or equal to 50"
    } else {
        return Ok(n as usize);
    };
    Err(error(
        400,
        "ValidationException",
        &format!(
            "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: \
             Member must have value {broken}"
        ),
    ))
}

/// `DescribeAutomationStepExecutions`: filtered by `StepExecutionId`, `StepName` or
/// `StepExecutionStatus`, newest first with `ReverseOrder`, `MaxResults` a page
/// (paging with `NextToken`, an offset here).
fn describe_steps(e: &ExecutionState, input: &Value) -> Outgoing {
    let mut steps = step_executions(e);
    for filter in input["Filters"].as_array().into_iter().flatten() {
        let field = match filter["Key"].as_str().unwrap_or_default() {
            "StepExecutionId" => "StepExecutionId",
            "StepName" => "StepName",
            "StepExecutionStatus" => "StepStatus",
            other => {
                return error(
                    400,
                    "InvalidFilterKey",
                    &format!("{other} is not a filter key the stand-in knows"),
                );
            }
        };
        let values: Vec<&str> = filter["Values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if values.is_empty() || values.len() > 10 {
            return error(400, "InvalidFilterValue", "1 to 10 values per filter");
        }
        steps.retain(|s| values.contains(&s[field].as_str().unwrap_or_default()));
    }
    if input["ReverseOrder"] == true {
        steps.reverse();
    }
    let offset: usize = input["NextToken"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let page = input["MaxResults"].as_u64().unwrap_or(50).clamp(1, 50) as usize;
    let rest: Vec<Value> = steps.into_iter().skip(offset).collect();
    let mut out = json!({"StepExecutions": rest.iter().take(page).collect::<Vec<_>>()});
    if rest.len() > page {
        out["NextToken"] = json!((offset + page).to_string());
    }
    ok(out)
}

#[cfg(test)]
mod tests {

    #[test]
    fn decision_times_read_as_ssm_writes_them() {
        assert_eq!(iso_time(0.0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(iso_time(1_649_229_771.5), "2022-04-06T07:22:51.500000Z");
        assert_eq!(iso_time(951_782_400.0), "2000-02-29T00:00:00.000000Z");
    }

    #[tokio::test]
    async fn a_comment_longer_than_512_characters_signals_nothing() {
        let ssm = ssm().await;
        let id = ssm.start_automation(RunbookSpec::sample("Go?", 1));
        let long = "é".repeat(513);
        let (status, body) = send_signal(
            &ssm,
            "AKIDLAMBDAROLE",
            &id,
            "Reject",
            json!({"Comment": [long]}),
        );
        assert_eq!(
            (status, body["__type"].as_str()),
            (400, Some("ValidationException"))
        );
        assert_eq!(ssm.execution_status(&id).as_deref(), Some("Waiting"));
        let (status, _) = send_signal(
            &ssm,
            "AKIDLAMBDAROLE",
            &id,
            "Reject",
            json!({"Comment": ["é".repeat(512)]}),
        );
        assert_eq!(status, 200);
        assert_eq!(ssm.execution_status(&id).as_deref(), Some("Failed"));
    }
    use super::*;
    use crate::test_requests::signed_in;

    const APPROVER_ROLE: &str = "arn:aws:iam::123456789012:role/approvals-SlackInteractionsRole";

    async fn ssm() -> SsmStandIn {
        SsmStandIn::start("127.0.0.1:0".parse().unwrap(), "us-east-1")
            .await
            .unwrap()
    }

    fn call(ssm: &SsmStandIn, access_key: &str, operation: &str, input: Value) -> (u16, Value) {
        call_in(ssm, "us-east-1", access_key, operation, input)
    }

    /// A call signed for `region`.
    fn call_in(
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

    fn send_signal(
        ssm: &SsmStandIn,
        access_key: &str,
        id: &str,
        signal_type: &str,
        payload: Value,
    ) -> (u16, Value) {
        let input =
            json!({"AutomationExecutionId": id, "SignalType": signal_type, "Payload": payload});
        call(ssm, access_key, "SendAutomationSignal", input)
    }

    fn approve(ssm: &SsmStandIn, access_key: &str, id: &str) -> (u16, Value) {
        send_signal(ssm, access_key, id, "Approve", json!({"Comment": ["ok"]}))
    }

    fn runbook(document_name: &str, steps: Vec<StepSpec>) -> RunbookSpec {
        RunbookSpec {
            document_name: document_name.into(),
            document_version: "1".into(),
            executed_by: "arn:aws:sts::123456789012:assumed-role/Deployer/carol".into(),
            parameters: BTreeMap::new(),
            steps,
        }
    }

    fn session(role: &str, name: &str) -> String {
        format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{name}")
    }

    #[tokio::test]
    async fn approvals_count_once_per_principal_whatever_key_it_signs_with() {
        let ssm = ssm().await;
        let alice = session("approvals-SlackInteractionsRole", "U0ALICE");
        ssm.principals()
            .register("ASIAALICEFIRST000001", &alice, Some("U0ALICE"));
        ssm.principals()
            .register("ASIAALICESECOND00001", &alice, None);
        let id = ssm.start_automation(RunbookSpec::sample("Ship it?", 2));
        assert_eq!(approve(&ssm, "ASIAALICEFIRST000001", &id).0, 200);
        assert_eq!(approve(&ssm, "ASIAALICESECOND00001", &id).0, 200);
        assert_eq!(ssm.execution_status(&id).as_deref(), Some("Waiting"));
        assert_eq!(approve(&ssm, "AKIAUNREGISTERED0001", &id).0, 200);
        assert_eq!(ssm.execution_status(&id).as_deref(), Some("Success"));
        let principals: Vec<String> = ssm.signals().into_iter().map(|s| s.principal).collect();
        assert_eq!(
            principals,
            [alice.clone(), alice, "AKIAUNREGISTERED0001".into()]
        );
        assert_eq!(ssm.signals()[1].access_key, "ASIAALICESECOND00001");
    }

    #[tokio::test]
    async fn registered_principals_decide_only_steps_that_name_them() {
        let ssm = ssm().await;
        let approvers = [
            "arn:aws:iam::123456789012:role/slack/SlackApprover",
            "arn:aws:sts::123456789012:assumed-role/Oncall/U0CAROL",
            "dave",
        ];
        let steps = vec![StepSpec::approve("approveChange", "Go?", 3, &approvers)];
        let id = ssm.start_automation(runbook("Change", steps));
        let principals = ssm.principals();
        let mallory = session("Deployer", "U0MALLORY");
        principals.register("ASIAMALLORY000000001", &mallory, None);
        principals.register("ASIAEVE0000000000001", &session("Oncall", "U0EVE"), None);
        principals.register("ASIACAROL00000000001", &session("Oncall", "U0CAROL"), None);
        principals.register(
            "ASIAALICE00000000001",
            &session("SlackApprover", "U0ALICE"),
            None,
        );
        principals.register(
            "AKIADAVE000000000001",
            "arn:aws:iam::123456789012:user/ops/dave",
            None,
        );

        let (status, refused) = approve(&ssm, "ASIAMALLORY000000001", &id);
        assert_eq!(status, 400);
        assert_eq!(refused["__type"], "InvalidAutomationSignalException");
        assert_eq!(
            refused["Message"],
            format!(
                "{mallory} is not an approver of step approveChange of automation execution {id}"
            )
        );
        let reject = send_signal(&ssm, "ASIAMALLORY000000001", &id, "Reject", json!({}));
        assert_eq!(reject.0, 400);
        assert_eq!(
            approve(&ssm, "ASIAEVE0000000000001", &id).0,
            400,
            "another session of the role"
        );
        assert_eq!(ssm.execution_status(&id).as_deref(), Some("Waiting"));
        assert_eq!(
            ssm.step_status(&id, "approveChange").as_deref(),
            Some("Waiting")
        );

        assert_eq!(
            approve(&ssm, "ASIACAROL00000000001", &id).0,
            200,
            "the session named"
        );
        assert_eq!(
            approve(&ssm, "ASIAALICE00000000001", &id).0,
            200,
            "a session of the role named"
        );
        assert_eq!(
            approve(&ssm, "AKIADAVE000000000001", &id).0,
            200,
            "the user named"
        );
        assert_eq!(ssm.execution_status(&id).as_deref(), Some("Success"));
        let accepted: Vec<bool> = ssm.signals().iter().map(|s| s.accepted).collect();
        assert_eq!(accepted, [false, false, false, true, true, true]);

        let unchecked = ssm.start_automation(RunbookSpec::sample("Ship it?", 1));
        assert_eq!(
            approve(&ssm, "AKIANOBODY0000000001", &unchecked).0,
            200,
            "unregistered keys are not checked"
        );
    }

    #[tokio::test]
    async fn a_pause_waits_for_a_resume_naming_it() {
        let ssm = ssm().await;
        let steps = vec![
            StepSpec::run("prepare", "aws:executeScript"),
            StepSpec::pause("holdForWindow"),
            StepSpec::approve("approveRollout", "Go?", 1, &[APPROVER_ROLE]),
            StepSpec::run("rollOut", "aws:executeScript"),
        ];
        let id = ssm.start_automation(runbook("Deploy-Web", steps));
        assert_eq!(ssm.execution_status(&id).as_deref(), Some("Waiting"));
        assert_eq!(
            ssm.step_status(&id, "holdForWindow").as_deref(),
            Some("Waiting")
        );
        let events = ssm.take_events();
        let waiting: Vec<(&str, Option<&str>)> = events
            .iter()
            .filter(|e| e["detail"]["Status"] == "Waiting")
            .map(|e| {
                (
                    e["detail-type"].as_str().unwrap(),
                    e["detail"]["StepName"].as_str(),
                )
            })
            .collect();
        assert_eq!(
            waiting,
            [
                (STEP_DETAIL_TYPE, Some("holdForWindow")),
                (EXECUTION_DETAIL_TYPE, None)
            ]
        );

        let refused = |reply: (u16, Value)| {
            assert_eq!(reply.0, 400, "{}", reply.1);
            assert_eq!(reply.1["__type"], "InvalidAutomationSignalException");
            reply.1["Message"].as_str().unwrap().to_owned()
        };
        let key = "AKIAOPERATOR00000001";
        refused(approve(&ssm, key, &id));
        assert!(refused(send_signal(&ssm, key, &id, "Resume", json!({}))).contains("StepName"));
        let other = json!({"StepName": ["approveRollout"]});
        refused(send_signal(&ssm, key, &id, "Resume", other.clone()));
        let (_, get) = call(
            &ssm,
            key,
            "GetAutomationExecution",
            json!({"AutomationExecutionId": id}),
        );
        assert_eq!(
            get["AutomationExecution"]["CurrentStepName"],
            "holdForWindow"
        );
        assert_eq!(get["AutomationExecution"]["CurrentAction"], "aws:pause");

        let resume = json!({"StepName": ["holdForWindow"]});
        assert_eq!(send_signal(&ssm, key, &id, "Resume", resume.clone()).0, 200);
        assert_eq!(
            ssm.step_status(&id, "holdForWindow").as_deref(),
            Some("Success")
        );
        assert_eq!(
            ssm.step_status(&id, "approveRollout").as_deref(),
            Some("Waiting")
        );
        refused(send_signal(&ssm, key, &id, "Resume", resume));
        refused(send_signal(&ssm, key, &id, "Resume", other));
        assert_eq!(approve(&ssm, key, &id).0, 200);
        assert_eq!(ssm.execution_status(&id).as_deref(), Some("Success"));
        let accepted: Vec<(String, bool)> = ssm
            .signals()
            .into_iter()
            .map(|s| (s.signal_type, s.accepted))
            .collect();
        assert_eq!(accepted.iter().filter(|(_, a)| *a).count(), 2);

        let paused = ssm.start_automation(runbook("Deploy-Web", vec![StepSpec::pause("hold")]));
        assert!(ssm.cancel(&paused));
        assert_eq!(
            ssm.step_status(&paused, "hold").as_deref(),
            Some("Cancelled")
        );
        assert_eq!(ssm.execution_status(&paused).as_deref(), Some("Cancelled"));
        assert!(!ssm.cancel(&paused), "no longer waiting");
    }

    /// `DescribeAutomationExecutions` as the SDK sends it.
    fn describe(ssm: &SsmStandIn, input: Value) -> (u16, Value) {
        call(
            ssm,
            "AKIAREADER0000000001",
            "DescribeAutomationExecutions",
            input,
        )
    }

    fn listed_ids(reply: &Value) -> Vec<String> {
        reply["AutomationExecutionMetadataList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["AutomationExecutionId"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Every page of a listing, with `MaxResults` `page`.
    fn all_pages(ssm: &SsmStandIn, mut input: Value, page: u64) -> Vec<String> {
        input["MaxResults"] = json!(page);
        let mut ids = vec![];
        loop {
            let (status, reply) = describe(ssm, input.clone());
            assert_eq!(status, 200, "{reply}");
            let listed = listed_ids(&reply);
            assert!(listed.len() <= page as usize);
            ids.extend(listed);
            match reply.get("NextToken") {
                Some(token) => input["NextToken"] = token.clone(),
                None => return ids,
            }
        }
    }

    #[tokio::test]
    async fn executions_are_listed_newest_first_filtered_and_paged() {
        let ssm = ssm().await;
        let done = |name: &str| runbook(name, vec![StepSpec::run("restart", "aws:executeScript")]);
        let ids = [
            ssm.start_automation_with_id(
                "00000000-0000-4000-8000-000000000001",
                RunbookSpec::sample("a", 1),
            ),
            ssm.start_automation_with_id(
                "00000000-0000-4000-8000-000000000002",
                done("Restart-Web"),
            ),
            ssm.start_automation_with_id(
                "00000000-0000-4000-8000-000000000003",
                RunbookSpec::sample("b", 1),
            ),
            ssm.start_automation_with_id(
                "00000000-0000-4000-8000-000000000004",
                done("Restart-Db"),
            ),
            ssm.start_automation_with_id(
                "00000000-0000-4000-8000-000000000005",
                RunbookSpec::sample("c", 1),
            ),
        ];
        for (id, started) in ids.iter().zip([1000.0, 3000.0, 2000.0, 2000.0, 500.0]) {
            ssm.set_started_at(id, started);
        }
        let pick = |ns: &[usize]| ns.iter().map(|n| ids[*n].clone()).collect::<Vec<_>>();
        let newest_first = pick(&[1, 2, 3, 0, 4]);
        let (_, all) = describe(&ssm, json!({}));
        assert_eq!(listed_ids(&all), newest_first);
        assert!(all.get("NextToken").is_none());

        let filtered = |filters: Value| listed_ids(&describe(&ssm, json!({"Filters": filters})).1);
        assert_eq!(
            filtered(json!([{"Key": "ExecutionStatus", "Values": ["Waiting"]}])),
            pick(&[2, 0, 4])
        );
        assert_eq!(
            filtered(json!([{"Key": "ExecutionStatus", "Values": ["Success", "Failed"]}])),
            pick(&[1, 3])
        );
        assert_eq!(
            filtered(json!([{"Key": "DocumentNamePrefix", "Values": ["Restart-"]}])),
            pick(&[1, 3])
        );
        assert_eq!(
            filtered(json!([{"Key": "ExecutionId", "Values": [&ids[3]]}])),
            pick(&[3])
        );
        assert!(
            filtered(json!([{"Key": "ExecutionStatus", "Values": ["Waiting"]},
            {"Key": "DocumentNamePrefix", "Values": ["Restart"]}]))
            .is_empty()
        );

        let (_, waiting) = describe(
            &ssm,
            json!({"Filters": [{"Key": "ExecutionId", "Values": [&ids[0]]}]}),
        );
        let item = &waiting["AutomationExecutionMetadataList"][0];
        assert_eq!(item["DocumentName"], "Deploy-Payments");
        assert_eq!(item["DocumentVersion"], "4");
        assert_eq!(item["AutomationExecutionStatus"], "Waiting");
        assert_eq!(item["ExecutionStartTime"], 1000.0);
        assert_eq!(
            item["ExecutedBy"],
            "arn:aws:sts::123456789012:assumed-role/Deployer/carol"
        );
        assert_eq!(item["Mode"], "Auto");
        assert_eq!(item["AutomationType"], "Local");
        assert_eq!(item["CurrentStepName"], "approveRollout");
        assert_eq!(item["CurrentAction"], "aws:approve");
        assert!(item.get("ExecutionEndTime").is_none());
        let (_, ended) = describe(
            &ssm,
            json!({"Filters": [{"Key": "ExecutionId", "Values": [&ids[1]]}]}),
        );
        let item = &ended["AutomationExecutionMetadataList"][0];
        assert!(item.get("CurrentStepName").is_none());
        assert!(item["ExecutionEndTime"].is_f64());

        assert_eq!(all_pages(&ssm, json!({}), 2), newest_first);
        assert_eq!(all_pages(&ssm, json!({}), 1), newest_first);
        let (_, first) = describe(&ssm, json!({"MaxResults": 2}));
        assert_eq!(listed_ids(&first), newest_first[..2]);
        let later = ssm.start_automation(RunbookSpec::sample("d", 1));
        let (_, second) = describe(
            &ssm,
            json!({"MaxResults": 2, "NextToken": first["NextToken"]}),
        );
        assert_eq!(
            listed_ids(&second),
            newest_first[2..4],
            "a newer execution shifts no page"
        );
        assert_eq!(all_pages(&ssm, json!({}), 50)[0], later);
    }

    #[tokio::test]
    async fn listing_refuses_filters_and_pages_ssm_refuses() {
        let ssm = ssm().await;
        ssm.start_automation(RunbookSpec::sample("a", 1));
        let refused = |input: Value| {
            let (status, reply) = describe(&ssm, input);
            assert_eq!(status, 400, "{reply}");
            reply["__type"].as_str().unwrap().to_owned()
        };
        let filter =
            |key: &str, values: Value| json!({"Filters": [{"Key": key, "Values": values}]});
        assert_eq!(
            refused(filter("TagKey", json!(["team"]))),
            "InvalidFilterKey"
        );
        assert_eq!(
            refused(filter("ExecutionStatus", json!([]))),
            "InvalidFilterValue"
        );
        let eleven: Vec<String> = (0..11).map(|n| format!("Doc{n}")).collect();
        assert_eq!(
            refused(filter("DocumentNamePrefix", json!(eleven))),
            "InvalidFilterValue"
        );
        assert_eq!(
            refused(filter("ExecutionStatus", json!(["Paused"]))),
            "InvalidFilterValue"
        );
        assert_eq!(refused(json!({"Filters": []})), "ValidationException");
        assert_eq!(refused(json!({"MaxResults": 0})), "ValidationException");
        assert_eq!(refused(json!({"MaxResults": 51})), "ValidationException");
        assert_eq!(
            refused(json!({"NextToken": "not-a-token"})),
            "InvalidNextToken"
        );
        assert_eq!(refused(json!({"NextToken": "5"})), "InvalidNextToken");
        assert_eq!(describe(&ssm, json!({"MaxResults": 50})).0, 200);
    }

    #[tokio::test]
    async fn hundreds_of_executions_start_and_list_quickly() {
        let ssm = ssm().await;
        let clock = std::time::Instant::now();
        let ids: Vec<String> = (0..600)
            .map(|_| ssm.start_automation(RunbookSpec::sample("Ship it?", 1)))
            .collect();
        let started = clock.elapsed();
        let listed = all_pages(&ssm, json!({}), 50);
        let elapsed = clock.elapsed();
        assert!(
            started < Duration::from_secs(2),
            "starting took {started:?}"
        );
        assert!(
            elapsed < Duration::from_secs(4),
            "starting and listing took {elapsed:?}"
        );
        assert_eq!(listed.len(), ids.len());
        let unique: std::collections::HashSet<&String> = listed.iter().collect();
        assert_eq!(unique.len(), ids.len());
    }

    const MEMBER: &str = "210987654321";
    const MEMBER_KEY: &str = "ASIAMEMBERSESSION001";

    /// An SSM stand-in on which `MEMBER_KEY` signs as a session of the member
    /// account's approver role (the one `RunbookSpec::sample(..).in_account(MEMBER)`
    /// names).
    async fn ssm_with_member_session() -> SsmStandIn {
        let ssm = ssm().await;
        let role = "approvals-SlackInteractionsRole";
        let arn = format!("arn:aws:sts::{MEMBER}:assumed-role/{role}/U0ALICE");
        ssm.principals().register(MEMBER_KEY, &arn, None);
        ssm
    }

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
    async fn a_signal_acts_only_in_the_place_it_is_sent_and_records_it() {
        let ssm = ssm_with_member_session().await;
        let spec = RunbookSpec::sample("Ship it?", 1).in_account(MEMBER);
        let id = ssm.start_automation_in(MEMBER, "eu-west-1", spec);
        let approve_in = |region: &str, key: &str| {
            let input = json!({"AutomationExecutionId": id, "SignalType": "Approve"});
            call_in(&ssm, region, key, "SendAutomationSignal", input)
        };
        let (status, refused) = approve_in("us-east-1", MEMBER_KEY);
        assert_eq!(status, 400);
        assert_eq!(refused["__type"], "AutomationExecutionNotFoundException");
        let (status, refused) = approve_in("eu-west-1", "AKIAHOMEACCOUNT00001");
        assert_eq!(refused["__type"], "AutomationExecutionNotFoundException");
        assert_eq!(status, 400);
        assert_eq!(ssm.execution_status(&id).as_deref(), Some("Waiting"));

        let (status, reply) = approve_in("eu-west-1", MEMBER_KEY);
        assert_eq!(status, 200, "{reply}");
        assert_eq!(ssm.execution_status(&id).as_deref(), Some("Success"));
        let places: Vec<(String, String, bool)> = ssm
            .signals()
            .into_iter()
            .map(|s| (s.account, s.region, s.accepted))
            .collect();
        assert_eq!(
            places,
            [
                (MEMBER.into(), "us-east-1".into(), false),
                (ACCOUNT.into(), "eu-west-1".into(), false),
                (MEMBER.into(), "eu-west-1".into(), true),
            ]
        );
    }

    #[tokio::test]
    async fn an_approver_of_another_account_does_not_approve() {
        let ssm = ssm().await;
        // A session of a role of the same name, but in the member account, signing in
        // the home place: it is not the role the step names.
        let arn = format!("arn:aws:sts::{MEMBER}:assumed-role/approvals-SlackInteractionsRole/U0A");
        ssm.principals()
            .register("ASIAMEMBERAPPROVER01", &arn, None);
        let id = ssm.start_automation(RunbookSpec::sample("Ship it?", 1));
        let input = json!({"AutomationExecutionId": id, "SignalType": "Approve"});
        let (status, reply) = call(&ssm, "ASIAMEMBERAPPROVER01", "SendAutomationSignal", input);
        assert_eq!(status, 400);
        assert_eq!(
            reply["__type"], "AutomationExecutionNotFoundException",
            "its account cannot see the home account's execution"
        );
        assert_eq!(ssm.execution_status(&id).as_deref(), Some("Waiting"));
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
    async fn tags_are_seen_and_set_only_from_the_executions_place() {
        let ssm = ssm_with_member_session().await;
        let id = ssm.start_automation_in(MEMBER, "eu-west-1", RunbookSpec::sample("Go?", 1));
        ssm.tag_execution(&id, "team", "payments");
        let tag_call = |region: &str, key: &str, operation: &str, tags: Option<Value>| {
            let mut input = json!({"ResourceType": "Automation", "ResourceId": id});
            if let Some(tags) = tags {
                input["Tags"] = tags;
            }
            call_in(&ssm, region, key, operation, input)
        };
        let (status, refused) = tag_call(
            "eu-west-1",
            "AKIAHOMEACCOUNT00001",
            "ListTagsForResource",
            None,
        );
        assert_eq!(
            (status, refused["__type"].as_str()),
            (400, Some("InvalidResourceId"))
        );
        let tags = Some(json!([{"Key": "seen", "Value": "yes"}]));
        let (status, _) = tag_call("us-east-1", MEMBER_KEY, "AddTagsToResource", tags.clone());
        assert_eq!(status, 400);
        assert_eq!(ssm.tags(&id).len(), 1, "nothing tagged from elsewhere");
        assert_eq!(
            tag_call("eu-west-1", MEMBER_KEY, "AddTagsToResource", tags).0,
            200
        );
        let (status, listed) = tag_call("eu-west-1", MEMBER_KEY, "ListTagsForResource", None);
        assert_eq!(status, 200);
        assert_eq!(listed["TagList"].as_array().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn parameters_belong_to_an_account_and_region_and_can_be_overwritten() {
        let ssm = ssm_with_member_session().await;
        ssm.put_parameter("/approvals/slack-bot-token", "xoxb-home");
        ssm.put_parameter_in(
            MEMBER,
            "eu-west-1",
            "/approvals/slack-bot-token",
            "xoxb-member",
        );
        let get = |region: &str, key: &str| {
            let input = json!({"Name": "/approvals/slack-bot-token", "WithDecryption": true});
            call_in(&ssm, region, key, "GetParameter", input)
        };
        let (status, home) = get("us-east-1", "AKIAHOMEACCOUNT00001");
        assert_eq!(status, 200);
        assert_eq!(home["Parameter"]["Value"], "xoxb-home");
        assert_eq!(home["Parameter"]["Version"], 1);
        assert_eq!(
            home["Parameter"]["ARN"],
            format!("arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/approvals/slack-bot-token")
        );
        let (_, member) = get("eu-west-1", MEMBER_KEY);
        assert_eq!(member["Parameter"]["Value"], "xoxb-member");
        assert_eq!(
            member["Parameter"]["ARN"],
            format!("arn:aws:ssm:eu-west-1:{MEMBER}:parameter/approvals/slack-bot-token")
        );
        for (region, key) in [
            ("eu-west-1", "AKIAHOMEACCOUNT00001"),
            ("us-east-1", MEMBER_KEY),
        ] {
            let (status, missing) = get(region, key);
            assert_eq!(status, 400);
            assert_eq!(missing["__type"], "ParameterNotFound");
        }

        let (_, encrypted) = call(
            &ssm,
            "AKIAHOMEACCOUNT00001",
            "GetParameter",
            json!({"Name": "/approvals/slack-bot-token"}),
        );
        assert_ne!(
            encrypted["Parameter"]["Value"], "xoxb-home",
            "not decrypted"
        );
        assert_eq!(encrypted["Parameter"]["Type"], "SecureString");

        ssm.put_parameter("/approvals/slack-bot-token", "xoxb-rotated");
        let (_, rotated) = get("us-east-1", "AKIAHOMEACCOUNT00001");
        assert_eq!(rotated["Parameter"]["Value"], "xoxb-rotated");
        assert_eq!(rotated["Parameter"]["Version"], 2);
        assert_eq!(
            get("eu-west-1", MEMBER_KEY).1["Parameter"]["Value"],
            "xoxb-member"
        );
    }

    #[tokio::test]
    async fn a_string_parameter_reads_as_is_and_is_rewritten_in_place() {
        let ssm = ssm_with_member_session().await;
        let rules = "/ssm-slack-approvals/rules";
        ssm.put_string_parameter(rules, r#"{"rules": []}"#);
        ssm.put_string_parameter_in(MEMBER, "eu-west-1", rules, r#"{"rules": [1]}"#);
        let read = |region: &str, key: &str| {
            call_in(&ssm, region, key, "GetParameter", json!({"Name": rules})).1
        };
        let home = read("us-east-1", "AKIAHOMEACCOUNT00001");
        assert_eq!(home["Parameter"]["Type"], "String");
        assert_eq!(home["Parameter"]["Value"], r#"{"rules": []}"#);
        assert_eq!(
            read("eu-west-1", MEMBER_KEY)["Parameter"]["Value"],
            r#"{"rules": [1]}"#
        );
        ssm.put_string_parameter(rules, r#"{"rules": [2]}"#);
        let edited = read("us-east-1", "AKIAHOMEACCOUNT00001");
        assert_eq!(edited["Parameter"]["Value"], r#"{"rules": [2]}"#);
        assert_eq!(edited["Parameter"]["Version"], 2);
    }

    #[test]
    fn a_runbook_moved_to_another_account_names_that_accounts_principals() {
        let spec = RunbookSpec::sample("Go?", 1).in_account(MEMBER);
        assert_eq!(
            spec.executed_by,
            format!("arn:aws:sts::{MEMBER}:assumed-role/Deployer/carol")
        );
        let approvers = approvers(&spec.steps[1].inputs);
        assert_eq!(
            approvers,
            [format!(
                "arn:aws:iam::{MEMBER}:role/approvals-SlackInteractionsRole"
            )]
        );
    }
}
