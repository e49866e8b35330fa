//! Runbooks to start on the stand-in: their steps, and the sample the tests and the demo use.

use std::collections::BTreeMap;

use super::ACCOUNT;

/// A step of a runbook started on the stand-in.
#[derive(Debug, Clone)]
pub struct StepSpec {
    pub name: String,
    pub action: String,
    pub inputs: BTreeMap<String, String>,
    pub timeout_seconds: Option<i64>,
    /// When this step succeeds the first time, the runbook runs again from the step
    /// of this name (as a runbook's `nextStep` or an `aws:branch` going back does).
    pub loop_back_to: Option<String>,
}

impl StepSpec {
    /// Any step that is not an approval: it succeeds when reached.
    pub fn run(name: &str, action: &str) -> Self {
        Self {
            name: name.into(),
            action: action.into(),
            inputs: BTreeMap::new(),
            timeout_seconds: None,
            loop_back_to: None,
        }
    }

    /// A step that succeeds, then sends the runbook back to `step` once.
    pub fn loop_back(name: &str, step: &str) -> Self {
        Self {
            loop_back_to: Some(step.into()),
            ..Self::run(name, "aws:branch")
        }
    }

    /// An `aws:pause` step: it waits until a `Resume` signal names it.
    pub fn pause(name: &str) -> Self {
        Self::run(name, "aws:pause")
    }

    /// An `aws:approve` step; inputs are JSON-encoded as SSM reports them.
    pub fn approve(
        name: &str,
        message: &str,
        min_required_approvals: u32,
        approvers: &[&str],
    ) -> Self {
        let inputs = BTreeMap::from([
            (
                "Message".to_owned(),
                serde_json::to_string(message).expect("string"),
            ),
            (
                "MinRequiredApprovals".to_owned(),
                min_required_approvals.to_string(),
            ),
            (
                "Approvers".to_owned(),
                serde_json::to_string(approvers).expect("list"),
            ),
        ]);
        Self {
            name: name.into(),
            action: "aws:approve".into(),
            inputs,
            timeout_seconds: Some(3600),
            loop_back_to: None,
        }
    }
}

/// A runbook execution to start.
#[derive(Debug, Clone)]
pub struct RunbookSpec {
    pub document_name: String,
    pub document_version: String,
    pub executed_by: String,
    pub parameters: BTreeMap<String, Vec<String>>,
    pub steps: Vec<StepSpec>,
}

/// The execution ID the sample files in `events/` refer to.
pub const SAMPLE_EXECUTION_ID: &str = "5c3e9b1a-7d2f-4e8a-9b6c-1f0a2d3e4b5c";

impl RunbookSpec {
    /// The example used by the tests, the demo and the local stand-ins: a health
    /// check, an approval with `message`, then the change.
    pub fn sample(message: &str, min_required_approvals: u32) -> Self {
        Self {
            document_name: "Deploy-Payments".into(),
            document_version: "4".into(),
            executed_by: "arn:aws:sts::123456789012:assumed-role/Deployer/carol".into(),
            parameters: BTreeMap::from([
                ("Environment".into(), vec!["production".into()]),
                ("ImageTag".into(), vec!["payments:2026.11.21-1".into()]),
            ]),
            steps: vec![
                StepSpec::run("checkHealth", "aws:executeAwsApi"),
                StepSpec::approve(
                    "approveRollout",
                    message,
                    min_required_approvals,
                    &sample_approvers(min_required_approvals)
                        .iter()
                        .map(String::as_str)
                        .collect::<Vec<_>>(),
                ),
                StepSpec::run("rollOut", "aws:executeScript"),
            ],
        }
    }

    /// The same runbook as started in `account`: the home account in `executed_by`
    /// and in the approval steps' `Approvers` becomes `account` (for
    /// [`SsmStandIn::start_automation_in`](super::SsmStandIn::start_automation_in)).
    pub fn in_account(mut self, account: &str) -> Self {
        let (home, there) = (format!(":{ACCOUNT}:"), format!(":{account}:"));
        self.executed_by = self.executed_by.replace(&home, &there);
        for step in &mut self.steps {
            if let Some(approvers) = step.inputs.get_mut("Approvers") {
                *approvers = approvers.replace(&home, &there);
            }
        }
        self
    }
}

/// The sample's approvers: the interactions function's role, and as many other roles
/// as a quorum needs (SSM refuses `MinRequiredApprovals` above the number of approvers).
fn sample_approvers(min_required_approvals: u32) -> Vec<String> {
    // The role and the session Lambda signs with, as the README has runbooks list both:
    // whether SSM admits a role's sessions for the role's ARN is not documented.
    let mut approvers = vec![
        "arn:aws:iam::123456789012:role/approvals-SlackInteractionsRole".to_owned(),
        "arn:aws:sts::123456789012:assumed-role/approvals-SlackInteractionsRole/slack-interactions"
            .to_owned(),
    ];
    approvers.extend(
        (2..=min_required_approvals).map(|n| format!("arn:aws:iam::123456789012:role/OnCall{n}")),
    );
    approvers
}

/// The `Approvers` input of an approval step: a JSON list as SSM reports it, or, read
/// tolerantly, a comma-separated list.
pub(super) fn approvers(inputs: &BTreeMap<String, String>) -> Vec<String> {
    let raw = inputs.get("Approvers").map_or("", String::as_str);
    serde_json::from_str::<Vec<String>>(raw)
        .unwrap_or_else(|_| raw.split(',').map(|a| a.trim().to_owned()).collect())
        .into_iter()
        .filter(|a| !a.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssm::test_support::MEMBER;

    #[test]
    fn a_runbook_moved_to_another_account_names_that_accounts_principals() {
        let spec = RunbookSpec::sample("Go?", 1).in_account(MEMBER);
        assert_eq!(
            spec.executed_by,
            format!("arn:aws:sts::{MEMBER}:assumed-role/Deployer/carol")
        );
        let approvers = approvers(&spec.steps[1].inputs);
        assert_eq!(
            approvers,
            [
                format!("arn:aws:iam::{MEMBER}:role/approvals-SlackInteractionsRole"),
                format!(
                    "arn:aws:sts::{MEMBER}:assumed-role/approvals-SlackInteractionsRole/slack-interactions"
                )
            ]
        );
    }
}
