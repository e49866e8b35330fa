//! Outbound adapter: AWS Systems Manager through the AWS SDK.
//!
//! The real `aws_sdk_ssm::Client` is used everywhere, tests included (they point it at
//! the SSM stand-in with an endpoint URL), so signing, the JSON protocol, timeouts and
//! retries are always the real ones. Every call takes the caller's [`Deadline`]: its
//! operation and attempt timeouts are what remains of it, and a call that cannot
//! finish in time is not started.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::stalled_stream_protection::StalledStreamProtectionConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader};
use aws_sdk_ssm::config::Credentials;
use aws_sdk_ssm::config::http::HttpResponse;
use aws_sdk_ssm::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

use crate::config::{ConfigError, Secret, SecretSource};
use crate::deadline::{CONNECT_TIMEOUT, CallFloor, Deadline, OutOfTime, random_u64, sdk_timeouts};
use crate::domain::execution::{Execution, ExecutionId, Status, Step};
use crate::domain::inbound::Decision;
use crate::domain::sweep::ExecutionSummary;

/// The most executions one `DescribeAutomationExecutions` call asks about (its filter
/// `ExecutionId` takes 1 to 10 values).
pub const STATUS_BATCH: usize = 10;
/// The most executions one page of `DescribeAutomationExecutions` lists.
const LIST_PAGE: i32 = 50;

/// How the SDK retries the calls that are safe to repeat (reads, tag writes). How
/// long any call may take is not set here but by the caller's [`Deadline`].
#[derive(Debug, Clone, Copy)]
pub struct SdkRetries {
    pub attempts: u32,
    pub initial_backoff: Duration,
}

impl SdkRetries {
    /// A click: a quick second and third try inside Slack's 3 seconds.
    pub const INTERACTIVE: Self = Self {
        attempts: 3,
        initial_backoff: Duration::from_millis(40),
    };
    /// EventBridge deliveries: nobody is waiting, so be patient.
    pub const BACKGROUND: Self = Self {
        attempts: 4,
        initial_backoff: Duration::from_millis(500),
    };
}

/// The standard AWS configuration chain (region, credentials, `AWS_ENDPOINT_URL_SSM`)
/// with these retries. Tests add an endpoint and credentials.
pub fn config_loader(retries: SdkRetries) -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .build(),
        )
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(retries.attempts)
                .with_initial_backoff(retries.initial_backoff),
        )
        // Every call already has attempt and operation timeouts inside the invocation's
        // deadline (`sdk_timeouts`: an attempt gets at most 5 s, the protection's grace
        // period), so it could never fire first; watching each body's throughput cost
        // every call about 16,000 instructions.
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
}

/// AWS error codes that mean "slow down": the request was refused before it was
/// acted on, so sending it again cannot apply it twice. (The SDK's standard
/// classifier retries these, and also timeouts, broken connections and 5xx, which
/// for a signal may mean it was applied; see [`Ssm::send_decision`].)
const THROTTLING_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "ThrottledException",
];
/// Pause before the first retry of a throttled signal; doubled each time, with jitter.
const SIGNAL_BACKOFF: Duration = Duration::from_millis(40);
const SIGNAL_MAX_ATTEMPTS: u32 = 6;

#[derive(Debug, thiserror::Error)]
pub enum SsmError {
    #[error("SSM {operation} failed: {}", DisplayErrorContext(.source.as_ref()))]
    Call {
        operation: &'static str,
        #[source]
        source: Box<aws_sdk_ssm::Error>,
    },
    #[error("SSM {operation} not started: {source}")]
    OutOfTime {
        operation: &'static str,
        #[source]
        source: OutOfTime,
    },
}

impl SsmError {
    fn new(operation: &'static str, source: impl Into<aws_sdk_ssm::Error>) -> Self {
        Self::Call {
            operation,
            source: Box::new(source.into()),
        }
    }

