//! What the approvals table keeps for each approval step: who claimed the right to
//! post its prompt, where the prompt is, what it last showed, and the decisions made
//! in Slack (the audit trail). Pure: the rules, not the storage.

use super::execution::{Execution, ExecutionId, Step};
use super::interaction::Decision;

/// A claim to post a step's prompt that has no prompt after this long was abandoned:
/// the poster died between its claim and its post. The events function's timeout is
/// 60 s, so no poster is still at work by then.
pub const CLAIM_LEASE_SECS: i64 = 120;

/// Where a step's prompt was posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptRef {
    pub channel: String,
    pub ts: String,
}

/// A claim on posting a step's prompt: whoever wrote it first posts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub token: String,
    pub at_unix: i64,
}

/// A decision made in Slack and accepted by SSM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionRecord {
    /// `Step::key()` of the step it decided.
    pub step_key: String,
    pub decision: Decision,
    pub user_id: String,
    pub handle: String,
    pub at_unix: i64,
}

/// One approval step's item in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRecord {
    pub execution_id: ExecutionId,
    pub step_key: String,
    pub step_name: String,
    pub claim: Option<Claim>,
    pub prompt: Option<PromptRef>,
    /// Oldest first.
    pub decisions: Vec<DecisionRecord>,
    /// What the prompt shows now (see [`shown_state`]), so it is updated only on change.
    pub shown: Option<String>,
}

/// Where posting a step's prompt stands, for a delivery that did not win the claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostingState {
    /// Posted: nothing to do.
    Posted(PromptRef),
    /// Claimed a moment ago: another delivery is posting it now.
    BeingPosted,
    /// Claimed longer than [`CLAIM_LEASE_SECS`] ago and never posted: take it over
    /// (conditionally on this very claim, so only one delivery does).
    Abandoned(Claim),
}

impl StepRecord {
    pub fn last_decision(&self) -> Option<&DecisionRecord> {
        self.decisions.last()
    }

    pub fn posting_state(&self, now_unix: i64) -> PostingState {
        if let Some(prompt) = &self.prompt {
            return PostingState::Posted(prompt.clone());
        }
        match &self.claim {
            Some(claim) if now_unix - claim.at_unix < CLAIM_LEASE_SECS => PostingState::BeingPosted,
            Some(claim) => PostingState::Abandoned(claim.clone()),
            // An item with neither (a decision recorded before any prompt): claimable.
            None => PostingState::Abandoned(Claim {
                token: String::new(),
                at_unix: 0,
            }),
        }
    }
}

/// What a prompt shows of its step: the step's and the runbook's status and who
/// decided. A prompt is updated only when this changes.
pub fn shown_state(
    execution: &Execution,
    step: &Step,
    decision: Option<&DecisionRecord>,
) -> String {
    format!(
        "{}/{}/{}",
        step.status,
        execution.status,
        decision.map_or("-", |d| d.user_id.as_str())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(claim: Option<i64>, prompt: bool) -> StepRecord {
        StepRecord {
            execution_id: ExecutionId::parse("333ba70b-2333-48db-b17e-a5e69c6f4d1c").unwrap(),
            step_key: "s1".into(),
            step_name: "approve".into(),
            claim: claim.map(|at_unix| Claim {
                token: "t".into(),
                at_unix,
            }),
            prompt: prompt.then(|| PromptRef {
                channel: "C1".into(),
                ts: "1.2".into(),
            }),
            decisions: vec![],
            shown: None,
        }
    }

    #[test]
    fn a_claim_without_a_prompt_is_abandoned_only_after_its_lease() {
        let now = 10_000;
        assert!(matches!(
            record(Some(now - 5), true).posting_state(now),
            PostingState::Posted(_)
        ));
        assert_eq!(
            record(Some(now - 5), false).posting_state(now),
            PostingState::BeingPosted
        );
        assert_eq!(
            record(Some(now - CLAIM_LEASE_SECS + 1), false).posting_state(now),
            PostingState::BeingPosted
        );
        assert!(matches!(
            record(Some(now - CLAIM_LEASE_SECS), false).posting_state(now),
            PostingState::Abandoned(Claim { token, .. }) if token == "t"
        ));
    }
}
