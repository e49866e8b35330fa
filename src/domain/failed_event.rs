//! A message of the failed-events queue, read: Lambda's invocation record of an event
//! whose every try failed (`{"version": "1.0", "requestContext": {"condition": …},
//! "requestPayload": <the event>, "responsePayload": {"errorType", "errorMessage"}}`).
//! What it holds decides what the sweep does with it: an SSM event is handled again,
//! a failed sweep is superseded by the sweep reading it, anything else is not ours.

use serde_json::Value;

/// What a queued message asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Queued {
    /// An SSM Automation event to handle again; `last_error` is why its last try failed.
    Event {
        event: Value,
        last_error: Option<String>,
    },
    /// A scheduled sweep that failed: the sweep that reads it does the same work.
    Sweep,
    /// Not an invocation record of ours: left in the queue, with this reason.
    NotOurs(String),
}

/// Reads a message body from the failed-events queue.
pub fn read_queued(body: &str) -> Queued {
    let Ok(record) = serde_json::from_str::<Value>(body) else {
        return Queued::NotOurs("the message is not JSON".into());
    };
    let (Some(context), Some(payload)) = (
        record.get("requestContext").filter(|c| c.is_object()),
        record.get("requestPayload"),
    ) else {
        return Queued::NotOurs(
            "not a Lambda invocation record (no requestContext and requestPayload)".into(),
        );
    };
    if payload.get("sweep").and_then(Value::as_str) == Some("waiting-steps") {
        return Queued::Sweep;
    }
    let from_ssm = payload.get("source").and_then(Value::as_str) == Some("aws.ssm")
        && payload.get("detail-type").is_some_and(Value::is_string)
        && payload.get("detail").is_some_and(Value::is_object);
    if !from_ssm {
        return Queued::NotOurs(format!(
            "the record's event is not from SSM (source {})",
            payload.get("source").unwrap_or(&Value::Null)
        ));
    }
    let response = record.get("responsePayload");
    let field = |name: &str| response.and_then(|r| r.get(name)).and_then(Value::as_str);
    let last_error = match (field("errorType"), field("errorMessage")) {
        (Some(kind), Some(message)) => Some(format!("{kind}: {message}")),
        (kind, message) => kind.or(message).map(str::to_owned),
    }
    .or_else(|| {
        context
            .get("condition")
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    Queued::Event {
        event: payload.clone(),
        last_error,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn record(payload: Value) -> String {
        json!({
            "version": "1.0",
            "timestamp": "2026-12-07T04:00:00.000Z",
            "requestContext": {
                "requestId": "c5d1c2a4-0000-4000-8000-000000000000",
                "functionArn": "arn:aws:lambda:eu-west-1:111122223333:function:approvals-events:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3
            },
            "requestPayload": payload,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorType": "Retryable.Slack", "errorMessage": "Slack chat.postMessage failed: internal_error"}
        })
        .to_string()
    }

    #[test]
    fn an_ssm_event_in_a_failed_invocation_record_is_handled_again_with_its_last_error() {
        let event = json!({"source": "aws.ssm", "detail-type": "EC2 Automation Step Status-change Notification", "detail": {"Status": "Waiting"}});
        assert_eq!(
            read_queued(&record(event.clone())),
            Queued::Event {
                event,
                last_error: Some(
                    "Retryable.Slack: Slack chat.postMessage failed: internal_error".into()
                )
            }
        );
    }

    #[test]
    fn a_failed_sweep_is_superseded_and_anything_else_is_not_ours() {
        assert_eq!(
            read_queued(&record(json!({"sweep": "waiting-steps"}))),
            Queued::Sweep
        );
        for body in [
            "not json".to_owned(),
            json!({"hello": "world"}).to_string(),
            record(json!({"source": "aws.ec2", "detail-type": "x", "detail": {}})),
            record(json!({"source": "aws.ssm", "detail-type": "x"})),
        ] {
            assert!(matches!(read_queued(&body), Queued::NotOurs(_)), "{body}");
        }
    }
}