    /// The AWS error code (`ThrottlingException`, `AccessDeniedException`, …), if any.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Call { source, .. } => source.code(),
            Self::OutOfTime { .. } => None,
        }
    }

    /// What went wrong, without the operation's name (for a message that names it).
    fn reason(&self) -> String {
        match self {
            Self::Call { source, .. } => DisplayErrorContext(source.as_ref()).to_string(),
            Self::OutOfTime { .. } => self.to_string(),
        }
    }

    /// SSM refused the call for load (it was not acted on).
    pub fn is_throttled(&self) -> bool {
        self.code().is_some_and(|c| THROTTLING_CODES.contains(&c))
    }

    /// The execution does not exist (never did, or was deleted).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self.code(),
            Some("AutomationExecutionNotFoundException" | "InvalidResourceId")
        )
    }
}

/// A decision to send: its signal, the step it is for, and the comment recorded
/// with an approval or rejection.
#[derive(Debug, Clone, Copy)]
pub struct Signal<'a> {
    pub decision: Decision,
    pub step_name: &'a str,
    pub comment: &'a str,
}

/// What became of a decision sent to SSM.
#[derive(Debug)]
pub enum SignalOutcome {
    Accepted,
    /// `InvalidAutomationSignalException` / `AutomationStepNotFoundException`: not
    /// waiting for this signal (decided, timed out, cancelled) or not allowed to send it.
    NotWaiting(String),
    /// `AutomationExecutionNotFoundException`.
    NotFound,
    /// SSM answered and did not act on it (throttled until the deadline, access
    /// denied, invalid), or it was never sent: nothing was decided.
    NotApplied(SsmError),
    /// No answer that says either way (a timeout, a broken connection, a 5xx): it may
    /// have been applied, so this click never sends it again.
    Unknown(SsmError),
}

/// SSM in one account and Region: the client of the function's own configuration,
/// with, for another Region or account, that Region and the credentials of a role
/// there (see [`crate::places`]) applied to every call.
#[derive(Debug, Clone)]
pub struct Ssm {
    client: aws_sdk_ssm::Client,
    region: Option<aws_sdk_ssm::config::Region>,
    credentials: Option<Credentials>,
    /// The account it calls, as the `AwsErrors` metric names it (`None`: the
    /// function's own, when not known).
    account: Option<std::sync::Arc<str>>,
}

impl Ssm {
    /// The same client, named as calling `account` (for the metrics of its errors).
    pub fn in_account(mut self, account: Option<&str>) -> Self {
        self.account = account.map(std::sync::Arc::from);
        self
    }

    /// A failed call: counted by account, then returned.
    fn failed(&self, operation: &'static str, source: impl Into<aws_sdk_ssm::Error>) -> SsmError {
        crate::metrics::aws_error("SSM", self.account.as_deref().unwrap_or("this-account"));
        SsmError::new(operation, source)
    }

    /// The per-call settings for a call that must leave `reserve` of `deadline` for
    /// what follows, in this client's account and Region.
    fn within(
        &self,
        operation: &'static str,
        deadline: &Deadline,
        reserve: Duration,
    ) -> Result<aws_sdk_ssm::config::Builder, SsmError> {
        let timeouts = sdk_timeouts(deadline, reserve)
            .map_err(|source| SsmError::OutOfTime { operation, source })?;
        let mut limits = aws_sdk_ssm::config::Builder::default();
        limits.set_timeout_config(Some(timeouts));
        limits.set_region(self.region.clone());
        if let Some(credentials) = &self.credentials {
            limits = limits.credentials_provider(credentials.clone());
        }
        Ok(limits)
    }
}

/// A pause of about `base`, between 50 % and 100 % of it, so clicks that were
/// throttled together do not come back together.
fn jittered(base: Duration) -> Duration {
    let per_mille = (random_u64() % 1000) as u32;
    base / 2 + base / 2 * per_mille / 1000
}

