//! A click on one of our buttons: a prompt's Approve / Reject / Resume, or the same
//! buttons in the `/approvals` list.

use tracing::Instrument;

use super::app::InteractionsApp;
use super::decision::{DecisionRequest, decide};
use super::home::publish;
use super::respond::tell;
use crate::config::ReasonMode;
use crate::deadline::Deadline;
use crate::domain::inbound::Decision;
use crate::domain::inbound::block_actions::DecisionClick;

pub(super) async fn clicked(app: &InteractionsApp, click: DecisionClick, deadline: Deadline) {
    let span = tracing::info_span!(
        "click",
        execution_id = %click.target.execution_id,
        step = %click.target.step_name,
        user_id = %click.actor.user.id,
        decision = click.decision.signal_type()
    );
    let asks_reason = click.decision == Decision::Reject && app.reject_reason != ReasonMode::Off;
    let ask_reason_with = asks_reason.then_some(click.trigger_id.as_deref()).flatten();
    if asks_reason && ask_reason_with.is_none() {
        // The form is the rejection's confirmation (and its reason): never skip it.
        tracing::warn!("a Reject click without a trigger_id; nothing done");
        let text = "Nothing was done: Slack sent no way to open the form for your reason. \
                    Click Reject again.";
        if click.from_home {
            publish(app, &click.actor, Some(text), &deadline).await;
            return;
        }
        return tell(app, &click.response_url, text, &deadline).await;
    }
    let request = DecisionRequest {
        decision: click.decision,
        target: &click.target,
        actor: &click.actor,
        response_url: &click.response_url,
        message_blocks: &click.message_blocks,
        from_list: click.from_list,
        reason: None,
        ask_reason_with,
        prompt: click.prompt.as_ref(),
        place: app.place_of(&click.target),
        from_home: click.from_home,
    };
    let answer = decide(app, &request, &deadline).instrument(span).await;
    if click.from_home {
        // No response_url in a view: the tab itself shows what became of the click
        // (unless a reason form opened: its submission publishes the tab).
        if answer.is_some() || ask_reason_with.is_none() {
            // A failure is logged; a click is not delivered again.
            publish(app, &click.actor, answer.as_deref(), &deadline).await;
        }
        return;
    }
    if let Some(text) = answer {
        tell(app, &click.response_url, &text, &deadline).await;
    }
}
