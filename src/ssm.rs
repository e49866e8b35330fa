//! Outbound adapter: AWS Systems Manager through the AWS SDK.
//!
//! The real `aws_sdk_ssm::Client` is used everywhere, tests included (they point it at
//! the SSM stand-in with an endpoint URL), so signing, the JSON protocol, timeouts and
//! retries are always the real ones.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader};
use aws_sdk_ssm::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_ssm::types::{ResourceTypeForTagging, Tag};

use crate::config::{ConfigError, Secret, SecretSource};
use crate::domain::execution::{Execution, ExecutionId, Status, Step};
use crate::domain::interaction::Decision;
use crate::domain::tags::{DECISION_TAG, DecisionRecord, PROMPT_TAG, PromptRef};

/// How long SSM calls may take, per attempt and in all, and how often to try.
#[derive(Debug, Clone, Copy)]
pub struct CallBudget {
    pub connect: Duration,
    pub attempt: Duration,
    pub total: Duration,
    pub attempts: u32,
}

impl CallBudget {
    /// Inside Slack's 3 s acknowledgement window, with room for the Slack call after.
    pub const INTERACTIVE: Self = Self {
        connect: Duration::from_millis(500),
        attempt: Duration::from_millis(900),
        total: Duration::from_millis(1600),
        attempts: 2,
    };
    /// EventBridge deliveries: nobody is waiting, so be patient and retry.
    pub const BACKGROUND: Self = Self {
        connect: Duration::from_secs(2),
        attempt: Duration::from_secs(5),
        total: Duration::from_secs(15),
        attempts: 4,
    };
}

/// The standard AWS configuration chain (region, credentials, `AWS_ENDPOINT_URL_SSM`)
/// with this budget's timeouts and retries. Tests add an endpoint and credentials.
pub fn config_loader(budget: CallBudget) -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(budget.connect)
                .operation_attempt_timeout(budget.attempt)
                .operation_timeout(budget.total)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(budget.attempts))
}

#[derive(Debug, thiserror::Error)]
#[error("SSM {operation} failed: {}", DisplayErrorContext(.source.as_ref()))]
pub struct SsmError {
    pub operation: &'static str,
    #[source]
    pub source: Box<aws_sdk_ssm::Error>,
}

impl SsmError {
    fn new(operation: &'static str, source: impl Into<aws_sdk_ssm::Error>) -> Self {
        Self {
            operation,
            source: Box::new(source.into()),
        }
    }

    /// The AWS error code (`ThrottlingException`, `AccessDeniedException`, …), if any.
    pub fn code(&self) -> Option<&str> {
        self.source.code()
    }

    /// The execution does not exist (never did, or was deleted).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self.code(),
            Some("AutomationExecutionNotFoundException" | "InvalidResourceId")
        )
    }
}

/// What SSM said to a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignalOutcome {
    Accepted,
    /// `InvalidAutomationSignalException`: not waiting for this signal (decided,
    /// timed out, cancelled) or not allowed to send it.
    NotWaiting(String),
    /// `AutomationExecutionNotFoundException`.
    NotFound,
}

/// The tags this project keeps on an execution.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecutionTags {
    pub prompt: Option<PromptRef>,
    pub decision: Option<DecisionRecord>,
}

#[derive(Debug, Clone)]
pub struct Ssm {
    client: aws_sdk_ssm::Client,
}

impl Ssm {
    pub fn new(client: aws_sdk_ssm::Client) -> Self {
        Self { client }
    }

    pub async fn get_execution(&self, id: &ExecutionId) -> Result<Execution, SsmError> {
        let out = self
            .client
            .get_automation_execution()
            .automation_execution_id(id.as_str())
            .send()
            .await
            .map_err(|e| SsmError::new("GetAutomationExecution", e))?;
        let ae = out
            .automation_execution()
            .cloned()
            .unwrap_or_else(|| aws_sdk_ssm::types::AutomationExecution::builder().build());
        Ok(Execution {
            id: id.clone(),
            document_name: ae.document_name().unwrap_or("(unknown runbook)").to_owned(),
            document_version: ae.document_version().map(str::to_owned),
            status: Status::parse(
                ae.automation_execution_status()
                    .map(|s| s.as_str())
                    .unwrap_or("Unknown"),
            ),
            executed_by: ae.executed_by().map(str::to_owned),
            parameters: ae
                .parameters()
                .map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            steps: ae.step_executions().iter().map(step_from_sdk).collect(),
        })
    }

