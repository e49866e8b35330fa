//! The audit trail and the claims on deciding a step run, on the step's item: a click
//! claims the decision before it signals, records what SSM accepted in the write that
//! gives the claim up, and a decision missing from the trail is appended once.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};

use super::waiting::WAITING_ATTRIBUTES;
use super::{
    ApprovalStore, StoreError, condition_failed_is_fine, condition_held, limits, n, record_from, s,
};
use crate::deadline::Deadline;
use crate::domain::execution::ExecutionId;
use crate::domain::record::{DECISION_LEASE_SECS, DecisionClaim, DecisionRecord, StepRecord};

/// The outcome of claiming the decision of a step run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecisionClaimOutcome {
    /// This click holds the claim; the item as it is now (the decisions so far).
    Won(StepRecord),
    /// Another click holds a live claim, or the step run is decided: the item.
    Lost(StepRecord),
}

/// The attributes of a decision claim on a step's item.
const DECIDING: &str =
    "deciding_token, deciding_user, deciding_handle, deciding_signal, deciding_at";

impl ApprovalStore {
    /// Claims telling the run's starter how the step run `step_key` ended: `true` for
    /// the one delivery that gets to (a conditional write), so they hear it once
    /// however many deliveries bring the news.
    pub async fn claim_starter_news(
        &self,
        id: &ExecutionId,
        step_key: &str,
        deadline: &Deadline,
    ) -> Result<bool, StoreError> {
        const OPERATION: &str = "UpdateItem";
        let result = self
            .update(id, step_key)
            .update_expression("SET starter_told = :at")
            .condition_expression(
                "attribute_exists(starter) AND attribute_not_exists(starter_told)",
            )
            .expression_attribute_values(":at", n(crate::deadline::unix_now()))
            .customize()
            .config_override(limits(OPERATION, deadline)?)
            .send()
            .await;
        condition_held(OPERATION, result)
    }

    /// Appends a decision made in Slack to its step's item (the audit trail), once:
    /// the same decision appended twice (an SDK retry of an applied write, or a
    /// decision filled in from SSM's record) would be two entries, so the append is
    /// conditional on this decision not being the last one recorded. `decided`: it
    /// ended the step run.
    pub async fn record_decision(
        &self,
        id: &ExecutionId,
        step_name: &str,
        decision: &DecisionRecord,
        decided: bool,
        deadline: &Deadline,
    ) -> Result<(), StoreError> {
        const OPERATION: &str = "UpdateItem";
        let result = self
            .append_decision(id, step_name, decision, decided, "")
            .condition_expression("attribute_not_exists(last_decision) OR last_decision <> :id")
            .customize()
            .config_override(limits(OPERATION, deadline)?)
            .send()
            .await;
        // Already the last decision recorded: this write was applied before.
        condition_failed_is_fine(OPERATION, result)
    }

