//! An approval of a step that needs several: progress on the prompt while the quorum
//! is gathered, the approvers named once it is met, and never buttons back on a step
//! that ended while the progress was on its way.

use super::{
    DecisionRequest, REPLY_RESERVE, decided_prompt, replace, show_if_ended, show_real_state,
};
use crate::deadline::Deadline;
use crate::domain::execution::{Execution, Status, Step};
use crate::domain::messages::decided::StepNews;
use crate::domain::messages::progress::{progress, render_progress};
use crate::domain::messages::text::code;
use crate::domain::record::{DecisionClaim, DecisionRecord};
use crate::domain::waiting::{StepCheck, StepKind, check_step};
use crate::handlers::interactions::app::InteractionsApp;
use crate::ssm::Ssm;

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
    per_person: bool,
    deadline: &Deadline,
) -> Option<String> {
    let id = &request.target.execution_id;
    let needed = step.approval().min_required_approvals;
    // SSM may apply the approval that meets the quorum a moment later: a count that
    // meets it is shown as met even while SSM still reports the step waiting.
    let met = per_person && approvals.len() >= needed as usize;
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
        StepCheck::WaitingNow(_) if per_person && !met => {
            // Progress on the prompt, buttons kept for the next approver.
            if !request.from_list
                && let Some(message) = render_progress(request.message_blocks, &approvals, needed)
            {
                replace(app, request, &message, deadline).await;
                // The step may have ended while the progress was on its way, after its
                // event brought the prompt to its end: never leave buttons behind.
                if let Some(answer) =
                    show_if_ended(app, ssm, request, StepNews::NothingDone, None, deadline).await
                {
                    return Some(answer);
                }
            }
            Some(format!(
                "Your approval is recorded. {}. The step waits for {} more.",
                progress(&approvals, needed),
                needed as usize - approvals.len()
            ))
        }
        StepCheck::WaitingNow(_) if !per_person => Some(format!(
            "SSM recorded your approval, but step {} needs {needed} approvals from \
             different AWS principals and still waits: every decision from Slack is \
             signalled by the same AWS role, so it counts once. (Set APPROVER_ROLE_ARN \
             to sign each person's decision as that person.)",
            code(&step.name)
        )),
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
