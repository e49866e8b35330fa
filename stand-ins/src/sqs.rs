//! An SQS stand-in: the AWS JSON 1.0 protocol (`X-Amz-Target: AmazonSQS.<Operation>`,
//! SigV4 for `sqs`), as the AWS SDKs speak it since SQS moved off the Query protocol,
//! for the calls a consumer of a failed-events queue makes: `ReceiveMessage`,
//! `DeleteMessage`, `ChangeMessageVisibility`, plus `SendMessage`.
//!
//! It keeps state as SQS does: a received message stays in the queue, invisible for its
//! visibility timeout (the call's `VisibilityTimeout`, else the queue's 30 s), and comes
//! back afterwards with a higher `ApproximateReceiveCount`; each receive hands out a new
//! receipt handle, and only the latest one deletes the message (an older one is
//! accepted and does nothing, as SQS documents). Input is checked as SQS checks it
//! (`MaxNumberOfMessages` 1–10, `VisibilityTimeout` 0–43,200 s, `WaitTimeSeconds`
//! 0–20 s), errors carry SQS's JSON `__type` and the `x-amzn-query-error` header its
//! Query-compatible clients read. Time can be moved on ([`SqsStandIn::let_time_pass`])
//! instead of waited for.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};

use crate::{HttpServer, Incoming, Outgoing};

const TARGET_PREFIX: &str = "AmazonSQS.";
const CONTENT_TYPE: &str = "application/x-amz-json-1.0";
/// A queue's visibility timeout unless a receive asks for another (SQS's default).
const DEFAULT_VISIBILITY_S: f64 = 30.0;
/// `SendMessage`'s largest body: 1 MiB (SQS's limit since August 2025).
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A message as the queue holds it.
#[derive(Debug, Clone)]
pub struct QueuedMessage {
    pub message_id: String,
    pub body: String,
    pub receive_count: u32,
    /// The receipt handle of the latest receive, if it was received.
    receipt: Option<String>,
    /// Invisible until this (seconds on the stand-in's clock).
    invisible_until: f64,
    sent_at_ms: u64,
}

#[derive(Default)]
struct State {
    /// Queue URL → its messages, oldest first.
    queues: HashMap<String, VecDeque<QueuedMessage>>,
    /// Seconds added to the real clock by [`SqsStandIn::let_time_pass`].
    skew_s: f64,
    calls: Vec<(String, Value)>,
    /// Operation → errors to answer its next calls with (status, code), not acted on.
    faults: HashMap<String, VecDeque<(u16, String)>>,
}

impl State {
    fn now(&self) -> f64 {
        crate::now_unix_f64() + self.skew_s
    }
}

/// The SQS stand-in: an HTTP server plus in-process control of its queues.
#[derive(Clone)]
pub struct SqsStandIn {
    state: Arc<Mutex<State>>,
    server: Arc<HttpServer>,
    region: String,
}

impl SqsStandIn {
    pub async fn start(addr: SocketAddr, region: &str) -> std::io::Result<Self> {
        let state: Arc<Mutex<State>> = Arc::default();
        let handler_state = state.clone();
        let server = HttpServer::start(addr, move |req| handle(&handler_state, req)).await?;
        Ok(Self {
            state,
            server: Arc::new(server),
            region: region.to_owned(),
        })
    }

    /// The endpoint to give the SDK (`AWS_ENDPOINT_URL_SQS`).
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

    /// Creates the queue `name` in `account`; its URL, as SQS forms it.
    pub fn create_queue(&self, account: &str, name: &str) -> String {
        let url = format!("https://sqs.{}.amazonaws.com/{account}/{name}", self.region);
        self.lock().queues.entry(url.clone()).or_default();
        url
    }

    /// Puts `body` on the queue, as a sender (Lambda's on-failure destination) would.
    pub fn send(&self, queue_url: &str, body: &str) -> String {
        let mut state = self.lock();
        let message = new_message(body);
        let id = message.message_id.clone();
        state
            .queues
            .get_mut(queue_url)
            .expect("a queue created with create_queue")
            .push_back(message);
        id
    }

