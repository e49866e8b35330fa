//! Outbound adapter: the approvals table in DynamoDB, through the AWS SDK.
//!
//! One item per approval step, keyed by execution (`execution_id`) and step
//! (`step_key`: the step execution ID, or the step name where SSM gave none). It holds
//! the claim on posting the step's prompt, where the prompt is, what it last showed,
//! and the decisions made in Slack: the audit trail, kept `retention` after each write
//! (TTL attribute `expires_at`). Reads that decide anything are consistent reads.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

use crate::deadline::{Deadline, OutOfTime, random_u64, sdk_timeouts, unix_now};
use crate::domain::execution::ExecutionId;
use crate::domain::inbound::Decision;
use crate::domain::record::{
    DecisionClaim, DecisionRecord, MaybePosted, PostingClaim, PromptRef, StepRecord, WaitingStep,
};
use crate::domain::starter::Starter;

mod decisions;
mod people;
mod places;
mod posting;
mod waiting;

pub use decisions::DecisionClaimOutcome;
pub use waiting::{Cursor, WAITING_INDEX, WaitingPage};

type Item = HashMap<String, AttributeValue>;

pub const PARTITION_KEY: &str = "execution_id";
pub const SORT_KEY: &str = "step_key";
pub const TTL_ATTRIBUTE: &str = "expires_at";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB {operation} failed: {detail}")]
    Call {
        operation: &'static str,
        detail: String,
    },
    #[error("DynamoDB {operation} not started: {source}")]
    OutOfTime {
        operation: &'static str,
        #[source]
        source: OutOfTime,
    },
    #[error("the approvals table holds an item this version cannot read: {0}")]
    Unreadable(String),
}

impl StoreError {
    fn call<E: ProvideErrorMetadata + std::error::Error + 'static>(
        operation: &'static str,
        err: aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
    ) -> Self {
        Self::Call {
            operation,
            detail: DisplayErrorContext(&err).to_string(),
        }
    }
}

/// The outcome of claiming a step's prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostingClaimOutcome {
    /// This delivery holds the claim: it posts.
    Won(PostingClaim),
    /// Someone else's claim (or prompt) was there first; the item as it is.
    Lost(Box<StepRecord>),
}

#[derive(Debug, Clone)]
pub struct ApprovalStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
    retention: Duration,
}

