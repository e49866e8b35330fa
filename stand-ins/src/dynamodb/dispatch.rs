//! The DynamoDB wire: requests read and routed to the operation they call, faults injected.

use std::sync::Mutex;

use serde_json::{Value, json};

use super::items::{get_item, put_item, update_item};
use super::query;
use super::{CONTENT_TYPE, Refusal, State, TARGET_PREFIX};
use crate::{Incoming, Outgoing};

fn error(status: u16, error_type: &str, message: &str) -> Outgoing {
    Outgoing::json(
        status,
        &json!({"__type": format!("com.amazonaws.dynamodb.v20120810#{error_type}"), "message": message}),
        CONTENT_TYPE,
    )
    .with_header("x-amzn-RequestId", &uuid::Uuid::new_v4().to_string())
}

fn ok(body: Value) -> Outgoing {
    Outgoing::json(200, &body, CONTENT_TYPE)
        .with_header("x-amzn-RequestId", &uuid::Uuid::new_v4().to_string())
}

pub(super) fn handle(state: &Mutex<State>, req: Incoming) -> Outgoing {
    let call = crate::aws_json_call(
        &req,
        TARGET_PREFIX,
        CONTENT_TYPE,
        "dynamodb",
        "MissingAuthenticationTokenException",
    );
    let (operation, input) = match call {
        Ok(call) => (call.operation, call.input),
        Err((status, error_type, message)) => return error(status, error_type, &message),
    };
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    state.calls.push((operation.clone(), input.clone()));
    let delay = state
        .late
        .get_mut(&operation)
        .and_then(std::collections::VecDeque::pop_front);
    answer(&mut state, &operation, &input).answered_after(delay)
}

fn answer(state: &mut State, operation: &str, input: &Value) -> Outgoing {
    if let Some(faults) = state.faults.get_mut(operation)
        && !faults.is_empty()
        && let Some((status, error_type)) = faults.remove(0)
    {
        return error(status, &error_type, "injected by the stand-in");
    }
    let result = match operation {
        "PutItem" => put_item(state, input),
        "GetItem" => get_item(state, input),
        "UpdateItem" => update_item(state, input),
        "Query" => query(state, input),
        other => Err(Refusal::new(
            "UnknownOperationException",
            &format!("{other} is not implemented by the stand-in"),
        )),
    };
    match result {
        Ok(body) => ok(body),
        Err(refusal) => {
            let mut out = error(400, &refusal.error_type, &refusal.message);
            if let Some(item) = refusal.item {
                let mut body: Value = serde_json::from_slice(&out.body).expect("json");
                body["Item"] = Value::Object(item);
                out.body = body.to_string().into_bytes();
            }
            out
        }
    }
}

pub(super) fn query(state: &State, input: &Value) -> Result<Value, Refusal> {
    query::query(state, input)
}