    /// Every message in the queue, visible or not.
    pub fn messages(&self, queue_url: &str) -> Vec<QueuedMessage> {
        self.lock()
            .queues
            .get(queue_url)
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Moves the stand-in's clock on: visibility timeouts run out as if `secs` passed.
    pub fn let_time_pass(&self, secs: u64) {
        self.lock().skew_s += secs as f64;
    }

    /// The calls answered so far: operation and input.
    pub fn calls(&self) -> Vec<(String, Value)> {
        self.lock().calls.clone()
    }

    /// The next call to `operation` is refused with `code` (HTTP `status`), not acted on.
    pub fn fail_next(&self, operation: &str, status: u16, code: &str) {
        self.lock()
            .faults
            .entry(operation.into())
            .or_default()
            .push_back((status, code.into()));
    }
}

fn new_message(body: &str) -> QueuedMessage {
    QueuedMessage {
        message_id: uuid::Uuid::new_v4().to_string(),
        body: body.to_owned(),
        receive_count: 0,
        receipt: None,
        invisible_until: 0.0,
        sent_at_ms: (crate::now_unix_f64() * 1000.0) as u64,
    }
}

/// An SQS error: its JSON `__type`, and the Query-protocol code and fault type that
/// `x-amzn-query-error` carries.
fn error(status: u16, code: &str, message: &str) -> Outgoing {
    let (type_name, query_code) = match code {
        "QueueDoesNotExist" => (
            "QueueDoesNotExist",
            "AWS.SimpleQueueService.NonExistentQueue",
        ),
        other => (other, other),
    };
    let fault = if status >= 500 { "Receiver" } else { "Sender" };
    Outgoing::json(
        status,
        &json!({"__type": format!("com.amazonaws.sqs#{type_name}"), "message": message}),
        CONTENT_TYPE,
    )
    .with_header("x-amzn-query-error", &format!("{query_code};{fault}"))
    .with_header("x-amzn-RequestId", &uuid::Uuid::new_v4().to_string())
}

fn ok(body: Value) -> Outgoing {
    Outgoing::json(200, &body, CONTENT_TYPE)
        .with_header("x-amzn-RequestId", &uuid::Uuid::new_v4().to_string())
}

type Refusal = (u16, &'static str, String);

fn invalid(message: impl Into<String>) -> Refusal {
    (400, "InvalidParameterValue", message.into())
}

fn handle(state: &Mutex<State>, req: Incoming) -> Outgoing {
    let call = crate::aws_json_call(
        &req,
        TARGET_PREFIX,
        CONTENT_TYPE,
        "sqs",
        "MissingAuthenticationToken",
    );
    let (operation, input) = match call {
        Ok(call) => (call.operation, call.input),
        Err((status, code, message)) => return error(status, code, &message),
    };
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    state.calls.push((operation.clone(), input.clone()));
    if let Some((status, code)) = state
        .faults
        .get_mut(&operation)
        .and_then(VecDeque::pop_front)
    {
        return error(status, &code, "injected by the stand-in");
    }
    let result = match operation.as_str() {
        "ReceiveMessage" => receive_message(&mut state, &input),
        "DeleteMessage" => delete_message(&mut state, &input),
        "ChangeMessageVisibility" => change_visibility(&mut state, &input),
        "SendMessage" => send_message(&mut state, &input),
        other => Err((
            400,
            "UnsupportedOperation",
            format!("the stand-in does not answer {other}"),
        )),
    };
    match result {
        Ok(body) => ok(body),
        Err((status, code, message)) => error(status, code, &message),
    }
}

/// The queue a call names in `QueueUrl`.
fn queue<'s>(
    state: &'s mut State,
    input: &Value,
) -> Result<&'s mut VecDeque<QueuedMessage>, Refusal> {
    let url = input["QueueUrl"].as_str().ok_or((
        400,
        "MissingParameter",
        "QueueUrl is required".to_owned(),
    ))?;
    state.queues.get_mut(url).ok_or((
        400,
        "QueueDoesNotExist",
        "The specified queue does not exist.".to_owned(),
    ))
}

/// An optional whole-number parameter within `range`.
fn number_in(
    input: &Value,
    name: &str,
    range: std::ops::RangeInclusive<i64>,
) -> Result<Option<i64>, Refusal> {
    match &input[name] {
        Value::Null => Ok(None),
        value => match value.as_i64() {
            Some(n) if range.contains(&n) => Ok(Some(n)),
            _ => Err(invalid(format!(
                "Value {value} for parameter {name} is invalid. Reason: must be between {} and {}.",
                range.start(),
                range.end()
            ))),
        },
    }
}