fn limits(
    operation: &'static str,
    deadline: &Deadline,
) -> Result<aws_sdk_dynamodb::config::Builder, StoreError> {
    let timeouts = sdk_timeouts(deadline, Duration::ZERO)
        .map_err(|source| StoreError::OutOfTime { operation, source })?;
    let mut limits = aws_sdk_dynamodb::config::Builder::default();
    limits.set_timeout_config(Some(timeouts));
    Ok(limits)
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

impl ApprovalStore {
    pub fn new(client: aws_sdk_dynamodb::Client, table: &str, retention: Duration) -> Self {
        Self {
            client,
            table: table.to_owned(),
            retention,
        }
    }

    fn expires_at(&self) -> AttributeValue {
        n(unix_now() + self.retention.as_secs() as i64)
    }

    fn key(id: &ExecutionId, step_key: &str) -> Item {
        HashMap::from([
            (PARTITION_KEY.to_owned(), s(id.as_str())),
            (SORT_KEY.to_owned(), s(step_key)),
        ])
    }

    /// A `PutItem` of an item of its own (not a step's), replacing any before it.
    async fn put_plain(&self, item: Item, deadline: &Deadline) -> Result<(), StoreError> {
        const OPERATION: &str = "PutItem";
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .customize()
            .config_override(limits(OPERATION, deadline)?)
            .send()
            .await
            .map_err(|e| StoreError::call(OPERATION, e))?;
        Ok(())
    }

    /// An `UpdateItem` of one step's item.
    fn update(
        &self,
        id: &ExecutionId,
        step_key: &str,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(id, step_key)))
    }

    /// Claims the right to post the prompt of a step: a conditional write that only
    /// the first delivery of the step wins, however many arrive at once.
    pub async fn claim_posting(
        &self,
        id: &ExecutionId,
        step_key: &str,
        step_name: &str,
        deadline: &Deadline,
    ) -> Result<PostingClaimOutcome, StoreError> {
        const OPERATION: &str = "PutItem";
        let claim = PostingClaim {
            token: new_token(),
            at_unix: unix_now(),
        };
        let mut item = Self::key(id, step_key);
        item.insert("step_name".into(), s(step_name));
        item.insert("claim_token".into(), s(&claim.token));
        item.insert("claimed_at".into(), n(claim.at_unix));
        item.insert(TTL_ATTRIBUTE.into(), self.expires_at());
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .customize()
            .config_override(limits(OPERATION, deadline)?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(PostingClaimOutcome::Won(claim)),
            Err(err) => match err.as_service_error() {
                Some(e) if e.is_conditional_check_failed_exception() => {
                    let held = match e {
                        aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) => {
                            c.item().cloned()
                        }
                        _ => None,
                    };
                    let held = match held {
                        Some(item) => Some(record_from(&item)?),
                        None => None,
                    };
                    match held {
                        // Our own claim: an earlier attempt of this write was applied
                        // and its answer lost, and the SDK sent it again.
                        Some(record) if record.claim.as_ref() == Some(&claim) => {
                            Ok(PostingClaimOutcome::Won(claim))
                        }
                        Some(record) => Ok(PostingClaimOutcome::Lost(Box::new(record))),
                        // Older DynamoDB answers carry no item: read it.
                        None => match self.get(id, step_key, deadline).await? {
                            Some(record) if record.claim.as_ref() == Some(&claim) => {
                                Ok(PostingClaimOutcome::Won(claim))
                            }
                            Some(record) => Ok(PostingClaimOutcome::Lost(Box::new(record))),
                            None => Err(StoreError::Unreadable("claimed item vanished".into())),
                        },
                    }
                }
                _ => Err(StoreError::call(OPERATION, err)),
            },
        }
    }

    /// Takes over an abandoned claim: succeeds only if `abandoned` is still the claim
    /// and no prompt was recorded, so of several deliveries only one takes it over.
    pub async fn take_over_posting(
        &self,
        id: &ExecutionId,
        step_key: &str,
        abandoned: &PostingClaim,
        deadline: &Deadline,
    ) -> Result<Option<PostingClaim>, StoreError> {
        const OPERATION: &str = "UpdateItem";
        let claim = PostingClaim {
            token: new_token(),
            at_unix: unix_now(),
        };
        let still_abandoned = if abandoned.token.is_empty() {
            "attribute_not_exists(claim_token) AND attribute_not_exists(#ts)"
        } else {
            "claim_token = :old AND attribute_not_exists(#ts)"
        };
        let mut request = self
            .update(id, step_key)
            // A doubt about an earlier post stays (the new holder resolves it); that
            // nobody resolves it does not.
            .update_expression(format!(
                "SET claim_token = :new, claimed_at = :at, expires_at = :exp REMOVE {}",
                posting::POST_UNKNOWN
            ))
            .condition_expression(still_abandoned)
            .expression_attribute_names("#ts", "ts")
            .expression_attribute_values(":new", s(&claim.token))
            .expression_attribute_values(":at", n(claim.at_unix))
            .expression_attribute_values(":exp", self.expires_at());
        if !abandoned.token.is_empty() {
            request = request.expression_attribute_values(":old", s(&abandoned.token));
        }
        let result = request
            .customize()
            .config_override(limits(OPERATION, deadline)?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Some(claim)),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                // Ours after all if an earlier attempt was applied and its answer lost.
                let now = self.get(id, step_key, deadline).await?;
                Ok(now.and_then(|r| r.claim).filter(|held| *held == claim))
            }
            Err(err) => Err(StoreError::call(OPERATION, err)),
        }
    }

    /// Gives a claim up (its holder could not post): the next delivery claims anew.
    pub async fn release_posting(
        &self,
        id: &ExecutionId,
        step_key: &str,
        claim: &PostingClaim,
        deadline: &Deadline,
    ) -> Result<(), StoreError> {
        const OPERATION: &str = "UpdateItem";
        let result = self
            .update(id, step_key)
            .update_expression("REMOVE claim_token, claimed_at")
            .condition_expression("claim_token = :claim AND attribute_not_exists(#ts)")
            .expression_attribute_names("#ts", "ts")
            .expression_attribute_values(":claim", s(&claim.token))
            .customize()
            .config_override(limits(OPERATION, deadline)?)
            .send()
            .await;
        // No longer ours: nothing to give up.
        condition_failed_is_fine(OPERATION, result)
    }

    /// Records where the prompt was posted, under the claim that posted it, and
    /// marks the step as waiting (the index of what waits lists it from now on).
    pub async fn record_prompt(
        &self,
        waiting: &WaitingStep,
        claim: &PostingClaim,
        prompt: &PromptRef,
        deadline: &Deadline,
    ) -> Result<(), StoreError> {
        const OPERATION: &str = "UpdateItem";
        let mark = waiting::mark_clause(waiting);
        let mut request = self
            .update(&waiting.target.execution_id, &waiting.step_key)
            .update_expression(format!(
                "SET channel = :channel, #ts = :ts, posted_at = :at, expires_at = :exp, {} \
                 REMOVE {}, {}, {}",
                mark.clause,
                posting::POST_UNKNOWN,
                posting::MAYBE_POSTED_SINCE,
                posting::MAYBE_POSTED_IN
            ));
        for (alias, name) in mark.names {
            request = request.expression_attribute_names(alias, name);
        }
        for (alias, value) in mark.values {
            request = request.expression_attribute_values(alias, value);
        }
        request
            .condition_expression("claim_token = :claim")
            .expression_attribute_names("#ts", "ts")
            .expression_attribute_values(":channel", s(&prompt.channel))
            .expression_attribute_values(":ts", s(&prompt.ts))
            .expression_attribute_values(":at", n(unix_now()))
            .expression_attribute_values(":exp", self.expires_at())
            .expression_attribute_values(":claim", s(&claim.token))
            .customize()
            .config_override(limits(OPERATION, deadline)?)
            .send()
            .await
            .map_err(|e| StoreError::call(OPERATION, e))?;
        Ok(())
    }

    /// Records what the prompt of a step that no longer waits now shows, and takes
    /// the step out of the index of what waits.
    pub async fn record_shown_and_unlist(
        &self,
        id: &ExecutionId,
        step_key: &str,
        shown: &str,
        deadline: &Deadline,
    ) -> Result<(), StoreError> {
        const OPERATION: &str = "UpdateItem";
        self.update(id, step_key)
            .update_expression(format!(
                "SET shown = :shown, expires_at = :exp REMOVE {}",
                waiting::WAITING_ATTRIBUTES.join(", ")
            ))
            .expression_attribute_values(":shown", s(shown))
            .expression_attribute_values(":exp", self.expires_at())
            .customize()
            .config_override(limits(OPERATION, deadline)?)
            .send()
            .await
            .map_err(|e| StoreError::call(OPERATION, e))?;
        Ok(())
    }

    /// One step's item, read consistently.
    pub async fn get(
        &self,
        id: &ExecutionId,
        step_key: &str,
        deadline: &Deadline,
    ) -> Result<Option<StepRecord>, StoreError> {
        const OPERATION: &str = "GetItem";
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(id, step_key)))
            .consistent_read(true)
            .customize()
            .config_override(limits(OPERATION, deadline)?)
            .send()
            .await
            .map_err(|e| StoreError::call(OPERATION, e))?;
        out.item().map(record_from).transpose()
    }

    /// Every step item of an execution, read consistently.
    pub async fn steps_of(
        &self,
        id: &ExecutionId,
        deadline: &Deadline,
    ) -> Result<Vec<StepRecord>, StoreError> {
        const OPERATION: &str = "Query";
        let mut records = vec![];
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :id")
                .expression_attribute_names("#pk", PARTITION_KEY)
                .expression_attribute_values(":id", s(id.as_str()))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .customize()
                .config_override(limits(OPERATION, deadline)?)
                .send()
                .await
                .map_err(|e| StoreError::call(OPERATION, e))?;
            for item in out.items() {
                records.push(record_from(item)?);
            }
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(records),
            }
        }
    }
}

