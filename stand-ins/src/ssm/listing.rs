//! `DescribeAutomationExecutions`: executions newest first, filtered and paged as SSM does.

use std::cmp::Ordering;

use base64::Engine;
use serde_json::{Value, json};

use super::describe::add_progress;
use super::executions::ExecutionState;
use super::{Place, State, error, ok};
use crate::Outgoing;

/// The most executions `DescribeAutomationExecutions` returns in one page.
const MAX_RESULTS: u64 = 50;
/// The most values one filter takes (`ExecutionId`: ten executions a call).
const MAX_FILTER_VALUES: usize = 10;
/// The longest value a filter takes.
const MAX_FILTER_VALUE_CHARS: usize = 150;
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

/// `DescribeAutomationExecutions`: the executions the `Filters` admit, newest first
/// (by start time, then ID), `MaxResults` to a page. `NextToken` names the last
/// execution of the page before, so executions started meanwhile shift no page.
pub(super) fn describe_executions(state: &State, place: &Place, input: &Value) -> Outgoing {
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
    // The model's constraints (1 to 10 values, each 1 to 150 characters) are checked
    // before the service looks at them: a `ValidationException`, as for any field.
    if values.is_empty() || values.len() > MAX_FILTER_VALUES {
        return Err(error(
            400,
            "ValidationException",
            &format!(
                "1 validation error detected: Value at 'filters.member.values' failed to satisfy \
                 constraint: Member must have length between 1 and {MAX_FILTER_VALUES} ({key} had {})",
                values.len()
            ),
        ));
    }
    if let Some(long) = values
        .iter()
        .find(|v| v.is_empty() || v.chars().count() > MAX_FILTER_VALUE_CHARS)
    {
        return Err(error(
            400,
            "ValidationException",
            &format!(
                "1 validation error detected: Value '{long}' at 'filters.member.values.member' \
                 failed to satisfy constraint: Member must have length between 1 and {MAX_FILTER_VALUE_CHARS}"
            ),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::ssm::test_support::{call, listed_ids, runbook, ssm};
    use crate::ssm::{RunbookSpec, SsmStandIn, StepSpec};

    /// `DescribeAutomationExecutions` as the SDK sends it.
    fn describe(ssm: &SsmStandIn, input: Value) -> (u16, Value) {
        call(
            ssm,
            "AKIAREADER0000000001",
            "DescribeAutomationExecutions",
            input,
        )
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
            "ValidationException"
        );
        let eleven: Vec<String> = (0..11).map(|n| format!("Doc{n}")).collect();
        assert_eq!(
            refused(filter("DocumentNamePrefix", json!(eleven))),
            "ValidationException"
        );
        assert_eq!(
            refused(filter("DocumentNamePrefix", json!(["D".repeat(151)]))),
            "ValidationException"
        );
        assert_eq!(
            refused(filter("DocumentNamePrefix", json!([""]))),
            "ValidationException"
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
    async fn ten_execution_ids_are_answered_in_one_call_and_eleven_are_refused() {
        let ssm = ssm().await;
        let ids: Vec<String> = (0..11)
            .map(|_| ssm.start_automation(RunbookSpec::sample("Ship it?", 1)))
            .collect();
        assert!(ssm.cancel(&ids[3]));
        let by_id = |ids: &[String], page: Option<u64>| {
            let mut input = json!({"Filters": [{"Key": "ExecutionId", "Values": ids}]});
            if let Some(page) = page {
                input["MaxResults"] = json!(page);
            }
            describe(&ssm, input)
        };
        let (status, reply) = by_id(&ids[..10], Some(10));
        assert_eq!(status, 200, "{reply}");
        let mut listed = listed_ids(&reply);
        listed.sort();
        let mut asked = ids[..10].to_vec();
        asked.sort();
        assert_eq!(listed, asked, "each asked execution, once");
        assert!(reply.get("NextToken").is_none());
        let statuses: Vec<(&str, &str)> = reply["AutomationExecutionMetadataList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["AutomationExecutionId"].as_str().unwrap(),
                    m["AutomationExecutionStatus"].as_str().unwrap(),
                )
            })
            .collect();
        for (id, status) in statuses {
            let expected = if id == ids[3] { "Cancelled" } else { "Waiting" };
            assert_eq!(status, expected, "{id}");
        }
        // Unknown IDs are simply not listed; so are executions of another place.
        let elsewhere =
            ssm.start_automation_in("210987654321", "eu-west-1", RunbookSpec::sample("x", 1));
        let unknown = "00000000-0000-4000-8000-00000000dead".to_owned();
        let (status, reply) = by_id(&[ids[0].clone(), unknown, elsewhere], None);
        assert_eq!(status, 200, "{reply}");
        assert_eq!(listed_ids(&reply), [ids[0].clone()]);
        // A smaller page pages through the same IDs.
        assert_eq!(
            all_pages(
                &ssm,
                json!({"Filters": [{"Key": "ExecutionId", "Values": &ids[..10]}]}),
                3
            )
            .len(),
            10
        );
        let (status, reply) = by_id(&ids, None);
        assert_eq!(status, 400, "{reply}");
        assert_eq!(reply["__type"], "ValidationException");
    }

    #[tokio::test]
    async fn waiting_executions_are_listed_in_pages_of_at_most_max_results() {
        let ssm = ssm().await;
        let waiting: Vec<String> = (0..7)
            .map(|_| ssm.start_automation(RunbookSpec::sample("Ship it?", 1)))
            .collect();
        let ended = ssm.start_automation(RunbookSpec::sample("Done?", 1));
        assert!(ssm.cancel(&ended));
        let mut listed = all_pages(
            &ssm,
            json!({"Filters": [{"Key": "ExecutionStatus", "Values": ["Waiting"]}]}),
            3,
        );
        listed.sort();
        let mut expected = waiting.clone();
        expected.sort();
        assert_eq!(listed, expected);
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
}
