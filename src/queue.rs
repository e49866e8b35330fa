//! The failed-events queue (SQS): where Lambda puts an event whose every try failed
//! (the function's on-failure destination, template.yaml). The sweep reads it back
//! ([`crate::handlers::redrive`]); this is the I/O, through the AWS SDK.

use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_sqs::types::MessageSystemAttributeName;

use crate::deadline::{Deadline, OutOfTime, sdk_timeouts};

/// A message received, invisible to other readers until its visibility timeout.
#[derive(Debug, Clone)]
pub struct Received {
    pub message_id: String,
    /// Deletes it (the latest receive's handle).
    pub receipt: String,
    pub body: String,
    /// How many times it was received, this time included.
    pub receive_count: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("SQS {operation} failed: {reason}")]
    Call {
        operation: &'static str,
        code: Option<String>,
        reason: String,
    },
    #[error("no time left for SQS {operation}: {source}")]
    OutOfTime {
        operation: &'static str,
        #[source]
        source: OutOfTime,
    },
}

impl QueueError {
    fn call<E>(operation: &'static str, e: E) -> Self
    where
        E: Into<aws_sdk_sqs::Error>,
    {
        let e: aws_sdk_sqs::Error = e.into();
        Self::Call {
            operation,
            code: e.code().map(str::to_owned),
            reason: DisplayErrorContext(&e).to_string(),
        }
    }

    /// The AWS error code, if SQS answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Call { code, .. } => code.as_deref(),
            Self::OutOfTime { .. } => None,
        }
    }
}

#[derive(Clone)]
pub struct FailedEvents {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl FailedEvents {
    pub fn new(client: aws_sdk_sqs::Client, url: &str) -> Self {
        Self {
            client,
            url: url.to_owned(),
        }
    }

    /// Up to `max` (1–10) messages, each hidden from other readers for `visibility_s`.
    /// It does not wait for messages: an empty queue answers at once.
    pub async fn receive(
        &self,
        max: i32,
        visibility_s: i32,
        deadline: &Deadline,
    ) -> Result<Vec<Received>, QueueError> {
        const OPERATION: &str = "ReceiveMessage";
        let timeouts = sdk_timeouts(deadline, std::time::Duration::ZERO).map_err(|source| {
            QueueError::OutOfTime {
                operation: OPERATION,
                source,
            }
        })?;
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max)
            .visibility_timeout(visibility_s)
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .customize()
            .config_override(aws_sdk_sqs::config::Builder::new().timeout_config(timeouts))
            .send()
            .await
            .map_err(|e| QueueError::call(OPERATION, e))?;
        Ok(out
            .messages()
            .iter()
            .filter_map(|m| {
                Some(Received {
                    message_id: m.message_id()?.to_owned(),
                    receipt: m.receipt_handle()?.to_owned(),
                    body: m.body().unwrap_or_default().to_owned(),
                    receive_count: m
                        .attributes()
                        .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(1),
                })
            })
            .collect())
    }

    pub async fn delete(&self, receipt: &str, deadline: &Deadline) -> Result<(), QueueError> {
        const OPERATION: &str = "DeleteMessage";
        let timeouts = sdk_timeouts(deadline, std::time::Duration::ZERO).map_err(|source| {
            QueueError::OutOfTime {
                operation: OPERATION,
                source,
            }
        })?;
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .customize()
            .config_override(aws_sdk_sqs::config::Builder::new().timeout_config(timeouts))
            .send()
            .await
            .map_err(|e| QueueError::call(OPERATION, e))?;
        Ok(())
    }
}
