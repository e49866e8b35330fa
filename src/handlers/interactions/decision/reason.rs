//! Reject with a reason: once the step is checked, the form that asks why opens
//! instead of a signal (`REJECT_REASON`); its submission decides (`reason_form.rs`).

use super::access::{cannot_reach, may_decide_what_ssm_reports};
use super::{DecisionRequest, execution_gone, not_checked, not_waiting};
use crate::config::ReasonMode;
use crate::deadline::Deadline;
use crate::domain::execution::{Execution, Step};
use crate::domain::inbound::view_submission::ReasonContext;
use crate::domain::messages::reason_form::reason_modal;
use crate::domain::messages::text::escape;
use crate::domain::waiting::{StepCheck, check_step};
use crate::handlers::interactions::app::InteractionsApp;
use crate::handlers::interactions::respond::REPLY_RESERVE;

/// Reject with a reason: the step check, then the form (nothing is signalled yet).
pub(super) async fn open_reason_form(
    app: &InteractionsApp,
    request: &DecisionRequest<'_>,
    trigger_id: &str,
    deadline: &Deadline,
) -> Option<String> {
    let id = &request.target.execution_id;
    let ssm = match app.places.ssm(&request.place, deadline).await {
        Ok(ssm) => ssm,
        Err(e) => return Some(cannot_reach(&e)),
    };
    let execution = match ssm
        .get_execution(id, &deadline.keeping(REPLY_RESERVE))
        .await
    {
        Ok(e) => e,
        Err(e) if e.is_not_found() => return execution_gone(app, request, deadline).await,
        Err(e) => return Some(not_checked(e.code())),
    };
    match check_step(&execution, request.target, request.decision.step_kind()) {
        StepCheck::WaitingNow(step) => {
            if let Err(refusal) =
                may_decide_what_ssm_reports(app, request, &execution, deadline).await
            {
                return Some(refusal);
            }
            ask_reason(app, request, &execution, step, trigger_id, deadline).await
        }
        other => not_waiting(app, request, &execution, other, None, deadline).await,
    }
}

/// Reject, with a reason to give: open the form that asks for it.
async fn ask_reason(
    app: &InteractionsApp,
    request: &DecisionRequest<'_>,
    execution: &Execution,
    step: &Step,
    trigger_id: &str,
    deadline: &Deadline,
) -> Option<String> {
    let context = ReasonContext {
        decision: request.decision,
        target: request.target.clone(),
        response_url: request.response_url.to_owned(),
        from_list: request.from_list,
        prompt: request.prompt.cloned(),
        from_home: request.from_home,
    };
    let view = reason_modal(
        execution,
        step,
        &context,
        app.reject_reason == ReasonMode::Required,
    );
    match app
        .slack
        .open_view(trigger_id, &view, &deadline.keeping(REPLY_RESERVE))
        .await
    {
        Ok(()) => {
            tracing::info!("reason form opened");
            None
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not open the reason form");
            Some(format!(
                "Nothing was done: the form for your reason could not be opened ({}). \
                 Click Reject again.",
                escape(e.api_error().unwrap_or("Slack did not answer in time"))
            ))
        }
    }
}
