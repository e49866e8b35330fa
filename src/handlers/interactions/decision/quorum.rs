//! An approval of a step that needs several (SSM's `MinRequiredApprovals`, or a rule's
//! `approvals`: different people, counted by the app before anything is signalled):
//! progress on the prompt while the quorum is gathered, the approvers named once it is met, and never buttons back on a step
//! that ended while the progress was on its way.

use super::{
    DecisionRequest, REPLY_RESERVE, decided_prompt, replace, show_if_ended, show_real_state,
};
use crate::deadline::{Deadline, unix_now};
use crate::domain::execution::{Execution, Status, Step};
use crate::domain::inbound::Decision;
use crate::domain::messages::decided::StepNews;
use crate::domain::messages::progress::{progress, render_progress};
use crate::domain::messages::text::{code, escape};
use crate::domain::record::{DecisionClaim, DecisionRecord};
use crate::domain::waiting::{StepCheck, StepKind, check_step};
use crate::handlers::interactions::app::InteractionsApp;
use crate::ssm::Ssm;

/// How the approvals of a step that needs several are counted.
#[derive(Debug, Clone, Copy)]
pub(super) struct Counting {
    /// Different people who must approve (the rule's `approvals`, or SSM's
    /// `MinRequiredApprovals`, whichever is more).
    pub needed: u32,
    /// The app counts them (per-person sessions, or a rule's `approvals`).
    pub counted: bool,
    /// Each person signals as themselves.
    pub per_person: bool,
}

/// An approval SSM took for a step that needs several: the step may wait on.
#[allow(clippy::too_many_arguments)]
pub(super) async fn quorum_progress(
    app: &InteractionsApp,
    ssm: &Ssm,
    request: &DecisionRequest<'_>,
    step: &Step,
    claim: &DecisionClaim,
    record: DecisionRecord,
    approvals: Vec<DecisionRecord>,
    counting: Counting,
    deadline: &Deadline,
) -> Option<String> {
    let id = &request.target.execution_id;
    let Counting {
        needed,
        counted,
        per_person,
    } = counting;
    let ssm_needed = step.approval().min_required_approvals;
    // SSM may apply the approval that meets the quorum a moment later: a count that
    // meets it is shown as met even while SSM still reports the step waiting.
    let met = counted && approvals.len() >= needed as usize;
    let reading = deadline.keeping(REPLY_RESERVE);
    let (now, recorded) = tokio::join!(
        ssm.get_execution(id, &reading),
        app.store
            .finish_decision(id, &step.name, claim, &record, met, &reading),
    );
    if let Err(e) = &recorded {
        tracing::error!(error = %e, "approval recorded in SSM, but not in the approvals table");
    }
    let execution = match now {
        Ok(execution) => execution,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the step after the approval");
            return Some(format!(
                "SSM recorded your approval of step {}. It needs {needed} approvals; the prompt \
                 updates itself when the step changes.",
                code(&step.name)
            ));
        }
    };
    match check_step(&execution, request.target, StepKind::Approval) {
        StepCheck::WaitingNow(_) if counted && !met => {
            // Progress on the prompt, buttons kept for the next approver.
            if let Some(answer) =
                show_progress(app, ssm, request, &approvals, needed, deadline).await
            {
                return Some(answer);
            }
            Some(format!(
                "Your approval is recorded. {}. The step waits for {} more.",
                progress(&approvals, needed),
                needed as usize - approvals.len()
            ))
        }
        StepCheck::WaitingNow(_) if !per_person && ssm_needed > 1 => Some(format!(
            "SSM recorded your approval, but step {} needs {ssm_needed} approvals from \
             different AWS principals and still waits: every decision from Slack is \
             signalled by the same AWS role, so it counts once. (Set APPROVER_ROLE_ARN \
             to sign each person's decision as that person.)",
            code(&step.name)
        )),
        StepCheck::WaitingNow(_) if per_person => {
            // Each approval was signalled as its person, and SSM still reports the step
            // waiting: it is SSM's count that decides, so the prompt never says
            // "Approved" before SSM does (the step's event brings the outcome). Whether
            // SSM counts sessions of one role as separate approvers is not documented.
            if let Some(answer) =
                show_progress(app, ssm, request, &approvals, needed, deadline).await
            {
                return Some(answer);
            }
            Some(format!(
                "SSM took your approval ({}), but still reports step {} waiting, so the prompt \
                 keeps its buttons until SSM says it is approved. If it keeps waiting, SSM counts \
                 fewer of these approvals than {needed} (it may count sessions of one role as one \
                 approver: see Troubleshooting).",
                progress(&approvals, needed),
                code(&step.name)
            ))
        }
        StepCheck::WaitingNow(over) => {
            quorum_met(app, request, &execution, over, &approvals, deadline).await
        }
        StepCheck::NoLongerWaiting(over) if over.status == Status::Success => {
            quorum_met(app, request, &execution, over, &approvals, deadline).await
        }
        StepCheck::NoLongerWaiting(over) => {
            let news = StepNews::NothingDone;
            show_real_state(app, request, &execution, over, news, None, deadline).await
        }
        _ => None,
    }
}

