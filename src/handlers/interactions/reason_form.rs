//! The reason form: the modal a Reject opens (`REJECT_REASON`), and its submission,
//! which decides like a click, with the reason.

use lambda_http::{Body, Response};
use serde_json::json;
use tracing::Instrument;

use super::decision::{DecisionRequest, REPLY_RESERVE, decide};
use super::{InteractionsApp, json_response, view_notice};
use crate::config::ReasonMode;
use crate::deadline::Deadline;
use crate::domain::execution::{Execution, Step};
use crate::domain::inbound::view_submission::{REASON_BLOCK_ID, ReasonContext, ReasonSubmission};
use crate::domain::messages::reason_form::reason_modal;
use crate::domain::messages::text::escape;

/// A submitted reason form: the same checks as a click, then the signal with the
/// reason. The answer is the modal's next state: closed when done, else a notice.
pub(super) async fn submitted(
    app: &InteractionsApp,
    submission: ReasonSubmission,
    deadline: Deadline,
) -> Response<Body> {
    let ReasonSubmission {
        context,
        actor,
        reason,
    } = &submission;
    let span = tracing::info_span!(
        "reason",
        execution_id = %context.target.execution_id,
        step = %context.target.step_name,
        user_id = %actor.user.id,
        decision = context.decision.signal_type()
    );
    if reason.is_none() && app.reject_reason == ReasonMode::Required {
        let errors = json!({REASON_BLOCK_ID: "Please say why: a reason is required to reject."});
        return json_response(&json!({"response_action": "errors", "errors": errors}));
    }
    let request = DecisionRequest {
        decision: context.decision,
        target: &context.target,
        actor,
        response_url: &context.response_url,
        message_blocks: &[],
        from_ephemeral: context.from_ephemeral,
        reason: reason.as_deref(),
        ask_reason_with: None,
        prompt: context.prompt.as_ref(),
        place: app.place_of(&context.target),
        from_home: context.from_home,
    };
    let answer = decide(app, &request, &deadline).instrument(span).await;
    if context.from_home {
        // The tab shows what became of it; the form closes.
        super::home::publish(app, actor, answer.as_deref(), &deadline).await;
        return json_response(&json!({"response_action": "clear"}));
    }
    match answer {
        None => json_response(&json!({"response_action": "clear"})),
        // What became of it: a refusal, the step's real state, or (from the list) the
        // decision itself.
        Some(text) => view_notice("Runbook decision", &text),
    }
}

/// Reject, with a reason to give: open the form that asks for it.
pub(super) async fn ask_reason(
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
        from_ephemeral: request.from_ephemeral,
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
