//! What the approvals table keeps for each approval step: who claimed the right to
//! post its prompt, where the prompt is, what it last showed, and the decisions made
//! in Slack (the audit trail). Pure: the rules, not the storage.

use super::execution::{Execution, ExecutionId, Status, Step};
use super::inbound::Decision;
use super::place::Place;
use super::starter::Starter;
use super::waiting::{StepKind, StepTarget};

/// A claim to post a step's prompt that has no prompt after this long was abandoned:
/// the poster died between its claim and its post. The events function's timeout is
/// 60 s, so no poster is still at work by then.
pub const CLAIM_LEASE_SECS: i64 = 120;

/// A claim on deciding a step run from Slack whose click has not finished after this
/// long was abandoned: the click died between its claim and its record. The
/// interactions function's timeout is 5 s and a click stops itself within Slack's 3 s,
/// so no click still at work holds one this old.
pub const DECISION_LEASE_SECS: i64 = 20;

/// A click's claim on deciding a step run: while it holds, no other click signals
/// that step, so a second signal cannot land on the step that follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionClaim {
    pub token: String,
    pub user_id: String,
    pub handle: String,
    pub decision: Decision,
    pub at_unix: i64,
}

/// Where a step's prompt was posted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptRef {
    pub channel: String,
    pub ts: String,
}

/// A claim on posting a step's prompt: whoever wrote it first posts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostingClaim {
    pub token: String,
    pub at_unix: i64,
}

/// A post of a step's prompt whose outcome nobody knows: Slack's answer (`internal_error`,
/// a 5xx, a timeout) may have followed a post that took effect. Kept on the step's
/// item until a prompt is recorded, so the next claim looks before it posts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaybePosted {
    /// When the first claim whose post is in doubt was taken (Unix seconds).
    pub since_unix: i64,
    /// The channel that post went to.
    pub channel: String,
    /// The claim's holder is done with it: nobody is posting or looking now, so the
    /// next delivery resolves it at once, inside the lease.
    pub unresolved: bool,
}

/// A decision accepted by SSM: made in Slack, or (read back from SSM's record of the
/// step) made outside Slack by another AWS principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionRecord {
    /// `Step::key()` of the step it decided.
    pub step_key: String,
    pub decision: Decision,
    /// The Slack person; empty for a decision made outside Slack.
    pub user_id: String,
    pub handle: String,
    pub at_unix: i64,
    /// Why, when the person gave a reason.
    pub reason: Option<String>,
    /// Decided outside Slack by this AWS principal (as SSM names it), not by a person
    /// of the app: whatever its comment says, nobody in Slack is credited.
    pub principal: Option<String>,
}

/// One approval step's item in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRecord {
    pub execution_id: ExecutionId,
    pub step_key: String,
    pub step_name: String,
    pub claim: Option<PostingClaim>,
    pub prompt: Option<PromptRef>,
    /// Oldest first.
    pub decisions: Vec<DecisionRecord>,
    /// What the prompt shows now (see [`shown_state`]), so it is updated only on change.
    pub shown: Option<String>,
    /// A click deciding the step run right now (or that died doing so).
    pub deciding: Option<DecisionClaim>,
    /// The step run was decided from Slack (rejected, resumed, or approved by all it
    /// needs): no click claims it again.
    pub decided: bool,
    /// Who started the run, as matched when its prompt was posted.
    pub starter: Option<Starter>,
    /// A post of its prompt whose outcome is not known yet.
    pub maybe_posted: Option<MaybePosted>,
}

/// A decision a person made in Slack, as their Home tab lists it: a copy of the
/// audit trail's entry kept under the person (the trail itself is on the step's item).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentDecision {
    pub decision: Decision,
    pub runbook: String,
    pub step_name: String,
    pub execution_id: String,
    pub place: Place,
    pub at_unix: i64,
}

/// A step that waits for a person, as the approvals table's index of what waits
/// (`WaitingSteps`) holds it: all `/approvals` needs, without asking SSM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingStep {
    pub target: StepTarget,
    pub step_key: String,
    pub kind: StepKind,
    pub place: Place,
    /// The runbook (also in `target`).
    pub runbook: String,
    /// The approval's message, cut to [`WAITING_MESSAGE_MAX`] characters.
    pub message: Option<String>,
    /// When the step started waiting (Unix seconds): the index's sort key.
    pub since_unix: i64,
    pub times_out_at_unix: Option<i64>,
    pub prompt: Option<PromptRef>,
    /// The reminders the sweep sent about it so far.
    pub reminded: Reminded,
    /// Who started the run (SSM's `ExecutedBy`, matched to Slack when posted).
    pub starter: Option<Starter>,
}

