//! What we know about an automation execution, independent of how it was fetched.

use std::collections::BTreeMap;
use std::fmt;

/// Default `aws:approve` timeout when the step sets none (7 days).
pub const DEFAULT_APPROVAL_TIMEOUT_SECS: i64 = 7 * 24 * 60 * 60;

/// An automation execution ID: a UUID, 36 characters (`8-4-4-4-12` hex digits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExecutionId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an automation execution ID (36 characters, 8-4-4-4-12 hex digits)")]
pub struct InvalidExecutionId(String);

impl ExecutionId {
    pub fn parse(raw: &str) -> Result<Self, InvalidExecutionId> {
        let shaped = raw.len() == 36
            && raw.bytes().enumerate().all(|(i, b)| match i {
                8 | 13 | 18 | 23 => b == b'-',
                _ => b.is_ascii_hexdigit(),
            });
        if shaped {
            Ok(Self(raw.to_ascii_lowercase()))
        } else {
            // keep the log line short even for a hostile value
            Err(InvalidExecutionId(raw.chars().take(64).collect()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ExecutionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Automation execution and step statuses (`AutomationExecutionStatus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Pending,
    InProgress,
    Waiting,
    Success,
    TimedOut,
    Cancelling,
    Cancelled,
    Failed,
    /// Any other value SSM sends (it adds statuses over time); kept verbatim.
    Other(String),
}

impl Status {
    pub fn parse(raw: &str) -> Self {
        match raw {
            "Pending" => Self::Pending,
            "InProgress" => Self::InProgress,
            "Waiting" => Self::Waiting,
            "Success" => Self::Success,
            "TimedOut" => Self::TimedOut,
            "Cancelling" => Self::Cancelling,
            "Cancelled" => Self::Cancelled,
            "Failed" => Self::Failed,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Pending => "Pending",
            Self::InProgress => "InProgress",
            Self::Waiting => "Waiting",
            Self::Success => "Success",
            Self::TimedOut => "TimedOut",
            Self::Cancelling => "Cancelling",
            Self::Cancelled => "Cancelled",
            Self::Failed => "Failed",
            Self::Other(s) => s,
        }
    }

    /// Nothing more will happen to an execution or step in this state.
    pub fn is_final(&self) -> bool {
        match self {
            Self::Success | Self::TimedOut | Self::Cancelled | Self::Failed => true,
            Self::Other(s) => matches!(
                s.as_str(),
                "Rejected" | "CompletedWithSuccess" | "CompletedWithFailure" | "Exited"
            ),
            _ => false,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A snapshot of an automation execution (`GetAutomationExecution`).
#[derive(Debug, Clone, PartialEq)]
pub struct Execution {
    pub id: ExecutionId,
    pub document_name: String,
    pub document_version: Option<String>,
    pub status: Status,
    pub executed_by: Option<String>,
    pub parameters: BTreeMap<String, Vec<String>>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub name: String,
    pub action: String,
    pub status: Status,
    pub step_execution_id: Option<String>,
    /// Raw inputs as SSM returns them: JSON-encoded strings.
    pub inputs: BTreeMap<String, String>,
    pub started_at_unix: Option<i64>,
    pub timeout_seconds: Option<i64>,
    pub failure_message: Option<String>,
    /// The step's outputs as SSM reports them (for `aws:approve`: `ApprovalStatus`,
    /// `ApproverDecisions`).
    pub outputs: BTreeMap<String, Vec<String>>,
}

pub const APPROVE_ACTION: &str = "aws:approve";
/// A step that waits until it is resumed (`SendAutomationSignal` `Resume`).
pub const PAUSE_ACTION: &str = "aws:pause";

impl Execution {
    /// What an event alone says of an execution whose step waits: its runbook, and the
    /// step's name and action (nothing else is known when SSM there cannot be read).
    pub fn as_an_event_names_it(id: ExecutionId, runbook: &str, step: &str, action: &str) -> Self {
        Self {
            id,
            document_name: runbook.to_owned(),
            document_version: None,
            status: Status::Waiting,
            executed_by: None,
            parameters: BTreeMap::new(),
            steps: vec![Step {
                name: step.to_owned(),
                action: action.to_owned(),
                status: Status::Waiting,
                step_execution_id: None,
                inputs: BTreeMap::new(),
                started_at_unix: None,
                timeout_seconds: None,
                failure_message: None,
                outputs: BTreeMap::new(),
            }],
        }
    }

    /// The step a prompt was posted for, by its step execution ID (or name, for
    /// executions where SSM gave no ID).
    pub fn step_by_key(&self, key: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.key() == key)
    }
}

impl Step {
    pub fn is_approval(&self) -> bool {
        self.action == APPROVE_ACTION
    }

    /// Stable identity of this step within its execution.
    pub fn key(&self) -> &str {
        self.step_execution_id.as_deref().unwrap_or(&self.name)
    }

    /// The approval request this step describes (meaningful for `aws:approve`).
    pub fn approval(&self) -> Approval {
        let message = self.input_text("Message").filter(|m| !m.trim().is_empty());
        let min_required_approvals = self
            .input_text("MinRequiredApprovals")
            .and_then(|n| n.trim().parse::<u32>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(1);
        let approvers = self
            .inputs
            .get("Approvers")
            .map(|raw| decode_list(raw))
            .unwrap_or_default();
        let timeout = self
            .timeout_seconds
            .unwrap_or(DEFAULT_APPROVAL_TIMEOUT_SECS);
        Approval {
            message,
            min_required_approvals,
            approvers,
            times_out_at_unix: self.started_at_unix.map(|start| start + timeout),
        }
    }

    /// An input decoded from its JSON encoding; a value that is not JSON is taken as is.
    pub fn input_text(&self, name: &str) -> Option<String> {
        self.inputs.get(name).map(|raw| decode_scalar(raw))
    }
}

/// What a person needs to know about an `aws:approve` step to decide.
#[derive(Debug, Clone, PartialEq)]
pub struct Approval {
    pub message: Option<String>,
    pub min_required_approvals: u32,
    pub approvers: Vec<String>,
    pub times_out_at_unix: Option<i64>,
}

fn decode_scalar(raw: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Null) | Err(_) => raw.to_owned(),
        Ok(other) => other.to_string(),
    }
}

fn decode_list(raw: &str) -> Vec<String> {
    match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(serde_json::Value::Array(items)) => items
            .into_iter()
            .map(|v| match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            })
            .collect(),
        _ => vec![decode_scalar(raw)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(inputs: &[(&str, &str)]) -> Step {
        Step {
            name: "approve".into(),
            action: APPROVE_ACTION.into(),
            status: Status::Waiting,
            step_execution_id: Some("0b2c8a5e-1111-4222-8333-444455556666".into()),
            inputs: inputs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            started_at_unix: Some(1_000),
            timeout_seconds: None,
            failure_message: None,
            outputs: Default::default(),
        }
    }

    #[test]
    fn execution_ids_must_be_uuid_shaped() {
        assert!(ExecutionId::parse("333ba70b-2333-48db-b17e-a5e69c6f4d1c").is_ok());
        assert_eq!(
            ExecutionId::parse("333BA70B-2333-48DB-B17E-A5E69C6F4D1C")
                .unwrap()
                .as_str(),
            "333ba70b-2333-48db-b17e-a5e69c6f4d1c"
        );
        for bad in [
            "",
            "333ba70b",
            "333ba70b-2333-48db-b17e-a5e69c6f4d1",
            "333ba70b-2333-48db-b17e-a5e69c6f4d1cc",
            "333ba70b_2333_48db_b17e_a5e69c6f4d1c",
            "333ba70b-2333-48db-b17e-a5e69c6f4d1g",
            "../../../etc/passwd-xxxxxxxxxxxxxxxxx",
        ] {
            assert!(ExecutionId::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn inputs_are_json_first_raw_as_fallback() {
        let s = step(&[
            ("Message", "\"Please approve the \\\"prod\\\" rollout\""),
            ("MinRequiredApprovals", "2"),
            (
                "Approvers",
                "[\"arn:aws:iam::123456789012:role/A\",\"arn:aws:iam::123456789012:role/B\"]",
            ),
        ]);
        let a = s.approval();
        assert_eq!(
            a.message.as_deref(),
            Some("Please approve the \"prod\" rollout")
        );
        assert_eq!(a.min_required_approvals, 2);
        assert_eq!(a.approvers.len(), 2);
        assert_eq!(
            a.times_out_at_unix,
            Some(1_000 + DEFAULT_APPROVAL_TIMEOUT_SECS)
        );

        let raw = step(&[
            ("Message", "not json at all"),
            ("MinRequiredApprovals", "\"3\""),
            ("Approvers", "arn:x"),
        ]);
        let a = raw.approval();
        assert_eq!(a.message.as_deref(), Some("not json at all"));
        assert_eq!(a.min_required_approvals, 3);
        assert_eq!(a.approvers, vec!["arn:x".to_string()]);

        let odd = step(&[("MinRequiredApprovals", "\"zero\""), ("Message", "\"  \"")]);
        assert_eq!(odd.approval().min_required_approvals, 1);
        assert_eq!(odd.approval().message, None);
    }

    #[test]
    fn statuses_round_trip_and_know_when_they_are_final() {
        for s in [
            "Pending",
            "InProgress",
            "Waiting",
            "Success",
            "TimedOut",
            "Cancelling",
            "Cancelled",
            "Failed",
            "Exited",
        ] {
            assert_eq!(Status::parse(s).as_str(), s);
        }
        assert!(Status::parse("TimedOut").is_final());
        assert!(Status::parse("CompletedWithFailure").is_final());
        assert!(!Status::parse("Waiting").is_final());
        assert!(!Status::parse("Cancelling").is_final());
    }
}
