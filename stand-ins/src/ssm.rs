//! An SSM stand-in: the awsJson1.1 protocol (`POST /`, `X-Amz-Target: AmazonSSM.<Operation>`)
//! for the operations this project uses, over a small automation engine.
//!
//! Executions run a list of steps in sequence: ordinary steps succeed at once, an
//! `aws:approve` step waits for `MinRequiredApprovals` approvals from distinct AWS
//! principals (told apart by the SigV4 access key) or one rejection, and can time
//! out or be cancelled. A runbook may wait on several approvals in turn, and may
//! loop back to run steps again, each run a step execution with its own ID, as SSM
//! does. As in SSM, Approve and Reject name no step: they act on whatever approval
//! waits when they arrive. Every status change is also emitted as the EventBridge
//! event SSM would send, so a test or the demo can deliver it to the events function.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};

use crate::{HttpServer, Incoming, Outgoing, now_unix_f64};

/// EventBridge `detail-type`s of SSM Automation status changes.
pub const STEP_DETAIL_TYPE: &str = "EC2 Automation Step Status-change Notification";
pub const EXECUTION_DETAIL_TYPE: &str = "EC2 Automation Execution Status-change Notification";

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
pub const ACCOUNT: &str = "123456789012";
const MAX_TAGS: usize = 5;

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
}

/// A signal SSM accepted or refused, as recorded by the stand-in.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalRecord {
    pub execution_id: String,
    pub signal_type: String,
    pub payload: Value,
    pub access_key: String,
    pub accepted: bool,
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
}

#[derive(Debug, Clone)]
struct ExecutionState {
    spec: RunbookSpec,
    status: String,
    started: f64,
    steps: Vec<StepState>,
    tags: BTreeMap<String, String>,
}

#[derive(Default)]
struct State {
    executions: BTreeMap<String, ExecutionState>,
    parameters: HashMap<String, String>,
    signals: Vec<SignalRecord>,
    events: VecDeque<Value>,
    calls: Vec<String>,
    faults: HashMap<String, VecDeque<Fault>>,
    /// How many step executions `GetAutomationExecution` lists before it truncates.
    step_list_limit: Option<usize>,
}

/// Something going wrong with the next call to an operation.
#[derive(Debug, Clone)]
enum Fault {
    /// Answered with this AWS error, and not acted on.
    Error { status: u16, error_type: String },
    /// Acted on, but answered only after this long (the caller may have given up).
    LateAnswer(Duration),
}

/// The SSM stand-in: an HTTP server plus in-process control of its state.
#[derive(Clone)]
pub struct SsmStandIn {
    state: Arc<Mutex<State>>,
    region: String,
    server: Arc<HttpServer>,
}

