//! CloudWatch metrics in Embedded Metric Format: one JSON line on stdout per data
//! point, which CloudWatch Logs turns into a metric (no API call, no extra latency).
//! Off unless `METRICS_NAMESPACE` names the namespace (the template sets
//! `SsmSlackApprovals/<stack name>`, so two deployments never mix their figures).
//!
//! What is counted, and the dimension each is split by (docs/operations.md says what
//! each alarm on them means):
//!
//! | Metric | Unit | Dimension |
//! |---|---|---|
//! | `PromptsPosted`, `PromptsAdopted` | Count | — |
//! | `Decisions` | Count | `Outcome`: approved, rejected, resumed, counted (one approval of several), not_accepted, not_applied, unknown, gone |
//! | `Refusals` | Count | `Reason`: not_allowed, not_served, other_runbook, self_approval, no_session |
//! | `SlackErrors` | Count | `Code`: Slack's error code, `http_<status>`, unreachable, ratelimited, out_of_time |
//! | `AwsErrors` | Count | `Service` (SSM, STS) and `Account` |
//! | `SweepHealed`, `SweepReminders`, `SweepLastCalls`, `SweepFoundUnprompted`, `SweepUnreachablePlaces`, `SweepReachableAgain`, `SweepIncomplete`, `FailedEventsRedriven`, `FailedEventsFailedAgain`, `FailedEventsNotOurs` | Count | — |
//! | `ClickLatency` | Milliseconds | — |

use std::io::Write;
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{Value, json};

use crate::deadline::unix_now_ms;

pub const METRICS_NAMESPACE: &str = "METRICS_NAMESPACE";

/// The namespace, read once; `None`: metrics are off.
fn namespace() -> Option<&'static str> {
    static NAMESPACE: OnceLock<Option<String>> = OnceLock::new();
    NAMESPACE
        .get_or_init(|| {
            std::env::var(METRICS_NAMESPACE)
                .ok()
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty())
        })
        .as_deref()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Milliseconds => "Milliseconds",
        }
    }
}

/// One data point as an EMF log line (written directly: no JSON tree is built).
pub fn render(
    namespace: &str,
    name: &str,
    unit: Unit,
    value: f64,
    dimensions: &[(&str, &str)],
    timestamp_ms: u64,
) -> String {
    use std::fmt::Write as _;
    let quoted = |text: &str| Value::String(text.to_owned()).to_string();
    let mut line = String::with_capacity(256);
    let names: Vec<String> = dimensions.iter().map(|(n, _)| quoted(n)).collect();
    let _ = write!(
        line,
        "{{\"_aws\":{{\"Timestamp\":{timestamp_ms},\"CloudWatchMetrics\":[{{\"Namespace\":{},\
         \"Dimensions\":[[{}]],\"Metrics\":[{{\"Name\":{},\"Unit\":\"{}\"}}]}}]}}",
        quoted(namespace),
        names.join(","),
        quoted(name),
        unit.as_str()
    );
    for (dimension, value) in dimensions {
        // CloudWatch takes dimension values of 1 to 1024 characters.
        let value: String = value.chars().take(1024).collect();
        let value = if value.is_empty() { "-".into() } else { value };
        let _ = write!(line, ",{}:{}", quoted(dimension), quoted(&value));
    }
    let _ = write!(line, ",{}:{}}}", quoted(name), json!(value));
    line
}

fn emit(name: &str, unit: Unit, value: f64, dimensions: &[(&str, &str)]) {
    let Some(namespace) = namespace() else {
        return;
    };
    let line = render(namespace, name, unit, value, dimensions, unix_now_ms());
    // One write of the whole line: lines of concurrent tasks never interleave.
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

fn count(name: &str, dimensions: &[(&str, &str)]) {
    emit(name, Unit::Count, 1.0, dimensions);
}

/// A prompt posted to Slack.
pub fn prompt_posted() {
    count("PromptsPosted", &[]);
}

/// A prompt found in the channel after an answer that left its post open, and kept.
pub fn prompt_adopted() {
    count("PromptsAdopted", &[]);
}

/// What became of a decision someone clicked (see the table above for outcomes).
pub fn decision(outcome: &str) {
    count("Decisions", &[("Outcome", outcome)]);
}

/// A click refused before anything was signalled.
pub fn refusal(reason: &str) {
    count("Refusals", &[("Reason", reason)]);
}

/// A Slack call that failed, by Slack's error code (or what stood for one).
pub fn slack_error(code: &str) {
    count("SlackErrors", &[("Code", code)]);
}

/// An SSM or STS call that failed, by the account it was for.
pub fn aws_error(service: &str, account: &str) {
    count("AwsErrors", &[("Service", service), ("Account", account)]);
}

/// A sweep's figures (each only when not zero, but `SweepIncomplete`, always sent so
/// that its alarm sees a steady series).
pub fn sweep(figures: &[(&str, usize)], incomplete: bool) {
    for (name, value) in figures {
        if *value > 0 {
            emit(name, Unit::Count, *value as f64, &[]);
        }
    }
    emit(
        "SweepIncomplete",
        Unit::Count,
        f64::from(u8::from(incomplete)),
        &[],
    );
}

/// From a click's arrival to its answer to Slack.
pub fn click_latency(elapsed: Duration) {
    emit(
        "ClickLatency",
        Unit::Milliseconds,
        elapsed.as_secs_f64() * 1000.0,
        &[],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_point_is_one_embedded_metric_format_line() {
        let line = render(
            "SsmSlackApprovals/approvals",
            "Decisions",
            Unit::Count,
            1.0,
            &[("Outcome", "approved")],
            1_796_600_000_000,
        );
        assert!(!line.contains('\n'));
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            value,
            json!({
                "_aws": {
                    "Timestamp": 1_796_600_000_000u64,
                    "CloudWatchMetrics": [{
                        "Namespace": "SsmSlackApprovals/approvals",
                        "Dimensions": [["Outcome"]],
                        "Metrics": [{"Name": "Decisions", "Unit": "Count"}],
                    }],
                },
                "Outcome": "approved",
                "Decisions": 1.0,
            })
        );
    }

    #[test]
    fn a_metric_without_dimensions_has_one_empty_dimension_set_and_values_stay_in_bounds() {
        let line = render("N", "ClickLatency", Unit::Milliseconds, 812.5, &[], 1);
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            value["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([[]])
        );
        assert_eq!(value["ClickLatency"], json!(812.5));
        let long = "x".repeat(2000);
        let line = render(
            "N",
            "SlackErrors",
            Unit::Count,
            1.0,
            &[("Code", &long), ("Empty", "")],
            1,
        );
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["Code"].as_str().unwrap().len(), 1024);
        assert_eq!(value["Empty"], "-");
    }
}
