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

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Value, json};

use crate::{HttpServer, Incoming, Outgoing, Principals};

mod describe;
mod dispatch;
mod executions;
mod listing;
mod parameters;
mod runbook;
mod signals;

use dispatch::handle;
use executions::ExecutionState;
use parameters::Parameter;
pub use runbook::{RunbookSpec, SAMPLE_EXECUTION_ID, StepSpec};

pub use signals::SignalRecord;

/// EventBridge `detail-type`s of SSM Automation status changes.
pub const STEP_DETAIL_TYPE: &str = "EC2 Automation Step Status-change Notification";
pub const EXECUTION_DETAIL_TYPE: &str = "EC2 Automation Execution Status-change Notification";

const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
pub const ACCOUNT: &str = "123456789012";

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
    /// How the stand-in answers what SSM does not document.
    undocumented: Undocumented,
}

/// What SSM does not document about an approval step's `Approvers`, as a switch: the
/// tests that depend on it run under both answers (see docs/design.md for what to check
/// in a real account).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Undocumented {
    /// A role ARN in `Approvers` admits the sessions of that role (else only an entry
    /// naming the session itself does).
    pub role_admits_sessions: bool,
    /// Sessions of one role count as separate approvers toward `MinRequiredApprovals`
    /// (else they count as one, the role).
    pub sessions_count_separately: bool,
}

impl Default for Undocumented {
    fn default() -> Self {
        Self {
            role_admits_sessions: true,
            sessions_count_separately: true,
        }
    }
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

    /// Answers what SSM does not document this way from now on.
    pub fn answer_undocumented(&self, answers: Undocumented) {
        self.lock().undocumented = answers;
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

#[cfg(test)]
mod test_support;