/// The answer to a conditional `UpdateItem`.
type UpdateResult<O> = Result<
    O,
    aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::update_item::UpdateItemError,
        aws_sdk_dynamodb::config::http::HttpResponse,
    >,
>;

/// An `UpdateItem` whose condition failing means there is nothing (more) to do.
fn condition_failed_is_fine<O>(
    operation: &'static str,
    result: UpdateResult<O>,
) -> Result<(), StoreError> {
    condition_held(operation, result).map(|_| ())
}

/// Whether a conditional `UpdateItem` was applied: `false` when its condition failed
/// (another writer got there first), an error for anything else.
fn condition_held<O>(operation: &'static str, result: UpdateResult<O>) -> Result<bool, StoreError> {
    match result {
        Ok(_) => Ok(true),
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
        {
            Ok(false)
        }
        Err(err) => Err(StoreError::call(operation, err)),
    }
}

/// 128 random bits, hex: a claim's identity.
pub fn new_token() -> String {
    format!("{:016x}{:016x}", random_u64(), random_u64())
}

pub(crate) fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

pub(crate) fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
}

/// A run's starter, as the step's item keeps it: `starter` (SSM's principal),
/// `starter_people` (the Slack people it matches) and `starter_unchecked` (an address
/// Slack could not be asked about).
pub(crate) fn starter_attributes(starter: &Starter) -> Vec<(&'static str, AttributeValue)> {
    let mut attributes = vec![
        ("starter", s(&starter.principal)),
        (
            "starter_people",
            AttributeValue::L(starter.people.iter().map(|p| s(p)).collect()),
        ),
    ];
    if let Some(email) = &starter.unchecked_email {
        attributes.push(("starter_unchecked", s(email)));
    }
    attributes
}

