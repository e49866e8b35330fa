//! How SSM reports an execution: `GetAutomationExecution`, `DescribeAutomationStepExecutions`.

use serde_json::{Value, json};

use super::executions::ExecutionState;
use super::{error, ok};
use crate::Outgoing;

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
pub(super) fn describe(id: &str, e: &ExecutionState, limit: Option<usize>) -> Value {
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
pub(super) fn add_progress(out: &mut Value, e: &ExecutionState) {
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

/// `DescribeAutomationStepExecutions`: filtered by `StepExecutionId`, `StepName` or
/// `StepExecutionStatus`, newest first with `ReverseOrder`, `MaxResults` a page
/// (paging with `NextToken`, an offset here).
pub(super) fn describe_steps(e: &ExecutionState, input: &Value) -> Outgoing {
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
    use super::*;

    #[test]
    fn decision_times_read_as_ssm_writes_them() {
        assert_eq!(iso_time(0.0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(iso_time(1_649_229_771.5), "2022-04-06T07:22:51.500000Z");
        assert_eq!(iso_time(951_782_400.0), "2000-02-29T00:00:00.000000Z");
    }
}