impl Ssm {
    pub fn new(client: aws_sdk_ssm::Client) -> Self {
        Self {
            client,
            region: None,
            credentials: None,
            account: None,
        }
    }

    /// The same client for `region`, signing with `credentials` (a role session in
    /// another account) or, when `None`, the function's own.
    pub fn there(&self, region: &str, credentials: Option<Credentials>) -> Self {
        Self {
            client: self.client.clone(),
            region: Some(aws_sdk_ssm::config::Region::new(region.to_owned())),
            credentials,
            account: self.account.clone(),
        }
    }

    pub async fn get_execution(
        &self,
        id: &ExecutionId,
        deadline: &Deadline,
    ) -> Result<Execution, SsmError> {
        const OPERATION: &str = "GetAutomationExecution";
        let out = self
            .client
            .get_automation_execution()
            .automation_execution_id(id.as_str())
            .customize()
            .config_override(self.within(OPERATION, deadline, Duration::ZERO)?)
            .send()
            .await
            .map_err(|e| self.failed(OPERATION, e))?;
        let ae = out
            .automation_execution()
            .cloned()
            .unwrap_or_else(|| aws_sdk_ssm::types::AutomationExecution::builder().build());
        let mut steps: Vec<Step> = ae.step_executions().iter().map(step_from_sdk).collect();
        if ae.step_executions_truncated() {
            // A long runbook: the list stops early, and the step that waits now may be
            // past its end. The newest steps come from the step list itself.
            for step in self.latest_steps(id, deadline).await? {
                let known = steps.iter().any(|s| {
                    s.step_execution_id.is_some() && s.step_execution_id == step.step_execution_id
                });
                if !known {
                    steps.push(step);
                }
            }
        }
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
            steps,
        })
    }

    /// What SSM says of up to [`STATUS_BATCH`] executions in one call
    /// (`DescribeAutomationExecutions`, filter `ExecutionId`): status and current step,
    /// no steps. An execution SSM does not know here is not in the answer.
    pub async fn execution_summaries(
        &self,
        ids: &[ExecutionId],
        deadline: &Deadline,
    ) -> Result<Vec<ExecutionSummary>, SsmError> {
        let ids = &ids[..ids.len().min(STATUS_BATCH)];
        let filter = execution_filter(
            aws_sdk_ssm::types::AutomationExecutionFilterKey::ExecutionId,
            ids.iter().map(|id| id.as_str().to_owned()).collect(),
        );
        let (summaries, _) = self.list_executions(filter, None, deadline).await?;
        Ok(summaries)
    }

    /// One page of the executions waiting here (`DescribeAutomationExecutions`, filter
    /// `ExecutionStatus` `Waiting`), and the token of the next page, if any.
    pub async fn waiting_executions(
        &self,
        next_token: Option<String>,
        deadline: &Deadline,
    ) -> Result<(Vec<ExecutionSummary>, Option<String>), SsmError> {
        let filter = execution_filter(
            aws_sdk_ssm::types::AutomationExecutionFilterKey::ExecutionStatus,
            vec!["Waiting".to_owned()],
        );
        self.list_executions(filter, next_token, deadline).await
    }

    async fn list_executions(
        &self,
        filter: aws_sdk_ssm::types::AutomationExecutionFilter,
        next_token: Option<String>,
        deadline: &Deadline,
    ) -> Result<(Vec<ExecutionSummary>, Option<String>), SsmError> {
        const OPERATION: &str = "DescribeAutomationExecutions";
        let out = self
            .client
            .describe_automation_executions()
            .filters(filter)
            .max_results(LIST_PAGE)
            .set_next_token(next_token)
            .customize()
            .config_override(self.within(OPERATION, deadline, Duration::ZERO)?)
            .send()
            .await
            .map_err(|e| SsmError::new(OPERATION, e))?;
        let summaries = out
            .automation_execution_metadata_list()
            .iter()
            .filter_map(|m| {
                Some(ExecutionSummary {
                    id: ExecutionId::parse(m.automation_execution_id()?).ok()?,
                    document_name: m.document_name().unwrap_or("(unknown runbook)").to_owned(),
                    status: Status::parse(
                        m.automation_execution_status()
                            .map(|s| s.as_str())
                            .unwrap_or("Unknown"),
                    ),
                    current_step: m.current_step_name().map(str::to_owned),
                    current_action: m.current_action().map(str::to_owned),
                })
            })
            .collect();
        // SSM documents an empty string as "no more".
        let next = out
            .next_token()
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        Ok((summaries, next))
    }

    /// The newest step executions of an execution (one page), oldest first.
    async fn latest_steps(
        &self,
        id: &ExecutionId,
        deadline: &Deadline,
    ) -> Result<Vec<Step>, SsmError> {
        const OPERATION: &str = "DescribeAutomationStepExecutions";
        const PAGE: i32 = 50;
        let out = self
            .client
            .describe_automation_step_executions()
            .automation_execution_id(id.as_str())
            .reverse_order(true)
            .max_results(PAGE)
            .customize()
            .config_override(self.within(OPERATION, deadline, Duration::ZERO)?)
            .send()
            .await
            .map_err(|e| self.failed(OPERATION, e))?;
        Ok(out
            .step_executions()
            .iter()
            .rev()
            .map(step_from_sdk)
            .collect())
    }

    /// Sends Approve or Reject, at most once in effect. It is retried only after
    /// answers that say it was not acted on (throttling), with backoff, while
    /// `deadline` still leaves `reserve` for what follows; never after a timeout, a
    /// broken connection or a 5xx, which may mean the first attempt was applied. The
    /// SDK's own retries are off for this call: its standard classifier would retry
    /// all of those.
    ///
    /// `as_person`: the credentials of the deciding person's own STS session, so SSM
    /// sees, counts and records that person; `None` signs with the function's role.
    pub async fn send_decision(
        &self,
        id: &ExecutionId,
        signal: &Signal<'_>,
        as_person: Option<&Credentials>,
        deadline: &Deadline,
        reserve: Duration,
    ) -> SignalOutcome {
        const OPERATION: &str = "SendAutomationSignal";
        let mut backoff = SIGNAL_BACKOFF;
        let mut attempt = 1;
        // Approve and Reject take a comment; Resume names the paused step, as SSM requires.
        let (key, value) = match signal.decision {
            Decision::Approve | Decision::Reject => ("Comment", signal.comment),
            Decision::Resume => ("StepName", signal.step_name),
        };
        loop {
            let mut limits = match self.within(OPERATION, deadline, reserve) {
                Ok(limits) => limits.retry_config(RetryConfig::disabled()),
                Err(e) => return SignalOutcome::NotApplied(e),
            };
            if let Some(credentials) = as_person {
                limits = limits.credentials_provider(credentials.clone());
            }
            let result = self
                .client
                .send_automation_signal()
                .automation_execution_id(id.as_str())
                .signal_type(signal.decision.signal_type().into())
                .payload(key, vec![value.to_owned()])
                .customize()
                .config_override(limits)
                .send()
                .await;
            let err = match result {
                Ok(_) => return SignalOutcome::Accepted,
                Err(err) => err,
            };
            if let Some(e) = err.as_service_error() {
                if e.is_invalid_automation_signal_exception()
                    || e.is_automation_step_not_found_exception()
                {
                    let message = e.message().unwrap_or("not waiting for this signal");
                    return SignalOutcome::NotWaiting(message.to_owned());
                }
                if e.is_automation_execution_not_found_exception() {
                    return SignalOutcome::NotFound;
                }
            }
            let kind = classify(&err);
            let error = self.failed(OPERATION, err);
            match kind {
                Answer::Throttled => {
                    let pause = jittered(backoff);
                    if attempt < SIGNAL_MAX_ATTEMPTS
                        && deadline.fits(pause, CallFloor::AWS, reserve)
                    {
                        tracing::warn!(
                            attempt,
                            pause_ms = pause.as_millis() as u64,
                            "SSM throttled the signal; sending it again"
                        );
                        tokio::time::sleep(pause).await;
                        backoff *= 2;
                        attempt += 1;
                        continue;
                    }
                    return SignalOutcome::NotApplied(error);
                }
                Answer::Refused => return SignalOutcome::NotApplied(error),
                Answer::Unknown => return SignalOutcome::Unknown(error),
            }
        }
    }

    /// The value of a Parameter Store parameter (a String parameter: the rules).
    pub async fn parameter_text(
        &self,
        name: &str,
        deadline: &Deadline,
    ) -> Result<String, SsmError> {
        Ok(self
            .parameter(name, false, deadline)
            .await?
            .unwrap_or_default())
    }

    /// Resolves a secret: as given, or read once (decrypted) from Parameter Store.
    pub async fn resolve_secret(
        &self,
        source: &SecretSource,
        deadline: &Deadline,
    ) -> Result<Secret, ConfigError> {
        let (variable, name) = match source {
            SecretSource::Value(secret) => return Ok(secret.clone()),
            SecretSource::Parameter { variable, name } => (*variable, name),
        };
        let failed = |reason: String| ConfigError::Parameter {
            variable,
            name: name.clone(),
            reason,
        };
        self.parameter(name, true, deadline)
            .await
            .map_err(|e| failed(e.reason()))?
            .map(|v| Secret::new(v.trim()))
            .filter(|s| !s.expose().is_empty())
            .ok_or_else(|| failed("the parameter has no value".into()))
    }

    /// One `GetParameter`: the parameter's value, if it has one.
    async fn parameter(
        &self,
        name: &str,
        with_decryption: bool,
        deadline: &Deadline,
    ) -> Result<Option<String>, SsmError> {
        const OPERATION: &str = "GetParameter";
        let out = self
            .client
            .get_parameter()
            .name(name)
            .with_decryption(with_decryption)
            .customize()
            .config_override(self.within(OPERATION, deadline, Duration::ZERO)?)
            .send()
            .await
            .map_err(|e| self.failed(OPERATION, e))?;
        Ok(out.parameter().and_then(|p| p.value()).map(str::to_owned))
    }
}