/// The reminders sent about a waiting step (kept on its item by the sweep).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reminded {
    /// When the last reminder was sent (Unix seconds).
    pub last_at_unix: Option<i64>,
    /// The last call before its timeout was sent.
    pub last_call: bool,
}

/// How much of an approval's message the index keeps (the list shows 300).
pub const WAITING_MESSAGE_MAX: usize = 400;

impl WaitingStep {
    /// The entry for `step` of `execution`, waiting in `place`; `now_unix` stands for
    /// when it started if SSM did not say.
    pub fn of(
        execution: &Execution,
        step: &Step,
        kind: StepKind,
        place: &Place,
        now_unix: i64,
    ) -> Self {
        let approval = step.approval();
        Self {
            target: StepTarget::on_button(execution, step, place),
            step_key: step.key().to_owned(),
            kind,
            place: place.clone(),
            runbook: execution.document_name.clone(),
            message: approval
                .message
                .map(|m| m.chars().take(WAITING_MESSAGE_MAX).collect()),
            since_unix: step.started_at_unix.unwrap_or(now_unix),
            times_out_at_unix: approval.times_out_at_unix,
            prompt: None,
            reminded: Reminded::default(),
            starter: execution.executed_by.as_deref().map(Starter::unmatched),
        }
    }
}

/// Where posting a step's prompt stands, for a delivery that did not win the claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostingState {
    /// Posted: nothing to do.
    Posted(PromptRef),
    /// Claimed a moment ago: another delivery is posting it now.
    BeingPosted,
    /// Its claim's holder posted but never learnt whether the post took effect: take
    /// the claim over (conditionally on this very claim, so only one delivery does),
    /// look for the prompt in the channel, and post only if it is not there.
    Unresolved(PostingClaim),
    /// Claimed longer than [`CLAIM_LEASE_SECS`] ago and never posted: take it over
    /// (conditionally on this very claim, so only one delivery does).
    Abandoned(PostingClaim),
}

impl StepRecord {
    pub fn last_decision(&self) -> Option<&DecisionRecord> {
        self.decisions.last()
    }

    /// The approvals recorded for the step run `step_key`, one per person, oldest first.
    pub fn approvals_of(&self, step_key: &str) -> Vec<&DecisionRecord> {
        let mut seen = vec![];
        for d in &self.decisions {
            if d.step_key == step_key
                && d.decision == Decision::Approve
                && !seen
                    .iter()
                    .any(|s: &&DecisionRecord| s.user_id == d.user_id)
            {
                seen.push(d);
            }
        }
        seen
    }

    /// The decisions made in Slack that explain how `step` ended: every approval
    /// when it was approved (a quorum names them all), else the one decision (the
    /// rejection or the resumption) that agrees with its status. Empty when the step
    /// ended otherwise (timed out, decided in the console, cancelled).
    pub fn deciding(&self, step: &Step) -> Vec<DecisionRecord> {
        let agreeing = |d: &&DecisionRecord| {
            d.step_key == step.key()
                && matches!(
                    (d.decision, &step.status),
                    (Decision::Approve | Decision::Resume, Status::Success)
                        | (Decision::Reject, Status::Failed)
                )
        };
        match self.decisions.iter().rfind(agreeing) {
            Some(last) if last.decision == Decision::Approve => {
                self.approvals_of(step.key()).into_iter().cloned().collect()
            }
            Some(last) => vec![last.clone()],
            None => vec![],
        }
    }

    /// The decision from Slack that ended the step run `step_key`, if one did: the
    /// last rejection or resumption, or the last approval once the run is decided.
    pub fn final_decision(&self, step_key: &str) -> Option<&DecisionRecord> {
        let of_run = |d: &&DecisionRecord| d.step_key == step_key;
        self.decisions
            .iter()
            .rfind(|d| of_run(d) && d.decision != Decision::Approve)
            .or_else(|| {
                self.decided
                    .then(|| self.decisions.iter().rfind(of_run))
                    .flatten()
            })
    }

