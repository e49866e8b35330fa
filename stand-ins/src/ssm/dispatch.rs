//! The SSM wire: requests read and routed to the operation they call, faults injected.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};

use super::describe::{describe, describe_steps};
use super::executions::not_found;
use super::listing::describe_executions;
use super::parameters::get_parameter;
use super::signals::signal;
use super::{ACCOUNT, CONTENT_TYPE, Fault, Place, State, error, ok};
use crate::{Incoming, Outgoing};

const MAX_TAGS: usize = 5;

/// The answer to a request, held back when a late answer was asked for.
pub(super) fn handle(state: &Mutex<State>, req: Incoming) -> Outgoing {
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
        "GetParameter" => get_parameter(&state, &place, &input, text("Name")),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssm::RunbookSpec;
    use crate::ssm::test_support::{MEMBER, MEMBER_KEY, call_in, ssm_with_member_session};

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
}