/// A filter of `DescribeAutomationExecutions`: its key and values are all it needs.
fn execution_filter(
    key: aws_sdk_ssm::types::AutomationExecutionFilterKey,
    values: Vec<String>,
) -> aws_sdk_ssm::types::AutomationExecutionFilter {
    aws_sdk_ssm::types::AutomationExecutionFilter::builder()
        .key(key)
        .set_values(Some(values))
        .build()
        .expect("a filter with its key and values is complete")
}

/// What an error answer to a signal says about whether it was applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// Refused for load before it was acted on: send it again.
    Throttled,
    /// Refused (access denied, invalid request), or never sent: nothing was applied.
    Refused,
    /// A timeout, a broken connection, an unreadable answer or a 5xx: it may have
    /// been applied.
    Unknown,
}

fn classify<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Answer {
    match err {
        SdkError::ConstructionFailure(_) => Answer::Refused,
        SdkError::ServiceError(e) => {
            if e.err()
                .code()
                .is_some_and(|c| THROTTLING_CODES.contains(&c))
            {
                Answer::Throttled
            } else if e.raw().status().is_server_error() {
                Answer::Unknown
            } else {
                Answer::Refused
            }
        }
        // TimeoutError, ResponseError, DispatchFailure. The SDK's HTTP client reports a
        // refused connection and one reset after the request went out alike
        // (`ConnectorError::io`), so no dispatch failure is taken as "never sent".
        _ => Answer::Unknown,
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
        outputs: s
            .outputs()
            .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
    }
}
