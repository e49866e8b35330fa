//! EventBridge events from `aws.ssm` about automation executions and their steps.
//!
//! Parsed from loose JSON on purpose: delivery is best effort, field sets vary
//! (times are not ISO-8601, `DefinitionVersion` is a number, a Waiting step may
//! lack fields), and an event we cannot use must be dropped with a reason, never
//! fail the whole invocation.

use serde_json::Value;

use super::execution::{APPROVE_ACTION, ExecutionId, PAUSE_ACTION, Status};
use super::place::{is_account_id, is_region_name};

pub const STEP_DETAIL_TYPE: &str = "EC2 Automation Step Status-change Notification";
pub const EXECUTION_DETAIL_TYPE: &str = "EC2 Automation Execution Status-change Notification";

#[derive(Debug, Clone, PartialEq)]
pub struct AutomationEvent {
    pub execution_id: ExecutionId,
    pub status: Status,
    pub subject: Subject,
    /// The Region the event came from: where the execution runs.
    pub region: Option<String>,
    /// The account the event came from (a forwarded event keeps its own).
    pub account: Option<String>,
    /// The runbook, as the event names it (`detail.Definition`): what an account the
    /// hub cannot read is known by.
    pub runbook: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    /// A step changed status. `action` is `None` when the event did not say.
    Step {
        name: Option<String>,
        action: Option<String>,
    },
    Execution,
}