fn receive_message(state: &mut State, input: &Value) -> Result<Value, Refusal> {
    let max = number_in(input, "MaxNumberOfMessages", 1..=10)?.unwrap_or(1) as usize;
    let visibility = number_in(input, "VisibilityTimeout", 0..=43_200)?
        .map_or(DEFAULT_VISIBILITY_S, |s| s as f64);
    number_in(input, "WaitTimeSeconds", 0..=20)?;
    let asked: Vec<&str> = ["MessageSystemAttributeNames", "AttributeNames"]
        .iter()
        .flat_map(|key| input[*key].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .collect();
    let wants = |name: &str| asked.iter().any(|a| *a == "All" || *a == name);
    let now = state.now();
    let mut out = vec![];
    for message in queue(state, input)?.iter_mut() {
        if out.len() == max {
            break;
        }
        if message.invisible_until > now {
            continue;
        }
        message.receive_count += 1;
        message.invisible_until = now + visibility;
        let receipt = format!("{}#{}", uuid::Uuid::new_v4(), message.message_id);
        message.receipt = Some(receipt.clone());
        let mut attributes = serde_json::Map::new();
        if wants("ApproximateReceiveCount") {
            attributes.insert(
                "ApproximateReceiveCount".into(),
                json!(message.receive_count.to_string()),
            );
        }
        if wants("SentTimestamp") {
            attributes.insert(
                "SentTimestamp".into(),
                json!(message.sent_at_ms.to_string()),
            );
        }
        let mut entry = json!({
            "MessageId": message.message_id,
            "ReceiptHandle": receipt,
            "Body": message.body,
        });
        if !attributes.is_empty() {
            entry["Attributes"] = Value::Object(attributes);
        }
        out.push(entry);
    }
    // An empty receive answers without `Messages`, as SQS does.
    Ok(if out.is_empty() {
        json!({})
    } else {
        json!({"Messages": out})
    })
}

/// The message a receipt handle was issued for, if the handle is well formed.
fn receipt_message_id(input: &Value) -> Result<String, Refusal> {
    let handle = input["ReceiptHandle"].as_str().ok_or((
        400,
        "MissingParameter",
        "ReceiptHandle is required".to_owned(),
    ))?;
    handle
        .split_once('#')
        .filter(|(nonce, id)| uuid::Uuid::parse_str(nonce).is_ok() && !id.is_empty())
        .map(|(_, id)| id.to_owned())
        .ok_or((
            400,
            "ReceiptHandleIsInvalid",
            format!("The input receipt handle \"{handle}\" is not a valid receipt handle."),
        ))
}

fn delete_message(state: &mut State, input: &Value) -> Result<Value, Refusal> {
    let id = receipt_message_id(input)?;
    let handle = input["ReceiptHandle"].as_str();
    let queue = queue(state, input)?;
    // Only the latest receipt deletes; an older one (or one of a message already
    // deleted) is accepted and changes nothing.
    queue.retain(|m| !(m.message_id == id && m.receipt.as_deref() == handle));
    Ok(json!({}))
}

fn change_visibility(state: &mut State, input: &Value) -> Result<Value, Refusal> {
    let id = receipt_message_id(input)?;
    let handle = input["ReceiptHandle"].as_str();
    let timeout = number_in(input, "VisibilityTimeout", 0..=43_200)?.ok_or((
        400,
        "MissingParameter",
        "VisibilityTimeout is required".to_owned(),
    ))?;
    let now = state.now();
    let queue = queue(state, input)?;
    match queue
        .iter_mut()
        .find(|m| m.message_id == id && m.receipt.as_deref() == handle)
    {
        Some(m) if m.invisible_until > now => {
            m.invisible_until = now + timeout as f64;
            Ok(json!({}))
        }
        _ => Err((
            400,
            "MessageNotInflight",
            "The message referred to isn't in flight.".to_owned(),
        )),
    }
}

fn send_message(state: &mut State, input: &Value) -> Result<Value, Refusal> {
    let body = input["MessageBody"].as_str().unwrap_or_default();
    if body.is_empty() || body.len() > MAX_BODY_BYTES {
        return Err(invalid(format!(
            "The message body must be 1 to {MAX_BODY_BYTES} bytes long"
        )));
    }
    let message = new_message(body);
    let id = message.message_id.clone();
    queue(state, input)?.push_back(message);
    Ok(json!({"MessageId": id}))
}

#[cfg(test)]
mod tests;
