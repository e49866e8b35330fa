//! The reason form's submission, which decides like a click, with the reason. (The
//! form is opened on the decision path, once the step is checked: `decision/reason.rs`.)

use lambda_http::{Body, Response};
use serde_json::json;
use tracing::Instrument;

use super::app::InteractionsApp;
use super::decision::{DecisionRequest, decide};
use super::respond::{json_response, view_notice};
use crate::config::ReasonMode;
use crate::deadline::Deadline;
use crate::domain::inbound::view_submission::{REASON_BLOCK_ID, ReasonSubmission};

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
        from_list: context.from_list,
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