/// What the events function should do about an event.
#[derive(Debug, Clone, PartialEq)]
pub enum EventPlan {
    /// An approval may be waiting: post a prompt unless one is already up.
    Prompt,
    /// An approval step or execution reached a state worth showing: refresh the prompt.
    Refresh,
    /// Nothing to do; the reason is logged.
    Ignore(&'static str),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EventRejection {
    #[error("source is {0:?}, not \"aws.ssm\"")]
    WrongSource(String),
    #[error("unknown detail-type {0:?}")]
    UnknownDetailType(String),
    #[error("the event has no detail object")]
    NoDetail,
    #[error("detail.ExecutionId is missing or not a string")]
    NoExecutionId,
    #[error(transparent)]
    BadExecutionId(#[from] super::execution::InvalidExecutionId),
    #[error("detail.Status is missing or not a string")]
    NoStatus,
}

pub fn parse_automation_event(event: &Value) -> Result<AutomationEvent, EventRejection> {
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    let source = text(event, "source").unwrap_or_default();
    if source != "aws.ssm" {
        return Err(EventRejection::WrongSource(source));
    }
    let detail_type = text(event, "detail-type").unwrap_or_default();
    let detail = event
        .get("detail")
        .filter(|d| d.is_object())
        .ok_or(EventRejection::NoDetail)?;
    let subject = match detail_type.as_str() {
        STEP_DETAIL_TYPE => Subject::Step {
            name: text(detail, "StepName"),
            action: text(detail, "Action"),
        },
        EXECUTION_DETAIL_TYPE => Subject::Execution,
        _ => return Err(EventRejection::UnknownDetailType(detail_type)),
    };
    let execution_id = text(detail, "ExecutionId").ok_or(EventRejection::NoExecutionId)?;
    let execution_id = ExecutionId::parse(&execution_id)?;
    let status = Status::parse(&text(detail, "Status").ok_or(EventRejection::NoStatus)?);
    Ok(AutomationEvent {
        execution_id,
        status,
        subject,
        // Anything else is ignored (and the function's own taken): the Region goes
        // into endpoints and console links, the account into role ARNs.
        region: text(event, "region").filter(|r| is_region_name(r)),
        account: text(event, "account").filter(|a| is_account_id(a)),
        // SSM document names are at most 128 characters of [A-Za-z0-9_.-] (and ':' or
        // '/' in shared documents' ARNs); anything else is not shown.
        runbook: text(detail, "Definition").filter(|d| {
            !d.is_empty()
                && d.len() <= 256
                && d.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-:/".contains(&b))
        }),
    })
}

impl AutomationEvent {
    pub fn plan(&self) -> EventPlan {
        if let Subject::Step {
            action: Some(action),
            ..
        } = &self.subject
            && action != APPROVE_ACTION
            && action != PAUSE_ACTION
        {
            return EventPlan::Ignore("the step is not an aws:approve or aws:pause step");
        }
        match &self.status {
            // A step event without an Action is checked against the execution itself.
            Status::Waiting => EventPlan::Prompt,
            s if s.is_final() => EventPlan::Refresh,
            _ => EventPlan::Ignore("the status needs no change to a prompt"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ID: &str = "333ba70b-2333-48db-b17e-a5e69c6f4d1c";

    fn step_event(status: &str, action: Option<&str>) -> Value {
        let mut detail = json!({"ExecutionId": ID, "Definition": "runcommand1", "DefinitionVersion": 1.0,
            "Status": status, "EndTime": "No date available", "StartTime": "Nov 29, 2024 7:43:23 PM",
            "Time": 2630.0, "StepName": "approve"});
        if let Some(a) = action {
            detail["Action"] = json!(a);
        }
        json!({"version": "0", "id": "eeca120b", "detail-type": STEP_DETAIL_TYPE, "source": "aws.ssm",
            "account": "123456789012", "time": "2024-11-29T19:43:35Z", "region": "us-east-2", "resources": [],
            "detail": detail})
    }

    #[test]
    fn plans_from_step_events() {
        let plan = |status, action| {
            parse_automation_event(&step_event(status, action))
                .unwrap()
                .plan()
        };
        assert_eq!(plan("Waiting", Some("aws:approve")), EventPlan::Prompt);
        assert_eq!(plan("Waiting", None), EventPlan::Prompt);
        assert_eq!(plan("TimedOut", Some("aws:approve")), EventPlan::Refresh);
        assert_eq!(plan("Success", Some("aws:approve")), EventPlan::Refresh);
        assert!(matches!(
            plan("Success", Some("aws:runCommand")),
            EventPlan::Ignore(_)
        ));
        assert!(matches!(
            plan("InProgress", Some("aws:approve")),
            EventPlan::Ignore(_)
        ));
    }

    #[test]
    fn plans_from_execution_events() {
        let event = json!({"source": "aws.ssm", "detail-type": EXECUTION_DETAIL_TYPE, "region": "eu-west-1",
            "detail": {"ExecutionId": ID, "Definition": "x", "Status": "Waiting", "ExecutedBy": "arn:aws:iam::1:user/a"}});
        let parsed = parse_automation_event(&event).unwrap();
        assert_eq!(parsed.subject, Subject::Execution);
        assert_eq!(parsed.region.as_deref(), Some("eu-west-1"));
        let mut odd_region = event.clone();
        odd_region["region"] = json!("x|<!channel>");
        assert_eq!(parse_automation_event(&odd_region).unwrap().region, None);
        let mut forwarded = event.clone();
        forwarded["account"] = json!("111122223333");
        assert_eq!(
            parse_automation_event(&forwarded)
                .unwrap()
                .account
                .as_deref(),
            Some("111122223333")
        );
        forwarded["account"] = json!("arn:aws:iam::1:root");
        assert_eq!(parse_automation_event(&forwarded).unwrap().account, None);
        assert_eq!(parsed.plan(), EventPlan::Prompt);
        let cancelled = json!({"source": "aws.ssm", "detail-type": EXECUTION_DETAIL_TYPE,
            "detail": {"ExecutionId": ID, "Status": "Cancelled"}});
        assert_eq!(
            parse_automation_event(&cancelled).unwrap().plan(),
            EventPlan::Refresh
        );
    }

    #[test]
    fn rejects_events_it_cannot_use() {
        let mut wrong_source = step_event("Waiting", Some("aws:approve"));
        wrong_source["source"] = json!("aws.ec2");
        assert!(matches!(
            parse_automation_event(&wrong_source),
            Err(EventRejection::WrongSource(_))
        ));
        let mut unknown = step_event("Waiting", None);
        unknown["detail-type"] = json!("Parameter Store Change");
        assert!(matches!(
            parse_automation_event(&unknown),
            Err(EventRejection::UnknownDetailType(_))
        ));
        let mut no_id = step_event("Waiting", None);
        no_id["detail"]
            .as_object_mut()
            .unwrap()
            .remove("ExecutionId");
        assert_eq!(
            parse_automation_event(&no_id),
            Err(EventRejection::NoExecutionId)
        );
        let mut bad_id = step_event("Waiting", None);
        bad_id["detail"]["ExecutionId"] = json!("not-an-id");
        assert!(matches!(
            parse_automation_event(&bad_id),
            Err(EventRejection::BadExecutionId(_))
        ));
        let mut numeric_status = step_event("Waiting", None);
        numeric_status["detail"]["Status"] = json!(3);
        assert_eq!(
            parse_automation_event(&numeric_status),
            Err(EventRejection::NoStatus)
        );
        let mut no_detail = step_event("Waiting", None);
        no_detail["detail"] = json!("Waiting");
        assert_eq!(
            parse_automation_event(&no_detail),
            Err(EventRejection::NoDetail)
        );
        assert!(parse_automation_event(&json!([])).is_err());
        assert!(parse_automation_event(&json!(null)).is_err());
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            ".{0,40}".prop_map(Value::from),
            Just(json!(ID)),
            Just(json!("Waiting")),
            Just(json!("aws:approve")),
        ];
        leaf.prop_recursive(3, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                proptest::collection::btree_map(
                    proptest::sample::select(vec![
                        "source",
                        "detail-type",
                        "detail",
                        "ExecutionId",
                        "Status",
                        "StepName",
                        "Action",
                        "region",
                        "x",
                    ])
                    .prop_map(str::to_owned),
                    inner,
                    0..6
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Any JSON at all, and any field of a real event replaced by any JSON: an
        /// event or a reason to drop it, never a panic.
        #[test]
        fn any_json_is_an_event_or_a_reason(value in json_value(), field in 0usize..6, replacement in json_value()) {
            let _ = parse_automation_event(&value).map(|e| e.plan());
            let mut event = step_event("Waiting", Some("aws:approve"));
            let key = ["source", "detail-type", "region", "ExecutionId", "Status", "Action"][field];
            if field < 3 {
                event[key] = replacement;
            } else {
                event["detail"][key] = replacement;
            }
            let _ = parse_automation_event(&event).map(|e| e.plan());
        }
    }
}