impl SsmStandIn {
    pub async fn start(addr: SocketAddr, region: &str) -> std::io::Result<Self> {
        let state: Arc<Mutex<State>> = Arc::default();
        let (handler_state, handler_region) = (state.clone(), region.to_owned());
        let server = HttpServer::start(addr, move |req| {
            handle(&handler_state, &handler_region, req)
        })
        .await?;
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
        handle(&self.state, &self.region, req)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores a SecureString parameter.
    pub fn put_parameter(&self, name: &str, value: &str) {
        self.lock().parameters.insert(name.into(), value.into());
    }

    /// Starts an execution and runs it to its first approval (or its end).
    pub fn start_automation(&self, spec: RunbookSpec) -> String {
        self.start_automation_with_id(&uuid::Uuid::new_v4().to_string(), spec)
    }

    pub fn start_automation_with_id(&self, id: &str, spec: RunbookSpec) -> String {
        let mut state = self.lock();
        let steps = spec
            .steps
            .iter()
            .enumerate()
            .map(|(n, s)| StepState::pending(s.clone(), id, n))
            .collect();
        let execution = ExecutionState {
            spec,
            status: "InProgress".into(),
            started: now_unix_f64(),
            steps,
            tags: BTreeMap::new(),
        };
        state.executions.insert(id.to_owned(), execution);
        advance(&mut state, &self.region, id);
        id.to_owned()
    }

    /// The waiting approval step runs out of time (as after its `timeoutSeconds`).
    pub fn time_out(&self, id: &str) -> bool {
        self.end_waiting(
            id,
            "TimedOut",
            "TimedOut",
            Some("Step timed out while waiting for approval"),
        )
    }

    /// Someone cancels the execution (`StopAutomationExecution`).
    pub fn cancel(&self, id: &str) -> bool {
        self.end_waiting(id, "Cancelled", "Cancelled", None)
    }

    fn end_waiting(
        &self,
        id: &str,
        step_status: &str,
        execution_status: &str,
        failure: Option<&str>,
    ) -> bool {
        let mut state = self.lock();
        let region = self.region.clone();
        let Some(index) = waiting_step(&state, id) else {
            return false;
        };
        set_step(
            &mut state,
            &region,
            id,
            index,
            step_status,
            failure.map(str::to_owned),
        );
        set_execution(&mut state, &region, id, execution_status);
        true
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
fn advance(state: &mut State, region: &str, id: &str) {
    loop {
        let Some(execution) = state.executions.get(id) else {
            return;
        };
        let Some(index) = execution.steps.iter().position(|s| s.status == "Pending") else {
            set_execution(state, region, id, "Success");
            return;
        };
        if execution.steps[index].spec.action == "aws:approve" {
            let step = &mut state.executions.get_mut(id).expect("exists").steps[index];
            step.started = Some(now_unix_f64());
            set_step(state, region, id, index, "Waiting", None);
            set_execution(state, region, id, "Waiting");
            return;
        }
        state.executions.get_mut(id).expect("exists").steps[index].started = Some(now_unix_f64());
        set_step(state, region, id, index, "Success", None);
        loop_back(state, id, index);
        if state.executions[id].status != "InProgress" {
            set_execution(state, region, id, "InProgress");
        }
    }
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

fn set_step(
    state: &mut State,
    region: &str,
    id: &str,
    index: usize,
    status: &str,
    failure: Option<String>,
) {
    let execution = state.executions.get_mut(id).expect("exists");
    let definition = execution.spec.document_name.clone();
    let step = &mut execution.steps[index];
    step.status = status.into();
    step.failure_message = failure;
    if status != "Waiting" && status != "InProgress" {
        step.ended = Some(now_unix_f64());
    }
    let detail = json!({"ExecutionId": id, "Definition": definition, "DefinitionVersion": 1.0,
        "Status": status, "StepName": step.spec.name, "Action": step.spec.action,
        "StartTime": "No date available", "EndTime": "No date available", "Time": 0.0});
    let event = eventbridge(region, STEP_DETAIL_TYPE, id, &definition, detail);
    state.events.push_back(event);
}

fn set_execution(state: &mut State, region: &str, id: &str, status: &str) {
    let execution = state.executions.get_mut(id).expect("exists");
    execution.status = status.into();
    let definition = execution.spec.document_name.clone();
    let detail = json!({"ExecutionId": id, "Definition": definition, "DefinitionVersion": 1.0,
        "Status": status, "ExecutedBy": execution.spec.executed_by,
        "StartTime": "No date available", "EndTime": "No date available", "Time": 0.0});
    let event = eventbridge(region, EXECUTION_DETAIL_TYPE, id, &definition, detail);
    state.events.push_back(event);
}

fn eventbridge(
    region: &str,
    detail_type: &str,
    id: &str,
    definition: &str,
    detail: Value,
) -> Value {
    json!({"version": "0", "id": uuid::Uuid::new_v4().to_string(), "detail-type": detail_type,
        "source": "aws.ssm", "account": ACCOUNT, "time": "2026-11-21T12:00:00Z", "region": region,
        "resources": [format!("arn:aws:ssm:{region}:{ACCOUNT}:automation-execution/{id}"),
                      format!("arn:aws:ssm:{region}:{ACCOUNT}:automation-definition/{definition}:1")],
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
fn handle(state: &Mutex<State>, region: &str, req: Incoming) -> Outgoing {
    let mut delay = None;
    let out = answer(state, region, req, &mut delay);
    out.answered_after(delay)
}

fn answer(
    state: &Mutex<State>,
    region: &str,
    req: Incoming,
    delay: &mut Option<Duration>,
) -> Outgoing {
    let call = crate::aws_json_call(
        &req,
        "AmazonSSM.",
        CONTENT_TYPE,
        "ssm",
        "IncompleteSignatureException",
    );
    let (operation, access_key, input) = match call {
        Ok(call) => (call.operation, call.access_key, call.input),
        Err((status, error_type, message)) => return error(status, error_type, &message),
    };
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
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
        None => {}
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
            match state.executions.get(&id) {
                Some(e) => {
                    ok(json!({"AutomationExecution": describe(&id, e, state.step_list_limit)}))
                }
                None => not_found(&id),
            }
        }
        "DescribeAutomationStepExecutions" => {
            let id = text("AutomationExecutionId");
            match state.executions.get(&id) {
                Some(e) => describe_steps(e, &input),
                None => not_found(&id),
            }
        }
        "SendAutomationSignal" => signal(&mut state, region, &input, access_key),
        "ListTagsForResource" => {
            let id = match automation_resource(&input) {
                Ok(id) => id,
                Err(refused) => return refused,
            };
            match state.executions.get(&id) {
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
            let Some(execution) = state.executions.get_mut(&id) else {
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
            match state.parameters.get(&name) {
                Some(value) => {
                    let decrypted = input
                        .get("WithDecryption")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    let shown = if decrypted {
                        value.clone()
                    } else {
                        "AQICAHh…(encrypted)".into()
                    };
                    ok(
                        json!({"Parameter": {"Name": name, "Type": "SecureString", "Value": shown, "Version": 1,
                        "ARN": format!("arn:aws:ssm:{region}:{ACCOUNT}:parameter/{}", name.trim_start_matches('/'))}}),
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

fn signal(state: &mut State, region: &str, input: &Value, access_key: String) -> Outgoing {
    let id = input["AutomationExecutionId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let signal_type = input["SignalType"].as_str().unwrap_or_default().to_owned();
    let mut record = SignalRecord {
        execution_id: id.clone(),
        signal_type: signal_type.clone(),
        payload: input.get("Payload").cloned().unwrap_or(Value::Null),
        access_key: access_key.clone(),
        accepted: false,
    };
    if id.len() != 36 {
        state.signals.push(record);
        return error(
            400,
            "ValidationException",
            "AutomationExecutionId must be 36 characters",
        );
    }
    if !state.executions.contains_key(&id) {
        state.signals.push(record);
        return not_found(&id);
    }
    let waiting = waiting_step(state, &id)
        .filter(|i| state.executions[&id].steps[*i].spec.action == "aws:approve");
    let Some(index) = waiting.filter(|_| matches!(signal_type.as_str(), "Approve" | "Reject"))
    else {
        state.signals.push(record);
        let status = state.executions[&id].status.clone();
        return error(
            400,
            "InvalidAutomationSignalException",
            &format!(
                "Automation execution {id} is {status} and is not waiting for signal {signal_type}"
            ),
        );
    };
    record.accepted = true;
    state.signals.push(record);
    let comment = input["Payload"]["Comment"][0]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let step = &mut state.executions.get_mut(&id).expect("exists").steps[index];
    if signal_type == "Reject" {
        let message = format!("Step was rejected by {access_key}: {comment}");
        set_step(state, region, &id, index, "Failed", Some(message));
        set_execution(state, region, &id, "Failed");
        return ok(json!({}));
    }
    // Approvals count once per AWS principal.
    if !step.approvals.iter().any(|(key, _)| *key == access_key) {
        step.approvals.push((access_key, comment));
    }
    let needed = step
        .spec
        .inputs
        .get("MinRequiredApprovals")
        .and_then(|n| n.trim_matches('"').parse().ok())
        .unwrap_or(1usize);
    if step.approvals.len() >= needed {
        set_step(state, region, &id, index, "Success", None);
        set_execution(state, region, &id, "InProgress");
        advance(state, region, &id);
    }
    ok(json!({}))
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
                step["Outputs"] = json!({"ApprovalStatus": [status]});
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
    json!({"AutomationExecutionId": id, "DocumentName": e.spec.document_name,
        "DocumentVersion": e.spec.document_version, "AutomationExecutionStatus": e.status,
        "ExecutionStartTime": e.started, "ExecutedBy": e.spec.executed_by, "Parameters": e.spec.parameters,
        "Mode": "Auto", "StepExecutions": steps, "StepExecutionsTruncated": truncated})
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