    pub async fn send_decision(
        &self,
        id: &ExecutionId,
        decision: Decision,
        comment: &str,
    ) -> Result<SignalOutcome, SsmError> {
        let result = self
            .client
            .send_automation_signal()
            .automation_execution_id(id.as_str())
            .signal_type(decision.signal_type().into())
            .payload("Comment", vec![comment.to_owned()])
            .send()
            .await;
        match result {
            Ok(_) => Ok(SignalOutcome::Accepted),
            Err(err) => match err.as_service_error() {
                Some(e) if e.is_invalid_automation_signal_exception() => {
                    Ok(SignalOutcome::NotWaiting(
                        e.message()
                            .unwrap_or("not waiting for this signal")
                            .to_owned(),
                    ))
                }
                Some(e) if e.is_automation_execution_not_found_exception() => {
                    Ok(SignalOutcome::NotFound)
                }
                _ => Err(SsmError::new("SendAutomationSignal", err)),
            },
        }
    }

    pub async fn execution_tags(&self, id: &ExecutionId) -> Result<ExecutionTags, SsmError> {
        let out = self
            .client
            .list_tags_for_resource()
            .resource_type(ResourceTypeForTagging::Automation)
            .resource_id(id.as_str())
            .send()
            .await
            .map_err(|e| SsmError::new("ListTagsForResource", e))?;
        let value = |key: &str| {
            out.tag_list()
                .iter()
                .find(|t| t.key() == key)
                .map(|t| t.value())
        };
        Ok(ExecutionTags {
            prompt: value(PROMPT_TAG).and_then(PromptRef::from_tag_value),
            decision: value(DECISION_TAG).and_then(DecisionRecord::from_tag_value),
        })
    }

    pub async fn tag_prompt(&self, id: &ExecutionId, prompt: &PromptRef) -> Result<(), SsmError> {
        self.add_tag(id, PROMPT_TAG, prompt.to_tag_value()).await
    }

    pub async fn tag_decision(
        &self,
        id: &ExecutionId,
        record: &DecisionRecord,
    ) -> Result<(), SsmError> {
        self.add_tag(id, DECISION_TAG, record.to_tag_value()).await
    }

    async fn add_tag(&self, id: &ExecutionId, key: &str, value: String) -> Result<(), SsmError> {
        let tag = Tag::builder()
            .key(key)
            .value(value)
            .build()
            .expect("key and value are set");
        self.client
            .add_tags_to_resource()
            .resource_type(ResourceTypeForTagging::Automation)
            .resource_id(id.as_str())
            .tags(tag)
            .send()
            .await
            .map_err(|e| SsmError::new("AddTagsToResource", e))?;
        Ok(())
    }

    /// Resolves a secret: as given, or read once (decrypted) from Parameter Store.
    pub async fn resolve_secret(&self, source: &SecretSource) -> Result<Secret, ConfigError> {
        let (variable, name) = match source {
            SecretSource::Value(secret) => return Ok(secret.clone()),
            SecretSource::Parameter { variable, name } => (*variable, name),
        };
        let failed = |reason: String| ConfigError::Parameter {
            variable,
            name: name.clone(),
            reason,
        };
        let out = self
            .client
            .get_parameter()
            .name(name)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| failed(DisplayErrorContext(aws_sdk_ssm::Error::from(e)).to_string()))?;
        out.parameter()
            .and_then(|p| p.value())
            .map(|v| Secret::new(v.trim()))
            .filter(|s| !s.expose().is_empty())
            .ok_or_else(|| failed("the parameter has no value".into()))
    }
}

fn step_from_sdk(s: &aws_sdk_ssm::types::StepExecution) -> Step {
    Step {
        name: s.step_name().unwrap_or_default().to_owned(),
        action: s.action().unwrap_or_default().to_owned(),
        status: Status::parse(s.step_status().map(|st| st.as_str()).unwrap_or("Unknown")),
        step_execution_id: s.step_execution_id().map(str::to_owned),
        inputs: s
            .inputs()
            .map(|i| {
                i.iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<BTreeMap<_, _>>()
            })
            .unwrap_or_default(),
        started_at_unix: s.execution_start_time().map(|t| t.secs()),
        timeout_seconds: s.timeout_seconds(),
        failure_message: s.failure_message().map(str::to_owned),
    }
}