/// Shows the progress on the prompt (buttons kept for the next approver). The step may
/// have ended while the progress was on its way, after its event brought the prompt to
/// its end: then that end is shown again, and what to tell the person is returned.
async fn show_progress(
    app: &InteractionsApp,
    ssm: &Ssm,
    request: &DecisionRequest<'_>,
    approvals: &[DecisionRecord],
    needed: u32,
    deadline: &Deadline,
) -> Option<String> {
    if request.from_list {
        return None;
    }
    let message = render_progress(request.message_blocks, approvals, needed)?;
    replace(app, request, &message, deadline).await;
    show_if_ended(app, ssm, request, StepNews::NothingDone, None, deadline).await
}

/// The approval that met the quorum: the prompt names every approver, no buttons.
async fn quorum_met(
    app: &InteractionsApp,
    request: &DecisionRequest<'_>,
    execution: &Execution,
    step: &Step,
    approvals: &[DecisionRecord],
    deadline: &Deadline,
) -> Option<String> {
    if request.from_list {
        return Some(format!(
            "Approved: your approval met the quorum of step {}.",
            code(&step.name)
        ));
    }
    let message = decided_prompt(app, request, execution, step, approvals);
    replace(app, request, &message, deadline).await;
    None
}

/// How many approvals a step needs, and how many of them the app counts before any
/// signal: a rule's `approvals` (different Slack people) beyond what SSM counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Count {
    /// Different people who must approve before the step is approved.
    pub needed: u32,
    /// The first approvals recorded in Slack only, never signalled.
    pub held: u32,
}

impl Count {
    /// `ssm_needed`: the step's `MinRequiredApprovals`; `rule`: the rule's `approvals`.
    /// Decisions signalled by the one shared role count once in SSM, so SSM counts one
    /// signal without per-person sessions, and each person's with them.
    pub(super) fn of(ssm_needed: u32, rule: u32, per_person: bool) -> Self {
        let ssm_needed = ssm_needed.max(1);
        let ssm_counts = if per_person { ssm_needed } else { 1 };
        Self {
            needed: rule.max(ssm_needed),
            held: rule.saturating_sub(ssm_counts),
        }
    }
}

/// An approval the app counts (a rule asks for more people than SSM counts): recorded
/// with the claim's release, the progress on the prompt, nothing signalled. Returns
/// what to tell the person, and whether it was recorded (else the claim is still
/// held, for the caller to give up).
pub(super) async fn held_approval(
    app: &InteractionsApp,
    request: &DecisionRequest<'_>,
    step: &Step,
    claim: &DecisionClaim,
    mut approvals: Vec<DecisionRecord>,
    needed: u32,
    deadline: &Deadline,
) -> (String, bool) {
    let user = &request.actor.user;
    let approval = DecisionRecord {
        step_key: step.key().to_owned(),
        decision: Decision::Approve,
        user_id: user.id.clone(),
        handle: user.handle().to_owned(),
        at_unix: unix_now(),
        reason: None,
        principal: None,
    };
    let id = &request.target.execution_id;
    if let Err(e) = app
        .store
        .finish_decision(id, &step.name, claim, &approval, false, deadline)
        .await
    {
        tracing::error!(error = %e, "could not record an approval the app counts; nothing signalled");
        let answer = format!(
            "Nothing was done: your approval could not be recorded ({}). The request still \
             waits; please try again.",
            escape(&e.to_string())
        );
        return (answer, false);
    }
    tracing::info!(
        needed,
        so_far = approvals.len() + 1,
        "approval counted; nothing signalled yet"
    );
    approvals.push(approval);
    if !request.from_list
        && let Some(message) = render_progress(request.message_blocks, &approvals, needed)
    {
        replace(app, request, &message, deadline).await;
    }
    let answer = format!(
        "Your approval is recorded. {}. The step waits for {} more: this rule asks for {needed} \
         different people, and nothing is signalled to AWS before they have all approved.",
        progress(&approvals, needed),
        needed as usize - approvals.len()
    );
    (answer, true)
}

#[cfg(test)]
mod tests {
    use super::Count;

    #[test]
    fn a_rule_asking_for_more_people_than_ssm_counts_holds_the_first_approvals_back() {
        #[rustfmt::skip]
        let cases = [
            // (SSM's MinRequiredApprovals, the rule's approvals, per person) -> (needed, held)
            ((1, 1, false), (1, 0)),
            ((1, 2, false), (2, 1)),  // one shared role: SSM counts one signal
            ((2, 1, false), (2, 0)),  // SSM's own quorum the shared role cannot meet
            ((2, 2, false), (2, 1)),
            ((1, 2, true), (2, 1)),
            ((2, 2, true), (2, 0)),   // each person signals: SSM counts both
            ((2, 3, true), (3, 1)),
            ((3, 2, true), (3, 0)),
            ((0, 1, true), (1, 0)),
        ];
        for ((ssm, rule, per_person), (needed, held)) in cases {
            assert_eq!(
                Count::of(ssm, rule, per_person),
                Count { needed, held },
                "{ssm} {rule} {per_person}"
            );
        }
    }
}
