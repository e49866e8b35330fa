//! Claiming the decision of a step run before signalling it: of clicks arriving
//! together one holds the claim; the others wait a little for it, then are told who
//! decided or who is deciding.

use std::time::Duration;

use tokio::time::Instant;

use super::{CHECK_SIGNAL_AND_REPLY, DecisionRequest, show_if_ended};
use crate::deadline::{CallFloor, Deadline};
use crate::domain::inbound::Decision;
use crate::domain::messages::decided::StepNews;
use crate::domain::messages::text::mention;
use crate::domain::record::{DecisionClaim, StepRecord};
use crate::handlers::interactions::app::InteractionsApp;
use crate::ssm::Ssm;
use crate::store::DecisionClaimOutcome;

/// The longest a click waits for another click on the same step run to finish.
const PATIENCE: Duration = Duration::from_millis(1500);

/// Where claiming a step run's decision left a click.
pub(super) enum Claimed {
    /// This click decides; the step's item with the decisions so far.
    Won(StepRecord),
    /// The step run was decided from Slack before: the item that says by whom.
    Decided(StepRecord),
    /// Not claimed (another click is deciding, or the table did not answer): what to
    /// tell the person.
    Not(String),
}

/// Claims the step run's decision; while another click holds it, waits a little for
/// that click to finish.
pub(super) async fn claim_step_run(
    app: &InteractionsApp,
    request: &DecisionRequest<'_>,
    key: &str,
    claim: &DecisionClaim,
    deadline: &Deadline,
) -> Claimed {
    let claiming = deadline.keeping(CHECK_SIGNAL_AND_REPLY);
    let started = Instant::now();
    let mut pause = Duration::from_millis(100);
    // What the last answer showed: another click holding the claim.
    let mut seen: Option<StepRecord> = None;
    loop {
        let held = match app
            .store
            .claim_decision(
                &request.target.execution_id,
                key,
                &request.target.step_name,
                claim,
                &claiming,
            )
            .await
        {
            Ok(DecisionClaimOutcome::Won(record)) => return Claimed::Won(record),
            Ok(DecisionClaimOutcome::Lost(record)) => record,
            Err(e) => {
                tracing::error!(error = %e, "could not claim the decision; nothing signalled");
                // Waiting on another click's claim, a later read that fails says nothing
                // new: tell what was seen.
                if let Some(held) = seen {
                    return Claimed::Not(being_decided(
                        held.deciding.as_ref(),
                        &request.actor.user.id,
                    ));
                }
                return Claimed::Not(
                    "Nothing was done: whether this step is being decided right now could \
                            not be checked (the approvals table did not answer). The request \
                            still waits; please try again."
                        .into(),
                );
            }
        };
        if held.decided {
            tracing::info!("the step run is decided already; nothing signalled");
            return Claimed::Decided(held);
        }
        let waited = started.elapsed();
        if waited + pause > PATIENCE || !claiming.fits(pause, CallFloor::AWS, Duration::ZERO) {
            tracing::info!(
                waited_ms = waited.as_millis() as u64,
                "another click is deciding the step; nothing signalled"
            );
            return Claimed::Not(being_decided(
                held.deciding.as_ref(),
                &request.actor.user.id,
            ));
        }
        seen = Some(held);
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(400));
    }
}

/// The step run was decided from Slack before this click: nothing is signalled. The
/// person is told by whom, and the prompt shows SSM's state once SSM shows the end.
pub(super) async fn decided_before(
    app: &InteractionsApp,
    ssm: &Ssm,
    request: &DecisionRequest<'_>,
    record: &StepRecord,
    key: &str,
    deadline: &Deadline,
) -> Option<String> {
    let ended = show_if_ended(
        app,
        ssm,
        request,
        StepNews::NothingDone,
        Some(record),
        deadline,
    );
    if let Some(answer) = ended.await {
        return Some(answer);
    }
    // SSM has not caught up yet (or did not answer): the table's word for it.
    Some(decided_already(record, key))
}

fn decided_already(held: &StepRecord, key: &str) -> String {
    match held.final_decision(key) {
        Some(last) if last.decision == Decision::Approve => {
            let who: Vec<String> = held
                .approvals_of(key)
                .into_iter()
                .map(|d| mention(&d.user_id, &d.handle))
                .collect();
            format!(
                "Nothing was done: this step was approved already, by {}.",
                who.join(", ")
            )
        }
        Some(last) => format!(
            "Nothing was done: {} {} this step already.",
            mention(&last.user_id, &last.handle),
            last.decision.past_tense().to_lowercase()
        ),
        None => "Nothing was done: this step was decided from Slack already.".into(),
    }
}

fn being_decided(holder: Option<&DecisionClaim>, user_id: &str) -> String {
    let whose = match holder {
        Some(c) if c.user_id == user_id => "your other click on this step".to_owned(),
        Some(c) => format!(
            "{}'s {} of this step",
            mention(&c.user_id, &c.handle),
            match c.decision {
                Decision::Approve => "approval",
                Decision::Reject => "rejection",
                Decision::Resume => "resumption",
            }
        ),
        None => "another decision on this step".to_owned(),
    };
    format!(
        "Nothing was done for this click: {whose} is being sent to AWS right now. The prompt \
         shows the outcome in a moment; if it still waits in a minute, decide again."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(user: &str, decision: Decision) -> DecisionClaim {
        DecisionClaim {
            token: "t".into(),
            user_id: user.into(),
            handle: user.to_lowercase(),
            decision,
            at_unix: 1,
        }
    }

    #[test]
    fn a_click_that_loses_is_told_who_is_deciding() {
        let other = being_decided(Some(&claim("U0BOB", Decision::Reject)), "U0ALICE");
        assert!(other.starts_with("Nothing was done"), "{other}");
        assert!(other.contains("<@U0BOB>'s rejection"), "{other}");
        let own = being_decided(Some(&claim("U0ALICE", Decision::Approve)), "U0ALICE");
        assert!(own.contains("your other click"), "{own}");
    }
}