    /// Claims the decision of the step run `step_key` for `claim`'s click: a
    /// conditional write that succeeds only while no other click's claim is live and
    /// the run is not decided, so of clicks arriving together one signals. The answer
    /// carries the item, with the decisions so far, read in the same write.
    pub async fn claim_decision(
        &self,
        id: &ExecutionId,
        step_key: &str,
        step_name: &str,
        claim: &DecisionClaim,
        deadline: &Deadline,
    ) -> Result<DecisionClaimOutcome, StoreError> {
        const OPERATION: &str = "UpdateItem";
        let result = self
            .update(id, step_key)
            .update_expression(
                "SET deciding_token = :token, deciding_user = :user, deciding_handle = :handle, \
                 deciding_signal = :signal, deciding_at = :at, \
                 step_name = if_not_exists(step_name, :name), expires_at = :exp",
            )
            .condition_expression(
                "attribute_not_exists(decided) AND \
                 (attribute_not_exists(deciding_token) OR deciding_at <= :abandoned)",
            )
            .expression_attribute_values(":token", s(&claim.token))
            .expression_attribute_values(":user", s(&claim.user_id))
            .expression_attribute_values(":handle", s(&claim.handle))
            .expression_attribute_values(":signal", s(claim.decision.signal_type()))
            .expression_attribute_values(":at", n(claim.at_unix))
            .expression_attribute_values(":abandoned", n(claim.at_unix - DECISION_LEASE_SECS))
            .expression_attribute_values(":name", s(step_name))
            .expression_attribute_values(":exp", self.expires_at())
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .customize()
            .config_override(limits(OPERATION, deadline)?)
            .send()
            .await;
        let held = match result {
            Ok(out) => {
                return match out.attributes() {
                    Some(item) => Ok(DecisionClaimOutcome::Won(record_from(item)?)),
                    None => Err(StoreError::Unreadable("the claimed item came back empty".into())),
                };
            }
            Err(err) => match err.as_service_error() {
                Some(
                    aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c),
                ) => c.item().cloned(),
                _ => return Err(StoreError::call(OPERATION, err)),
            },
        };
        let record = match held {
            Some(item) => record_from(&item)?,
            // Older DynamoDB answers carry no item: read it.
            None => self
                .get(id, step_key, deadline)
                .await?
                .ok_or_else(|| StoreError::Unreadable("claimed item vanished".into()))?,
        };
        // Our own claim: an earlier attempt of this write was applied and its answer
        // lost, and the SDK sent it again.
        if record.deciding.as_ref().map(|c| &c.token) == Some(&claim.token) {
            return Ok(DecisionClaimOutcome::Won(record));
        }
        Ok(DecisionClaimOutcome::Lost(record))
    }

    /// Gives a decision claim up: nothing was decided, another click may decide.
    pub async fn release_decision(
        &self,
        id: &ExecutionId,
        step_key: &str,
        claim: &DecisionClaim,
        deadline: &Deadline,
    ) -> Result<(), StoreError> {
        const OPERATION: &str = "UpdateItem";
        let result = self
            .update(id, step_key)
            .update_expression(format!("REMOVE {DECIDING}"))
            .condition_expression("deciding_token = :token")
            .expression_attribute_values(":token", s(&claim.token))
            .customize()
            .config_override(limits(OPERATION, deadline)?)
            .send()
            .await;
        // No longer ours: nothing to give up.
        condition_failed_is_fine(OPERATION, result)
    }

    /// Records a decision SSM accepted and gives the claim that sent it up, in one
    /// write; `decided`: it ended the step run, so no click claims it again. Should
    /// the claim no longer be ours (its lease ran out), the decision is recorded all
    /// the same.
    pub async fn finish_decision(
        &self,
        id: &ExecutionId,
        step_name: &str,
        claim: &DecisionClaim,
        decision: &DecisionRecord,
        decided: bool,
        deadline: &Deadline,
    ) -> Result<(), StoreError> {
        const OPERATION: &str = "UpdateItem";
        let result = self
            .append_decision(id, step_name, decision, decided, DECIDING)
            .condition_expression("deciding_token = :token")
            .expression_attribute_values(":token", s(&claim.token))
            .customize()
            .config_override(limits(OPERATION, deadline)?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                // Applied before (the SDK sent it again), or the claim is gone: the
                // append is conditional on this decision not being recorded yet.
                self.record_decision(id, step_name, decision, decided, deadline)
                    .await
            }
            Err(err) => Err(StoreError::call(OPERATION, err)),
        }
    }

    /// An `UpdateItem` that appends `decision` to the trail (and marks the step run
    /// `decided`, which takes it out of the index of what waits), then removes
    /// `remove` (attribute names, comma-separated, or nothing).
    fn append_decision(
        &self,
        id: &ExecutionId,
        step_name: &str,
        decision: &DecisionRecord,
        decided: bool,
        remove: &str,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        let mut fields = HashMap::from([
            ("decision".to_owned(), s(decision.decision.signal_type())),
            ("user_id".to_owned(), s(&decision.user_id)),
            ("handle".to_owned(), s(&decision.handle)),
            ("at".to_owned(), n(decision.at_unix)),
        ]);
        if let Some(reason) = &decision.reason {
            fields.insert("reason".to_owned(), s(reason));
        }
        if let Some(principal) = &decision.principal {
            fields.insert("principal".to_owned(), s(principal));
        }
        let mut set = "SET decisions = list_append(if_not_exists(decisions, :none), :new), \
             last_decision = :id, step_name = if_not_exists(step_name, :name), expires_at = :exp"
            .to_owned();
        let mut removes: Vec<&str> = remove
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .collect();
        if decided {
            set.push_str(", decided = :decided");
            removes.extend(WAITING_ATTRIBUTES);
        }
        if !removes.is_empty() {
            set.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        let mut request = self
            .update(id, &decision.step_key)
            .update_expression(set)
            .expression_attribute_values(":none", AttributeValue::L(vec![]))
            .expression_attribute_values(":new", AttributeValue::L(vec![AttributeValue::M(fields)]))
            .expression_attribute_values(":id", s(&decision_id(decision)))
            .expression_attribute_values(":name", s(step_name))
            .expression_attribute_values(":exp", self.expires_at());
        if decided {
            request = request.expression_attribute_values(":decided", s(&decided_by(decision)));
        }
        request
    }
}

/// One decision's identity in the trail.
fn decision_id(decision: &DecisionRecord) -> String {
    format!(
        "{}/{}/{}",
        decision.principal.as_deref().unwrap_or(&decision.user_id),
        decision.decision.signal_type(),
        decision.at_unix
    )
}

/// What `decided` holds: the decision that ended the step run, and who made it.
fn decided_by(decision: &DecisionRecord) -> String {
    format!(
        "{}/{}",
        decision.decision.signal_type(),
        decision.principal.as_deref().unwrap_or(&decision.user_id)
    )
}