pub(crate) fn starter_from(item: &Item) -> Option<Starter> {
    Some(Starter {
        principal: text(item, "starter")?.to_owned(),
        people: item
            .get("starter_people")
            .and_then(|v| v.as_l().ok())
            .into_iter()
            .flatten()
            .filter_map(|p| p.as_s().ok().cloned())
            .collect(),
        unchecked_email: text(item, "starter_unchecked").map(str::to_owned),
    })
}

fn record_from(item: &Item) -> Result<StepRecord, StoreError> {
    let unreadable = |what: &str| StoreError::Unreadable(what.to_owned());
    let execution_id = text(item, PARTITION_KEY)
        .and_then(|id| ExecutionId::parse(id).ok())
        .ok_or_else(|| unreadable("no execution_id"))?;
    let step_key = text(item, SORT_KEY)
        .ok_or_else(|| unreadable("no step_key"))?
        .to_owned();
    let claim = match (text(item, "claim_token"), number(item, "claimed_at")) {
        (Some(token), Some(at_unix)) => Some(PostingClaim {
            token: token.to_owned(),
            at_unix,
        }),
        _ => None,
    };
    let prompt = match (text(item, "channel"), text(item, "ts")) {
        (Some(channel), Some(ts)) => Some(PromptRef {
            channel: channel.to_owned(),
            ts: ts.to_owned(),
        }),
        _ => None,
    };
    let decisions = item
        .get("decisions")
        .and_then(|v| v.as_l().ok())
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let m = entry.as_m().ok()?;
            Some(DecisionRecord {
                step_key: step_key.clone(),
                decision: Decision::parse_signal_type(text(m, "decision")?)?,
                user_id: text(m, "user_id")?.to_owned(),
                handle: text(m, "handle").unwrap_or_default().to_owned(),
                at_unix: number(m, "at")?,
                reason: text(m, "reason").map(str::to_owned),
                principal: text(m, "principal").map(str::to_owned),
            })
        })
        .collect();
    Ok(StepRecord {
        execution_id,
        step_name: text(item, "step_name").unwrap_or_default().to_owned(),
        step_key,
        claim,
        prompt,
        decisions,
        shown: text(item, "shown").map(str::to_owned),
        deciding: match (
            text(item, "deciding_token"),
            text(item, "deciding_signal").and_then(Decision::parse_signal_type),
            number(item, "deciding_at"),
        ) {
            (Some(token), Some(decision), Some(at_unix)) => Some(DecisionClaim {
                token: token.to_owned(),
                user_id: text(item, "deciding_user").unwrap_or_default().to_owned(),
                handle: text(item, "deciding_handle").unwrap_or_default().to_owned(),
                decision,
                at_unix,
            }),
            _ => None,
        },
        decided: item.contains_key("decided"),
        starter: starter_from(item),
        maybe_posted: match (
            number(item, posting::MAYBE_POSTED_SINCE),
            text(item, posting::MAYBE_POSTED_IN),
        ) {
            (Some(since_unix), Some(channel)) => Some(MaybePosted {
                since_unix,
                channel: channel.to_owned(),
                unresolved: item.contains_key(posting::POST_UNKNOWN),
            }),
            _ => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_read_back_as_records() {
        let item: Item = HashMap::from([
            (
                PARTITION_KEY.into(),
                s("333ba70b-2333-48db-b17e-a5e69c6f4d1c"),
            ),
            (SORT_KEY.into(), s("run-1")),
            ("step_name".into(), s("approveRollout")),
            ("claim_token".into(), s("abc")),
            ("claimed_at".into(), n(100)),
            ("channel".into(), s("C1")),
            ("ts".into(), s("1.2")),
            (
                "decisions".into(),
                AttributeValue::L(vec![AttributeValue::M(HashMap::from([
                    ("decision".into(), s("Reject")),
                    ("user_id".into(), s("U1")),
                    ("handle".into(), s("bob")),
                    ("at".into(), n(200)),
                    ("reason".into(), s("disk full")),
                ]))]),
            ),
        ]);
        let r = record_from(&item).unwrap();
        assert_eq!(r.step_key, "run-1");
        assert_eq!(
            r.claim,
            Some(PostingClaim {
                token: "abc".into(),
                at_unix: 100
            })
        );
        assert_eq!(r.prompt.as_ref().map(|p| p.ts.as_str()), Some("1.2"));
        assert_eq!(
            r.last_decision().map(|d| d.decision),
            Some(Decision::Reject)
        );
        assert_eq!(
            r.last_decision().and_then(|d| d.reason.as_deref()),
            Some("disk full")
        );
        assert!(record_from(&HashMap::new()).is_err());
        assert_ne!(new_token(), new_token());
    }
}