    pub fn posting_state(&self, now_unix: i64) -> PostingState {
        if let Some(prompt) = &self.prompt {
            return PostingState::Posted(prompt.clone());
        }
        match &self.claim {
            Some(claim) if self.maybe_posted.as_ref().is_some_and(|m| m.unresolved) => {
                PostingState::Unresolved(claim.clone())
            }
            Some(claim) if now_unix - claim.at_unix < CLAIM_LEASE_SECS => PostingState::BeingPosted,
            Some(claim) => PostingState::Abandoned(claim.clone()),
            // An item with neither (a decision recorded before any prompt): claimable.
            None => PostingState::Abandoned(PostingClaim {
                token: String::new(),
                at_unix: 0,
            }),
        }
    }
}

/// What a prompt shows of its step: the step's and the runbook's status and who
/// decided. A prompt is updated only when this changes.
pub fn shown_state(execution: &Execution, step: &Step, deciding: &[DecisionRecord]) -> String {
    let who = if deciding.is_empty() {
        "-".to_owned()
    } else {
        deciding
            .iter()
            .map(|d| d.user_id.as_str())
            .collect::<Vec<_>>()
            .join("+")
    };
    format!("{}/{}/{who}", step.status, execution.status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(claim: Option<i64>, prompt: bool) -> StepRecord {
        StepRecord {
            execution_id: ExecutionId::parse("333ba70b-2333-48db-b17e-a5e69c6f4d1c").unwrap(),
            step_key: "s1".into(),
            step_name: "approve".into(),
            claim: claim.map(|at_unix| PostingClaim {
                token: "t".into(),
                at_unix,
            }),
            prompt: prompt.then(|| PromptRef {
                channel: "C1".into(),
                ts: "1.2".into(),
            }),
            decisions: vec![],
            shown: None,
            deciding: None,
            decided: false,
            starter: None,
            maybe_posted: None,
        }
    }

    fn decision(user: &str, decision: Decision, step_key: &str) -> DecisionRecord {
        DecisionRecord {
            step_key: step_key.into(),
            decision,
            user_id: user.into(),
            handle: user.to_lowercase(),
            at_unix: 1,
            reason: None,
            principal: None,
        }
    }

    fn step(status: Status) -> Step {
        Step {
            name: "approve".into(),
            action: "aws:approve".into(),
            status,
            step_execution_id: Some("s1".into()),
            inputs: Default::default(),
            started_at_unix: None,
            timeout_seconds: None,
            failure_message: None,
            outputs: Default::default(),
        }
    }

    #[test]
    fn a_quorum_is_credited_to_every_approver_once() {
        let mut r = record(None, true);
        r.decisions = vec![
            decision("U0ALICE", Decision::Approve, "s1"),
            decision("U0ALICE", Decision::Approve, "s1"),
            decision("U0BOB", Decision::Approve, "s0"),
            decision("U0BOB", Decision::Approve, "s1"),
        ];
        let users = |v: Vec<DecisionRecord>| v.into_iter().map(|d| d.user_id).collect::<Vec<_>>();
        assert_eq!(r.approvals_of("s1").len(), 2);
        assert_eq!(
            users(r.deciding(&step(Status::Success))),
            ["U0ALICE", "U0BOB"]
        );
        // Approvals do not explain a rejection, a time-out or a step still waiting.
        assert!(r.deciding(&step(Status::Failed)).is_empty());
        assert!(r.deciding(&step(Status::TimedOut)).is_empty());
        assert!(r.deciding(&step(Status::Waiting)).is_empty());
        r.decisions
            .push(decision("U0CAROL", Decision::Reject, "s1"));
        assert_eq!(users(r.deciding(&step(Status::Failed))), ["U0CAROL"]);
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
            PostingState::Abandoned(PostingClaim { token, .. }) if token == "t"
        ));
    }

    #[test]
    fn a_post_in_doubt_is_resolved_at_once_not_after_the_lease() {
        let now = 10_000;
        let mut r = record(Some(now - 5), false);
        r.maybe_posted = Some(MaybePosted {
            since_unix: now - 5,
            channel: "C1".into(),
            unresolved: true,
        });
        assert!(matches!(
            r.posting_state(now),
            PostingState::Unresolved(PostingClaim { token, .. }) if token == "t"
        ));
        // Someone is resolving it now (it took the claim over): wait for them.
        r.maybe_posted.as_mut().unwrap().unresolved = false;
        assert_eq!(r.posting_state(now), PostingState::BeingPosted);
        // Found meanwhile.
        r.prompt = Some(PromptRef {
            channel: "C1".into(),
            ts: "1.2".into(),
        });
        assert!(matches!(r.posting_state(now), PostingState::Posted(_)));
    }
}
